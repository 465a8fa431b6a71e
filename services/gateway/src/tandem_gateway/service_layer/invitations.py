"""Invitations: an owner or admin invites a teammate by email with a role; the invitee
accepts with the token, a name and a password and joins that site with that role.

The rules (who may grant what, the token) are in ``domain.invitations``; the invitations
are kept with the roster by the escalation service, which sees only the token's digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.agents import AgentIdentity
from ..domain.invitations import (
    accept_path,
    invitation_digest,
    looks_like_token,
    may_grant,
    new_invitation_token,
)
from .errors import InvitationInvalid, NotAllowed, NotFound, TooManyRequests
from .ports import InvitationDirectory, RateLimiter

ACCEPT_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class CreatedInvitation:
    invitation: dict[str, Any]
    token: str  # shown once, never stored
    accept_path: str


class InvitationService:
    def __init__(
        self,
        *,
        directory: InvitationDirectory,
        limiter: RateLimiter,
        ttl_seconds: int = 7 * 24 * 3600,
        accept_attempts_per_minute: int = 10,
    ) -> None:
        self.directory = directory
        self.limiter = limiter
        self.ttl_seconds = ttl_seconds
        self.accept_attempts_per_minute = accept_attempts_per_minute

    @staticmethod
    def _check_grant(actor: AgentIdentity, role: str) -> None:
        if not may_grant(actor.role, role):
            if not actor.manages:
                raise NotAllowed("only the site's owners and admins manage invitations")
            raise NotAllowed(f"an {actor.role} cannot grant the role {role}", code="role_too_high")

    async def invite(self, actor: AgentIdentity, email: str, role: str) -> CreatedInvitation:
        self._check_grant(actor, role)
        token, digest = new_invitation_token()
        invitation = await self.directory.create_invitation(
            actor.site_id,
            email=email,
            role=role,
            token_digest=digest,
            inviter=actor,
            expires_in_seconds=self.ttl_seconds,
        )
        return CreatedInvitation(invitation=invitation, token=token, accept_path=accept_path(token))

    async def open_invitations(self, actor: AgentIdentity) -> list[dict[str, Any]]:
        if not actor.manages:
            raise NotAllowed("only the site's owners and admins manage invitations")
        return await self.directory.list_invitations(actor.site_id)

    async def revoke(self, actor: AgentIdentity, invitation_id: str) -> None:
        """Withdraw an open invitation of the actor's site, one whose role they could
        grant themselves."""
        listed = await self.open_invitations(actor)
        found = next((i for i in listed if i.get("invitation_id") == invitation_id), None)
        if found is None:
            raise NotFound("no such open invitation")
        self._check_grant(actor, str(found.get("role")))
        await self.directory.revoke_invitation(actor.site_id, invitation_id)

    async def accept(
        self, token: str, name: str, password: str, client_ip: str | None
    ) -> dict[str, Any]:
        wait = await self.limiter.hit(
            f"invitation:ip:{client_ip or 'unknown'}",
            limit=self.accept_attempts_per_minute,
            window_seconds=ACCEPT_WINDOW_SECONDS,
        )
        if wait:
            raise TooManyRequests(f"too many attempts; try again in {wait} s", retry_after=wait)
        if not looks_like_token(token):
            raise InvitationInvalid("this invitation link is not valid")
        return await self.directory.accept_invitation(invitation_digest(token), name, password)
