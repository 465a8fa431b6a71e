"""Invitations to a site's team: who may grant which role, and what state one is in.

Roles rank owner > admin > agent; an invitation never grants more than its inviter holds
(an admin invites admins and agents, only an owner invites owners). An invitation is
*pending* until it is accepted (once), revoked, or its time runs out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Role = Literal["owner", "admin", "agent"]
InvitationState = Literal["pending", "expired", "accepted", "revoked"]

_RANK: dict[str, int] = {"agent": 1, "admin": 2, "owner": 3}


def may_grant(inviter_role: str, role: str) -> bool:
    """Whether someone with ``inviter_role`` may invite someone as ``role``: owners and
    admins only, and never above their own role."""
    inviter, granted = _RANK.get(inviter_role, 0), _RANK.get(role, 99)
    return inviter >= _RANK["admin"] and granted <= inviter


def invitation_state(
    *,
    accepted_at: datetime | None,
    revoked_at: datetime | None,
    expires_at: datetime,
    now: datetime,
) -> InvitationState:
    if accepted_at is not None:
        return "accepted"
    if revoked_at is not None:
        return "revoked"
    if now >= expires_at:
        return "expired"
    return "pending"
