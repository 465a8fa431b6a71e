"""Agent sign-in, token refresh and sign-out.

Credentials are checked by the escalation service (it holds the roster and the password
hashes); the gateway owns the session: a short-lived access token and a rotating refresh
token. Sign-in attempts are rate-limited per client IP and per email address.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..domain import tokens
from ..domain.agent_tokens import (
    AgentClaims,
    issue_access_token,
    new_refresh_token,
    refresh_token_digest,
    verify_access_token,
)
from ..domain.agents import AgentIdentity
from .errors import InvalidCredentials, InvalidToken, MissingToken, TokenExpired, TooManyRequests
from .ports import AgentDirectory, RateLimiter, RefreshRecord, SessionStore

LOGIN_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class AgentAuthPolicy:
    secret: bytes
    access_ttl_seconds: int = 15 * 60
    refresh_ttl_seconds: int = 7 * 24 * 3600
    login_attempts_per_minute: int = 10


@dataclass(frozen=True, slots=True)
class AgentSession:
    access_token: str
    access_claims: AgentClaims
    refresh_token: str
    refresh_expires_in: int

    @property
    def identity(self) -> AgentIdentity:
        return self.access_claims.identity


class AgentAuthService:
    def __init__(
        self,
        *,
        policy: AgentAuthPolicy,
        directory: AgentDirectory,
        sessions: SessionStore,
        limiter: RateLimiter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.directory = directory
        self.sessions = sessions
        self.limiter = limiter
        self.clock = clock

    async def _limit(self, key: str) -> None:
        wait = await self.limiter.hit(
            key, limit=self.policy.login_attempts_per_minute, window_seconds=LOGIN_WINDOW_SECONDS
        )
        if wait:
            raise TooManyRequests(
                f"too many sign-in attempts; try again in {wait} s", retry_after=wait
            )

    async def login(self, email: str, password: str, client_ip: str | None) -> AgentSession:
        email_digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        await self._limit(f"login:ip:{client_ip or 'unknown'}")
        await self._limit(f"login:email:{email_digest}")
        identity = await self.directory.authenticate(email.strip(), password)
        if identity is None:
            raise InvalidCredentials("wrong email or password")
        return await self._issue(identity, family=secrets.token_urlsafe(16))

    async def refresh(self, refresh_token: str, client_ip: str | None) -> AgentSession:
        await self._limit(f"refresh:ip:{client_ip or 'unknown'}")
        digest = refresh_token_digest(refresh_token)
        record = await self.sessions.take(digest, self.policy.refresh_ttl_seconds)
        if record is None:
            family = await self.sessions.family_of_used(digest)
            if family is not None:
                # A rotated-away token came back: someone else has a copy. End the sign-in.
                await self.sessions.revoke_family(family)
            raise InvalidToken("the refresh token is not valid; sign in again")
        # Roles change and agents are deactivated: refresh from the roster, not the token.
        identity = await self.directory.current(record.identity.site_id, record.identity.agent_id)
        if identity is None:
            await self.sessions.revoke_family(record.family)
            raise InvalidToken("this agent can no longer sign in")
        return await self._issue(identity, family=record.family)

    async def logout(self, refresh_token: str | None, access: AgentClaims | None) -> None:
        if refresh_token:
            digest = refresh_token_digest(refresh_token)
            record = await self.sessions.take(digest, self.policy.refresh_ttl_seconds)
            family = record.family if record else await self.sessions.family_of_used(digest)
            if family is not None:
                await self.sessions.revoke_family(family)
        if access is not None:
            remaining = access.expires_at - int(self.clock())
            if remaining > 0:
                await self.sessions.revoke_access(access.token_id, remaining)

    async def verify_access(self, token: str | None) -> AgentClaims:
        if not token:
            raise MissingToken("an agent access token is required (Authorization: Bearer ...)")
        try:
            claims = verify_access_token(self.policy.secret, token, now=int(self.clock()))
        except tokens.ExpiredToken as exc:
            raise TokenExpired("the access token has expired; refresh it") from exc
        except tokens.TokenError as exc:
            raise InvalidToken("the access token is not valid") from exc
        if await self.sessions.access_revoked(claims.token_id):
            raise InvalidToken("the access token was revoked; sign in again")
        return claims

    async def _issue(self, identity: AgentIdentity, *, family: str) -> AgentSession:
        now = int(self.clock())
        access_token, claims = issue_access_token(
            self.policy.secret, identity, now=now, ttl_seconds=self.policy.access_ttl_seconds
        )
        refresh_token = new_refresh_token()
        await self.sessions.put(
            refresh_token_digest(refresh_token),
            RefreshRecord(identity=identity, family=family, issued_at=now),
            self.policy.refresh_ttl_seconds,
        )
        return AgentSession(
            access_token=access_token,
            access_claims=claims,
            refresh_token=refresh_token,
            refresh_expires_in=self.policy.refresh_ttl_seconds,
        )
