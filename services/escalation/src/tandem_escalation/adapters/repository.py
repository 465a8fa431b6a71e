"""Reading and writing the escalation state inside the caller's transaction.

Every function takes an open connection; the handler owns the transaction, so the inbox
claim, the state change and the outbox row commit together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import ValidationError
from tandem_events import EscalationRaised

from ..domain.text import normalise
from ..domain.triggers import ConversationState, EscalationPolicy, PolicyOverrides, Reason, Turn
from .schema import SCHEMA

log = logging.getLogger(__name__)

#: The pool hands out dict-row connections (``open_pool``); rows are read by column name.
Conn = AsyncConnection[Any]


def conversation_digest(conversation_id: uuid.UUID) -> bytes:
    return hashlib.sha256(b"tandem-conversation:" + conversation_id.bytes).digest()


async def lock_conversation(conn: Conn, conversation_id: uuid.UUID) -> None:
    """Serialise this service's transactions on one conversation (events of one
    conversation arrive on several topics and may be handled by different replicas)."""
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


async def forget(conn: Conn, conversation_id: uuid.UUID) -> None:
    """Delete every row about the conversation, including escalations not yet relayed
    (their summaries quote the visitor), and remember that it was deleted."""
    for table in (
        "conversation_states",
        "escalations",
        "conversation_contexts",
        "assignments",
        "queue_entries",
        "question_embeddings",
    ):
        await conn.execute(
            f"DELETE FROM {SCHEMA}.{table} WHERE conversation_id = %s", (conversation_id,)
        )
    await conn.execute(
        f"DELETE FROM {SCHEMA}.outbox WHERE key = %s", (str(conversation_id).encode(),)
    )
    await conn.execute(
        f"INSERT INTO {SCHEMA}.forgotten_conversations (conversation_digest) VALUES (%s) "
        "ON CONFLICT DO NOTHING",
        (conversation_digest(conversation_id),),
    )


async def load_state(conn: Conn, conversation_id: uuid.UUID, site_id: str) -> ConversationState:
    cur = await conn.execute(
        f"SELECT site_id, escalated, escalation_reason, human_engaged, low_confidence_streak, "
        f"language, turns FROM {SCHEMA}.conversation_states WHERE conversation_id = %s",
        (conversation_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return ConversationState(conversation_id=conversation_id, site_id=site_id)
    return ConversationState(
        conversation_id=conversation_id,
        site_id=row["site_id"],
        turns=tuple(_turn_from_json(t) for t in row["turns"]),
        low_confidence_streak=row["low_confidence_streak"],
        escalated=row["escalated"],
        escalation_reason=Reason(row["escalation_reason"]) if row["escalation_reason"] else None,
        human_engaged=row["human_engaged"],
        language=row["language"],
    )


async def save_state(conn: Conn, state: ConversationState) -> None:
    await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.conversation_states AS s (conversation_id, site_id, escalated,
            escalation_reason, human_engaged, low_confidence_streak, language, turns)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (conversation_id) DO UPDATE SET
            escalated = EXCLUDED.escalated,
            escalation_reason = EXCLUDED.escalation_reason,
            human_engaged = EXCLUDED.human_engaged,
            low_confidence_streak = EXCLUDED.low_confidence_streak,
            language = EXCLUDED.language,
            turns = EXCLUDED.turns,
            updated_at = now()
        """,
        (
            state.conversation_id,
            state.site_id,
            state.escalated,
            state.escalation_reason.value if state.escalation_reason else None,
            state.human_engaged,
            state.low_confidence_streak,
            state.language,
            Jsonb([_turn_to_json(t) for t in state.turns]),
        ),
    )


async def delete_state(conn: Conn, conversation_id: uuid.UUID) -> None:
    await conn.execute(
        f"DELETE FROM {SCHEMA}.conversation_states WHERE conversation_id = %s", (conversation_id,)
    )


async def record_escalation(conn: Conn, event: EscalationRaised) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.escalations (event_id, conversation_id, site_id, reason, "
        "detail, raised_at, caused_by) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (event_id) DO NOTHING",
        (
            event.event_id,
            event.conversation_id,
            event.site_id,
            event.reason,
            event.detail,
            event.occurred_at,
            event.causation_id,
        ),
    )


# ---------------------------------------------------------------------------- context


async def save_context(
    conn: Conn, conversation_id: uuid.UUID, site_id: str, visitor_id: str | None, locale: str | None
) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.conversation_contexts (conversation_id, site_id, visitor_id, locale) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (conversation_id) DO UPDATE SET "
        "visitor_id = EXCLUDED.visitor_id, locale = EXCLUDED.locale",
        (conversation_id, site_id, visitor_id, locale),
    )


async def load_context(conn: Conn, conversation_id: uuid.UUID) -> tuple[str | None, str | None]:
    """(visitor id, locale) from the conversation's start, when known."""
    cur = await conn.execute(
        f"SELECT visitor_id, locale FROM {SCHEMA}.conversation_contexts WHERE conversation_id = %s",
        (conversation_id,),
    )
    row = await cur.fetchone()
    return (row["visitor_id"], row["locale"]) if row else (None, None)


# ---------------------------------------------------------------------------- embeddings


async def save_embedding(
    conn: Conn, conversation_id: uuid.UUID, message_id: uuid.UUID, model: str, vector: bytes
) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.question_embeddings (conversation_id, message_id, model, "
        "embedding) VALUES (%s, %s, %s, %s) ON CONFLICT (conversation_id, message_id) DO NOTHING",
        (conversation_id, message_id, model, vector),
    )


async def load_embeddings(
    conn: Conn, conversation_id: uuid.UUID, model: str
) -> dict[uuid.UUID, bytes]:
    cur = await conn.execute(
        f"SELECT message_id, embedding FROM {SCHEMA}.question_embeddings "
        "WHERE conversation_id = %s AND model = %s",
        (conversation_id, model),
    )
    return {r["message_id"]: bytes(r["embedding"]) for r in await cur.fetchall()}


async def keep_embeddings(conn: Conn, conversation_id: uuid.UUID, keep: list[uuid.UUID]) -> None:
    """Drop the embeddings of questions the rule state no longer remembers."""
    await conn.execute(
        f"DELETE FROM {SCHEMA}.question_embeddings WHERE conversation_id = %s "
        "AND NOT (message_id = ANY(%s))",
        (conversation_id, keep),
    )


def _turn_to_json(turn: Turn) -> dict[str, Any]:
    # The normalised text is recomputed on load, so a better normalisation applies to
    # stored turns too.
    return {
        "message_id": str(turn.message_id),
        "seq": turn.seq,
        "question": turn.question,
        "asked_at": turn.asked_at.isoformat() if turn.asked_at else None,
        "answer": turn.answer,
        "confidence": turn.confidence,
        "answered": turn.answered,
        "language": turn.language,
    }


def _turn_from_json(data: dict[str, Any]) -> Turn:
    return Turn(
        message_id=uuid.UUID(data["message_id"]),
        seq=data.get("seq"),
        question=data["question"],
        normalised=normalise(data["question"]),
        asked_at=datetime.fromisoformat(data["asked_at"]) if data.get("asked_at") else None,
        answer=data.get("answer"),
        confidence=data.get("confidence"),
        answered=data.get("answered"),
        language=data.get("language"),
    )


# ---------------------------------------------------------------------------- policies


async def load_overrides(conn: Conn, site_id: str) -> PolicyOverrides | None:
    cur = await conn.execute(
        f"SELECT overrides FROM {SCHEMA}.site_policies WHERE site_id = %s", (site_id,)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    try:
        return PolicyOverrides.model_validate(row["overrides"])
    except ValidationError as exc:
        # Written through the validated API, so this means a newer schema rolled back:
        # fall back to the defaults rather than stop escalating.
        log.error(
            "stored escalation policy is invalid; using defaults",
            extra={"fields": {"site_id": site_id, "error": str(exc)[:500]}},
        )
        return None


async def save_overrides(conn: Conn, site_id: str, overrides: PolicyOverrides) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.site_policies (site_id, overrides) VALUES (%s, %s) "
        "ON CONFLICT (site_id) DO UPDATE SET overrides = EXCLUDED.overrides, updated_at = now()",
        (site_id, Jsonb(overrides.model_dump(mode="json", exclude_defaults=True))),
    )


class PolicyBook:
    """Effective policies by site: defaults plus the site's stored overrides.

    Compiling a site's extra phrases costs milliseconds, so policies are cached by the
    overrides' content (not by site: an update changes the key, so it is never stale).
    """

    def __init__(self, defaults: EscalationPolicy | None = None, *, capacity: int = 256) -> None:
        self.defaults = defaults or EscalationPolicy()
        self.capacity = capacity
        self._cache: OrderedDict[str, EscalationPolicy] = OrderedDict()

    def effective(self, overrides: PolicyOverrides | None) -> EscalationPolicy:
        if overrides is None:
            return self.defaults
        key = json.dumps(overrides.model_dump(mode="json"), sort_keys=True)
        policy = self._cache.get(key)
        if policy is None:
            policy = self.defaults.with_overrides(overrides)
            self._cache[key] = policy
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return policy

    async def for_site(self, conn: Conn, site_id: str) -> EscalationPolicy:
        return self.effective(await load_overrides(conn, site_id))
