"""Kafka subscriber: translate a record into a handler call, nothing else.

One consumer (one group member) reads all four input topics, so a replica joins its group
once instead of once per topic: fewer rebalances, and one partition assignment to scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from tandem_events import Event, events_on
from tandem_events.topics import AGENT_EVENTS, ANSWERING_EVENTS, ESCALATION_EVENTS, VISITOR_EVENTS
from tandem_platform.messaging import AT_LEAST_ONCE, decode_event

from ..handlers import Deps, handle
from ..settings import ConversationSettings

CONSUMED_TOPICS = (VISITOR_EVENTS, ANSWERING_EVENTS, ESCALATION_EVENTS, AGENT_EVENTS)

if TYPE_CHECKING:
    ConsumedEvent: TypeAlias = Event
else:
    ConsumedEvent = events_on(*CONSUMED_TOPICS)


def register(broker: KafkaBroker, settings: ConversationSettings, deps: Deps) -> DefaultSubscriber:
    subscriber = broker.subscriber(
        *[topic.name for topic in CONSUMED_TOPICS],
        group_id=settings.group_id,
        ack_policy=AT_LEAST_ONCE,
        decoder=decode_event,
        auto_offset_reset=settings.auto_offset_reset,
        title="conversation.inputs",
        description="Visitor, answer, escalation and agent events that shape a conversation.",
    )

    @subscriber
    async def on_event(event: ConsumedEvent) -> None:
        await handle(deps, "conversation", event)

    return subscriber
