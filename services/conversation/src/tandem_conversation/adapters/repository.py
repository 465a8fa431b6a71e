"""SQL for conversations, messages and sites. Runs inside the caller's transaction."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from psycopg import errors
from tandem_platform.postgres import DictConnection

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
        "SELECT status, assigned_agent_id, assigned_agent_name, ai_paused "
        "FROM conversation.conversations WHERE conversation_id = %s FOR UPDATE",
        (conversation_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return ConversationState(
        status=row["status"],
        assigned_agent_id=row["assigned_agent_id"],
        assigned_agent_name=row["assigned_agent_name"],
        ai_paused=row["ai_paused"],
    )


async def save_state(
    conn: DictConnection, conversation_id: uuid.UUID, state: ConversationState
) -> None:
    await conn.execute(
        """
        UPDATE conversation.conversations SET
            status = %s, assigned_agent_id = %s, assigned_agent_name = %s, ai_paused = %s,
            resolved_at = CASE WHEN %s = 'resolved' THEN coalesce(resolved_at, now()) ELSE NULL END,
            updated_at = now()
        WHERE conversation_id = %s
        """,
        (
            state.status,
            state.assigned_agent_id,
            state.assigned_agent_name,
            state.ai_paused,
            state.status,
            conversation_id,
        ),
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
) -> bool:
    """Store a message; False when this message id is already stored (a redelivery)."""
    try:
        async with conn.transaction():  # savepoint: a seq clash must not abort the caller
            cur = await conn.execute(
                """
                INSERT INTO conversation.messages
                    (message_id, conversation_id, seq, author, author_name, text, created_at,
                     in_reply_to, confidence, sources, language)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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
                ),
            )
    except errors.UniqueViolation as exc:
        raise SeqTakenError(str(exc)) from exc
    if cur.rowcount == 1:
        await conn.execute(
            "UPDATE conversation.conversations SET last_seq = greatest(last_seq, %s), "
            "updated_at = now() WHERE conversation_id = %s",
            (seq, conversation_id),
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


def conversation_view(row: Row) -> dict[str, Any]:
    agent = (
        {"id": row["assigned_agent_id"], "name": row["assigned_agent_name"]}
        if row["assigned_agent_id"]
        else None
    )
    return {
        "conversation_id": str(row["conversation_id"]),
        "site_id": row["site_id"],
        "status": row["status"],
        "assigned_agent": agent,
        "ai_paused": row["ai_paused"],
        "last_seq": row["last_seq"],
        "locale": row["locale"],
        "visitor": {
            "id": row["visitor_id"],
            "name": row["visitor_name"],
            "verified": row["identity_verified"],
        },
        "rating": row["rating"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "resolved_at": row["resolved_at"].isoformat() if row["resolved_at"] else None,
    }


async def get_conversation(conn: DictConnection, conversation_id: uuid.UUID) -> Row | None:
    cur = await conn.execute(
        "SELECT * FROM conversation.conversations WHERE conversation_id = %s", (conversation_id,)
    )
    return await cur.fetchone()


async def list_conversations(
    conn: DictConnection, site_id: str, status: str | None, limit: int
) -> list[Row]:
    cur = await conn.execute(
        "SELECT * FROM conversation.conversations WHERE site_id = %s "
        "AND (%s::text IS NULL OR status = %s) ORDER BY updated_at DESC LIMIT %s",
        (site_id, status, status, limit),
    )
    return list(await cur.fetchall())
