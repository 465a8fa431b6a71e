import base64
import json
import uuid

import pytest
from tandem_gateway.domain.tokens import (
    ExpiredToken,
    ForgedToken,
    MalformedToken,
    issue_token,
    verify_token,
)

pytestmark = pytest.mark.unit

SECRET = b"s" * 32
NOW = 1_800_000_000


def _issue(conversation_id: uuid.UUID | None = None, ttl: int = 3600) -> tuple[str, uuid.UUID]:
    conversation_id = conversation_id or uuid.uuid4()
    token, _ = issue_token(
        SECRET, conversation_id=conversation_id, site_id="acme", now=NOW, ttl_seconds=ttl
    )
    return token, conversation_id


def test_a_token_verifies_to_the_claims_it_was_issued_with() -> None:
    token, conversation_id = _issue()
    claims = verify_token(SECRET, token, now=NOW + 10)
    assert claims.conversation_id == conversation_id
    assert claims.site_id == "acme"
    assert claims.issued_at == NOW
    assert claims.expires_at == NOW + 3600


def test_a_token_grants_only_its_own_conversation() -> None:
    token, conversation_id = _issue()
    claims = verify_token(SECRET, token, now=NOW)
    assert claims.grants(conversation_id)
    assert not claims.grants(uuid.uuid4())


def test_a_tampered_payload_is_refused() -> None:
    token, _ = _issue()
    payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["cid"] = str(uuid.uuid4())  # point the token at another conversation
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(ForgedToken):
        verify_token(SECRET, f"{forged_payload}.{signature}", now=NOW)


def test_a_tampered_signature_is_refused() -> None:
    token, _ = _issue()
    payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(ForgedToken):
        verify_token(SECRET, f"{payload}.{flipped}", now=NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token, _ = _issue()
    with pytest.raises(ForgedToken):
        verify_token(b"t" * 32, token, now=NOW)


def test_an_expired_token_is_refused() -> None:
    token, _ = _issue(ttl=60)
    verify_token(SECRET, token, now=NOW + 59)
    with pytest.raises(ExpiredToken):
        verify_token(SECRET, token, now=NOW + 60)


@pytest.mark.parametrize(
    "token",
    ["", "no-dot", "a.b.c", "!!!.???", "." * 2000, "abc.", ".abc"],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises((MalformedToken, ForgedToken)):
        verify_token(SECRET, token, now=NOW)


def test_a_validly_signed_but_meaningless_payload_is_malformed() -> None:
    import hashlib
    import hmac

    payload = b'{"v":1,"cid":"not-a-uuid","sid":"x","iat":1,"exp":2}'
    signature = hmac.new(SECRET, payload, hashlib.sha256).digest()
    token = (
        base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        + "."
        + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    )
    with pytest.raises(MalformedToken):
        verify_token(SECRET, token, now=0)
