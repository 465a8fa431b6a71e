"""Kafka subscriber: a visitor's message in, ``AnswerScored`` out.

Concurrency: ``consumer_workers`` > 1 makes faststream run that many consumers of the
group in this process (``ConcurrentBetweenPartitionsSubscriber``, chosen because the ack
policy is not ack-first). Each consumer owns its own partitions, handles its records one
by one and commits its own offsets after the handler returns, so at-least-once and
per-conversation order (the key is the conversation) hold exactly as with one consumer.
Messages of different partitions are answered concurrently and their questions share
model calls in the batcher. Replicas x workers beyond the topic's partitions sit idle.

The answering service writes no database on this path, so it publishes directly; the
event id is derived from the message id, so a redelivered message republishes the same
event and downstream inboxes drop it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from faststream.kafka import KafkaBroker
from pydantic import Field
from tandem_events import (
    AnswerScored,
    ConversationDeletionRequested,
    ConversationRated,
    ConversationStarted,
    HumanRequested,
    MessageReceived,
)
from tandem_events.topics import VISITOR_EVENTS
from tandem_platform.messaging import AT_LEAST_ONCE, EventPublisher, decode_event
from tandem_platform.metrics import EVENTS_CONSUMED

from ..service_layer.answering import Answerer, answer_scored
from ..settings import AnsweringSettings

log = logging.getLogger(__name__)

SERVICE = "answering"

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


def register(broker: KafkaBroker, settings: AnsweringSettings, deps: ConsumerDeps) -> None:
    @broker.subscriber(
        VISITOR_EVENTS.name,
        group_id=settings.group_id,
        ack_policy=AT_LEAST_ONCE,
        decoder=decode_event,
        auto_offset_reset=settings.auto_offset_reset,
        max_workers=settings.consumer_workers,
        title="answering.visitor-messages",
        description="Visitor messages to answer; other visitor events are acknowledged and skipped.",
    )
    async def on_visitor_event(event: VisitorEvent) -> None:
        if not isinstance(event, MessageReceived):
            EVENTS_CONSUMED.labels(SERVICE, event.event_type, "ignored").inc()
            return
        if deps.answerer is None or deps.publisher is None:
            # Only possible if a record arrives before start-up finished; the retry policy
            # redelivers it.
            raise RuntimeError("the answering service is not started yet")
        await answer_message(deps.answerer, deps.publisher, event)
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, "processed").inc()
