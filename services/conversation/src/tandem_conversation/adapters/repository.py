"""SQL for conversations, messages and sites. Runs inside the caller's transaction."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from psycopg import errors
from tandem_platform.postgres import DictConnection

from ..domain.browsing import BAND_BOUNDS, ConversationQuery, Cursor
from ..domain.lifecycle import ConversationState

Row = dict[str, Any]


class SeqTakenError(Exception):
    """Another message already holds this seq (only after Redis lost its counters)."""


async def is_deleted(conn: DictConnection, conversation_id: uuid.UUID) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM conversation.deleted_conversations WHERE conversation_id = %s",
        (conversation_id,),
    )
    return await cur.fetchone() is not None


async def ensure_conversation(
    conn: DictConnection, conversation_id: uuid.UUID, site_id: str, **visitor: Any
) -> None:
    """Create the conversation if missing; fill visitor details when they arrive.

    Events of one conversation reach us over several topics in any order, so whichever
    arrives first creates the row.
    """
    await conn.execute(
        """
        INSERT INTO conversation.conversations
            (conversation_id, site_id, visitor_id, visitor_name, visitor_email,
             identity_verified, locale)
        VALUES (%(id)s, %(site)s, %(vid)s, %(vname)s, %(vemail)s, %(verified)s, %(locale)s)
        ON CONFLICT (conversation_id) DO UPDATE SET
            visitor_id = coalesce(EXCLUDED.visitor_id, conversations.visitor_id),
            visitor_name = coalesce(EXCLUDED.visitor_name, conversations.visitor_name),
            visitor_email = coalesce(EXCLUDED.visitor_email, conversations.visitor_email),
            identity_verified = conversations.identity_verified OR EXCLUDED.identity_verified,
            locale = coalesce(EXCLUDED.locale, conversations.locale)
        """,
        {
            "id": conversation_id,
            "site": site_id,
            "vid": visitor.get("visitor_id"),
            "vname": visitor.get("visitor_name"),
            "vemail": visitor.get("visitor_email"),
            "verified": bool(visitor.get("identity_verified", False)),
            "locale": visitor.get("locale"),
        },
    )


async def lock_state(conn: DictConnection, conversation_id: uuid.UUID) -> ConversationState | None:
    """Read the lifecycle state with a row lock, serialising writers of one conversation."""
    cur = await conn.execute(
        "SELECT status, assigned_agent_id, assigned_agent_name, agent_joined, ai_paused, "
        "waiting_since FROM conversation.conversations WHERE conversation_id = %s FOR UPDATE",
        (conversation_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return ConversationState(
        status=row["status"],
        assigned_agent_id=row["assigned_agent_id"],
        assigned_agent_name=row["assigned_agent_name"],
        agent_joined=row["agent_joined"],
        ai_paused=row["ai_paused"],
        waiting_for_agent=row["waiting_since"] is not None,
    )


async def save_state(
    conn: DictConnection, conversation_id: uuid.UUID, state: ConversationState
) -> None:
    await conn.execute(
        """
        UPDATE conversation.conversations SET
            status = %(status)s, assigned_agent_id = %(agent_id)s,
            assigned_agent_name = %(agent_name)s, agent_joined = %(joined)s,
            ai_paused = %(paused)s,
            waiting_since = CASE WHEN %(waiting)s THEN coalesce(waiting_since, now()) END,
            resolved_at = CASE WHEN %(status)s = 'resolved' THEN coalesce(resolved_at, now()) END,
            updated_at = now()
        WHERE conversation_id = %(id)s
        """,
        {
            "status": state.status,
            "agent_id": state.assigned_agent_id,
            "agent_name": state.assigned_agent_name,
            "joined": state.agent_joined,
            "paused": state.ai_paused,
            "waiting": state.waiting_for_agent,
            "id": conversation_id,
        },
    )


async def mark_agent_joined(conn: DictConnection, conversation_id: uuid.UUID) -> None:
    # clock_timestamp, not now(): compared with messages.stored_at of other transactions.
    await conn.execute(
        "UPDATE conversation.conversations SET agent_joined_at = clock_timestamp() "
        "WHERE conversation_id = %s",
        (conversation_id,),
    )


async def record_answer(
    conn: DictConnection, conversation_id: uuid.UUID, confidence: float, language: str | None
) -> None:
    """The AI's latest confidence and language, for the console's list."""
    await conn.execute(
        "UPDATE conversation.conversations SET last_confidence = %s, "
        "language = coalesce(%s, language) WHERE conversation_id = %s",
        (confidence, language, conversation_id),
    )


async def record_escalation(
    conn: DictConnection, conversation_id: uuid.UUID, reason: str, language: str | None
) -> None:
    await conn.execute(
        "UPDATE conversation.conversations SET escalation_reason = %s, "
        "language = coalesce(language, %s) WHERE conversation_id = %s",
        (reason, language, conversation_id),
    )


async def insert_message(
    conn: DictConnection,
    *,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID,
    seq: int,
    author: str,
    text: str,
    created_at: datetime,
    author_name: str | None = None,
    in_reply_to: uuid.UUID | None = None,
    confidence: float | None = None,
    sources: list[dict[str, Any]] | None = None,
    language: str | None = None,
    corrects: uuid.UUID | None = None,
) -> bool:
    """Store a message; False when this message id is already stored (a redelivery)."""
    try:
        async with conn.transaction():  # savepoint: a seq clash must not abort the caller
            cur = await conn.execute(
                """
                INSERT INTO conversation.messages
                    (message_id, conversation_id, seq, author, author_name, text, created_at,
                     in_reply_to, confidence, sources, language, corrects)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (message_id) DO NOTHING
                """,
                (
                    message_id,
                    conversation_id,
                    seq,
                    author,
                    author_name,
                    text,
                    created_at,
                    in_reply_to,
                    confidence,
                    json.dumps(sources or []),
                    language,
                    corrects,
                ),
            )
    except errors.UniqueViolation as exc:
        raise SeqTakenError(str(exc)) from exc
    if cur.rowcount == 1:
        await conn.execute(
            "UPDATE conversation.conversations SET last_seq = greatest(last_seq, %s), "
            "last_activity_at = greatest(last_activity_at, %s), updated_at = now() "
            "WHERE conversation_id = %s",
            (seq, created_at, conversation_id),
        )
        return True
    return False


async def max_seq(conn: DictConnection, conversation_id: uuid.UUID) -> int:
    cur = await conn.execute(
        "SELECT coalesce(max(seq), 0) AS m FROM conversation.messages WHERE conversation_id = %s",
        (conversation_id,),
    )
    row = await cur.fetchone()
    return int(row["m"]) if row else 0


async def set_rating(
    conn: DictConnection, conversation_id: uuid.UUID, score: int, comment: str | None
) -> None:
    await conn.execute(
        "UPDATE conversation.conversations SET rating = %s, rating_comment = %s, updated_at = now() "
        "WHERE conversation_id = %s",
        (score, comment, conversation_id),
    )


async def forget_conversation(conn: DictConnection, conversation_id: uuid.UUID) -> None:
    """Delete every row of the conversation (messages cascade) and leave an id-only tombstone."""
    await conn.execute(
        "DELETE FROM conversation.conversations WHERE conversation_id = %s", (conversation_id,)
    )
    await conn.execute(
        "INSERT INTO conversation.deleted_conversations (conversation_id) VALUES (%s) "
        "ON CONFLICT DO NOTHING",
        (conversation_id,),
    )


# --- reads for the internal API ------------------------------------------------------------


def message_frame(row: Row) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "message",
        "seq": row["seq"],
        "message_id": str(row["message_id"]),
        "author": row["author"],
        "text": row["text"],
        "created_at": row["created_at"].isoformat().replace("+00:00", "Z"),
    }
    if row.get("author_name"):
        frame["author_name"] = row["author_name"]
    if row["author"] == "ai":
        frame["confidence"] = row["confidence"]
        frame["sources"] = [
            {"title": s.get("title"), "url": s.get("url")} for s in (row["sources"] or [])
        ]
        frame["language"] = row["language"]
    return frame


async def list_messages(
    conn: DictConnection, conversation_id: uuid.UUID, after_seq: int, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT * FROM conversation.messages WHERE conversation_id = %s AND seq > %s "
        "ORDER BY seq LIMIT %s",
        (conversation_id, after_seq, limit),
    )
    return [message_frame(row) for row in await cur.fetchall()]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


# Computed columns of the console's views: how long the conversation has lasted (until it
# was resolved) and how long the visitor has been waiting for a human.
_DERIVED = """
    extract(epoch FROM coalesce(c.resolved_at, now()) - c.created_at) AS duration_seconds,
    extract(epoch FROM now() - c.waiting_since) AS waiting_seconds,
    (SELECT count(*) FROM conversation.held_replies h
      WHERE h.conversation_id = c.conversation_id AND h.state = 'held') AS held_count
"""


def conversation_view(row: Row) -> dict[str, Any]:
    agent = (
        {
            "id": row["assigned_agent_id"],
            "name": row["assigned_agent_name"],
            "joined": row["agent_joined"],
        }
        if row["assigned_agent_id"]
        else None
    )
    view: dict[str, Any] = {
        "conversation_id": str(row["conversation_id"]),
        "site_id": row["site_id"],
        "status": row["status"],
        "assigned_agent": agent,
        "ai_paused": row["ai_paused"],
        "waiting": row["waiting_since"] is not None,
        "last_seq": row["last_seq"],
        "locale": row["locale"],
        "language": row["language"] or row["locale"],
        "last_confidence": row["last_confidence"],
        "escalation_reason": row["escalation_reason"],
        "visitor": {
            "id": row["visitor_id"],
            "name": row["visitor_name"],
            "verified": row["identity_verified"],
        },
        "rating": row["rating"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "last_activity_at": _iso(row["last_activity_at"]),
        "resolved_at": row["resolved_at"].isoformat() if row["resolved_at"] else None,
    }
    if "duration_seconds" in row:
        view["duration_seconds"] = round(float(row["duration_seconds"]), 3)
        waiting = row["waiting_seconds"]
        view["waiting_seconds"] = round(float(waiting), 3) if waiting is not None else None
        view["held_replies"] = int(row["held_count"])
    return view


async def get_conversation(conn: DictConnection, conversation_id: uuid.UUID) -> Row | None:
    cur = await conn.execute(
        f"SELECT c.*, {_DERIVED} FROM conversation.conversations c WHERE c.conversation_id = %s",
        (conversation_id,),
    )
    return await cur.fetchone()


_FLAGGED = (
    "(c.status = 'flagged' OR EXISTS (SELECT 1 FROM conversation.held_replies h "
    "WHERE h.conversation_id = c.conversation_id AND h.state = 'held'))"
)
_ESCALATED = "(c.escalation_reason IS NOT NULL OR c.status = 'pending')"

# Text search, in two parts:
# * what people typed (visitor and agent messages) through Postgres full-text search with
#   the 'simple' configuration: no stemming or stop words, so it behaves the same in every
#   language the widget speaks, and a GIN index on exactly this expression (migration
#   ``messages_typed_text``) finds the matching messages without reading any others. It
#   matches whole words (websearch syntax: "a phrase", or, -word), not fragments of words;
#   an ILIKE over every message of a large site would read them all on every search.
# * the conversation's own short fields (visitor id and name, agent name, escalation
#   reason) by ILIKE substring: a bounded scope, the rows of this one site that passed
#   the other filters, and no index needed.
TYPED_TEXT_PREDICATE = (
    "m.author IN ('visitor', 'agent') AND to_tsvector('simple'::regconfig, m.text) "
    "@@ websearch_to_tsquery('simple'::regconfig, %(text)s)"
)
_TYPED_TEXT_MATCHES = (
    "EXISTS (SELECT 1 FROM conversation.messages m "
    f"WHERE m.conversation_id = c.conversation_id AND {TYPED_TEXT_PREDICATE})"
)
_FIELDS_MATCH = (
    "(c.visitor_id ILIKE %(like)s OR c.visitor_name ILIKE %(like)s "
    "OR c.assigned_agent_name ILIKE %(like)s OR c.escalation_reason ILIKE %(like)s)"
)


def _like(text: str) -> str:
    """An ILIKE pattern matching ``text`` anywhere, its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(site_id: str, query: ConversationQuery) -> tuple[list[str], dict[str, Any]]:
    """The conditions of ``query``, always starting with the site."""
    conditions = ["c.site_id = %(site)s"]
    params: dict[str, Any] = {"site": site_id}
    if query.status is not None:
        conditions.append("c.status = %(status)s")
        params["status"] = query.status
    if query.assigned_agent_id is not None:
        conditions.append("c.assigned_agent_id = %(agent)s")
        params["agent"] = query.assigned_agent_id
    if query.waiting is not None:
        conditions.append(f"(c.waiting_since IS {'NOT ' if query.waiting else ''}NULL)")
    if query.flagged is not None:
        conditions.append(_FLAGGED if query.flagged else f"NOT {_FLAGGED}")
    if query.created_from is not None:
        conditions.append("c.created_at >= %(created_from)s")
        params["created_from"] = query.created_from
    if query.created_before is not None:
        conditions.append("c.created_at < %(created_before)s")
        params["created_before"] = query.created_before
    if query.confidence == "none":
        conditions.append("c.last_confidence IS NULL")
    elif query.confidence is not None:
        low, high = BAND_BOUNDS[query.confidence]
        if low is not None:
            conditions.append("c.last_confidence >= %(confidence_low)s")
            params["confidence_low"] = low
        if high is not None:
            conditions.append("c.last_confidence < %(confidence_high)s")
            params["confidence_high"] = high
    if query.language is not None:
        # "pt" matches pt, pt-BR, pt-PT; "pt-BR" matches only pt-BR (tags validated, so
        # they hold no LIKE wildcards).
        conditions.append(
            "(lower(coalesce(c.language, c.locale)) = lower(%(language)s) "
            "OR lower(coalesce(c.language, c.locale)) LIKE lower(%(language)s) || '-%%')"
        )
        params["language"] = query.language
    if query.escalated is not None:
        conditions.append(_ESCALATED if query.escalated else f"NOT {_ESCALATED}")
    searched_id = query.searched_id()
    if searched_id is not None:
        conditions.append("c.conversation_id = %(searched_id)s")
        params["searched_id"] = searched_id
    elif query.search:
        conditions.append(f"({_FIELDS_MATCH} OR {_TYPED_TEXT_MATCHES})")
        params["text"] = query.search
        params["like"] = _like(query.search)
    return conditions, params


async def list_conversations(
    conn: DictConnection, site_id: str, query: ConversationQuery, limit: int
) -> tuple[list[Row], Cursor | None]:
    """A site's conversations that pass ``query`` (always filtered by ``site_id``): most
    recently active first, longest waiting first when listing those waiting for an agent,
    or newest first (``order="created"``), paged with the returned cursor."""
    conditions, params = _where(site_id, query)
    if query.waiting:
        order = "c.waiting_since ASC, c.conversation_id"
    elif query.order == "created":
        order = "c.created_at DESC, c.conversation_id DESC"
        if query.after is not None:
            conditions.append("(c.created_at, c.conversation_id) < (%(after_at)s, %(after_id)s)")
            params["after_at"] = query.after.created_at
            params["after_id"] = query.after.conversation_id
    else:
        order = "coalesce(c.last_activity_at, c.updated_at) DESC, c.conversation_id"
    params["limit"] = limit + 1  # one more tells whether there is a next page
    cur = await conn.execute(
        f"SELECT c.*, {_DERIVED} FROM conversation.conversations c "
        f"WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT %(limit)s",
        params,
    )
    rows = list(await cur.fetchall())
    page, more = rows[:limit], len(rows) > limit
    if not more or query.order != "created" or query.waiting:
        return page, None
    last = page[-1]
    return page, Cursor(last["created_at"], last["conversation_id"])


async def count_conversations(
    conn: DictConnection, site_id: str, query: ConversationQuery, *, cap: int
) -> int:
    """How many conversations pass ``query`` (the cursor aside), counting at most ``cap``
    + 1: a large site's count stops early instead of reading every row."""
    conditions, params = _where(site_id, query)
    params["cap"] = cap + 1
    cur = await conn.execute(
        "SELECT count(*) AS n FROM (SELECT 1 FROM conversation.conversations c "
        f"WHERE {' AND '.join(conditions)} LIMIT %(cap)s) counted",
        params,
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


# --- what only agents see: notes, held replies, corrections ------------------------------


async def add_note(
    conn: DictConnection,
    *,
    note_id: uuid.UUID,
    conversation_id: uuid.UUID,
    agent_id: str,
    agent_name: str,
    text: str,
    created_at: datetime,
) -> bool:
    cur = await conn.execute(
        "INSERT INTO conversation.notes (note_id, conversation_id, agent_id, agent_name, text, "
        "created_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (note_id) DO NOTHING",
        (note_id, conversation_id, agent_id, agent_name, text, created_at),
    )
    return cur.rowcount == 1


async def mark_corrected(
    conn: DictConnection,
    conversation_id: uuid.UUID,
    corrected_message_id: uuid.UUID,
    correction_message_id: uuid.UUID,
) -> bool:
    cur = await conn.execute(
        "UPDATE conversation.messages SET corrected_by = %s "
        "WHERE message_id = %s AND conversation_id = %s",
        (correction_message_id, corrected_message_id, conversation_id),
    )
    return cur.rowcount == 1


async def hold_reply(
    conn: DictConnection,
    *,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID,
    site_id: str,
    in_reply_to: uuid.UUID,
    text: str,
    confidence: float,
    sources: list[dict[str, Any]],
    language: str | None,
    created_at: datetime,
    hold_until: datetime,
    on_timeout: str,
    fallback_text: str,
    held_event_id: uuid.UUID,
    correlation_id: uuid.UUID | None,
) -> bool:
    """Store an AI answer held for review; False when it is already held (a redelivery)."""
    cur = await conn.execute(
        """
        INSERT INTO conversation.held_replies
            (message_id, conversation_id, site_id, in_reply_to, text, confidence, sources,
             language, created_at, hold_until, on_timeout, fallback_text, held_event_id,
             correlation_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (message_id) DO NOTHING
        """,
        (
            message_id,
            conversation_id,
            site_id,
            in_reply_to,
            text,
            confidence,
            json.dumps(sources),
            language,
            created_at,
            hold_until,
            on_timeout,
            fallback_text,
            held_event_id,
            correlation_id,
        ),
    )
    return cur.rowcount == 1


async def lock_held_reply(
    conn: DictConnection, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Row | None:
    cur = await conn.execute(
        "SELECT * FROM conversation.held_replies WHERE message_id = %s AND conversation_id = %s "
        "FOR UPDATE",
        (message_id, conversation_id),
    )
    return await cur.fetchone()


async def claim_expired_hold(conn: DictConnection) -> Row | None:
    """One held reply whose time is up, locked together with its conversation.

    SKIP LOCKED: replicas releasing at the same moment each take a different reply (never
    the same one twice), and never wait on a conversation a consumer is busy with, so this
    cannot deadlock with the handlers (which lock the conversation first).
    """
    cur = await conn.execute(
        """
        SELECT h.* FROM conversation.held_replies h
        JOIN conversation.conversations c USING (conversation_id)
        WHERE h.state = 'held' AND h.hold_until <= now()
        ORDER BY h.hold_until
        LIMIT 1
        FOR UPDATE OF h, c SKIP LOCKED
        """
    )
    return await cur.fetchone()


async def settle_held_reply(
    conn: DictConnection,
    message_id: uuid.UUID,
    *,
    outcome: str,
    decided_by: str | None,
    reason: str | None,
    posted_message_id: uuid.UUID | None,
) -> None:
    await conn.execute(
        "UPDATE conversation.held_replies SET state = %s, decided_by = %s, reason = %s, "
        "posted_message_id = %s, decided_at = now() WHERE message_id = %s",
        (outcome, decided_by, reason, posted_message_id, message_id),
    )


async def count_held(conn: DictConnection, conversation_id: uuid.UUID) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM conversation.held_replies "
        "WHERE conversation_id = %s AND state = 'held'",
        (conversation_id,),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


def _agent_message(row: Row) -> dict[str, Any]:
    view = message_frame(row)
    view["state"] = "posted"
    view["stored_at"] = _iso(row["stored_at"])
    if row["author"] == "ai":
        view["in_reply_to"] = str(row["in_reply_to"]) if row["in_reply_to"] else None
    if row["corrects"]:
        view["corrects"] = str(row["corrects"])
    if row["corrected_by"]:
        view["corrected_by"] = str(row["corrected_by"])
    return view


def _held_view(row: Row) -> dict[str, Any]:
    return {
        "type": "held_reply",
        "message_id": str(row["message_id"]),
        "author": "ai",
        "text": row["text"],
        "created_at": _iso(row["created_at"]),
        "in_reply_to": str(row["in_reply_to"]),
        "confidence": row["confidence"],
        "sources": [{"title": s.get("title"), "url": s.get("url")} for s in row["sources"] or []],
        "language": row["language"],
        "state": row["state"],
        "hold_until": _iso(row["hold_until"]),
        "on_timeout": row["on_timeout"],
        "decided_by": row["decided_by"],
        "reason": row["reason"],
        "posted_message_id": str(row["posted_message_id"]) if row["posted_message_id"] else None,
    }


async def agent_view(conn: DictConnection, conversation_id: uuid.UUID) -> dict[str, Any] | None:
    """Everything an agent sees: the conversation, every message with per-message
    confidence, held replies with their state, and the internal notes."""
    row = await get_conversation(conn, conversation_id)
    if row is None:
        return None
    cur = await conn.execute(
        "SELECT * FROM conversation.messages WHERE conversation_id = %s ORDER BY seq",
        (conversation_id,),
    )
    messages = [_agent_message(m) for m in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT * FROM conversation.held_replies WHERE conversation_id = %s ORDER BY created_at",
        (conversation_id,),
    )
    held = [_held_view(h) for h in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT * FROM conversation.notes WHERE conversation_id = %s ORDER BY created_at, note_id",
        (conversation_id,),
    )
    notes = [
        {
            "note_id": str(n["note_id"]),
            "agent": {"id": n["agent_id"], "name": n["agent_name"]},
            "text": n["text"],
            "created_at": _iso(n["created_at"]),
        }
        for n in await cur.fetchall()
    ]
    return {
        "conversation": conversation_view(row),
        "messages": _timeline(messages, held),
        "held_replies": held,
        "notes": notes,
    }


def _timeline(posted: list[dict[str, Any]], held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Posted messages in seq order, each held reply that was not posted under its own id
    (still held, discarded, edited, replaced, fallen back) right after the question it
    answers."""
    unposted = [h for h in held if h["state"] not in ("approved", "timeout_sent")]
    after: dict[str, list[dict[str, Any]]] = {}
    for reply in unposted:
        after.setdefault(reply["in_reply_to"], []).append(reply)
    timeline: list[dict[str, Any]] = []
    for message in posted:
        timeline.append(message)
        timeline.extend(after.pop(message["message_id"], []))
    for rest in after.values():  # the question itself is not stored yet
        timeline.extend(rest)
    return timeline
