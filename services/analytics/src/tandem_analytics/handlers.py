"""Projects each consumed event into the read models, in one transaction with the inbox
claim: a redelivered event finds its id already claimed and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tandem_events import (
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
    Event,
    HeldReplyReleased,
    HeldReplyReviewed,
    HumanRequested,
    KnowledgeDocumentIndexed,
    KnowledgeDocumentRemoved,
    KnowledgeIngestionProgressed,
    MessageReceived,
    NoteAdded,
    ReplyCorrected,
    ReplyHeld,
    ReplyPosted,
    ResolutionRequested,
    utc_now,
)
from tandem_platform.metrics import EVENTS_CONSUMED
from tandem_platform.postgres import Pool as PgPool
from tandem_platform.postgres import claim_event

from .adapters import projections
from .adapters.schema import SCHEMA
from .metrics import PROJECTION_LAG

SERVICE = "analytics"
CONSUMER = "analytics"

Projection = Callable[[projections.Conn, Any], Awaitable[None]]

#: Events that change a read model.
PROJECTIONS: dict[type[Event], Projection] = {
    ConversationStarted: projections.conversation_started,
    MessageReceived: projections.message_received,
    ReplyPosted: projections.reply_posted,
    AgentReplied: projections.agent_replied,
    AnswerScored: projections.answer_scored,
    EscalationRaised: projections.escalation_raised,
    ConversationStatusChanged: projections.status_changed,
    ConversationResolved: projections.conversation_resolved,
    ConversationRated: projections.conversation_rated,
    AgentJoined: projections.agent_joined,
    KnowledgeDocumentIndexed: projections.document_indexed,
    KnowledgeDocumentRemoved: projections.document_removed,
    # Overrides: held replies edited, replaced, discarded or fallen back; corrections.
    HeldReplyReleased: projections.held_reply_released,
    ReplyCorrected: projections.reply_corrected,
    # Queue waits: from queued to assigned.
    EscalationQueued: projections.escalation_queued,
    AgentAssigned: projections.agent_assigned,
}
#: A deletion request is honoured at once; the conversation service's ConversationDeleted
#: that follows finds nothing left.
DELETIONS = (ConversationDeleted, ConversationDeletionRequested)
#: Acknowledged and ignored: what they mean reaches analytics through other events
#: (EscalationRaised, ReplyPosted, ConversationStatusChanged, ConversationResolved,
#: HeldReplyReleased), or they carry nothing the dashboard shows: internal notes stay
#: internal, presence is not about a conversation, a transfer moves work between agents,
#: ingestion progress is for watching a job (the indexed documents themselves count).
IGNORED = (
    HumanRequested,
    AgentLeft,
    NoteAdded,
    ReplyHeld,
    HeldReplyReviewed,
    ConversationTransferred,
    EscalationRequested,
    ResolutionRequested,
    AgentPresenceChanged,
    KnowledgeIngestionProgressed,
)
#: Events about a knowledge base, not a conversation (their conversation id is nil).
SITE_EVENTS = (KnowledgeDocumentIndexed, KnowledgeDocumentRemoved)


@dataclass
class AnalyticsProjector:
    pool: PgPool | None = None

    def attach(self, pool: PgPool) -> None:
        self.pool = pool

    def _pool(self) -> PgPool:
        if self.pool is None:
            raise RuntimeError("the analytics projector has no database pool yet")
        return self.pool

    async def handle(self, event: Event) -> None:
        projection = PROJECTIONS.get(type(event))
        deletion = isinstance(event, DELETIONS)
        if projection is None and not deletion:
            EVENTS_CONSUMED.labels(SERVICE, event.event_type, "ignored").inc()
            return
        outcome = "processed"
        async with self._pool().connection() as conn, conn.transaction():
            if not await claim_event(conn, SCHEMA, CONSUMER, event.event_id):
                EVENTS_CONSUMED.labels(SERVICE, event.event_type, "duplicate").inc()
                return
            if not isinstance(event, SITE_EVENTS):
                await projections.lock_conversation(conn, event.conversation_id)
            if deletion:
                await projections.forget(conn, event.conversation_id)
            elif not isinstance(event, SITE_EVENTS) and await projections.is_forgotten(
                conn, event.conversation_id
            ):
                outcome = "forgotten"
            elif projection is not None:
                await projection(conn, event)
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, outcome).inc()
        PROJECTION_LAG.observe(max(0.0, (utc_now() - event.occurred_at).total_seconds()))
