"""Invitations in Postgres (``escalation.invitations``), next to the roster they add to.

Only the SHA-256 digest of an invitation's token is stored: whoever reads the table
cannot accept an invitation with what they find. Runs inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

from ..domain.invitations import InvitationState, Role, invitation_state
from .schema import SCHEMA

Conn = AsyncConnection[Any]

#: A site lists at most this many open invitations (the newest).
MAX_LISTED = 500


class OpenInvitationExists(Exception):
    """Another open invitation for this email on this site was created concurrently."""


@dataclass(frozen=True)
class InvitationRecord:
    invitation_id: str
    site_id: str
    email: str
    role: Role
    invited_by_id: str
    invited_by_name: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    agent_id: str | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> InvitationState:
        return invitation_state(
            accepted_at=self.accepted_at,
            revoked_at=self.revoked_at,
            expires_at=self.expires_at,
            now=now,
        )


def _record(row: dict[str, Any]) -> InvitationRecord:
    return InvitationRecord(
        invitation_id=row["invitation_id"],
        site_id=row["site_id"],
        email=row["email"],
        role=row["role"],
        invited_by_id=row["invited_by_id"],
        invited_by_name=row["invited_by_name"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        accepted_at=row["accepted_at"],
        agent_id=row["agent_id"],
        revoked_at=row["revoked_at"],
    )


async def create(
    conn: Conn,
    *,
    invitation_id: str,
    site_id: str,
    email: str,
    role: Role,
    token_digest: str,
    invited_by_id: str,
    invited_by_name: str,
    expires_at: datetime,
) -> InvitationRecord:
    """A new open invitation; an open one for the same email on this site is revoked (the
    new one replaces it). Raises ``OpenInvitationExists`` when a concurrent call won."""
    await conn.execute(
        f"UPDATE {SCHEMA}.invitations SET revoked_at = now() "
        "WHERE site_id = %s AND lower(email) = lower(%s) "
        "AND accepted_at IS NULL AND revoked_at IS NULL",
        (site_id, email),
    )
    try:
        async with conn.transaction():  # a savepoint: a lost race leaves the caller usable
            cur = await conn.execute(
                f"""
                INSERT INTO {SCHEMA}.invitations (invitation_id, site_id, email, role,
                    token_digest, invited_by_id, invited_by_name, expires_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                RETURNING *
                """,
                (
                    invitation_id,
                    site_id,
                    email,
                    role,
                    token_digest,
                    invited_by_id,
                    invited_by_name,
                    expires_at,
                ),
            )
    except psycopg.errors.UniqueViolation:
        raise OpenInvitationExists(email) from None
    row = await cur.fetchone()
    assert row is not None
    return _record(row)


async def open_of_site(conn: Conn, site_id: str) -> list[InvitationRecord]:
    """The site's invitations neither accepted nor revoked (expired ones too), newest first."""
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.invitations WHERE site_id = %s "
        "AND accepted_at IS NULL AND revoked_at IS NULL "
        "ORDER BY created_at DESC, invitation_id LIMIT %s",
        (site_id, MAX_LISTED),
    )
    return [_record(r) for r in await cur.fetchall()]


async def lock(conn: Conn, site_id: str, invitation_id: str) -> InvitationRecord | None:
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.invitations WHERE invitation_id = %s AND site_id = %s FOR UPDATE",
        (invitation_id, site_id),
    )
    row = await cur.fetchone()
    return _record(row) if row else None


async def revoke(conn: Conn, invitation_id: str) -> None:
    await conn.execute(
        f"UPDATE {SCHEMA}.invitations SET revoked_at = coalesce(revoked_at, now()) "
        "WHERE invitation_id = %s",
        (invitation_id,),
    )


async def by_digest(
    conn: Conn, token_digest: str, *, for_update: bool = False
) -> InvitationRecord | None:
    cur = await conn.execute(
        f"SELECT * FROM {SCHEMA}.invitations WHERE token_digest = %s"
        + (" FOR UPDATE" if for_update else ""),
        (token_digest,),
    )
    row = await cur.fetchone()
    return _record(row) if row else None


async def mark_accepted(conn: Conn, invitation_id: str, agent_id: str) -> None:
    await conn.execute(
        f"UPDATE {SCHEMA}.invitations SET accepted_at = now(), agent_id = %s "
        "WHERE invitation_id = %s",
        (agent_id, invitation_id),
    )
