"""Projections: how each event changes the read models, inside the caller's transaction.

Events of one conversation arrive on several topics in any order and may be redelivered.
Redelivery is absorbed by the inbox (the handler claims the event id in the same
transaction); order is tolerated by writing every field so that the final row does not
depend on arrival order: earliest/latest times with LEAST/GREATEST, "latest wins" fields
guarded by their timestamp, counts incremented only when the underlying row is new.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from tandem_events import (
    AgentAssigned,
    AgentJoined,
    AgentReplied,
    AnswerScored,
    ConversationRated,
    ConversationResolved,
    ConversationStarted,
    ConversationStatusChanged,
    EscalationQueued,
    EscalationRaised,
    Event,
    HeldReplyReleased,
    KnowledgeDocumentIndexed,
    KnowledgeDocumentRemoved,
    MessageReceived,
    ReplyCorrected,
    ReplyPosted,
)

from ..domain.text import normalise_question
from .schema import SCHEMA

#: The pool hands out dict-row connections (``open_pool``); rows are read by column name.
Conn = AsyncConnection[Any]

_MESSAGE_COLUMNS = {
    "visitor": "visitor_messages",
    "ai": "ai_messages",
    "agent": "agent_messages",
    "system": "system_messages",
}


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def conversation_digest(conversation_id: uuid.UUID) -> bytes:
    return hashlib.sha256(b"tandem-conversation:" + conversation_id.bytes).digest()


async def lock_conversation(conn: Conn, conversation_id: uuid.UUID) -> None:
    """Serialise this service's transactions on one conversation, so a deletion and a late
    event handled by another replica cannot interleave."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"{SCHEMA}:{conversation_id}",),
    )


async def is_forgotten(conn: Conn, conversation_id: uuid.UUID) -> bool:
    cur = await conn.execute(
        f"SELECT 1 FROM {SCHEMA}.forgotten_conversations WHERE conversation_digest = %s",
        (conversation_digest(conversation_id),),
    )
    return await cur.fetchone() is not None


async def bump(conn: Conn, site_id: str, metric: str, moment: datetime, by: int = 1) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.hourly_counters AS h (site_id, metric, hour, value) "
        "VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (site_id, metric, hour) DO UPDATE SET value = h.value + EXCLUDED.value",
        (site_id, metric, hour_of(moment), by),
    )


async def touch(conn: Conn, event: Event) -> None:
    """Make sure the conversation's row exists, whichever of its events comes first."""
    await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.conversations AS c (conversation_id, site_id, started_at)
        VALUES (%s, %s, %s)
        ON CONFLICT (conversation_id) DO UPDATE SET
            started_at = CASE WHEN c.start_known THEN c.started_at
                              ELSE LEAST(c.started_at, EXCLUDED.started_at) END,
            updated_at = now()
        """,
        (event.conversation_id, event.site_id, event.occurred_at),
    )


async def conversation_started(conn: Conn, event: ConversationStarted) -> None:
    cur = await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.conversations AS c
            (conversation_id, site_id, started_at, start_known, language)
        VALUES (%s, %s, %s, true, %s)
        ON CONFLICT (conversation_id) DO UPDATE SET
            started_at = EXCLUDED.started_at,
            start_known = true,
            language = CASE WHEN c.language_detected THEN c.language
                            ELSE COALESCE(c.language, EXCLUDED.language) END,
            updated_at = now()
        WHERE NOT c.start_known
        """,
        (event.conversation_id, event.site_id, event.occurred_at, event.locale),
    )
    if cur.rowcount == 1:
        await bump(conn, event.site_id, "conversations_started", event.occurred_at)


async def _message(
    conn: Conn,
    event: Event,
    *,
    message_id: uuid.UUID,
    author: str,
    occurred_at: datetime,
    locale: str | None = None,
) -> None:
    """A stored message, counted once whichever event reports it (the visitor's message
    arrives as MessageReceived and again as ReplyPosted with the same message id)."""
    await touch(conn, event)
    cur = await conn.execute(
        f"INSERT INTO {SCHEMA}.messages (message_id, conversation_id, site_id, author, "
        "occurred_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING",
        (message_id, event.conversation_id, event.site_id, author, occurred_at),
    )
    if cur.rowcount != 1:
        return
    column = _MESSAGE_COLUMNS[author]
    await conn.execute(
        f"""
        UPDATE {SCHEMA}.conversations AS c SET
            {column} = c.{column} + 1,
            language = CASE WHEN c.language_detected THEN c.language
                            ELSE COALESCE(c.language, %(locale)s::text) END,
            first_visitor_message_at = fv.at,
            first_response_at = (
                SELECT min(m.occurred_at) FROM {SCHEMA}.messages m
                WHERE m.conversation_id = c.conversation_id
                  AND m.author IN ('ai', 'agent') AND m.occurred_at > fv.at),
            updated_at = now()
        FROM (SELECT min(occurred_at) AS at FROM {SCHEMA}.messages
              WHERE conversation_id = %(id)s AND author = 'visitor') AS fv
        WHERE c.conversation_id = %(id)s
        """,
        {"id": event.conversation_id, "locale": locale},
    )
    await bump(conn, event.site_id, f"messages_{author}", occurred_at)


async def message_received(conn: Conn, event: MessageReceived) -> None:
    await _message(
        conn,
        event,
        message_id=event.message_id,
        author="visitor",
        occurred_at=event.occurred_at,
        locale=event.locale,
    )


async def reply_posted(conn: Conn, event: ReplyPosted) -> None:
    await _message(
        conn, event, message_id=event.message_id, author=event.author, occurred_at=event.created_at
    )


async def agent_replied(conn: Conn, event: AgentReplied) -> None:
    await _message(
        conn, event, message_id=event.message_id, author="agent", occurred_at=event.occurred_at
    )


async def answer_scored(conn: Conn, event: AnswerScored) -> None:
    await touch(conn, event)
    top = max(event.sources, key=lambda s: s.score or 0.0, default=None)
    cur = await conn.execute(
        f"INSERT INTO {SCHEMA}.answers (event_id, conversation_id, site_id, in_reply_to, "
        "question, confidence, answered, language, top_source, occurred_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
        (
            event.event_id,
            event.conversation_id,
            event.site_id,
            event.in_reply_to,
            normalise_question(event.question),
            event.confidence,
            event.answered,
            event.language or None,
            (top.url or top.title) if top else None,
            event.occurred_at,
        ),
    )
    if cur.rowcount != 1:
        return
    await conn.execute(
        f"""
        UPDATE {SCHEMA}.conversations AS c SET
            ai_answers = c.ai_answers + 1,
            confidence_sum = c.confidence_sum + %(confidence)s,
            -- the first detected language wins over the widget's locale
            language = CASE WHEN c.language_detected OR %(language)s::text IS NULL THEN c.language
                            ELSE %(language)s END,
            language_detected = c.language_detected OR %(language)s::text IS NOT NULL,
            updated_at = now()
        WHERE c.conversation_id = %(id)s
        """,
        {
            "id": event.conversation_id,
            "confidence": event.confidence,
            "language": event.language or None,
        },
    )
    await bump(conn, event.site_id, "ai_answers", event.occurred_at)


async def escalation_raised(conn: Conn, event: EscalationRaised) -> None:
    await touch(conn, event)
    cur = await conn.execute(
        f"INSERT INTO {SCHEMA}.escalations (event_id, conversation_id, site_id, reason, "
        "occurred_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
        (event.event_id, event.conversation_id, event.site_id, event.reason, event.occurred_at),
    )
    if cur.rowcount != 1:
        return
    await conn.execute(
        f"""
        UPDATE {SCHEMA}.conversations AS c SET
            escalated = true,
            escalation_reason = CASE WHEN c.escalated_at IS NULL OR c.escalated_at <= %(at)s
                                     THEN %(reason)s ELSE c.escalation_reason END,
            escalated_at = GREATEST(c.escalated_at, %(at)s),
            updated_at = now()
        WHERE c.conversation_id = %(id)s
        """,
        {"id": event.conversation_id, "at": event.occurred_at, "reason": event.reason},
    )
    await bump(conn, event.site_id, "escalations", event.occurred_at)


async def _set_status(conn: Conn, event: Event, status: str) -> None:
    await conn.execute(
        f"UPDATE {SCHEMA}.conversations SET status = %(status)s, status_at = %(at)s, "
        "updated_at = now() "
        "WHERE conversation_id = %(id)s AND (status_at IS NULL OR status_at <= %(at)s)",
        {"id": event.conversation_id, "status": status, "at": event.occurred_at},
    )


async def status_changed(conn: Conn, event: ConversationStatusChanged) -> None:
    await touch(conn, event)
    await _set_status(conn, event, event.status)


async def conversation_resolved(conn: Conn, event: ConversationResolved) -> None:
    await touch(conn, event)
    await conn.execute(
        f"""
        UPDATE {SCHEMA}.conversations AS c SET
            resolved_by = CASE WHEN c.resolved_at IS NULL OR c.resolved_at <= %(at)s
                               THEN %(by)s ELSE c.resolved_by END,
            resolved_at = GREATEST(c.resolved_at, %(at)s),
            updated_at = now()
        WHERE c.conversation_id = %(id)s
        """,
        {"id": event.conversation_id, "at": event.occurred_at, "by": event.resolved_by},
    )
    await _set_status(conn, event, "resolved")


async def conversation_rated(conn: Conn, event: ConversationRated) -> None:
    await touch(conn, event)
    await conn.execute(
        f"""
        UPDATE {SCHEMA}.conversations AS c SET
            rating = CASE WHEN c.rated_at IS NULL OR c.rated_at <= %(at)s
                          THEN %(score)s ELSE c.rating END,
            rated_at = GREATEST(c.rated_at, %(at)s),
            updated_at = now()
        WHERE c.conversation_id = %(id)s
        """,
        {"id": event.conversation_id, "at": event.occurred_at, "score": event.score},
    )


async def agent_joined(conn: Conn, event: AgentJoined) -> None:
    await touch(conn, event)
    await conn.execute(
        f"UPDATE {SCHEMA}.conversations SET agent_joined_at = LEAST(agent_joined_at, %s), "
        "updated_at = now() WHERE conversation_id = %s",
        (event.occurred_at, event.conversation_id),
    )


#: Outcomes of a held reply that overrode the AI (approved and timeout_sent did not).
OVERRIDE_OUTCOMES = frozenset({"edited", "replaced", "discarded", "timeout_fallback"})


async def _override(
    conn: Conn, event: Event, *, kind: str, reason: str | None, agent_id: str | None
) -> None:
    await touch(conn, event)
    await conn.execute(
        f"INSERT INTO {SCHEMA}.overrides (event_id, conversation_id, site_id, kind, reason, "
        "agent_id, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (event_id) DO NOTHING",
        (
            event.event_id,
            event.conversation_id,
            event.site_id,
            kind,
            (reason or "").strip()[:500] or None,
            agent_id,
            event.occurred_at,
        ),
    )


async def held_reply_released(conn: Conn, event: HeldReplyReleased) -> None:
    if event.outcome in OVERRIDE_OUTCOMES:
        await _override(
            conn, event, kind=event.outcome, reason=event.reason, agent_id=event.agent_id
        )


async def reply_corrected(conn: Conn, event: ReplyCorrected) -> None:
    await _override(conn, event, kind="corrected", reason=event.reason, agent_id=event.agent_id)


async def escalation_queued(conn: Conn, event: EscalationQueued) -> None:
    """The first EscalationQueued of a wait opens it; later ones (new positions) change
    nothing but may be earlier if they arrive out of order."""
    await touch(conn, event)
    cur = await conn.execute(
        f"UPDATE {SCHEMA}.queue_waits SET queued_at = LEAST(queued_at, %s) "
        "WHERE conversation_id = %s AND assigned_at IS NULL",
        (event.occurred_at, event.conversation_id),
    )
    if cur.rowcount == 0:
        await conn.execute(
            f"INSERT INTO {SCHEMA}.queue_waits (conversation_id, site_id, queued_at) "
            f"SELECT %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM {SCHEMA}.queue_waits "
            "WHERE conversation_id = %s AND queued_at <= %s AND assigned_at >= %s)",
            (
                event.conversation_id,
                event.site_id,
                event.occurred_at,
                event.conversation_id,
                event.occurred_at,
                event.occurred_at,
            ),
        )


async def agent_assigned(conn: Conn, event: AgentAssigned) -> None:
    """An assignment ends the conversation's open wait, if it was waiting."""
    await touch(conn, event)
    await conn.execute(
        f"UPDATE {SCHEMA}.queue_waits SET assigned_at = %s, agent_id = %s "
        "WHERE conversation_id = %s AND assigned_at IS NULL AND queued_at <= %s",
        (event.occurred_at, event.agent_id, event.conversation_id, event.occurred_at),
    )


async def document_indexed(conn: Conn, event: KnowledgeDocumentIndexed) -> None:
    await bump(conn, event.site_id, "documents_indexed", event.occurred_at)


async def document_removed(conn: Conn, event: KnowledgeDocumentRemoved) -> None:
    await bump(conn, event.site_id, "documents_removed", event.occurred_at)


async def forget(conn: Conn, conversation_id: uuid.UUID) -> None:
    """Remove every row of the conversation, subtract what it added to the hourly
    counters, and remember (by digest) that it was deleted."""
    await conn.execute(
        f"""
        WITH added AS (
            SELECT site_id, 'messages_' || author AS metric,
                   date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AS hour, count(*) AS n
            FROM {SCHEMA}.messages WHERE conversation_id = %(id)s GROUP BY 1, 2, 3
            UNION ALL
            SELECT site_id, 'ai_answers', date_trunc('hour', occurred_at AT TIME ZONE 'UTC'),
                   count(*)
            FROM {SCHEMA}.answers WHERE conversation_id = %(id)s GROUP BY 1, 2, 3
            UNION ALL
            SELECT site_id, 'escalations', date_trunc('hour', occurred_at AT TIME ZONE 'UTC'),
                   count(*)
            FROM {SCHEMA}.escalations WHERE conversation_id = %(id)s GROUP BY 1, 2, 3
            UNION ALL
            SELECT site_id, 'conversations_started',
                   date_trunc('hour', started_at AT TIME ZONE 'UTC'), 1
            FROM {SCHEMA}.conversations WHERE conversation_id = %(id)s AND start_known
        )
        UPDATE {SCHEMA}.hourly_counters AS h SET value = h.value - added.n
        FROM added
        WHERE h.site_id = added.site_id AND h.metric = added.metric
          AND h.hour = added.hour AT TIME ZONE 'UTC'
        """,
        {"id": conversation_id},
    )
    for table in (
        "messages",
        "answers",
        "escalations",
        "overrides",
        "queue_waits",
        "conversations",
    ):
        await conn.execute(
            f"DELETE FROM {SCHEMA}.{table} WHERE conversation_id = %s", (conversation_id,)
        )
    await conn.execute(
        f"INSERT INTO {SCHEMA}.forgotten_conversations (conversation_digest) VALUES (%s) "
        "ON CONFLICT DO NOTHING",
        (conversation_digest(conversation_id),),
    )
