"""The team roster in Postgres (``escalation.agents``) and agents' passwords (argon2id).

Hashing and verifying are deliberately slow (tens of milliseconds of CPU and 64 MiB), so
they run in a worker thread. Signing in with an unknown email still verifies a password
against a dummy hash, so the time taken does not tell whether the email exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from psycopg import AsyncConnection

from .schema import SCHEMA

Conn = AsyncConnection[Any]
Role = Literal["owner", "admin", "agent"]


class EmailTaken(Exception):
    """Another agent already uses this email."""


class AgentIdTaken(Exception):
    """The agent id belongs to an agent of another site."""


@dataclass(frozen=True)
class AgentRecord:
    agent_id: str
    site_id: str
    email: str
    name: str
    role: Role
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    max_concurrent: int
    active: bool
    password_hash: str | None = None


def _record(row: dict[str, Any]) -> AgentRecord:
    return AgentRecord(
        agent_id=row["agent_id"],
        site_id=row["site_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        skills=tuple(row["skills"] or ()),
        languages=tuple(row["languages"] or ()),
        max_concurrent=row["max_concurrent"],
        active=row["active"],
        password_hash=row["password_hash"],
    )


async def get(conn: Conn, agent_id: str) -> AgentRecord | None:
    cur = await conn.execute(f"SELECT * FROM {SCHEMA}.agents WHERE agent_id = %s", (agent_id,))
    row = await cur.fetchone()
    return _record(row) if row else None


async def by_email(conn: Conn, email: str) -> AgentRecord | None:
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.agents WHERE lower(email) = lower(%s)", (email,)
    )
    row = await cur.fetchone()
    return _record(row) if row else None


async def of_site(conn: Conn, site_id: str) -> list[AgentRecord]:
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.agents WHERE site_id = %s ORDER BY name, agent_id", (site_id,)
    )
    return [_record(r) for r in await cur.fetchall()]


async def save(conn: Conn, agent: AgentRecord, *, new_password_hash: str | None) -> AgentRecord:
    """Create or replace the agent; the stored password hash is kept unless a new one is
    given. Raises ``EmailTaken`` or ``AgentIdTaken``."""
    existing = await get(conn, agent.agent_id)
    if existing is not None and existing.site_id != agent.site_id:
        raise AgentIdTaken(agent.agent_id)
    holder = await by_email(conn, agent.email)
    if holder is not None and holder.agent_id != agent.agent_id:
        raise EmailTaken(agent.email)
    try:
        async with conn.transaction():  # a savepoint: a lost race leaves the caller usable
            cur = await conn.execute(
                f"""
                INSERT INTO {SCHEMA}.agents (agent_id, site_id, email, name, role, skills,
                    languages, max_concurrent, password_hash, active)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (agent_id) DO UPDATE SET
                    email = EXCLUDED.email, name = EXCLUDED.name, role = EXCLUDED.role,
                    skills = EXCLUDED.skills, languages = EXCLUDED.languages,
                    max_concurrent = EXCLUDED.max_concurrent,
                    password_hash = COALESCE(EXCLUDED.password_hash, {SCHEMA}.agents.password_hash),
                    active = EXCLUDED.active, updated_at = now()
                RETURNING *
                """,
                (
                    agent.agent_id,
                    agent.site_id,
                    agent.email,
                    agent.name,
                    agent.role,
                    list(agent.skills),
                    list(agent.languages),
                    agent.max_concurrent,
                    new_password_hash,
                    agent.active,
                ),
            )
    except psycopg.errors.UniqueViolation:
        raise EmailTaken(agent.email) from None
    row = await cur.fetchone()
    assert row is not None
    return _record(row)


async def update_hash(conn: Conn, agent_id: str, password_hash: str) -> None:
    await conn.execute(
        f"UPDATE {SCHEMA}.agents SET password_hash = %s WHERE agent_id = %s",
        (password_hash, agent_id),
    )


class Passwords:
    """argon2id hashing and constant-time-ish verification."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash("not-a-password-anyone-has")
        return self._dummy

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy_hash(), password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """Verify against ``stored``, or against a dummy hash when there is none (unknown
        email, no password set) so both take the same time; False then."""
        return await asyncio.to_thread(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)
