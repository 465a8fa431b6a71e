"""The dashboard's answering-policy routes (answer threshold, fallback text, curated
answers): roles, the site taken from the token, validation before anything is forwarded,
and the answering service's refusals reaching the client in the gateway's error shape.
The answering service is replaced by a recording fake (or an httpx mock transport)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tandem_gateway.domain.agent_tokens import AgentClaims
from tandem_gateway.domain.agents import AgentIdentity, Role
from tandem_gateway.entrypoints import admin_api, deps
from tandem_gateway.entrypoints.admin_api import AdminBackends
from tandem_gateway.entrypoints.errors import install_error_handlers
from tandem_gateway.service_layer.errors import MissingToken
from tandem_gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

CURATED_ID = "ca_" + "A1b2-C3d4_" * 2 + "xy"
ENTRY = {
    "question": "When are you open?",
    "alternatives": ["Opening hours"],
    "answer": "Nine to five.",
    "title": "Hours",
    "url": "https://acme.example/hours",
}


class RecordingBackends:
    """Answers like the answering service and records (service, method, path, body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, Any]] = []

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
        self.calls.append((service, method, path, json))
        if method == "DELETE":
            return None
        return {"echo": json, "path": path}


def claims(role: Role, site: str = "acme") -> AgentClaims:
    identity = AgentIdentity(agent_id=f"{role}-0000000001", site_id=site, name=role, role=role)
    return AgentClaims(identity=identity, token_id="t", issued_at=0, expires_at=10**10)


class _NoSessions:
    async def verify_access(self, token: str | None) -> AgentClaims:
        raise MissingToken("an agent access token is required")


def client(
    role: Role | None, backends: Any = None, site: str = "acme"
) -> tuple[TestClient, RecordingBackends]:
    fake = backends or RecordingBackends()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(admin_api.router)
    app.state.admin_backends = fake
    if role is not None:
        app.dependency_overrides[deps._agent] = lambda: claims(role, site)
    else:
        app.dependency_overrides[deps.get_agent_auth] = lambda: _NoSessions()
    return TestClient(app, raise_server_exceptions=False), fake


ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/admin/answering-settings", None),
    ("PUT", "/v1/admin/answering-settings", {"answer_threshold": 0.7}),
    ("GET", "/v1/admin/curated-answers", None),
    ("POST", "/v1/admin/curated-answers", ENTRY),
    ("GET", f"/v1/admin/curated-answers/{CURATED_ID}", None),
    ("PUT", f"/v1/admin/curated-answers/{CURATED_ID}", ENTRY),
    ("DELETE", f"/v1/admin/curated-answers/{CURATED_ID}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_agents_are_refused(method: str, path: str, body: dict[str, Any] | None) -> None:
    http, fake = client("agent")
    response = http.request(method, path, json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_allowed"
    assert fake.calls == []


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_without_a_token_it_is_401(method: str, path: str, body: dict[str, Any] | None) -> None:
    http, fake = client(None)
    assert http.request(method, path, json=body).status_code == 401
    assert fake.calls == []


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_goes_to_the_tokens_site(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    http, fake = client("admin", site="site-b_2")
    response = http.request(method, path, json=body, params={"site_id": "other"})
    assert response.status_code in (200, 201, 204), response.text
    [(service, forwarded_method, forwarded_path, _)] = fake.calls
    assert service == "answering" and forwarded_method == method
    suffix = path.removeprefix("/v1/admin")
    assert forwarded_path == f"/v1/admin/sites/site-b_2{suffix}"


def test_creating_answers_201_and_forwards_the_whole_entry() -> None:
    http, fake = client("owner")
    response = http.post("/v1/admin/curated-answers", json={"question": "Q?", "answer": "A."})
    assert response.status_code == 201
    assert fake.calls[0][3] == {
        "question": "Q?",
        "alternatives": [],
        "answer": "A.",
        "title": None,
        "url": None,
    }


def test_a_settings_change_forwards_only_the_fields_it_names() -> None:
    http, fake = client("owner")
    assert http.put("/v1/admin/answering-settings", json={}).status_code == 200
    assert http.put("/v1/admin/answering-settings", json={"fallback_text": None}).status_code == 200
    both = {"answer_threshold": 0.65, "fallback_text": "Ask\nus."}
    assert http.put("/v1/admin/answering-settings", json=both).status_code == 200
    assert [call[3] for call in fake.calls] == [{}, {"fallback_text": None}, both]


@pytest.mark.parametrize(
    "body",
    [
        {"answer_threshold": 1.01},
        {"answer_threshold": -0.5},
        {"answer_threshold": "high"},
        {"fallback_text": ""},
        {"fallback_text": " \n "},
        {"fallback_text": "x" * 1001},
        {"fallback_text": "nul\u0000"},
        {"site_id": "other"},
    ],
)
def test_bad_settings_are_refused_before_anything_is_forwarded(body: dict[str, Any]) -> None:
    http, fake = client("owner")
    response = http.put("/v1/admin/answering-settings", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert fake.calls == []


@pytest.mark.parametrize(
    "change",
    [
        {"question": ""},
        {"question": "two\nlines"},
        {"question": "x" * 301},
        {"answer": "  "},
        {"answer": "x" * 4001},
        {"answer": "bell\u0007"},
        {"alternatives": ["ok", ""]},
        {"alternatives": [f"phrasing {i}" for i in range(11)]},
        {"alternatives": "not a list"},
        {"title": ""},
        {"title": "tab\there"},
        {"url": "javascript:alert(1)"},
        {"url": "https://acme.example/a b"},
        {"site_id": "other"},
        {"curated_id": CURATED_ID},
    ],
)
def test_bad_entries_are_refused_before_anything_is_forwarded(change: dict[str, Any]) -> None:
    http, fake = client("owner")
    for method, path in (
        ("POST", "/v1/admin/curated-answers"),
        ("PUT", f"/v1/admin/curated-answers/{CURATED_ID}"),
    ):
        response = http.request(method, path, json={**ENTRY, **change})
        assert response.status_code == 422, (method, change, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    assert fake.calls == []


@pytest.mark.parametrize(
    "curated_id", ["short", "ca_" + "x" * 21, "ca_" + "x" * 23, "..%2F..%2Fdocuments"]
)
def test_ids_that_cannot_exist_are_404_and_never_forwarded(curated_id: str) -> None:
    http, fake = client("owner")
    for method, body in (("GET", None), ("PUT", ENTRY), ("DELETE", None)):
        response = http.request(method, f"/v1/admin/curated-answers/{curated_id}", json=body)
        assert response.status_code == 404, (method, response.text)
    assert fake.calls == []


def answering_answers(answer: httpx.Response) -> AdminBackends:
    backends = AdminBackends(GatewaySettings(dev_mode=True))
    backends._http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer))
    return backends


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        # A phrasing another entry already has, or one entry too many.
        (
            httpx.Response(409, json={"detail": "already a phrasing of ca_x"}),
            422,
            "invalid_request",
        ),
        (httpx.Response(404, json={"detail": "no such curated answer"}), 404, "not_found"),
        (httpx.Response(503), 503, "unavailable"),
        (httpx.Response(500, json={"detail": "boom"}), 502, "bad_gateway"),
    ],
)
def test_the_answering_services_refusals_keep_the_error_shape(
    answer: httpx.Response, status: int, code: str
) -> None:
    http, _ = client("owner", answering_answers(answer))
    response = http.put(f"/v1/admin/curated-answers/{CURATED_ID}", json=ENTRY)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
