"""Agent access tokens (JWT, HS256) and refresh-token digests."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from tandem_gateway.domain import tokens
from tandem_gateway.domain.agent_tokens import (
    AUDIENCE,
    ISSUER,
    issue_access_token,
    new_refresh_token,
    refresh_token_digest,
    verify_access_token,
)
from tandem_gateway.domain.agents import AgentIdentity

pytestmark = pytest.mark.unit

SECRET = b"agent-token-unit-test-secret-0123456789"
NOW = 1_800_000_000
ANA = AgentIdentity("agent-ana", "acme", "Ana", "admin", ("billing",), ("en", "fr"))


def test_a_token_round_trips_the_agent_and_expires_after_its_ttl() -> None:
    token, issued = issue_access_token(SECRET, ANA, now=NOW, ttl_seconds=900)
    claims = verify_access_token(SECRET, token, now=NOW + 899)
    assert claims.identity == ANA
    assert claims == issued
    assert claims.expires_at == NOW + 900
    with pytest.raises(tokens.ExpiredToken):
        verify_access_token(SECRET, token, now=NOW + 900)


def test_every_token_has_its_own_id() -> None:
    first, a = issue_access_token(SECRET, ANA, now=NOW, ttl_seconds=900)
    second, b = issue_access_token(SECRET, ANA, now=NOW, ttl_seconds=900)
    assert first != second and a.token_id != b.token_id


def test_another_key_or_a_changed_payload_is_refused() -> None:
    token, _ = issue_access_token(SECRET, ANA, now=NOW, ttl_seconds=900)
    with pytest.raises(tokens.ForgedToken):
        verify_access_token(b"another-secret-of-the-same-length-000", token, now=NOW)
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["role"] = "owner"
    forged_payload = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    with pytest.raises(tokens.ForgedToken):
        verify_access_token(SECRET, f"{header}.{forged_payload}.{signature}", now=NOW)


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "x",
            "site": "acme",
            "name": "X",
            "role": "owner",
            "typ": "agent_access",
            "iat": NOW,
            "exp": NOW + 60,
            "jti": "j",
        },
        key=None,
        algorithm="none",
    )
    with pytest.raises(tokens.TokenError):
        verify_access_token(SECRET, unsigned, now=NOW)


@pytest.mark.parametrize(
    "change",
    [{"aud": "someone-else"}, {"iss": "elsewhere"}, {"typ": "visitor"}, {"role": "root"}],
)
def test_tokens_for_another_audience_purpose_or_role_are_refused(change: dict[str, str]) -> None:
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "typ": "agent_access",
        "sub": "agent-ana",
        "site": "acme",
        "name": "Ana",
        "role": "agent",
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "j1",
        **change,
    }
    with pytest.raises(tokens.TokenError):
        verify_access_token(SECRET, jwt.encode(payload, SECRET, algorithm="HS256"), now=NOW)


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "." * 5000])
def test_garbage_is_malformed(garbage: str) -> None:
    with pytest.raises(tokens.MalformedToken):
        verify_access_token(SECRET, garbage, now=NOW)


def test_refresh_tokens_are_random_and_only_their_digest_is_kept() -> None:
    first, second = new_refresh_token(), new_refresh_token()
    assert first != second and len(first) >= 40
    digest = refresh_token_digest(first)
    assert first not in digest and len(digest) == 64
    assert digest == refresh_token_digest(first)
