"""One use case per consumed event: load the conversation's state, apply the rules,
persist the state, queue ``EscalationRaised`` in the outbox and route the conversation
(``AgentAssigned`` or ``EscalationQueued``) — in one transaction with the inbox claim, so a
redelivered event changes nothing and publishes nothing twice.

A visitor message is embedded first (off the event loop, outside the transaction); the
embedding feeds the message classifiers and the repeated-question rule.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from tandem_events import (
    AgentJoined,
    AgentLeft,
    AgentPresenceChanged,
    AnswerScored,
    ConversationDeleted,
    ConversationResolved,
    ConversationStarted,
    ConversationTransferred,
    EscalationRaised,
    EscalationRequested,
    Event,
    HumanRequested,
    MessageReceived,
    deterministic_event_id,
)
from tandem_events.wire import child_traceparent
from tandem_platform.metrics import EVENTS_CONSUMED
from tandem_platform.postgres import Pool as PgPool
from tandem_platform.postgres import claim_event, enqueue

from .adapters import repository, roster
from .adapters import routing_store as store
from .adapters.embedder import Embedder, from_bytes, to_bytes
from .adapters.schema import SCHEMA
from .dispatch import Cause, Dispatcher
from .domain.classifiers import Vector, score_message
from .domain.routing import RoutingRequest, primary_language
from .domain.similarity import SemanticSimilarity
from .domain.skills import skill_of_conversation
from .domain.text import normalise
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
    on_manual_escalation,
    on_resolved,
    on_visitor_message,
)
from .metrics import EMBEDDING_SECONDS, ESCALATIONS

log = logging.getLogger(__name__)

SERVICE = "escalation"
SOURCE = "/tandem/escalation"
#: Inbox consumer name: one projection of the events, so one name.
CONSUMER = "escalation"

Conn = AsyncConnection[Any]
Rule = Callable[[ConversationState, EscalationPolicy], Outcome]
#: What happens to the conversation's routing once the rules have run.
After = Callable[[Conn, Outcome, EscalationRaised | None], Awaitable[None]]


@dataclass
class EscalationHandlers:
    policies: repository.PolicyBook
    dispatcher: Dispatcher | None = None
    embedder: Embedder | None = None
    pool: PgPool | None = None

    def attach(self, pool: PgPool) -> None:
        self.pool = pool

    async def handle(self, event: Event, *, traceparent: str | None = None) -> None:
        """Dispatch one consumed event; events the rules do not use are acknowledged as is."""
        match event:
            case MessageReceived():
                await self._visitor_message(event, traceparent)
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
            case ConversationStarted():
                await self._started(event)
            case EscalationRequested():
                await self._apply(
                    event,
                    lambda s, _: on_manual_escalation(s, event.requested_by_name, event.reason),
                    traceparent,
                    after=self._after_manual(event, traceparent),
                )
            case AgentJoined():
                await self._apply(
                    event,
                    lambda s, _: Outcome(on_agent_joined(s)),
                    traceparent,
                    after=self._after_joined(event, traceparent),
                )
            case AgentLeft():
                resumes = event.ai_resumes
                await self._apply(
                    event,
                    lambda s, _: Outcome(on_agent_left(s, ai_resumes=resumes)),
                    traceparent,
                    after=self._after_left(event, traceparent),
                )
            case ConversationResolved():
                await self._apply(
                    event,
                    lambda s, _: Outcome(on_resolved(s)),
                    traceparent,
                    after=self._after_resolved(event, traceparent),
                )
            case ConversationTransferred():
                await self._transferred(event, traceparent)
            case AgentPresenceChanged():
                await self._presence(event, traceparent)
            case ConversationDeleted():
                await self._forget(event)
            case _:
                EVENTS_CONSUMED.labels(SERVICE, event.event_type, "ignored").inc()

    # ------------------------------------------------------------------ plumbing

    def _pool(self) -> PgPool:
        if self.pool is None:
            raise RuntimeError("the escalation handlers have no database pool yet")
        return self.pool

    def _dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise RuntimeError("the escalation handlers have no dispatcher")
        return self.dispatcher

    async def _begin(self, conn: Conn, event: Event) -> bool:
        """Claim the event and lock its conversation; False when there is nothing to do."""
        if not await claim_event(conn, SCHEMA, CONSUMER, event.event_id):
            EVENTS_CONSUMED.labels(SERVICE, event.event_type, "duplicate").inc()
            return False
        await repository.lock_conversation(conn, event.conversation_id)
        if await repository.is_forgotten(conn, event.conversation_id):
            EVENTS_CONSUMED.labels(SERVICE, event.event_type, "forgotten").inc()
            return False
        return True

    @asynccontextmanager
    async def _claimed(self, event: Event) -> AsyncIterator[Conn | None]:
        """A transaction holding the event's inbox claim and its conversation's lock; yields
        None when the event is a duplicate or about a forgotten conversation."""
        async with self._pool().connection() as conn, conn.transaction():
            yield conn if await self._begin(conn, event) else None

    async def _apply(
        self,
        event: Event,
        rule: Rule,
        traceparent: str | None,
        *,
        after: After | None = None,
    ) -> None:
        async with self._claimed(event) as conn:
            if conn is None:
                return
            policy = await self.policies.for_site(conn, event.site_id)
            state = await repository.load_state(conn, event.conversation_id, event.site_id)
            outcome = rule(state, policy)
            raised = await self._finish(conn, event, outcome, traceparent)
            if after is not None:
                await after(conn, outcome, raised)
            elif raised is not None:
                await self._route_escalation(conn, outcome.state, raised, traceparent)
        self._processed(event, raised)

    async def _finish(
        self, conn: Conn, event: Event, outcome: Outcome, traceparent: str | None
    ) -> EscalationRaised | None:
        """Store the rule state; queue the escalation, if any, in the outbox."""
        if outcome.state.is_blank:
            # Resolved or handed back with nothing pending: keep no row at all.
            await repository.delete_state(conn, event.conversation_id)
        else:
            await repository.save_state(conn, outcome.state)
        if outcome.escalation is None:
            return None
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
        return raised

    def _processed(self, event: Event, raised: EscalationRaised | None = None) -> None:
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, "processed").inc()
        if raised is not None:
            ESCALATIONS.labels(raised.reason).inc()
            log.info(
                "escalation raised",
                extra={
                    "fields": {
                        "reason": raised.reason,
                        "site_id": raised.site_id,
                        "conversation_id": str(raised.conversation_id),
                        "correlation_id": str(raised.correlation_id),
                    }
                },
            )

    # ------------------------------------------------------------------ visitor messages

    async def _embed(self, text: str) -> Vector | None:
        if self.embedder is None or not self.embedder.ready:
            return None
        started = time.perf_counter()
        vector = await self.embedder.embed(text)
        EMBEDDING_SECONDS.observe(time.perf_counter() - started)
        return vector

    async def _visitor_message(self, event: MessageReceived, traceparent: str | None) -> None:
        vector = await self._embed(event.text)
        message = VisitorMessage(
            message_id=event.message_id,
            seq=event.seq,
            text=event.text,
            locale=event.locale,
            sent_at=event.occurred_at,
        )
        raised = None
        async with self._claimed(event) as conn:
            if conn is None:
                return
            policy = await self.policies.for_site(conn, event.site_id)
            state = await repository.load_state(conn, event.conversation_id, event.site_id)
            similarity = await self._similarity(conn, state, event, vector)
            scores = score_message(
                event.text,
                human_request_phrases=policy.human_request_phrases,
                complaint_phrases=policy.frustration_phrases,
                vector=vector,
                bank=self.embedder.bank if self.embedder else None,
            )
            outcome = on_visitor_message(state, message, policy, similarity, scores)
            if vector is not None and self.embedder is not None:
                await repository.save_embedding(
                    conn,
                    event.conversation_id,
                    event.message_id,
                    self.embedder.model_name,
                    to_bytes(vector),
                )
            await repository.keep_embeddings(
                conn, event.conversation_id, [t.message_id for t in outcome.state.turns]
            )
            raised = await self._finish(conn, event, outcome, traceparent)
            if raised is not None:
                await self._route_escalation(conn, outcome.state, raised, traceparent)
        self._processed(event, raised)

    async def _similarity(
        self,
        conn: Conn,
        state: ConversationState,
        event: MessageReceived,
        vector: Vector | None,
    ) -> SemanticSimilarity | None:
        """Embedding similarity over the remembered questions (None: the rule's fallback)."""
        if vector is None or self.embedder is None:
            return None
        stored = await repository.load_embeddings(
            conn, event.conversation_id, self.embedder.model_name
        )
        vectors = {
            turn.normalised: from_bytes(stored[turn.message_id])
            for turn in state.turns
            if turn.message_id in stored
        }
        vectors[normalise(event.text)] = vector
        return SemanticSimilarity(vectors)

    async def _started(self, event: ConversationStarted) -> None:
        async with self._claimed(event) as conn:
            if conn is None:
                return
            await repository.save_context(
                conn, event.conversation_id, event.site_id, event.visitor_id, event.locale
            )
        self._processed(event)

    # ------------------------------------------------------------------ routing

    async def _request(
        self,
        conn: Conn,
        conversation_id: uuid.UUID,
        site_id: str,
        state: ConversationState,
        *,
        skill: str | None = None,
        excluded: frozenset[str] = frozenset(),
    ) -> RoutingRequest:
        """What the conversation needs: the skill its questions name, its language, and
        VIP priority when the site lists its visitor."""
        visitor_id, locale = await repository.load_context(conn, conversation_id)
        settings = await self._dispatcher().settings(conn, site_id)
        return RoutingRequest(
            conversation_id=conversation_id,
            required_skill=skill or skill_of_conversation(t.question for t in state.turns),
            language=primary_language(state.language or locale),
            priority=settings.priority_of(visitor_id),
            excluded=excluded,
        )

    async def _route_escalation(
        self,
        conn: Conn,
        state: ConversationState,
        raised: EscalationRaised,
        traceparent: str | None,
    ) -> None:
        """A new escalation: to an agent now, or into the queue (unless it already has one)."""
        if await store.assignment_of(conn, raised.conversation_id) is not None:
            return
        request = await self._request(conn, raised.conversation_id, raised.site_id, state)
        await self._dispatcher().route(
            conn, site_id=raised.site_id, request=request, cause=Cause.of(raised, traceparent)
        )

    def _after_manual(self, event: EscalationRequested, traceparent: str | None) -> After:
        async def after(conn: Conn, outcome: Outcome, raised: EscalationRaised | None) -> None:
            if raised is None:
                return
            cause = Cause.of(raised, traceparent)
            current = await store.assignment_of(conn, event.conversation_id)
            if current is not None and (
                event.skill is None or event.skill == current.required_skill
            ):
                return  # it already has an agent with what it needs
            dispatcher = self._dispatcher()
            if current is not None:
                await dispatcher.release(
                    conn, site_id=event.site_id, conversation_id=event.conversation_id
                )
            request = await self._request(
                conn,
                event.conversation_id,
                event.site_id,
                outcome.state,
                skill=event.skill,
                excluded=frozenset({current.agent_id}) if current else frozenset(),
            )
            await dispatcher.route(
                conn,
                site_id=event.site_id,
                request=request,
                cause=cause,
                assignment="transfer" if current else "routed",
                previous_agent_id=current.agent_id if current else None,
            )
            if current is not None:
                await dispatcher.advance_queue(conn, site_id=event.site_id, cause=cause)

        return after

    def _after_joined(self, event: AgentJoined, traceparent: str | None) -> After:
        async def after(conn: Conn, outcome: Outcome, raised: EscalationRaised | None) -> None:
            dispatcher = self._dispatcher()
            await dispatcher.take(
                conn,
                site_id=event.site_id,
                conversation_id=event.conversation_id,
                agent_id=event.agent_id,
                name=event.agent_name,
            )
            # A previous agent's place, or a place in the queue, may have freed.
            await dispatcher.advance_queue(
                conn, site_id=event.site_id, cause=Cause.of(event, traceparent)
            )

        return after

    def _after_left(self, event: AgentLeft, traceparent: str | None) -> After:
        async def after(conn: Conn, outcome: Outcome, raised: EscalationRaised | None) -> None:
            dispatcher = self._dispatcher()
            cause = Cause.of(event, traceparent)
            current = await store.assignment_of(conn, event.conversation_id)
            if current is None or current.agent_id != event.agent_id:
                return  # transferred already, or never theirs
            await dispatcher.release(
                conn, site_id=event.site_id, conversation_id=event.conversation_id
            )
            if not event.ai_resumes:
                # Left without handing back: the visitor still needs a person.
                request = RoutingRequest(
                    event.conversation_id,
                    current.required_skill,
                    current.language,
                    current.priority,
                    excluded=frozenset({event.agent_id}),
                )
                await dispatcher.route(
                    conn,
                    site_id=event.site_id,
                    request=request,
                    cause=cause,
                    assignment="reassigned",
                    previous_agent_id=event.agent_id,
                    queued_since=current.assigned_at,
                )
            await dispatcher.advance_queue(conn, site_id=event.site_id, cause=cause)

        return after

    def _after_resolved(self, event: ConversationResolved, traceparent: str | None) -> After:
        async def after(conn: Conn, outcome: Outcome, raised: EscalationRaised | None) -> None:
            dispatcher = self._dispatcher()
            await dispatcher.release(
                conn,
                site_id=event.site_id,
                conversation_id=event.conversation_id,
                resolved_at=event.occurred_at,
            )
            await dispatcher.advance_queue(
                conn, site_id=event.site_id, cause=Cause.of(event, traceparent)
            )

        return after

    async def _transferred(self, event: ConversationTransferred, traceparent: str | None) -> None:
        async with self._claimed(event) as conn:
            if conn is None:
                return
            dispatcher = self._dispatcher()
            cause = Cause.of(event, traceparent)
            state = await repository.load_state(conn, event.conversation_id, event.site_id)
            current = await store.assignment_of(conn, event.conversation_id)
            base = await self._request(
                conn,
                event.conversation_id,
                event.site_id,
                state,
                skill=event.to_skill or (current.required_skill if current else None),
            )
            if current is not None:
                base = RoutingRequest(
                    base.conversation_id,
                    base.required_skill,
                    current.language or base.language,
                    current.priority,
                )
            named = await roster.get(conn, event.to_agent_id) if event.to_agent_id else None
            other_site = named is not None and named.site_id != event.site_id
            if other_site:
                # An agent of another site is never a valid target: route within this site.
                log.warning("transfer to an agent of another site refused; routing instead")
            if event.to_agent_id and not other_site:
                await dispatcher.assign_to(
                    conn,
                    site_id=event.site_id,
                    request=base,
                    agent_id=event.to_agent_id,
                    agent_name=named.name if named else event.to_agent_id,
                    cause=cause,
                    assignment="transfer",
                    previous_agent_id=event.from_agent_id,
                )
            else:
                await dispatcher.release(
                    conn, site_id=event.site_id, conversation_id=event.conversation_id
                )
                excluded = frozenset({event.from_agent_id})
                await dispatcher.route(
                    conn,
                    site_id=event.site_id,
                    request=RoutingRequest(
                        base.conversation_id,
                        base.required_skill,
                        base.language,
                        base.priority,
                        excluded,
                    ),
                    cause=cause,
                    assignment="transfer",
                    previous_agent_id=event.from_agent_id,
                )
            await dispatcher.advance_queue(conn, site_id=event.site_id, cause=cause)
        self._processed(event)

    async def _presence(self, event: AgentPresenceChanged, traceparent: str | None) -> None:
        """Presence first (Redis), then what it changes: an agent who went away loses their
        conversations to others; one who became available takes from the queue."""
        dispatcher = self._dispatcher()
        applied = await dispatcher.presence.apply(event)
        async with self._pool().connection() as conn, conn.transaction():
            if not await claim_event(conn, SCHEMA, CONSUMER, event.event_id):
                EVENTS_CONSUMED.labels(SERVICE, event.event_type, "duplicate").inc()
                return
            if applied:
                cause = Cause.of(event, traceparent)
                if event.status in ("away", "offline"):
                    await dispatcher.reassign_agent(
                        conn, site_id=event.site_id, agent_id=event.agent_id, cause=cause
                    )
                elif event.status == "available":
                    await dispatcher.advance_queue(conn, site_id=event.site_id, cause=cause)
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, "processed" if applied else "stale").inc()

    async def _forget(self, event: ConversationDeleted) -> None:
        async with self._pool().connection() as conn, conn.transaction():
            if not await claim_event(conn, SCHEMA, CONSUMER, event.event_id):
                EVENTS_CONSUMED.labels(SERVICE, event.event_type, "duplicate").inc()
                return
            await repository.lock_conversation(conn, event.conversation_id)
            if self.dispatcher is not None:
                await self.dispatcher.release(
                    conn, site_id=event.site_id, conversation_id=event.conversation_id
                )
            await repository.forget(conn, event.conversation_id)
            if self.dispatcher is not None:
                await self.dispatcher.advance_queue(
                    conn, site_id=event.site_id, cause=Cause.of(event)
                )
        EVENTS_CONSUMED.labels(SERVICE, event.event_type, "processed").inc()
