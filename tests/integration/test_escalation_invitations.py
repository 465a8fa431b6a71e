"""Invitations in the escalation service (where the roster lives), on real PostgreSQL:
only the token's digest is stored; an invitation is accepted once, within its time, unless
withdrawn; accepting adds an argon2-hashed agent to the invitation's site with its role;
nobody grants a role above their own; racing accepts make one agent.

A throwaway database gets the service's migrations; the team and invitation routers run
in-process on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tandem_escalation.adapters.roster import Passwords
from tandem_escalation.adapters.schema import MIGRATIONS, SCHEMA
from tandem_escalation.entrypoints import invitations, team
from tandem_escalation.entrypoints.http import install_error_handlers
from tandem_platform.postgres import Pool

from tests.integration.stack import Stack, migrated_pool

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
SITE = f"inv-{RUN}-a"
OTHER = f"inv-{RUN}-b"
OWNER = {"agent_id": "owner-000000000001", "name": "Olga", "role": "owner"}
ADMIN = {"agent_id": "admin-000000000001", "name": "Adam", "role": "admin"}
PASSWORD = "a-long-enough-password"


@pytest.fixture(scope="module")
async def pool(stack: Stack) -> AsyncIterator[Pool]:
    async with migrated_pool(stack, f"esc_invitations_{RUN}", SCHEMA, MIGRATIONS) as opened:
        yield opened


@pytest.fixture
async def api(pool: Pool) -> AsyncIterator[AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(team.router)
    app.include_router(invitations.router)
    app.state.handlers = SimpleNamespace(pool=pool)
    app.state.passwords = Passwords()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        yield client


def new_token() -> tuple[str, str]:
    token = "tinv_" + secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


def email() -> str:
    return f"invitee-{uuid.uuid4().hex[:10]}@invitations.example"


async def invite(
    api: AsyncClient, address: str, role: str = "agent", *, site: str = SITE, by: Any = OWNER
) -> tuple[dict[str, Any], str, str]:
    token, digest = new_token()
    response = await api.post(
        f"/internal/sites/{site}/invitations",
        json={"email": address, "role": role, "token_digest": digest, "invited_by": by},
    )
    assert response.status_code == 201, response.text
    return response.json(), token, digest


async def accept(api: AsyncClient, digest: str, name: str = "Nia") -> Any:
    return await api.post(
        "/internal/invitations/accept",
        json={"token_digest": digest, "name": name, "password": PASSWORD},
    )


def code(response: Any) -> str:
    return str(response.json()["error"]["code"])


async def test_an_accepted_invitation_makes_an_agent_of_its_site_with_its_role(
    api: AsyncClient, pool: Pool
) -> None:
    address = email()
    invitation, token, digest = await invite(api, address, "admin")
    assert invitation["state"] == "pending" and invitation["site_id"] == SITE
    listed = (await api.get(f"/internal/sites/{SITE}/invitations")).json()["invitations"]
    assert invitation["invitation_id"] in [i["invitation_id"] for i in listed]

    # Only the digest is in the table.
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT * FROM {SCHEMA}.invitations WHERE invitation_id = %s",
            (invitation["invitation_id"],),
        )
        row = await cur.fetchone()
    assert row is not None and row["token_digest"] == digest
    assert token not in repr(row)

    joined = await accept(api, digest, "  Nia Newcomer ")
    assert joined.status_code == 201, joined.text
    agent = joined.json()["agent"]
    assert (agent["site_id"], agent["role"], agent["email"]) == (SITE, "admin", address)
    assert agent["name"] == "Nia Newcomer"
    # The password works for sign-in (argon2id), the email is on the site's team...
    signed_in = await api.post(
        "/internal/agents/authenticate", json={"email": address, "password": PASSWORD}
    )
    assert signed_in.status_code == 200 and signed_in.json()["site_id"] == SITE
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT password_hash FROM {SCHEMA}.agents WHERE agent_id = %s", (agent["agent_id"],)
        )
        stored = await cur.fetchone()
    assert stored is not None and stored["password_hash"].startswith("$argon2id$")
    # ... and the invitation is spent.
    again = await accept(api, digest, "Someone Else")
    assert again.status_code == 410 and code(again) == "invitation_used"
    listed = (await api.get(f"/internal/sites/{SITE}/invitations")).json()["invitations"]
    assert invitation["invitation_id"] not in [i["invitation_id"] for i in listed]


async def test_expired_withdrawn_and_unknown_invitations_say_so(
    api: AsyncClient, pool: Pool
) -> None:
    expired, _, expired_digest = await invite(api, email())
    async with pool.connection() as conn:
        await conn.execute(
            f"UPDATE {SCHEMA}.invitations SET expires_at = now() - interval '1 second' "
            "WHERE invitation_id = %s",
            (expired["invitation_id"],),
        )
    listed = (await api.get(f"/internal/sites/{SITE}/invitations")).json()["invitations"]
    assert {i["invitation_id"]: i["state"] for i in listed}[expired["invitation_id"]] == "expired"
    refused = await accept(api, expired_digest)
    assert refused.status_code == 410 and code(refused) == "invitation_expired"

    withdrawn, _, withdrawn_digest = await invite(api, email())
    path = f"/internal/sites/{SITE}/invitations/{withdrawn['invitation_id']}"
    # Another site cannot withdraw it (or learn it exists).
    other = await api.delete(f"/internal/sites/{OTHER}/invitations/{withdrawn['invitation_id']}")
    assert other.status_code == 404
    assert (await api.delete(path)).status_code == 204
    assert (await api.delete(path)).status_code == 204  # again: no change
    refused = await accept(api, withdrawn_digest)
    assert refused.status_code == 410 and code(refused) == "invitation_revoked"

    unknown = await accept(api, new_token()[1])
    assert unknown.status_code == 404 and code(unknown) == "invitation_invalid"


async def test_an_accepted_invitation_cannot_be_withdrawn(api: AsyncClient) -> None:
    invitation, _, digest = await invite(api, email())
    assert (await accept(api, digest)).status_code == 201
    response = await api.delete(f"/internal/sites/{SITE}/invitations/{invitation['invitation_id']}")
    assert response.status_code == 409 and code(response) == "invitation_used"


async def test_nobody_grants_a_role_above_their_own(api: AsyncClient) -> None:
    _, digest = new_token()
    response = await api.post(
        f"/internal/sites/{SITE}/invitations",
        json={"email": email(), "role": "owner", "token_digest": digest, "invited_by": ADMIN},
    )
    assert response.status_code == 403 and code(response) == "role_too_high"
    await invite(api, email(), "admin", by=ADMIN)  # control: an admin invites an admin


async def test_an_email_with_an_account_cannot_be_invited(api: AsyncClient) -> None:
    address = email()
    _, _, digest = await invite(api, address)
    assert (await accept(api, digest)).status_code == 201
    _, other_digest = new_token()
    for site in (SITE, OTHER):
        response = await api.post(
            f"/internal/sites/{site}/invitations",
            json={
                "email": address.upper(),
                "role": "agent",
                "token_digest": other_digest,
                "invited_by": OWNER,
            },
        )
        assert response.status_code == 409 and code(response) == "email_in_use"


async def test_inviting_again_replaces_the_open_invitation(api: AsyncClient) -> None:
    address = email()
    first, _, first_digest = await invite(api, address)
    second, _, second_digest = await invite(api, address)
    listed = (await api.get(f"/internal/sites/{SITE}/invitations")).json()["invitations"]
    ids = [i["invitation_id"] for i in listed]
    assert second["invitation_id"] in ids and first["invitation_id"] not in ids
    assert code(await accept(api, first_digest)) == "invitation_revoked"
    assert (await accept(api, second_digest)).status_code == 201


async def test_racing_accepts_make_one_agent(api: AsyncClient, pool: Pool) -> None:
    address = email()
    _, _, digest = await invite(api, address)
    answers = await asyncio.gather(*(accept(api, digest, f"Racer {i}") for i in range(5)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 410, 410, 410, 410], [a.text for a in answers]
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT count(*) AS n FROM {SCHEMA}.agents WHERE lower(email) = lower(%s)", (address,)
        )
        row = await cur.fetchone()
    assert row is not None and row["n"] == 1


async def test_a_site_lists_only_its_own_invitations(api: AsyncClient) -> None:
    mine, _, _ = await invite(api, email(), site=OTHER)
    listed = (await api.get(f"/internal/sites/{SITE}/invitations")).json()["invitations"]
    assert mine["invitation_id"] not in [i["invitation_id"] for i in listed]
    assert all(i["site_id"] == SITE for i in listed)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nope", "role": "agent", "token_digest": "a" * 64, "invited_by": OWNER},
        {"email": "a@b.example", "role": "root", "token_digest": "a" * 64, "invited_by": OWNER},
        {"email": "a@b.example", "role": "agent", "token_digest": "xyz", "invited_by": OWNER},
        {
            "email": "a@b.example",
            "role": "agent",
            "token_digest": "a" * 64,
            "invited_by": OWNER,
            "expires_in_seconds": 10,
        },
        {
            "email": "a\u0000@b.example",
            "role": "agent",
            "token_digest": "a" * 64,
            "invited_by": OWNER,
        },
    ],
)
async def test_bad_invitations_are_422(api: AsyncClient, body: dict[str, Any]) -> None:
    response = await api.post(f"/internal/sites/{SITE}/invitations", json=body)
    assert response.status_code == 422, response.text


async def test_a_name_postgres_cannot_store_is_422(api: AsyncClient) -> None:
    _, _, digest = await invite(api, email())
    response = await accept(api, digest, "Nia\u0000")
    assert response.status_code == 422, response.text
    assert (await accept(api, digest)).status_code == 201  # the invitation is still good
