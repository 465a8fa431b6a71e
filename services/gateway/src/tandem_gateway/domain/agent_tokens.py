"""Agent console credentials: short-lived access tokens and opaque refresh tokens.

* The **access token** is a JWT (HS256) naming the agent, its site and role, valid for
  minutes. Any replica verifies it without a lookup; a logout additionally deny-lists its
  ``jti`` until it expires.
* The **refresh token** is 32 random bytes, shown to the client once and kept only as a
  SHA-256 digest in Redis. Each use replaces it with a new one (rotation); presenting a
  used one again means it leaked, and the whole sign-in's chain is revoked.

The clock is a parameter so expiry is tested without waiting.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from .agents import ROLES, AgentIdentity
from .tokens import ExpiredToken, ForgedToken, MalformedToken

ALGORITHM = "HS256"
ISSUER = "tandem-gateway"
AUDIENCE = "tandem-console"
#: Replicas' clocks differ a little; a token is not refused for that.
CLOCK_SKEW_SECONDS = 60
ACCESS_TOKEN_TYPE = "agent_access"  # noqa: S105 - a token type name, not a secret


@dataclass(frozen=True, slots=True)
class AgentClaims:
    identity: AgentIdentity
    token_id: str
    issued_at: int
    expires_at: int


def issue_access_token(
    secret: bytes, identity: AgentIdentity, *, now: int, ttl_seconds: int
) -> tuple[str, AgentClaims]:
    claims = AgentClaims(
        identity=identity,
        token_id=secrets.token_urlsafe(16),
        issued_at=now,
        expires_at=now + ttl_seconds,
    )
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "typ": ACCESS_TOKEN_TYPE,
        "sub": identity.agent_id,
        "site": identity.site_id,
        "name": identity.name,
        "role": identity.role,
        "skills": list(identity.skills),
        "langs": list(identity.languages),
        "iat": now,
        "exp": claims.expires_at,
        "jti": claims.token_id,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def verify_access_token(secret: bytes, token: str, *, now: int) -> AgentClaims:
    """The claims of a genuine, unexpired access token; a ``TokenError`` otherwise."""
    if not token or len(token) > 4096:
        raise MalformedToken("token has the wrong shape")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never "none", never whatever the header claims
            audience=AUDIENCE,
            issuer=ISSUER,
            # Times are checked below against the injected clock.
            options={
                "require": ["exp", "iat", "sub", "jti"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise ForgedToken("token signature does not match") from exc
    except jwt.InvalidTokenError as exc:
        raise MalformedToken(f"token is not valid: {type(exc).__name__}") from exc
    try:
        if payload.get("typ") != ACCESS_TOKEN_TYPE or payload.get("role") not in ROLES:
            raise MalformedToken("not an agent access token")
        identity = AgentIdentity(
            agent_id=str(payload["sub"]),
            site_id=str(payload["site"]),
            name=str(payload["name"]),
            role=payload["role"],
            skills=tuple(str(s) for s in payload.get("skills", ())),
            languages=tuple(str(lang) for lang in payload.get("langs", ())),
        )
        claims = AgentClaims(
            identity=identity,
            token_id=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedToken("token payload is invalid") from exc
    if now >= claims.expires_at:
        raise ExpiredToken("token has expired")
    if claims.issued_at > now + CLOCK_SKEW_SECONDS:
        raise MalformedToken("token was issued in the future")
    return claims


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_token_digest(token: str) -> str:
    """What is stored instead of the token: a stolen copy of Redis holds no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
