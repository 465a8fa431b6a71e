"""Invitations to a site's team: the single-use token and who may grant which role.

The token is 256 random bits, shown once to the owner or admin who invites (we send no
email: they pass the link on). Only its SHA-256 digest is stored; a high-entropy token
needs no slow hash. The accept link carries it in the URL *fragment*
(``/invitation#token=...``), which browsers never send to a server, so it reaches no
access log, proxy or Referer header; the accept page posts it in a request body.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from .agents import Role

TOKEN_PREFIX = "tinv_"  # noqa: S105 (a prefix, so scanners recognise leaked tokens)
TOKEN_PATTERN = r"^tinv_[A-Za-z0-9_-]{43}$"  # noqa: S105
_TOKEN = re.compile(TOKEN_PATTERN)
ACCEPT_PAGE = "/invitation"

_RANK: dict[str, int] = {"agent": 1, "admin": 2, "owner": 3}


def new_invitation_token() -> tuple[str, str]:
    """A fresh token and the digest to store in its place."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, invitation_digest(token)


def invitation_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(text: str) -> bool:
    return bool(_TOKEN.match(text))


def accept_path(token: str) -> str:
    return f"{ACCEPT_PAGE}#token={token}"


def may_grant(inviter_role: str, role: Role | str) -> bool:
    """Owners and admins invite; nobody grants a role above their own (an admin invites
    admins and agents, only an owner invites owners). Revoking follows the same rule."""
    inviter, granted = _RANK.get(inviter_role, 0), _RANK.get(role, 99)
    return inviter >= _RANK["admin"] and granted <= inviter


def grantable_roles(inviter_role: str) -> list[Role]:
    roles: list[Role] = ["owner", "admin", "agent"]
    return [role for role in roles if may_grant(inviter_role, role)]
