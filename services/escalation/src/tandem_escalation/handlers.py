"""One use case per consumed event: load the conversation's state, apply the rules,
persist the state, and queue ``EscalationRaised`` in the outbox — in one transaction with
the inbox claim, so a redelivered event changes nothing and publishes nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from tandem_events import (
    AgentJoined,
    AgentLeft,
    AnswerScored,
    ConversationDeleted,
    ConversationResolved,
    EscalationRaised,
    Event,
    HumanRequested,
    MessageReceived,
    deterministic_event_id,
)
from tandem_events.wire import child_traceparent
from tandem_platform.metrics import EVENTS_CONSUMED
from tandem_platform.postgres import claim_event, enqueue

from .adapters import repository
from .adapters.schema import SCHEMA
from .domain.triggers import (
    ConversationState,
    EscalationPolicy,
    Outcome,
    ScoredAnswer,
    VisitorMessage,
    on_agent_joined,
    on_agent_left,
    on_answer_scored,
    on_human_requested,
    on_resolved,
    on_visitor_message,
)
from .metrics import ESCALATIONS

log = logging.getLogger(__name__)

SERVICE = "escalation"
SOURCE = "/tandem/escalation"
#: Inbox consumer name: one projection of the events, so one name.
CONSUMER = "escalation"

Rule = Callable[[ConversationState, EscalationPolicy], Outcome]


@dataclass
class EscalationHandlers:
    policies: repository.PolicyBook
    pool: AsyncConnectionPool | None = None

    def attach(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def handle(self, event: Event, *, traceparent: str | None = None) -> None:
        """Dispatch one consumed event; events the rules do not use are acknowledged as is."""
        match event:
            case MessageReceived():
                message = VisitorMessage(
                    message_id=event.message_id,
                    seq=event.seq,
                    text=event.text,
                    locale=event.locale,
                    sent_at=event.occurred_at,
                )
                await self._apply(
                    event, lambda s, p: on_visitor_message(s, message, p), traceparent
                )
            case HumanRequested():
                await self._apply(event, on_human_requested, traceparent)
            case AnswerScored():
                answer = ScoredAnswer(
                    in_reply_to=event.in_reply_to,
                    question_seq=event.question_seq,
                    question=event.question,
                    answer=event.answer,
                    confidence=event.confidence,
                    answered=event.answered,
                    language=event.language,
                )
                await self._apply(event, lambda s, p: on_answer_scored(s, answer, p), traceparent)
            case AgentJoined():
                await self._apply(event, lambda s, _: Outcome(on_agent_joined(s)), traceparent)
            case AgentLeft():
                resumes = event.ai_resumes
                await self._apply(
                    event, lambda s, _: Outcome(on_agent_left(s, ai_resumes=resumes)), traceparent
                )
            case ConversationResolved():
                await self._apply(event, lambda s, _: Outcome(on_resolved(s)), traceparent)
            case ConversationDeleted():
                await self._forget(event)
            case _:
                EVENTS_CONSUMED.labels(SERVICE, event.event_type, "ignored").inc()

    def _pool(self) -> AsyncConnectionPool:
        if self.pool is None:
            raise RuntimeError("the escalation handlers have no database pool yet")
        return self.pool

    async def _begin(self, conn: AsyncConnection, event: Event) -> bool:
        """Claim the event and lock its conversation; False when there is nothing to do."""
        if not await claim_event(conn, SCHEMA, CONSUMER, event.event_id):
            EVENTS_CONSUMED.labels(SERVICE, event.event_type, "duplicate").inc()
            return False
        await repository.lock_conversation(conn, event.conversation_id)
        if await repository.is_forgotten(conn, event.conversation_id):
            EVENTS_CONSUMED.labels(SERVICE, event.event_type, "forgotten").inc()
            return False
        return True

    async def _apply(self, event: Event, rule: Rule, traceparent: str | None) -> None:
        raised: EscalationRaised | None = None
        async with self._pool().connection() as conn, conn.transaction():
            if not await self._begin(conn, event):
                return
            policy = await self.policies.for_site(conn, event.site_id)
            state = await repository.load_state(conn, event.conversation_id, event.site_id)
            outcome = rule(state, policy)
            if outcome.state.is_blank:
                # Resolved or handed back with nothing pending: keep no row at all.
                await repository.delete_state(conn, event.conversation_id)
            else:
                await repository.save_state(conn, outcome.state)
            if outcome.escalation is not None:
                escalation = outcome.escalation
                raised = EscalationRaised(
                    **event.caused(event_id=deterministic_event_id(SERVICE, event.event_id)),
                    reason=escalation.reason.value,
                    detail=escalation.detail,
                    summary=escalation.summary,
                    language=escalation.language,
                )
                await repository.record_escalation(conn, raised)
                await enqueue(
                    conn, SCHEMA, raised, source=SOURCE, traceparent=child_traceparent(traceparent)
                )
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, "processed").inc()
        if raised is not None:
            ESCALATIONS.labels(raised.reason).inc()
            log.info(
                "escalation raised",
                extra={"fields": {"reason": raised.reason, "site_id": raised.site_id}},
            )

    async def _forget(self, event: ConversationDeleted) -> None:
        async with self._pool().connection() as conn, conn.transaction():
            if not await claim_event(conn, SCHEMA, CONSUMER, event.event_id):
                EVENTS_CONSUMED.labels(SERVICE, event.event_type, "duplicate").inc()
                return
            await repository.lock_conversation(conn, event.conversation_id)
            await repository.forget(conn, event.conversation_id)
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, "processed").inc()
