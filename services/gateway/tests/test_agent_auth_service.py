"""Sign-in, rotation of refresh tokens, sign-out and rate limits, over in-memory ports."""

from __future__ import annotations

import pytest
from tandem_gateway.service_layer.errors import (
    InvalidCredentials,
    InvalidToken,
    TokenExpired,
    TooManyRequests,
)

from .conftest import Console, agent

pytestmark = pytest.mark.unit


@pytest.fixture
def ana(console: Console):  # type: ignore[no-untyped-def]
    return console.roster.add("ana@acme.example", "correct horse battery", agent("ana"))


async def test_signing_in_gives_an_access_token_for_the_roster_identity(
    console: Console, ana
) -> None:  # type: ignore[no-untyped-def]
    auth = console.auth()
    session = await auth.login(" ana@acme.example ", "correct horse battery", "10.0.0.1")
    claims = await auth.verify_access(session.access_token)
    assert claims.identity == ana
    assert claims.expires_at - claims.issued_at == 15 * 60
    assert session.refresh_expires_in == 7 * 24 * 3600


async def test_wrong_credentials_are_refused(console: Console, ana) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCredentials):
        await console.auth().login("ana@acme.example", "wrong", "10.0.0.1")
    with pytest.raises(InvalidCredentials):
        await console.auth().login("nobody@acme.example", "correct horse battery", "10.0.0.1")


async def test_the_access_token_expires_after_fifteen_minutes(console: Console, ana) -> None:  # type: ignore[no-untyped-def]
    auth = console.auth()
    session = await auth.login("ana@acme.example", "correct horse battery", "10.0.0.1")
    console.world.now += 15 * 60
    with pytest.raises(TokenExpired):
        await auth.verify_access(session.access_token)


async def test_sign_in_attempts_are_limited_per_address_and_per_email(
    console: Console, ana
) -> None:  # type: ignore[no-untyped-def]
    auth = console.auth(login_attempts_per_minute=3)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await auth.login("ana@acme.example", "guess", "10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        await auth.login("ana@acme.example", "correct horse battery", "10.0.0.1")
    assert refused.value.retry_after > 0
    # Another address guessing the same account is limited by the email counter too.
    with pytest.raises(TooManyRequests):
        await auth.login("ANA@acme.example", "correct horse battery", "10.0.0.2")
    # Another account from a fresh address is not affected.
    console.roster.add("bo@acme.example", "another good password", agent("bo"))
    await auth.login("bo@acme.example", "another good password", "10.0.0.3")


async def test_a_refresh_token_works_once_and_is_replaced(console: Console, ana) -> None:  # type: ignore[no-untyped-def]
    auth = console.auth()
    first = await auth.login("ana@acme.example", "correct horse battery", "10.0.0.1")
    second = await auth.refresh(first.refresh_token, "10.0.0.1")
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    third = await auth.refresh(second.refresh_token, "10.0.0.1")
    assert (await auth.verify_access(third.access_token)).identity == ana


async def test_replaying_a_spent_refresh_token_revokes_the_whole_sign_in(
    console: Console, ana
) -> None:  # type: ignore[no-untyped-def]
    auth = console.auth()
    first = await auth.login("ana@acme.example", "correct horse battery", "10.0.0.1")
    second = await auth.refresh(first.refresh_token, "10.0.0.1")
    with pytest.raises(InvalidToken):
        await auth.refresh(first.refresh_token, "10.0.0.9")  # a thief's copy
    with pytest.raises(InvalidToken):
        await auth.refresh(second.refresh_token, "10.0.0.1")  # the chain is gone


async def test_an_agent_deactivated_since_sign_in_cannot_refresh(console: Console, ana) -> None:  # type: ignore[no-untyped-def]
    auth = console.auth()
    session = await auth.login("ana@acme.example", "correct horse battery", "10.0.0.1")
    console.roster.inactive.add("ana")
    with pytest.raises(InvalidToken):
        await auth.refresh(session.refresh_token, "10.0.0.1")


async def test_signing_out_revokes_the_access_token_and_the_refresh_chain(
    console: Console, ana
) -> None:  # type: ignore[no-untyped-def]
    auth = console.auth()
    session = await auth.login("ana@acme.example", "correct horse battery", "10.0.0.1")
    claims = await auth.verify_access(session.access_token)
    await auth.logout(session.refresh_token, claims)
    with pytest.raises(InvalidToken):
        await auth.verify_access(session.access_token)
    with pytest.raises(InvalidToken):
        await auth.refresh(session.refresh_token, "10.0.0.1")
    other = await auth.login("ana@acme.example", "correct horse battery", "10.0.0.1")
    assert (await auth.verify_access(other.access_token)).identity == ana
