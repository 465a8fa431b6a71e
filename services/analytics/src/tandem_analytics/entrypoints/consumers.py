"""The analytics service's one Kafka subscriber: every topic but the dead letters.

The payload type lists every event type in the contract, so an event no projection uses
is acknowledged and ignored instead of failing validation and being dead-lettered.
"""

from __future__ import annotations

from typing import Annotated

from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from pydantic import Field
from tandem_events import (
    ALL_TOPICS,
    AgentAssigned,
    AgentJoined,
    AgentLeft,
    AgentPresenceChanged,
    AgentReplied,
    AnswerScored,
    ConversationDeleted,
    ConversationDeletionRequested,
    ConversationRated,
    ConversationResolved,
    ConversationStarted,
    ConversationStatusChanged,
    ConversationTransferred,
    EscalationQueued,
    EscalationRaised,
    EscalationRequested,
    HeldReplyReleased,
    HeldReplyReviewed,
    HumanRequested,
    KnowledgeDocumentIndexed,
    KnowledgeDocumentRemoved,
    MessageReceived,
    NoteAdded,
    ReplyCorrected,
    ReplyHeld,
    ReplyPosted,
    ResolutionRequested,
)
from tandem_events.topics import DEAD_LETTER
from tandem_platform.messaging import AT_LEAST_ONCE, decode_event

from ..handlers import AnalyticsProjector
from ..settings import AnalyticsSettings

SUBSCRIBED_TOPICS = tuple(topic for topic in ALL_TOPICS if topic != DEAD_LETTER)

AnalyticsInput = Annotated[
    ConversationStarted
    | MessageReceived
    | ConversationRated
    | HumanRequested
    | ConversationDeletionRequested
    | AnswerScored
    | KnowledgeDocumentIndexed
    | KnowledgeDocumentRemoved
    | ReplyPosted
    | ConversationStatusChanged
    | ConversationResolved
    | ConversationDeleted
    | ReplyHeld
    | HeldReplyReleased
    | EscalationRaised
    | AgentAssigned
    | EscalationQueued
    | AgentJoined
    | AgentLeft
    | AgentReplied
    | NoteAdded
    | HeldReplyReviewed
    | ReplyCorrected
    | ConversationTransferred
    | EscalationRequested
    | ResolutionRequested
    | AgentPresenceChanged,
    Field(discriminator="event_type"),
]


def register_consumers(
    broker: KafkaBroker, projector: AnalyticsProjector, settings: AnalyticsSettings
) -> DefaultSubscriber:
    subscriber = broker.subscriber(
        *(topic.name for topic in SUBSCRIBED_TOPICS),
        group_id=settings.group_id,
        ack_policy=AT_LEAST_ONCE,
        decoder=decode_event,
        auto_offset_reset=settings.auto_offset_reset,
        title="analytics-inputs",
        description="Every Tandem event, projected into the dashboard's read models.",
    )

    @subscriber
    async def on_event(event: AnalyticsInput) -> None:
        await projector.handle(event)

    return subscriber
