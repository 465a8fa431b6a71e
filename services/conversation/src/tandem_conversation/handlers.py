"""One handler per event: parse (done by the subscriber), ask the domain, persist, publish.

Every handler runs in one Postgres transaction holding the inbox record, the state change
and the outbox rows, so a redelivered event changes nothing and a rolled-back change
publishes nothing.
"""

from __future__ import annotations

import logging
import uuid

from tandem_events import (
    AgentJoined,
    AgentLeft,
    AgentReplied,
    AnswerScored,
    ConversationDeleted,
    ConversationDeletionRequested,
    ConversationRated,
    ConversationStarted,
    ConversationStatusChanged,
    EscalationRaised,
    Event,
    MessageReceived,
    ReplyPosted,
    Source,
    deterministic_event_id,
)
from tandem_platform.metrics import EVENTS_CONSUMED
from tandem_platform.postgres import DictConnection, Pool, claim_event, enqueue
from tandem_platform.redis import SequenceAllocator

from .adapters import repository as repo
from .adapters.schema import SCHEMA
from .domain.lifecycle import ConversationState, decide_ai_reply

log = logging.getLogger(__name__)
SOURCE = "/tandem/conversation"


class Deps:
    """What the handlers need; filled in by the app's lifespan once connections exist."""

    pool: Pool
    sequence: SequenceAllocator


async def _publish(conn: DictConnection, event: Event) -> None:
    await enqueue(conn, SCHEMA, event, source=SOURCE)


async def _status_change(
    conn: DictConnection,
    cause: Event,
    before: ConversationState,
    after: ConversationState,
    reason: str,
) -> None:
    await repo.save_state(conn, cause.conversation_id, after)
    if before.status != after.status:
        await _publish(
            conn,
            ConversationStatusChanged(
                event_id=deterministic_event_id("ConversationStatusChanged", cause.event_id),
                previous_status=before.status,
                status=after.status,
                reason=reason,
                **cause.caused(),
            ),
        )


async def _store_and_post(
    conn: DictConnection,
    deps: Deps,
    cause: Event,
    *,
    message_id: uuid.UUID,
    seq: int | None,
    author: str,
    text: str,
    author_name: str | None = None,
    in_reply_to: uuid.UUID | None = None,
    confidence: float | None = None,
    sources: tuple[Source, ...] = (),
    language: str | None = None,
) -> None:
    """Store one message and announce it with ReplyPosted. ``seq=None`` takes the next number."""
    conversation_id = cause.conversation_id
    created_at = cause.occurred_at
    for _ in range(3):
        if seq is None:
            seq = await deps.sequence.next(conversation_id)
        try:
            stored = await repo.insert_message(
                conn,
                message_id=message_id,
                conversation_id=conversation_id,
                seq=seq,
                author=author,
                author_name=author_name,
                text=text,
                created_at=created_at,
                in_reply_to=in_reply_to,
                confidence=confidence,
                sources=[s.model_dump() for s in sources],
                language=language,
            )
        except repo.SeqTakenError:
            # Redis lost its counter and handed out a used number: move the counter past
            # what we hold and take a fresh one.
            await deps.sequence.raise_to(conversation_id, await repo.max_seq(conn, conversation_id))
            seq = None
            continue
        if not stored:
            return
        await _publish(
            conn,
            ReplyPosted(
                event_id=deterministic_event_id("ReplyPosted", message_id),
                message_id=message_id,
                seq=seq,
                author=author,
                author_name=author_name,
                text=text,
                created_at=created_at,
                in_reply_to=in_reply_to,
                confidence=confidence,
                sources=sources,
                language=language,
                **cause.caused(),
            ),
        )
        return
    raise RuntimeError(f"could not find a free seq for conversation {conversation_id}")


async def handle(deps: Deps, consumer: str, event: Event) -> str:
    """Apply one event exactly once. Returns the outcome for metrics."""
    async with deps.pool.connection() as conn, conn.transaction():
        if not await claim_event(conn, SCHEMA, consumer, event.event_id):
            outcome = "duplicate"
        elif await repo.is_deleted(conn, event.conversation_id):
            outcome = "ignored_deleted"
        else:
            outcome = await _apply(conn, deps, event)
    EVENTS_CONSUMED.labels(consumer, event.event_type, outcome).inc()
    return outcome


async def _apply(conn: DictConnection, deps: Deps, event: Event) -> str:
    match event:
        case ConversationStarted():
            await repo.ensure_conversation(
                conn,
                event.conversation_id,
                event.site_id,
                visitor_id=event.visitor_id,
                visitor_name=event.visitor_name,
                visitor_email=event.visitor_email,
                identity_verified=event.identity_verified,
                locale=event.locale,
            )
            await _store_and_post(
                conn,
                deps,
                event,
                message_id=event.greeting_message_id,
                seq=event.greeting_seq,
                author="system",
                text=event.greeting_text,
            )
            return "processed"
        case MessageReceived():
            await repo.ensure_conversation(
                conn, event.conversation_id, event.site_id, locale=event.locale
            )
            before = await _locked(conn, event)
            await _status_change(conn, event, before, before.on_visitor_message(), "visitor wrote")
            await _store_and_post(
                conn,
                deps,
                event,
                message_id=event.message_id,
                seq=event.seq,
                author="visitor",
                text=event.text,
            )
            return "processed"
        case AnswerScored():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            # The answer can overtake the question (different topics): store the question
            # from the answer's copy; the MessageReceived that follows is then a no-op.
            await _store_and_post(
                conn,
                deps,
                event,
                message_id=event.in_reply_to,
                seq=event.question_seq,
                author="visitor",
                text=event.question,
            )
            state = await _locked(conn, event)
            if decide_ai_reply(state) != "post":
                log.info("AI answer suppressed: an agent has the conversation")
                return "suppressed_agent_active"
            await _store_and_post(
                conn,
                deps,
                event,
                message_id=deterministic_event_id("ai-message", event.in_reply_to),
                seq=None,
                author="ai",
                text=event.answer,
                in_reply_to=event.in_reply_to,
                confidence=event.confidence,
                sources=event.sources,
                language=event.language,
            )
            return "processed"
        case EscalationRaised():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            await _status_change(
                conn, event, before, before.on_escalation(), f"escalated: {event.reason}"
            )
            return "processed"
        case AgentJoined():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            after = before.on_agent_joined(event.agent_id, event.agent_name)
            await _status_change(conn, event, before, after, f"agent {event.agent_name} joined")
            return "processed"
        case AgentLeft():
            before = await _locked(conn, event)
            after = before.on_agent_left(event.agent_id, event.ai_resumes)
            await _status_change(conn, event, before, after, f"agent {event.agent_name} left")
            return "processed"
        case AgentReplied():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            await _store_and_post(
                conn,
                deps,
                event,
                message_id=event.message_id,
                seq=event.seq,
                author="agent",
                author_name=event.agent_name,
                text=event.text,
            )
            return "processed"
        case ConversationRated():
            await repo.set_rating(conn, event.conversation_id, event.score, event.comment)
            return "processed"
        case ConversationDeletionRequested():
            await repo.forget_conversation(conn, event.conversation_id)
            await deps.sequence.forget(event.conversation_id)
            await _publish(
                conn,
                ConversationDeleted(
                    event_id=deterministic_event_id("ConversationDeleted", event.conversation_id),
                    requested_by=event.requested_by,
                    **event.caused(),
                ),
            )
            return "processed"
        case _:
            return "ignored"


async def _locked(conn: DictConnection, event: Event) -> ConversationState:
    state = await repo.lock_state(conn, event.conversation_id)
    if state is None:  # created just above in the same transaction; cannot be missing
        raise RuntimeError(f"conversation {event.conversation_id} vanished mid-transaction")
    return state
