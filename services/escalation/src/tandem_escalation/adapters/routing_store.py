"""Routing state in Postgres, inside the caller's transaction: who is assigned what, the
queue, the round-robin cursor, handling times and each site's routing settings.

Every change to a site's assignments or queue happens under that site's advisory lock
(``lock_site``), so two replicas never give one agent's last free place twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from ..domain.routing import (
    HANDLING_SAMPLE,
    Assignment,
    Priority,
    QueueEntry,
    RoutingRequest,
    RoutingSettings,
)
from .schema import SCHEMA

log = logging.getLogger(__name__)

Conn = AsyncConnection[Any]


async def lock_site(conn: Conn, site_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{SCHEMA}:site:{site_id}",)
    )


# ---------------------------------------------------------------------------- assignments


@dataclass(frozen=True)
class AssignmentRow:
    conversation_id: uuid.UUID
    site_id: str
    agent_id: str
    agent_name: str
    required_skill: str | None
    language: str | None
    priority: Priority
    assigned_at: datetime


def _assignment(row: dict[str, Any]) -> AssignmentRow:
    return AssignmentRow(
        conversation_id=row["conversation_id"],
        site_id=row["site_id"],
        agent_id=row["agent_id"],
        agent_name=row["agent_name"],
        required_skill=row["required_skill"],
        language=row["language"],
        priority=row["priority"],
        assigned_at=row["assigned_at"],
    )


async def assignment_of(conn: Conn, conversation_id: uuid.UUID) -> AssignmentRow | None:
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.assignments WHERE conversation_id = %s", (conversation_id,)
    )
    row = await cur.fetchone()
    return _assignment(row) if row else None


async def assignments_of_agent(conn: Conn, site_id: str, agent_id: str) -> list[AssignmentRow]:
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.assignments WHERE site_id = %s AND agent_id = %s "
        "ORDER BY assigned_at, conversation_id",
        (site_id, agent_id),
    )
    return [_assignment(r) for r in await cur.fetchall()]


async def active_counts(conn: Conn, site_id: str) -> dict[str, int]:
    cur = await conn.execute(
        f"SELECT agent_id, count(*) AS n FROM {SCHEMA}.assignments WHERE site_id = %s "
        "GROUP BY agent_id",
        (site_id,),
    )
    return {r["agent_id"]: int(r["n"]) for r in await cur.fetchall()}


async def assign(
    conn: Conn,
    *,
    conversation_id: uuid.UUID,
    site_id: str,
    agent_id: str,
    agent_name: str,
    request: RoutingRequest,
    at: datetime,
) -> None:
    await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.assignments (conversation_id, site_id, agent_id, agent_name,
            required_skill, language, priority, assigned_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (conversation_id) DO UPDATE SET
            agent_id = EXCLUDED.agent_id, agent_name = EXCLUDED.agent_name,
            required_skill = EXCLUDED.required_skill, language = EXCLUDED.language,
            priority = EXCLUDED.priority, assigned_at = EXCLUDED.assigned_at
        """,
        (
            conversation_id,
            site_id,
            agent_id,
            agent_name,
            request.required_skill,
            request.language,
            request.priority,
            at,
        ),
    )
    await conn.execute(
        f"DELETE FROM {SCHEMA}.queue_entries WHERE conversation_id = %s", (conversation_id,)
    )


async def release(conn: Conn, conversation_id: uuid.UUID) -> AssignmentRow | None:
    cur = await conn.execute(
        f"DELETE FROM {SCHEMA}.assignments WHERE conversation_id = %s RETURNING *",
        (conversation_id,),
    )
    row = await cur.fetchone()
    return _assignment(row) if row else None


async def sites_with_assignments(conn: Conn) -> list[tuple[str, str, datetime]]:
    """(site, agent, earliest assignment) for every agent with conversations."""
    cur = await conn.execute(
        f"SELECT site_id, agent_id, min(assigned_at) AS since FROM {SCHEMA}.assignments "
        "GROUP BY site_id, agent_id"
    )
    return [(r["site_id"], r["agent_id"], r["since"]) for r in await cur.fetchall()]


# ---------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueuedRow:
    entry: QueueEntry
    correlation_id: uuid.UUID | None
    cause_id: uuid.UUID | None
    announced_position: int | None = None


async def enqueue(
    conn: Conn,
    *,
    site_id: str,
    entry: QueueEntry,
    correlation_id: uuid.UUID | None,
    cause_id: uuid.UUID | None,
) -> None:
    request = entry.request
    await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.queue_entries (conversation_id, site_id, required_skill, language,
            priority, excluded_agents, previous_agent_id, assignment, enqueued_at,
            correlation_id, cause_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (conversation_id) DO UPDATE SET
            required_skill = EXCLUDED.required_skill, language = EXCLUDED.language,
            priority = EXCLUDED.priority, excluded_agents = EXCLUDED.excluded_agents,
            previous_agent_id = EXCLUDED.previous_agent_id, assignment = EXCLUDED.assignment
        """,
        (
            request.conversation_id,
            site_id,
            request.required_skill,
            request.language,
            request.priority,
            sorted(request.excluded),
            entry.previous_agent_id,
            entry.assignment,
            entry.enqueued_at,
            correlation_id,
            cause_id,
        ),
    )


async def dequeue(conn: Conn, conversation_id: uuid.UUID) -> bool:
    cur = await conn.execute(
        f"DELETE FROM {SCHEMA}.queue_entries WHERE conversation_id = %s", (conversation_id,)
    )
    return cur.rowcount > 0


async def queue_of(conn: Conn, site_id: str) -> list[QueuedRow]:
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.queue_entries WHERE site_id = %s ORDER BY enqueued_at",
        (site_id,),
    )
    rows = []
    for r in await cur.fetchall():
        request = RoutingRequest(
            conversation_id=r["conversation_id"],
            required_skill=r["required_skill"],
            language=r["language"],
            priority=r["priority"],
            excluded=frozenset(r["excluded_agents"] or ()),
        )
        assignment: Assignment = r["assignment"]
        entry = QueueEntry(request, r["enqueued_at"], assignment, r["previous_agent_id"])
        rows.append(QueuedRow(entry, r["correlation_id"], r["cause_id"], r["announced_position"]))
    return rows


async def set_announced(conn: Conn, conversation_id: uuid.UUID, position: int) -> None:
    await conn.execute(
        f"UPDATE {SCHEMA}.queue_entries SET announced_position = %s WHERE conversation_id = %s",
        (position, conversation_id),
    )


async def sites_with_queue(conn: Conn) -> list[str]:
    cur = await conn.execute(f"SELECT DISTINCT site_id FROM {SCHEMA}.queue_entries")
    return [r["site_id"] for r in await cur.fetchall()]


# ---------------------------------------------------------------------------- cursor, times


async def cursor_of(conn: Conn, site_id: str) -> str | None:
    cur = await conn.execute(
        f"SELECT last_agent_id FROM {SCHEMA}.routing_cursors WHERE site_id = %s", (site_id,)
    )
    row = await cur.fetchone()
    return row["last_agent_id"] if row else None


async def save_cursor(conn: Conn, site_id: str, agent_id: str) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.routing_cursors (site_id, last_agent_id) VALUES (%s, %s) "
        "ON CONFLICT (site_id) DO UPDATE SET last_agent_id = EXCLUDED.last_agent_id, "
        "updated_at = now()",
        (site_id, agent_id),
    )


async def record_handling_time(conn: Conn, site_id: str, seconds: float, at: datetime) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.handling_times (site_id, seconds, resolved_at) VALUES (%s, %s, %s)",
        (site_id, max(0.0, seconds), at),
    )


async def recent_handling_times(conn: Conn, site_id: str) -> list[float]:
    cur = await conn.execute(
        f"SELECT seconds FROM {SCHEMA}.handling_times WHERE site_id = %s "
        f"ORDER BY id DESC LIMIT {HANDLING_SAMPLE}",
        (site_id,),
    )
    return [float(r["seconds"]) for r in await cur.fetchall()]


# ---------------------------------------------------------------------------- settings


async def load_settings(conn: Conn, site_id: str) -> RoutingSettings | None:
    cur = await conn.execute(
        f"SELECT settings FROM {SCHEMA}.routing_settings WHERE site_id = %s", (site_id,)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    try:
        return RoutingSettings.model_validate(row["settings"])
    except ValidationError as exc:
        log.error(
            "stored routing settings are invalid; using defaults",
            extra={"fields": {"site_id": site_id, "error": str(exc)[:500]}},
        )
        return None


async def save_settings(conn: Conn, site_id: str, settings: RoutingSettings) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.routing_settings (site_id, settings) VALUES (%s, %s) "
        "ON CONFLICT (site_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()",
        (site_id, Jsonb(settings.model_dump(mode="json"))),
    )
