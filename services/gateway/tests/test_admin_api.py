"""The dashboard's admin API: roles, the site taken from the token, validation, and how
the services' failures reach the client. The services behind it are replaced by a
recording fake (or an httpx mock transport for the client's own error mapping)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tandem_gateway.domain.agent_tokens import AgentClaims
from tandem_gateway.domain.agents import AgentIdentity, Role
from tandem_gateway.entrypoints import admin_api, console_pages, deps
from tandem_gateway.entrypoints.admin_api import AdminBackends, SiteSettingsIn, merged_site
from tandem_gateway.entrypoints.errors import install_error_handlers
from tandem_gateway.service_layer.errors import MissingToken, NotFound
from tandem_gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

SITE = {
    "site_id": "acme",
    "name": "Acme",
    "public_key": "pk_acme_123456",
    "allowed_origins": ["https://acme.example"],
    "greeting": "Hi",
    "require_identity": False,
    "identity_secret": None,
    "show_confidence": True,
    "widget": {"color": "#123456"},
    "hold_below_confidence": None,
    "hold_seconds": 60,
    "hold_timeout_action": "send",
    "fallback_text": None,
    "ai_resumes_after_agent": True,
    "created_at": "2026-11-01T00:00:00+00:00",
}


def conversation(cid: str, **fields: Any) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "site_id": "acme",
        "status": "active",
        "language": "en",
        "last_confidence": 0.9,
        "escalation_reason": None,
        "visitor": {"id": None, "name": None},
        "assigned_agent": None,
        "created_at": "2026-11-20T10:00:00+00:00",
        **fields,
    }


class FakeBackends:
    """Answers like the internal APIs and records every call (service, method, path, body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, Any, Any]] = []
        self.conversations = [
            conversation("c-high"),
            conversation("c-low", last_confidence=0.2, status="pending", escalation_reason="x"),
            conversation("c-fr", language="fr-CA", created_at="2026-11-10T10:00:00+00:00"),
            conversation("c-other", site_id="other"),
        ]
        self.messages = {"c-high": [{"text": "the secret word is pelican"}]}
        self.team = [
            {
                "agent_id": "owner-0000000001",
                "site_id": "acme",
                "email": "o@a.example",
                "name": "Olga",
                "role": "owner",
                "active": True,
            },
        ]

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        not_found_ok: bool = False,
    ) -> Any:
        self.calls.append((service, method, path, json, params))
        if path == "/internal/conversations":
            return {"conversations": self.conversations}
        if path.endswith("/messages"):
            cid = path.split("/")[3]
            return {"messages": self.messages.get(cid, [])}
        if path.endswith("/agent-view"):
            cid = path.split("/")[3]
            found = [c for c in self.conversations if c["conversation_id"] == cid]
            if not found:
                if not_found_ok:
                    return None
                raise NotFound("not found")
            return {"conversation": found[0], "messages": [], "notes": []}
        if path.endswith("/agents") and method == "GET":
            return {"agents": self.team}
        if path.startswith("/internal/sites/") and method == "GET":
            return dict(SITE)
        if method == "PUT":
            return dict(json or {})
        return {}


def claims(role: Role, site: str = "acme") -> AgentClaims:
    identity = AgentIdentity(agent_id=f"{role}-0000000001", site_id=site, name=role, role=role)
    return AgentClaims(identity=identity, token_id="t", issued_at=0, expires_at=10**10)


def client(role: Role | None, backends: Any = None) -> tuple[TestClient, FakeBackends]:
    fake = backends or FakeBackends()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(admin_api.router)
    app.include_router(admin_api.roster_router)
    app.state.admin_backends = fake
    if role is not None:
        app.dependency_overrides[deps._agent] = lambda: claims(role)
    else:
        # No signed-in agent: the real dependency refuses before any back end is called.
        app.dependency_overrides[deps.get_agent_auth] = lambda: _NoSessions()
    return TestClient(app, raise_server_exceptions=False), fake


class _NoSessions:
    async def verify_access(self, token: str | None) -> AgentClaims:
        raise MissingToken("an agent access token is required")


ADMIN_ROUTES = [
    ("GET", "/v1/admin/site"),
    ("GET", "/v1/admin/routing"),
    ("GET", "/v1/admin/conversations"),
    ("GET", "/v1/admin/conversations/8a3c0e4e-36c1-4a3a-9f4e-0f1c2d3e4f50"),
    ("GET", "/v1/admin/agents"),
    ("GET", "/v1/admin/queue"),
    ("GET", "/v1/admin/documents"),
    ("DELETE", "/v1/admin/documents/faq"),
    ("GET", "/v1/admin/analytics/summary"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_agents_are_refused_every_admin_route(method: str, path: str) -> None:
    http, fake = client("agent")
    response = http.request(method, path)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_allowed"
    assert fake.calls == []


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_without_a_token_every_admin_route_is_401(method: str, path: str) -> None:
    http, fake = client(None)
    response = http.request(method, path)
    assert response.status_code == 401
    assert fake.calls == []


def test_the_site_comes_from_the_token_never_from_the_request() -> None:
    http, fake = client("admin")
    assert http.get("/v1/admin/site", params={"site_id": "other"}).status_code == 200
    assert http.get("/v1/admin/agents", params={"site_id": "other"}).status_code == 200
    assert http.get("/v1/admin/documents", params={"site_id": "other"}).status_code == 200
    paths = [call[2] for call in fake.calls]
    assert paths == [
        "/internal/sites/acme",
        "/internal/sites/acme/agents",
        "/v1/admin/sites/acme/documents",
    ]


def test_conversations_of_other_sites_never_leave_and_are_not_found() -> None:
    http, _ = client("owner")
    listed = http.get("/v1/admin/conversations").json()["conversations"]
    assert {c["conversation_id"] for c in listed} == {"c-high", "c-low", "c-fr"}
    fake = FakeBackends()
    fake.conversations[3]["conversation_id"] = "8a3c0e4e-36c1-4a3a-9f4e-0f1c2d3e4f50"
    http, _ = client("owner", fake)
    response = http.get("/v1/admin/conversations/8a3c0e4e-36c1-4a3a-9f4e-0f1c2d3e4f50")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "forwarded"),
    [
        ({"confidence": "low"}, {"confidence": "low"}),
        ({"escalated": "true"}, {"escalated": "true"}),
        ({"escalated": "false"}, {"escalated": "false"}),
        ({"language": "fr"}, {"language": "fr"}),
        ({"status": "pending"}, {"status": "pending"}),
        # Dates are UTC days, inclusive: [from 00:00, the day after "to" 00:00).
        ({"from": "2026-11-15"}, {"created_from": "2026-11-15T00:00:00+00:00"}),
        ({"to": "2026-11-10"}, {"created_before": "2026-11-11T00:00:00+00:00"}),
        ({"to": "9999-12-31"}, {}),
        ({"q": "  pelican  "}, {"q": "pelican"}),
        (
            {"cursor": "MjAyNi0xMS0yMFQxMDowMDowMCswMDowMHw"},
            {"cursor": "MjAyNi0xMS0yMFQxMDowMDowMCswMDowMHw"},
        ),
        ({"limit": "7"}, {"limit": 7}),
    ],
)
def test_conversation_filters_are_passed_to_the_conversation_service(
    query: dict[str, str], forwarded: dict[str, Any]
) -> None:
    http, fake = client("owner")
    response = http.get("/v1/admin/conversations", params=query)
    assert response.status_code == 200, response.text
    [(service, method, path, _, params)] = fake.calls
    assert (service, method, path) == ("conversation", "GET", "/internal/conversations")
    # Always this site, newest first, with a total; never a site from the request.
    assert params["site_id"] == "acme" and params["order"] == "created"
    assert params["with_total"] == "true"
    sent = {k: v for k, v in params.items() if k not in ("site_id", "order", "with_total")}
    assert sent == {"limit": 50, **forwarded}


def test_the_page_carries_the_next_cursor_and_the_total() -> None:
    fake = FakeBackends()

    async def paged(*args: Any, **kwargs: Any) -> Any:
        return {
            "conversations": fake.conversations,
            "next_cursor": "abc_DEF-123",
            "total": 12345,
            "total_capped": True,
        }

    fake.call = paged  # type: ignore[method-assign]
    http, _ = client("owner", fake)
    body = http.get("/v1/admin/conversations", params={"site_id": "other"}).json()
    assert {c["conversation_id"] for c in body["conversations"]} == {"c-high", "c-low", "c-fr"}
    assert body["next_cursor"] == "abc_DEF-123"
    assert body["total"] == 12345 and body["total_capped"] is True


@pytest.mark.parametrize(
    "query",
    [
        {"confidence": "very"},
        {"from": "yesterday"},
        {"from": "2026-11-10", "to": "2026-11-01"},
        {"status": "nope"},
        {"limit": "0"},
        {"language": "<script>"},
        {"q": "x" * 201},
        {"q": "nul\x00byte"},
        {"q": "two\nlines"},
        {"q": "   "},
        {"cursor": "not a cursor!"},
    ],
)
def test_bad_conversation_queries_are_422(query: dict[str, str]) -> None:
    http, fake = client("owner")
    response = http.get("/v1/admin/conversations", params=query)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert fake.calls == []


@pytest.mark.parametrize(
    "body",
    [
        {"allowed_origins": ["javascript:alert(1)"]},
        {"allowed_origins": ["https://ok.example/path"]},
        {"hold_seconds": 2},
        {"hold_below_confidence": 1.5},
        {"hold_timeout_action": "shout"},
        {"widget": {"color": "red"}},
        {"widget": {"position": "top"}},
        {"identity_secret": "short"},
        {"site_id": "other"},
        {"require_identity": True},
        {"greeting": "hi\u0000there"},
        {"name": "Acme\u008d"},
        {"fallback_text": "   "},
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(body: dict[str, Any]) -> None:
    http, fake = client("owner")
    response = http.put("/v1/admin/site", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert not [call for call in fake.calls if call[1] == "PUT"]


def test_a_settings_change_keeps_everything_it_does_not_name() -> None:
    http, fake = client("owner")
    response = http.put(
        "/v1/admin/site",
        json={
            "allowed_origins": ["https://shop.acme.example/"],
            "widget": {"position": "bottom-left"},
        },
    )
    assert response.status_code == 200
    written = next(call for call in fake.calls if call[1] == "PUT")
    assert written[2] == "/internal/sites/acme"
    body = written[3]
    assert body["public_key"] == "pk_acme_123456"
    assert body["allowed_origins"] == ["https://shop.acme.example"]
    assert body["widget"] == {"color": "#123456", "position": "bottom-left"}
    assert "created_at" not in body


def test_merging_can_switch_the_hold_off() -> None:
    current = {**SITE, "hold_below_confidence": 0.4}
    assert merged_site(current, SiteSettingsIn(hold_disabled=True))["hold_below_confidence"] is None
    assert merged_site(current, SiteSettingsIn(hold_seconds=30))["hold_below_confidence"] == 0.4


AGENT = {"email": "bo@acme.example", "name": "Bo", "role": "agent", "password": "long-enough-pw"}


def test_admins_manage_agents_but_not_owners() -> None:
    http, _ = client("admin")
    assert http.put("/v1/admin/agents/agent-00000000001", json=AGENT).status_code == 200
    refused = http.put("/v1/admin/agents/agent-00000000001", json={**AGENT, "role": "owner"})
    assert refused.status_code == 403
    refused = http.put("/v1/admin/agents/owner-0000000001", json=AGENT)
    assert refused.status_code == 403
    http, _ = client("owner")
    assert (
        http.put("/v1/admin/agents/owner-0000000001", json={**AGENT, "role": "owner"}).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("agent_id", "body"),
    [
        ("short", AGENT),
        ("agent-00000000001", {**AGENT, "email": "not-an-email"}),
        ("agent-00000000001", {**AGENT, "role": "root"}),
        ("agent-00000000001", {**AGENT, "password": "short"}),
        ("agent-00000000001", {**AGENT, "max_concurrent": -1}),
        ("agent-00000000001", {**AGENT, "site_id": "other"}),
        ("agent-00000000001", {**AGENT, "name": "Bo\u0000"}),
        ("agent-00000000001", {**AGENT, "email": "bo\u0001@acme.example"}),
    ],
)
def test_bad_agents_are_422(agent_id: str, body: dict[str, Any]) -> None:
    http, fake = client("owner")
    response = http.put(f"/v1/admin/agents/{agent_id}", json=body)
    assert response.status_code == 422
    assert fake.calls == []


def test_documents_are_validated_and_go_to_the_tokens_site() -> None:
    http, fake = client("owner")
    ok = http.put("/v1/admin/documents/faq-2", json={"title": "FAQ", "text": "# FAQ\n\nyes"})
    assert ok.status_code == 200
    assert fake.calls[-1][2] == "/v1/admin/sites/acme/documents/faq-2"
    for document_id, body in [
        ("../etc", {"title": "x", "text": "y"}),
        ("Upper", {"title": "x", "text": "y"}),
        ("faq", {"title": "", "text": "y"}),
        ("faq", {"title": "x", "text": "y", "format": "pdf"}),
        ("faq", {"title": "x", "text": "y", "url": "javascript:1"}),
        ("faq", {"title": "x", "text": "\u008d"}),
        ("faq", {"title": "x\u0000", "text": "y"}),
        ("faq", {"title": "x", "text": " \n "}),
    ]:
        assert http.put(f"/v1/admin/documents/{document_id}", json=body).status_code in (404, 422)


def test_every_agent_sees_the_roster_without_emails() -> None:
    http, _ = client("agent")
    response = http.get("/v1/agent/roster")
    assert response.status_code == 200
    assert response.json()["agents"] == [
        {
            "agent_id": "owner-0000000001",
            "name": "Olga",
            "role": "owner",
            "skills": None,
            "languages": None,
            "active": True,
            "presence": None,
        }
    ]


# -- the client's mapping of the services' failures ----------------------------------------


def backends_answering(handler: Any) -> AdminBackends:
    backends = AdminBackends(GatewaySettings(dev_mode=True))
    backends._http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return backends


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (httpx.Response(500, json={"detail": "boom"}), 502, "bad_gateway"),
        (httpx.Response(503), 503, "unavailable"),
        (httpx.Response(422, json={"detail": "bad zone"}), 422, "invalid_request"),
        (httpx.Response(200, content=b"not json"), 502, "bad_gateway"),
    ],
)
def test_service_errors_keep_the_error_shape(
    answer: httpx.Response, status: int, code: str
) -> None:
    http, _ = client("owner", backends_answering(lambda request: answer))
    response = http.get("/v1/admin/routing")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_an_unreachable_service_is_503() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http, _ = client("owner", backends_answering(refuse))
    response = http.get("/v1/admin/analytics/summary")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


# -- the pages -----------------------------------------------------------------------------


def pages() -> TestClient:
    app = FastAPI()
    app.include_router(console_pages.router)
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "script"), [("/console", "console.js"), ("/dashboard", "dashboard.js")]
)
def test_the_pages_load_only_their_own_script_under_a_strict_policy(path: str, script: str) -> None:
    page = pages().get(path, headers={"Host": "chat.example.com"})
    assert page.status_code == 200
    assert f'src="/static/{script}"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self' ws://chat.example.com;" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-store"


def test_a_hostile_host_header_stays_out_of_the_policy() -> None:
    page = pages().get("/console", headers={"Host": "evil.example; script-src *"})
    policy = page.headers["content-security-policy"]
    assert "evil" not in policy
    assert "script-src 'self';" in policy
