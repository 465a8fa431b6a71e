"""One handler per event: parse (done by the subscriber), ask the domain, persist, publish.

Every handler runs in one Postgres transaction holding the inbox record, the state change
and the outbox rows, so a redelivered event changes nothing and a rolled-back change
publishes nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
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
    MessageReceived,
    NoteAdded,
    ReplyCorrected,
    ReplyHeld,
    ReplyPosted,
    ResolutionRequested,
    Source,
    deterministic_event_id,
    utc_now,
)
from tandem_platform.metrics import EVENTS_CONSUMED
from tandem_platform.postgres import DictConnection, Pool, claim_event, enqueue
from tandem_platform.redis import SequenceAllocator

from .adapters import repository as repo
from .adapters import sites
from .adapters.schema import SCHEMA
from .domain.hold import (
    Release,
    ReviewRejectedError,
    decide_ai_answer,
    release_on_review,
    release_on_timeout,
)
from .domain.lifecycle import ConversationState

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
                event_id=deterministic_event_id(
                    "ConversationStatusChanged", cause.event_id, after.status
                ),
                previous_status=before.status,
                status=after.status,
                reason=reason,
                **cause.caused(),
            ),
        )


async def _store_and_post(
    conn: DictConnection,
    deps: Deps,
    envelope: dict[str, Any],
    *,
    message_id: uuid.UUID,
    seq: int | None,
    author: str,
    text: str,
    created_at: datetime,
    author_name: str | None = None,
    in_reply_to: uuid.UUID | None = None,
    confidence: float | None = None,
    sources: tuple[Source, ...] = (),
    language: str | None = None,
    corrects: uuid.UUID | None = None,
) -> bool:
    """Store one message and announce it with ReplyPosted. ``seq=None`` takes the next number.

    ``envelope`` carries site, conversation, correlation and causation (``Event.caused()``).
    Returns False when the message was already stored (a redelivery).
    """
    conversation_id: uuid.UUID = envelope["conversation_id"]
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
                corrects=corrects,
            )
        except repo.SeqTakenError:
            # Redis lost its counter and handed out a used number: move the counter past
            # what we hold and take a fresh one.
            await deps.sequence.raise_to(conversation_id, await repo.max_seq(conn, conversation_id))
            seq = None
            continue
        if not stored:
            return False
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
                **envelope,
            ),
        )
        return True
    raise RuntimeError(f"could not find a free seq for conversation {conversation_id}")


#: Events on the consumed topics that change nothing here: skipped before any database work
#: (presence heartbeats especially are frequent and belong to no conversation).
NOT_OURS: tuple[type[Event], ...] = (
    AgentPresenceChanged,
    EscalationQueued,
    EscalationRequested,
    HumanRequested,
)


async def handle(deps: Deps, consumer: str, event: Event) -> str:
    """Apply one event exactly once. Returns the outcome for metrics."""
    if isinstance(event, NOT_OURS):
        outcome = "ignored"
    else:
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
                event.caused(),
                message_id=event.greeting_message_id,
                seq=event.greeting_seq,
                author="system",
                text=event.greeting_text,
                created_at=event.occurred_at,
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
                event.caused(),
                message_id=event.message_id,
                seq=event.seq,
                author="visitor",
                text=event.text,
                created_at=event.occurred_at,
            )
            return "processed"
        case AnswerScored():
            return await _on_answer(conn, deps, event)
        case EscalationRaised():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            await repo.record_escalation(conn, event.conversation_id, event.reason, event.language)
            await _status_change(
                conn, event, before, before.on_escalation(), f"escalated: {event.reason}"
            )
            return "processed"
        case AgentAssigned():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            after = before.on_agent_assigned(event.agent_id, event.agent_name)
            await _status_change(
                conn, event, before, after, f"assigned to {event.agent_name} ({event.assignment})"
            )
            return "processed"
        case AgentJoined():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            after = before.on_agent_joined(event.agent_id, event.agent_name)
            await _status_change(conn, event, before, after, f"agent {event.agent_name} joined")
            await repo.mark_agent_joined(conn, event.conversation_id)
            return "processed"
        case AgentLeft():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            after = before.on_agent_left(event.agent_id, event.ai_resumes)
            if after == before:
                return "ignored_not_holder"
            await _status_change(conn, event, before, after, f"agent {event.agent_name} left")
            return "processed"
        case ConversationTransferred():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            target = event.to_agent_id or (f"skill {event.to_skill}" if event.to_skill else "queue")
            await _status_change(
                conn,
                event,
                before,
                before.on_transferred(),
                f"transferred by {event.from_agent_name} to {target}",
            )
            return "processed"
        case AgentReplied():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            await _store_and_post(
                conn,
                deps,
                event.caused(),
                message_id=event.message_id,
                seq=event.seq,
                author="agent",
                author_name=event.agent_name,
                text=event.text,
                created_at=event.occurred_at,
            )
            return "processed"
        case NoteAdded():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            # Internal: stored for agents, never a ReplyPosted, never on the visitor's stream.
            await repo.add_note(
                conn,
                note_id=event.note_id,
                conversation_id=event.conversation_id,
                agent_id=event.agent_id,
                agent_name=event.agent_name,
                text=event.text,
                created_at=event.occurred_at,
            )
            return "processed"
        case ReplyCorrected():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            await _store_and_post(
                conn,
                deps,
                event.caused(),
                message_id=event.correction_message_id,
                seq=event.seq,
                author="agent",
                author_name=event.agent_name,
                text=event.text,
                created_at=event.occurred_at,
                corrects=event.corrected_message_id,
            )
            if not await repo.mark_corrected(
                conn,
                event.conversation_id,
                event.corrected_message_id,
                event.correction_message_id,
            ):
                log.warning("correction of a message this conversation does not have")
            return "processed"
        case HeldReplyReviewed():
            return await _on_review(conn, deps, event)
        case ResolutionRequested():
            await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
            before = await _locked(conn, event)
            if before.status == "resolved":
                return "ignored_already_resolved"
            after = before.on_resolved()
            who = event.agent_name or event.requested_by
            await _status_change(conn, event, before, after, f"resolved by {who}")
            row = await repo.get_conversation(conn, event.conversation_id)
            duration = float(row["duration_seconds"]) if row else 0.0
            await _publish(
                conn,
                ConversationResolved(
                    event_id=deterministic_event_id("ConversationResolved", event.event_id),
                    resolved_by=event.requested_by,
                    duration_seconds=max(0.0, duration),
                    **event.caused(),
                ),
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


def ai_message_id(in_reply_to: uuid.UUID) -> uuid.UUID:
    """The id of the AI's answer to one visitor message, held or posted."""
    return deterministic_event_id("ai-message", in_reply_to)


async def _on_answer(conn: DictConnection, deps: Deps, event: AnswerScored) -> str:
    await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
    # The row lock serialises this with AgentJoined: a join committed first is seen here,
    # and a join waiting for the lock comes after the answer was stored.
    state = await _locked(conn, event)
    # The answer can overtake the question (different topics): store the question from the
    # answer's copy (reopening a resolved conversation, as the question itself would); the
    # MessageReceived that follows is then a no-op.
    if await _store_and_post(
        conn,
        deps,
        event.caused(),
        message_id=event.in_reply_to,
        seq=event.question_seq,
        author="visitor",
        text=event.question,
        created_at=event.occurred_at,
    ):
        reopened = state.on_visitor_message()
        await _status_change(conn, event, state, reopened, "visitor wrote")
        state = reopened
    await repo.record_answer(conn, event.conversation_id, event.confidence, event.language)
    policy = await sites.hold_policy(conn, event.site_id)
    decision = decide_ai_answer(state, policy, event.confidence)
    message_id = ai_message_id(event.in_reply_to)
    if decision == "suppress_agent_active":
        log.info("AI answer suppressed: an agent has the conversation")
        return "suppressed_agent_active"
    if decision == "hold":
        now = utc_now()
        held = ReplyHeld(
            event_id=deterministic_event_id("ReplyHeld", message_id),
            message_id=message_id,
            in_reply_to=event.in_reply_to,
            text=event.answer,
            confidence=event.confidence,
            sources=event.sources,
            language=event.language,
            hold_until=policy.hold_until(now),
            on_timeout=policy.timeout_action,
            **event.caused(),
        )
        if await repo.hold_reply(
            conn,
            message_id=message_id,
            conversation_id=event.conversation_id,
            site_id=event.site_id,
            in_reply_to=event.in_reply_to,
            text=event.answer,
            confidence=event.confidence,
            sources=[s.model_dump() for s in event.sources],
            language=event.language,
            created_at=now,
            hold_until=held.hold_until,
            on_timeout=policy.timeout_action,
            fallback_text=policy.fallback,
            held_event_id=held.event_id,
            correlation_id=held.correlation_id,
        ):
            await _publish(conn, held)
            await _status_change(conn, event, state, state.on_reply_held(), "AI reply held")
        return "held"
    await _store_and_post(
        conn,
        deps,
        event.caused(),
        message_id=message_id,
        seq=None,
        author="ai",
        text=event.answer,
        created_at=event.occurred_at,
        in_reply_to=event.in_reply_to,
        confidence=event.confidence,
        sources=event.sources,
        language=event.language,
    )
    return "processed"


async def _on_review(conn: DictConnection, deps: Deps, event: HeldReplyReviewed) -> str:
    await repo.ensure_conversation(conn, event.conversation_id, event.site_id)
    state = await _locked(conn, event)
    held = await repo.lock_held_reply(conn, event.conversation_id, event.held_message_id)
    if held is None:
        log.warning("review of a held reply this conversation does not have")
        return "ignored_unknown_held_reply"
    if held["state"] != "held":
        return "ignored_already_released"
    try:
        release = release_on_review(event.decision, held["text"], event.text, event.reason)
    except ReviewRejectedError as exc:
        log.warning("held-reply review refused", extra={"fields": {"error": str(exc)}})
        return "ignored_invalid_review"
    await _release(
        conn,
        deps,
        held,
        release,
        state,
        envelope=event.caused(),
        released_event_id=deterministic_event_id("HeldReplyReleased", event.event_id),
        agent_id=event.agent_id,
        agent_name=event.agent_name,
    )
    return release.outcome


async def _release(
    conn: DictConnection,
    deps: Deps,
    held: repo.Row,
    release: Release,
    state: ConversationState,
    *,
    envelope: dict[str, Any],
    released_event_id: uuid.UUID,
    agent_id: str | None,
    agent_name: str | None,
) -> None:
    """Post what the release says (if anything), settle the held row, publish
    HeldReplyReleased, and unflag the conversation once nothing is held any more."""
    held_id: uuid.UUID = held["message_id"]
    posted_id: uuid.UUID | None = None
    if release.text is not None:
        posted_id = (
            held_id if release.as_held_answer else deterministic_event_id("released", held_id)
        )
        await _store_and_post(
            conn,
            deps,
            envelope,
            message_id=posted_id,
            seq=None,
            author=release.author or "ai",
            author_name=agent_name if release.author == "agent" else None,
            text=release.text,
            created_at=utc_now(),
            in_reply_to=held["in_reply_to"],
            confidence=held["confidence"] if release.as_held_answer else None,
            sources=(
                tuple(Source.model_validate(s) for s in held["sources"] or [])
                if release.as_held_answer
                else ()
            ),
            language=held["language"] if release.as_held_answer else None,
        )
    await repo.settle_held_reply(
        conn,
        held_id,
        outcome=release.outcome,
        decided_by=agent_id,
        reason=release.reason,
        posted_message_id=posted_id,
    )
    await _publish(
        conn,
        HeldReplyReleased(
            event_id=released_event_id,
            message_id=held_id,
            outcome=release.outcome,
            agent_id=agent_id,
            reason=release.reason,
            posted_message_id=posted_id,
            **envelope,
        ),
    )
    if await repo.count_held(conn, held["conversation_id"]) == 0:
        after = state.on_holds_cleared()
        if after != state:
            await repo.save_state(conn, held["conversation_id"], after)
            await _publish(
                conn,
                ConversationStatusChanged(
                    event_id=deterministic_event_id("ConversationStatusChanged", released_event_id),
                    previous_status=state.status,
                    status=after.status,
                    reason="held replies released",
                    **envelope,
                ),
            )


async def release_expired_hold(deps: Deps) -> bool:
    """Release one held reply whose time is up (send it, or the fallback; discard it if a
    human took over meanwhile). Returns False when none is due. Safe on every replica at
    once: each due reply is claimed with SKIP LOCKED and released exactly once."""
    async with deps.pool.connection() as conn, conn.transaction():
        held = await repo.claim_expired_hold(conn)
        if held is None:
            return False
        state = await _locked_id(conn, held["conversation_id"])
        release = release_on_timeout(held["on_timeout"], held["text"], held["fallback_text"], state)
        envelope = {
            "site_id": held["site_id"],
            "conversation_id": held["conversation_id"],
            "correlation_id": held["correlation_id"] or held["held_event_id"],
            "causation_id": held["held_event_id"],
        }
        await _release(
            conn,
            deps,
            held,
            release,
            state,
            envelope=envelope,
            released_event_id=deterministic_event_id("HeldReplyReleased", held["message_id"]),
            agent_id=None,
            agent_name=None,
        )
    EVENTS_CONSUMED.labels("conversation-hold-timer", "HoldExpired", release.outcome).inc()
    return True


async def _locked(conn: DictConnection, event: Event) -> ConversationState:
    return await _locked_id(conn, event.conversation_id)


async def _locked_id(conn: DictConnection, conversation_id: uuid.UUID) -> ConversationState:
    state = await repo.lock_state(conn, conversation_id)
    if state is None:  # created just above in the same transaction; cannot be missing
        raise RuntimeError(f"conversation {conversation_id} vanished mid-transaction")
    return state
