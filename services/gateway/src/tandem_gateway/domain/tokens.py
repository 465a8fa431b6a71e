"""Visitor tokens: opaque to clients, stateless for the gateway.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`` where the
payload is compact JSON naming one conversation and its site, when it was issued and when
it expires. Any gateway replica verifies it without a lookup; rotating the secret revokes
every token at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

TOKEN_VERSION = 1


class TokenError(Exception):
    """The token cannot be used (malformed, forged or expired)."""


class MalformedToken(TokenError):
    pass


class ForgedToken(TokenError):
    pass


class ExpiredToken(TokenError):
    pass


@dataclass(frozen=True, slots=True)
class VisitorClaims:
    conversation_id: uuid.UUID
    site_id: str
    issued_at: int
    expires_at: int

    def grants(self, conversation_id: uuid.UUID) -> bool:
        return self.conversation_id == conversation_id


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise MalformedToken("token is not base64url") from exc


def _signature(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()


def issue_token(
    secret: bytes, *, conversation_id: uuid.UUID, site_id: str, now: int, ttl_seconds: int
) -> tuple[str, VisitorClaims]:
    claims = VisitorClaims(
        conversation_id=conversation_id,
        site_id=site_id,
        issued_at=now,
        expires_at=now + ttl_seconds,
    )
    payload = json.dumps(
        {
            "v": TOKEN_VERSION,
            "cid": str(claims.conversation_id),
            "sid": claims.site_id,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    token = f"{_b64encode(payload)}.{_b64encode(_signature(secret, payload))}"
    return token, claims


def verify_token(secret: bytes, token: str, *, now: int) -> VisitorClaims:
    """The claims of a genuine, unexpired token; raises a ``TokenError`` otherwise."""
    if len(token) > 1024 or token.count(".") != 1:
        raise MalformedToken("token has the wrong shape")
    encoded_payload, encoded_signature = token.split(".")
    payload = _b64decode(encoded_payload)
    signature = _b64decode(encoded_signature)
    # Check the signature before reading the payload: nothing forged is ever parsed.
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        raise ForgedToken("token signature does not match")
    try:
        data = json.loads(payload)
        if data["v"] != TOKEN_VERSION:
            raise MalformedToken(f"unsupported token version {data['v']!r}")
        claims = VisitorClaims(
            conversation_id=uuid.UUID(data["cid"]),
            site_id=str(data["sid"]),
            issued_at=int(data["iat"]),
            expires_at=int(data["exp"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedToken("token payload is invalid") from exc
    if now >= claims.expires_at:
        raise ExpiredToken("token has expired")
    return claims
