"""Kafka subscriber: a visitor's message in, ``AnswerScored`` out.

Concurrency: the model answers many questions in one call (adapters/embedder.py), so this
process must hold many messages at once. ``consumer_workers`` consumers of the group run
here, each owning its own partitions; each polls up to ``consumer_batch_max_records``
records and answers them together: the messages of one conversation one after the other,
in the order they were sent, different conversations at the same time
(``tandem_platform.messaging.consume_keyed_batch``). A consumer commits its batch once
every record in it is answered or dead-lettered, so at-least-once holds. While one
consumer waits for the last answers of its batch, the others keep the model busy.
Replicas x workers beyond the topic's partitions sit idle.

The answering service writes no database on this path, so it publishes directly; the
event id is derived from the message id, so a redelivered message republishes the same
event and downstream inboxes drop it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import Field
from tandem_events import (
    AnswerScored,
    ConversationDeletionRequested,
    ConversationRated,
    ConversationStarted,
    Event,
    HumanRequested,
    MessageReceived,
)
from tandem_events.topics import VISITOR_EVENTS
from tandem_platform.messaging import (
    AT_LEAST_ONCE,
    DeadLetterPolicy,
    EventPublisher,
    consume_keyed_batch,
    raw_records,
)
from tandem_platform.metrics import EVENTS_CONSUMED

from ..service_layer.answering import Answerer, answer_scored
from ..settings import AnsweringSettings

log = logging.getLogger(__name__)

SERVICE = "answering"
CHANNEL_TITLE = "answering.visitor-messages"
CHANNEL_DESCRIPTION = (
    "Visitor messages to answer; other visitor events are acknowledged and skipped."
)

VisitorEvent = Annotated[
    ConversationStarted
    | MessageReceived
    | ConversationRated
    | HumanRequested
    | ConversationDeletionRequested,
    Field(discriminator="event_type"),
]


@dataclass
class ConsumerDeps:
    """Filled by the app's lifespan once the model and stores are up."""

    answerer: Answerer | None = None
    publisher: EventPublisher | None = None


async def answer_message(
    answerer: Answerer, publisher: EventPublisher, message: MessageReceived
) -> AnswerScored:
    result = await answerer.answer(message.site_id, message.text, locale=message.locale)
    event = answer_scored(message, result)
    await publisher.publish(event)
    log.info(
        "answer scored",
        extra={
            "fields": {
                "site_id": message.site_id,
                "message_id": str(message.message_id),
                "answered": event.answered,
                "confidence": round(event.confidence, 3),
                "latency_ms": round(event.latency_ms, 1),
            }
        },
    )
    return event


async def handle_visitor_event(deps: ConsumerDeps, event: Event) -> None:
    if not isinstance(event, MessageReceived):
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, "ignored").inc()
        return
    if deps.answerer is None or deps.publisher is None:
        # Only possible if a record arrives before start-up finished; the retry policy
        # redelivers it.
        raise RuntimeError("the answering service is not started yet")
    await answer_message(deps.answerer, deps.publisher, event)
    EVENTS_CONSUMED.labels(SERVICE, event.event_type, "processed").inc()


def register(
    broker: KafkaBroker,
    settings: AnsweringSettings,
    deps: ConsumerDeps,
    policy: DeadLetterPolicy,
    *,
    topic: str = VISITOR_EVENTS.name,
) -> None:
    """The visitor-event consumers; ``topic`` is only ever another one for the bench."""

    async def handle(event: Event) -> None:
        await handle_visitor_event(deps, event)

    for _ in range(settings.consumer_workers):
        # One batch subscriber per worker: each is its own consumer of the group. The
        # AsyncAPI document declares the channel once, per record (asyncapi.py).
        @broker.subscriber(
            topic,
            group_id=settings.group_id,
            ack_policy=AT_LEAST_ONCE,
            batch=True,
            max_records=settings.consumer_batch_max_records,
            batch_timeout_ms=settings.consumer_poll_timeout_ms,
            decoder=raw_records,
            auto_offset_reset=settings.auto_offset_reset,
            include_in_schema=False,
        )
        async def on_visitor_events(message: KafkaMessage) -> None:
            await consume_keyed_batch(message.raw_message, handle, policy)
