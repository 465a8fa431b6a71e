"""Invitations: the token and role rules, the use cases over a fake team directory, the
HTTP routes, and how the escalation service's answers become errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tandem_gateway.adapters.escalation_client import EscalationServiceClient
from tandem_gateway.domain.agent_tokens import AgentClaims
from tandem_gateway.domain.agents import AgentIdentity, Role
from tandem_gateway.domain.invitations import (
    accept_path,
    grantable_roles,
    invitation_digest,
    looks_like_token,
    may_grant,
    new_invitation_token,
)
from tandem_gateway.entrypoints import console_pages, deps, invitations
from tandem_gateway.entrypoints.errors import install_error_handlers
from tandem_gateway.service_layer.errors import (
    Conflict,
    InvitationInvalid,
    InvitationUnusable,
    NotAllowed,
    NotFound,
    TooManyRequests,
)
from tandem_gateway.service_layer.invitations import InvitationService

from .conftest import FakeLimiter

pytestmark = pytest.mark.unit

INVITATION_ID = "0123456789abcdef0123456789abcdef"


def identity(role: Role, site: str = "acme") -> AgentIdentity:
    return AgentIdentity(agent_id=f"{role}-0000000001", site_id=site, name=role.title(), role=role)


class FakeDirectory:
    """Keeps invitations like the escalation service (digests only) and records calls."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.revoked: list[tuple[str, str]] = []
        self.accepted: list[tuple[str, str, str]] = []
        self.refuse_accept: Exception | None = None

    async def create_invitation(
        self,
        site_id: str,
        *,
        email: str,
        role: str,
        token_digest: str,
        inviter: AgentIdentity,
        expires_in_seconds: int,
    ) -> dict[str, Any]:
        invitation = {
            "invitation_id": INVITATION_ID,
            "site_id": site_id,
            "email": email,
            "role": role,
            "token_digest": token_digest,
            "invited_by": {"agent_id": inviter.agent_id, "name": inviter.name},
            "created_at": "2026-11-21T10:00:00+00:00",
            "expires_at": "2026-11-28T10:00:00+00:00",
            "expires_in_seconds": expires_in_seconds,
            "state": "pending",
        }
        self.created.append(invitation)
        return invitation

    async def list_invitations(self, site_id: str) -> list[dict[str, Any]]:
        return [i for i in self.created if i["site_id"] == site_id]

    async def revoke_invitation(self, site_id: str, invitation_id: str) -> None:
        self.revoked.append((site_id, invitation_id))

    async def accept_invitation(
        self, token_digest: str, name: str, password: str
    ) -> dict[str, Any]:
        if self.refuse_accept is not None:
            raise self.refuse_accept
        self.accepted.append((token_digest, name, password))
        return {
            "agent_id": "f" * 32,
            "site_id": "acme",
            "email": "new@acme.example",
            "name": name,
            "role": "agent",
        }


def service(directory: FakeDirectory | None = None, **kwargs: Any) -> InvitationService:
    return InvitationService(
        directory=directory or FakeDirectory(), limiter=FakeLimiter(), **kwargs
    )


# -- the rules --------------------------------------------------------------------------


def test_tokens_are_unguessable_and_only_their_digest_is_kept() -> None:
    tokens = {new_invitation_token() for _ in range(100)}
    assert len(tokens) == 100
    token, digest = next(iter(tokens))
    assert looks_like_token(token) and len(token) == 48
    assert digest == invitation_digest(token) and len(digest) == 64 and token not in digest
    assert accept_path(token) == f"/invitation#token={token}"
    for bad in ("", "tinv_short", token + "x", token.replace("tinv_", "tinv-"), "tinv_" + "!" * 43):
        assert not looks_like_token(bad)


@pytest.mark.parametrize(
    ("inviter", "role", "allowed"),
    [
        ("owner", "owner", True),
        ("owner", "admin", True),
        ("owner", "agent", True),
        ("admin", "owner", False),
        ("admin", "admin", True),
        ("admin", "agent", True),
        ("agent", "agent", False),
        ("agent", "admin", False),
        ("owner", "superuser", False),
        ("root", "agent", False),
    ],
)
def test_nobody_grants_a_role_above_their_own(inviter: str, role: str, allowed: bool) -> None:
    assert may_grant(inviter, role) is allowed


def test_grantable_roles() -> None:
    assert grantable_roles("owner") == ["owner", "admin", "agent"]
    assert grantable_roles("admin") == ["admin", "agent"]
    assert grantable_roles("agent") == []


# -- the use cases ----------------------------------------------------------------------


async def test_an_invitation_sends_the_digest_and_returns_the_token_once() -> None:
    directory = FakeDirectory()
    created = await service(directory, ttl_seconds=3600).invite(
        identity("admin"), "new@acme.example", "agent"
    )
    assert looks_like_token(created.token)
    assert created.accept_path == f"/invitation#token={created.token}"
    [sent] = directory.created
    assert sent["token_digest"] == invitation_digest(created.token)
    assert created.token not in json.dumps(sent)
    assert sent["site_id"] == "acme" and sent["expires_in_seconds"] == 3600


async def test_an_admin_cannot_invite_an_owner_and_an_agent_nobody() -> None:
    with pytest.raises(NotAllowed) as refused:
        await service().invite(identity("admin"), "boss@acme.example", "owner")
    assert refused.value.code == "role_too_high"
    with pytest.raises(NotAllowed):
        await service().invite(identity("agent"), "x@acme.example", "agent")
    with pytest.raises(NotAllowed):
        await service().open_invitations(identity("agent"))


async def test_withdrawing_follows_the_same_rule_and_stays_on_the_site() -> None:
    directory = FakeDirectory()
    owners = service(directory)
    await owners.invite(identity("owner"), "boss@acme.example", "owner")
    with pytest.raises(NotAllowed):
        await owners.revoke(identity("admin"), INVITATION_ID)
    with pytest.raises(NotFound):
        await owners.revoke(identity("owner", site="other"), INVITATION_ID)
    await owners.revoke(identity("owner"), INVITATION_ID)
    assert directory.revoked == [("acme", INVITATION_ID)]


async def test_accepting_checks_the_token_shape_before_asking_anyone() -> None:
    directory = FakeDirectory()
    with pytest.raises(InvitationInvalid):
        await service(directory).accept("not-a-token", "Nia", "a-long-password", "10.0.0.1")
    assert directory.accepted == []
    token, digest = new_invitation_token()
    agent = await service(directory).accept(token, "Nia", "a-long-password", "10.0.0.1")
    assert agent["name"] == "Nia"
    assert directory.accepted == [(digest, "Nia", "a-long-password")]


async def test_accepting_is_limited_per_client() -> None:
    accepting = service(accept_attempts_per_minute=2)
    for _ in range(2):
        with pytest.raises(InvitationInvalid):
            await accepting.accept("guess", "Eve", "a-long-password", "10.6.6.6")
    with pytest.raises(TooManyRequests):
        await accepting.accept("guess", "Eve", "a-long-password", "10.6.6.6")
    with pytest.raises(InvitationInvalid):  # another client still gets an answer
        await accepting.accept("guess", "Eve", "a-long-password", "10.7.7.7")


# -- the routes -------------------------------------------------------------------------


def claims(role: Role) -> AgentClaims:
    return AgentClaims(identity=identity(role), token_id="t", issued_at=0, expires_at=10**10)


def http(
    role: Role | None, directory: FakeDirectory | None = None
) -> tuple[TestClient, FakeDirectory]:
    fake = directory or FakeDirectory()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(invitations.admin_router)
    app.include_router(invitations.public_router)
    app.include_router(console_pages.router)
    invitation_service = service(fake)
    app.dependency_overrides[invitations.get_invitations] = lambda: invitation_service
    if role is not None:
        app.dependency_overrides[deps._agent] = lambda: claims(role)
    return TestClient(app, raise_server_exceptions=False), fake


def test_creating_answers_the_link_once_without_caching() -> None:
    client, fake = http("owner")
    response = client.post(
        "/v1/admin/invitations", json={"email": "new@acme.example", "role": "admin"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["accept_path"] == f"/invitation#token={body['token']}"
    assert body["email"] == "new@acme.example" and body["state"] == "pending"
    assert "token_digest" not in body
    assert response.headers["Cache-Control"] == "no-store"
    listed = client.get("/v1/admin/invitations").json()["invitations"]
    assert [i["invitation_id"] for i in listed] == [INVITATION_ID]
    assert "token" not in listed[0] and "token_digest" not in listed[0]
    assert client.delete(f"/v1/admin/invitations/{INVITATION_ID}").status_code == 204
    assert fake.revoked == [("acme", INVITATION_ID)]


@pytest.mark.parametrize(
    ("role", "body", "status"),
    [
        ("admin", {"email": "boss@acme.example", "role": "owner"}, 403),
        ("agent", {"email": "x@acme.example", "role": "agent"}, 403),
        ("owner", {"email": "not-an-email", "role": "agent"}, 422),
        ("owner", {"email": "x@acme.example", "role": "root"}, 422),
        ("owner", {"email": "x@acme.example\u0000", "role": "agent"}, 422),
        ("owner", {"email": "x@acme.example", "role": "agent", "site_id": "other"}, 422),
    ],
)
def test_bad_invitations_are_refused_before_anything_is_stored(
    role: Role, body: dict[str, Any], status: int
) -> None:
    client, fake = http(role)
    response = client.post("/v1/admin/invitations", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    assert fake.created == []


def test_without_a_session_the_admin_routes_are_401() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(invitations.admin_router)

    class NoSessions:
        async def verify_access(self, token: str | None) -> AgentClaims:
            from tandem_gateway.service_layer.errors import MissingToken

            raise MissingToken("an agent access token is required")

    app.dependency_overrides[deps.get_agent_auth] = lambda: NoSessions()
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/v1/admin/invitations").status_code == 401
    assert client.post("/v1/admin/invitations", json={}).status_code in (401, 422)
    assert client.delete(f"/v1/admin/invitations/{INVITATION_ID}").status_code == 401


@pytest.mark.parametrize(
    ("refusal", "status", "code"),
    [
        (InvitationInvalid("this invitation link is not valid"), 404, "invitation_invalid"),
        (InvitationUnusable("expired", code="invitation_expired"), 410, "invitation_expired"),
        (InvitationUnusable("used", code="invitation_used"), 410, "invitation_used"),
        (InvitationUnusable("withdrawn", code="invitation_revoked"), 410, "invitation_revoked"),
        (Conflict("email taken", code="email_in_use"), 409, "email_in_use"),
    ],
)
def test_accepting_reports_why_an_invitation_cannot_be_used(
    refusal: Exception, status: int, code: str
) -> None:
    fake = FakeDirectory()
    fake.refuse_accept = refusal
    client, _ = http(None, fake)
    token, _ = new_invitation_token()
    response = client.post(
        "/v1/invitations/accept",
        json={"token": token, "name": "Nia", "password": "a-long-password"},
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_accepting_makes_the_agent() -> None:
    client, fake = http(None)
    token, digest = new_invitation_token()
    response = client.post(
        "/v1/invitations/accept",
        json={"token": token, "name": " Nia ", "password": "a-long-password"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["agent"]["name"] == "Nia"
    assert response.headers["Cache-Control"] == "no-store"
    assert fake.accepted == [(digest, "Nia", "a-long-password")]


@pytest.mark.parametrize(
    "body",
    [
        {"token": "x", "name": "Nia", "password": "short"},
        {"token": "x", "name": "", "password": "a-long-password"},
        {"token": "x", "name": "Nia\nline", "password": "a-long-password"},
        {"name": "Nia", "password": "a-long-password"},
        {"token": "x" * 101, "name": "Nia", "password": "a-long-password"},
    ],
)
def test_malformed_acceptances_are_422(body: dict[str, Any]) -> None:
    client, fake = http(None)
    assert client.post("/v1/invitations/accept", json=body).status_code == 422
    assert fake.accepted == []


def test_a_password_that_is_not_text_is_422_not_a_server_error() -> None:
    client, fake = http(None)
    token, _ = new_invitation_token()
    # A lone surrogate, written as JSON allows it (no client library would send it).
    raw = '{"token": "' + token + '", "name": "Nia", "password": "a-long-\\ud800-password"}'
    response = client.post(
        "/v1/invitations/accept", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert fake.accepted == []


def test_the_accept_page_is_static_and_strict() -> None:
    client, _ = http(None)
    page = client.get("/invitation")
    assert page.status_code == 200
    assert '<script src="/static/invitation.js" defer></script>' in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"


# -- the escalation service's answers ---------------------------------------------------


def escalation(handler: Any) -> EscalationServiceClient:
    client = EscalationServiceClient("http://escalation", timeout_seconds=1)
    client._http = httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://escalation"
    )
    return client


def _answer(status: int, code: str | None = None, body: Any = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is not None:
            return httpx.Response(status, json=body)
        return httpx.Response(status, json={"error": {"code": code, "message": f"says {code}"}})

    return handler


@pytest.mark.parametrize(
    ("status", "code", "error", "expected_code"),
    [
        (404, "invitation_invalid", InvitationInvalid, "invitation_invalid"),
        (410, "invitation_used", InvitationUnusable, "invitation_used"),
        (410, "invitation_revoked", InvitationUnusable, "invitation_revoked"),
        (409, "email_in_use", Conflict, "email_in_use"),
    ],
)
async def test_accept_answers_become_clear_errors(
    status: int, code: str, error: type[Exception], expected_code: str
) -> None:
    client = escalation(_answer(status, code))
    with pytest.raises(error) as raised:
        await client.accept_invitation("a" * 64, "Nia", "a-long-password")
    assert getattr(raised.value, "code", None) == expected_code


async def test_create_answers_become_clear_errors() -> None:
    admin = identity("admin")
    with pytest.raises(Conflict) as taken:
        await escalation(_answer(409, "email_in_use")).create_invitation(
            "acme",
            email="x@a.example",
            role="agent",
            token_digest="a" * 64,
            inviter=admin,
            expires_in_seconds=3600,
        )
    assert taken.value.code == "email_in_use"
    with pytest.raises(NotAllowed):
        await escalation(_answer(403, "role_too_high")).create_invitation(
            "acme",
            email="x@a.example",
            role="owner",
            token_digest="a" * 64,
            inviter=admin,
            expires_in_seconds=3600,
        )


async def test_listed_invitations_of_other_sites_never_leave() -> None:
    listed = {
        "invitations": [
            {"invitation_id": "1", "site_id": "acme"},
            {"invitation_id": "2", "site_id": "other"},
        ]
    }
    client = escalation(_answer(200, body=listed))
    assert [i["invitation_id"] for i in await client.list_invitations("acme")] == ["1"]
