"""The escalation service's one Kafka subscriber: the four topics it watches, one group.

The payload type lists *every* event type those topics carry, so an event the rules do not
use is acknowledged and ignored instead of failing validation and being dead-lettered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from tandem_events import (
    AgentAssigned,
    EscalationQueued,
    EscalationRaised,
    Event,
    events_on,
)
from tandem_events.topics import (
    AGENT_EVENTS,
    ANSWERING_EVENTS,
    CONVERSATION_EVENTS,
    ESCALATION_EVENTS,
    VISITOR_EVENTS,
)
from tandem_platform.messaging import AT_LEAST_ONCE, decode_event

from ..handlers import EscalationHandlers
from ..settings import EscalationSettings

SUBSCRIBED_TOPICS = (VISITOR_EVENTS, ANSWERING_EVENTS, CONVERSATION_EVENTS, AGENT_EVENTS)

if TYPE_CHECKING:
    EscalationInput: TypeAlias = Event
else:
    EscalationInput = events_on(*SUBSCRIBED_TOPICS)


def register_consumers(
    broker: KafkaBroker, handlers: EscalationHandlers, settings: EscalationSettings
) -> DefaultSubscriber:
    subscriber = broker.subscriber(
        *(topic.name for topic in SUBSCRIBED_TOPICS),
        group_id=settings.group_id,
        ack_policy=AT_LEAST_ONCE,
        decoder=decode_event,
        auto_offset_reset=settings.auto_offset_reset,
        title="escalation-inputs",
        description="Visitor messages and button presses, conversation starts, scored "
        "answers, conversation resolution and deletion, agents joining, leaving, transferring "
        "and escalating by hand, and agents' presence heartbeats.",
    )

    @subscriber
    async def on_event(event: EscalationInput, message: KafkaMessage) -> None:
        await handlers.handle(event, traceparent=message.headers.get("traceparent"))

    # Published through the outbox (OutboxRelay), declared here so AsyncAPI documents them.
    for event_type, description in (
        (EscalationRaised, "EscalationRaised: reason, detail and a summary of the conversation."),
        (
            AgentAssigned,
            "AgentAssigned: who takes the conversation (routed, transfer, reassigned).",
        ),
        (
            EscalationQueued,
            "EscalationQueued: the conversation waits; position, queue length, wait estimate.",
        ),
    ):
        broker.publisher(
            ESCALATION_EVENTS.name,
            title=f"escalation-outputs-{event_type.__name__}",
            description=description,
            schema=event_type,
        )
    return subscriber
