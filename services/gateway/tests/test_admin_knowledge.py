"""The dashboard's knowledge-base jobs through the gateway: file uploads (multipart) and
crawls go to the answering service for the token's site only, owners and admins only;
bad files are refused here; the service's 409/413/415 reach the client as they are.
The answering service is an httpx mock transport behind the real ``AdminBackends``."""

from __future__ import annotations

import json
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
from tandem_gateway.entrypoints.middleware import BodyLimitMiddleware
from tandem_gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

JOB = {
    "job_id": "5f0c8f0e-2a64-4d3b-9b1e-0d7c6c1a2b3c",
    "site_id": "acme",
    "kind": "upload",
    "state": "completed",
    "unit": "passages",
    "total": 3,
    "done": 3,
    "failed": 0,
    "skipped": 0,
    "current": "manual",
    "error": None,
    "note": None,
    "request": {},
    "result": {"status": "indexed", "document": {"document_id": "manual"}},
    "created_at": "2026-11-21T10:00:00+00:00",
    "updated_at": "2026-11-21T10:00:01+00:00",
    "finished_at": "2026-11-21T10:00:01+00:00",
    "problems": [],
}


class Answering:
    """The answering service's admin API, recorded."""

    def __init__(self, answer: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer or httpx.Response(200, json=JOB)


def claims(role: Role) -> AgentClaims:
    identity = AgentIdentity(agent_id=f"{role}-0000000001", site_id="acme", name=role, role=role)
    return AgentClaims(identity=identity, token_id="t", issued_at=0, expires_at=10**10)


def client(role: Role, answering: Answering, *, upload_max_bytes: int = 1_000_000) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(admin_api.router)
    backends = AdminBackends(
        GatewaySettings(dev_mode=True, admin_upload_max_bytes=upload_max_bytes)
    )
    backends._http = httpx.AsyncClient(transport=httpx.MockTransport(answering))
    app.state.admin_backends = backends
    app.dependency_overrides[deps._agent] = lambda: claims(role)
    return TestClient(app, raise_server_exceptions=False)


def test_an_upload_goes_to_the_tokens_site_as_multipart() -> None:
    answering = Answering()
    http = client("admin", answering)
    response = http.post(
        "/v1/admin/uploads",
        files={"file": ("Kettle Manual.pdf", b"%PDF-1.4 ...", "application/pdf")},
        data={"title": "Kettle manual", "site_id": "other"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["status"] == "indexed"
    sent = answering.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/admin/sites/acme/uploads")
    body = sent.content
    assert b'filename="Kettle Manual.pdf"' in body and b"%PDF-1.4 ..." in body
    assert b'name="title"' in body and b"Kettle manual" in body
    assert b"other" not in body


def test_a_running_upload_is_202() -> None:
    http = client("owner", Answering(httpx.Response(202, json={**JOB, "state": "running"})))
    response = http.post(
        "/v1/admin/uploads", files={"file": ("big.pdf", b"%PDF-1.4", "application/pdf")}
    )
    assert response.status_code == 202
    assert response.json()["state"] == "running"


@pytest.mark.parametrize(
    ("files", "data", "status"),
    [
        ({"file": ("prices.xlsx", b"PK", "application/vnd.ms-excel")}, {}, 415),
        ({"file": ("no-suffix", b"text", "text/plain")}, {}, 415),
        ({"file": ("empty.md", b"  \n", "text/markdown")}, {}, 422),
        ({"file": ("big.txt", b"x" * 2000, "text/plain")}, {}, 413),
        ({"file": ("faq.md", b"# FAQ", "text/markdown")}, {"title": "a\nb"}, 422),
        ({"file": ("faq.md", b"# FAQ", "text/markdown")}, {"url": "javascript:alert(1)"}, 422),
        ({"file": ("faq.md", b"# FAQ", "text/markdown")}, {"document_id": "../x"}, 422),
        ({}, {}, 422),
    ],
)
def test_bad_uploads_are_refused_before_the_service(
    files: dict[str, Any], data: dict[str, str], status: int
) -> None:
    answering = Answering()
    http = client("owner", answering, upload_max_bytes=1024)
    response = http.post("/v1/admin/uploads", files=files or None, data=data)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert answering.requests == []


@pytest.mark.parametrize(
    ("status", "code"), [(413, "request_too_large"), (415, "unsupported_media_type")]
)
def test_the_services_refusals_of_a_file_reach_the_client(status: int, code: str) -> None:
    answering = Answering(httpx.Response(status, json={"detail": "not this one"}))
    http = client("owner", answering)
    response = http.post("/v1/admin/uploads", files={"file": ("a.md", b"# A", "text/markdown")})
    assert response.status_code == status
    assert response.json()["error"] == {"code": code, "message": "not this one"}


def test_a_scan_without_text_is_422() -> None:
    answering = Answering(
        httpx.Response(422, json={"detail": "scanned PDF without a text layer: ..."})
    )
    http = client("owner", answering)
    response = http.post("/v1/admin/uploads", files={"file": ("s.pdf", b"%PDF", "application/pdf")})
    assert response.status_code == 422
    assert "scanned PDF without a text layer" in response.json()["error"]["message"]


def test_crawls_start_list_and_report_for_the_tokens_site() -> None:
    crawl = {**JOB, "kind": "crawl", "state": "running", "unit": "documents"}
    answering = Answering(httpx.Response(202, json=crawl))
    http = client("owner", answering)
    started = http.post(
        "/v1/admin/crawls",
        json={"start_url": "https://help.acme.example/", "max_pages": 50},
    )
    assert started.status_code == 202, started.text
    sent = answering.requests[-1]
    assert sent.url.path == "/v1/admin/sites/acme/crawls"
    assert json.loads(sent.content) == {
        "start_url": "https://help.acme.example/",
        "sitemap": False,
        "max_pages": 50,
    }
    answering.answer = httpx.Response(200, json=crawl)
    assert http.get(f"/v1/admin/crawls/{JOB['job_id']}").status_code == 200
    assert answering.requests[-1].url.path == f"/v1/admin/sites/acme/crawls/{JOB['job_id']}"
    assert http.get(f"/v1/admin/uploads/{JOB['job_id']}").status_code == 200
    answering.answer = httpx.Response(200, json={"jobs": [crawl]})
    assert http.get("/v1/admin/crawls").json()["jobs"][0]["kind"] == "crawl"
    assert http.get("/v1/admin/crawls/not-a-uuid").status_code == 422


def test_a_second_crawl_is_409_and_bad_crawls_are_422() -> None:
    answering = Answering(httpx.Response(409, json={"detail": "a crawl is already running"}))
    http = client("admin", answering)
    running = http.post("/v1/admin/crawls", json={"start_url": "https://acme.example/"})
    assert running.status_code == 409
    assert running.json()["error"]["code"] == "conflict"
    for body in (
        {"start_url": "ftp://acme.example/"},
        {"start_url": "https:///nohost"},
        {"start_url": "https://acme.example/", "max_pages": 0},
        {"start_url": "https://acme.example/", "depth": 3},
    ):
        assert http.post("/v1/admin/crawls", json=body).status_code == 422
    assert len(answering.requests) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/admin/uploads"), ("POST", "/v1/admin/crawls"), ("GET", "/v1/admin/crawls")],
)
def test_agents_may_not_upload_or_crawl(method: str, path: str) -> None:
    answering = Answering()
    response = client("agent", answering).request(method, path)
    assert response.status_code == 403
    assert answering.requests == []


def test_crawled_and_imported_document_ids_can_be_deleted() -> None:
    answering = Answering(httpx.Response(204))
    http = client("owner", answering)
    for document_id in ("help.acme.example:docs:returns.html", "guide:Install-Tandem"):
        assert http.delete(f"/v1/admin/documents/{document_id}").status_code == 204
        assert answering.requests[-1].url.path.endswith(f"/documents/{document_id}")
    assert http.delete("/v1/admin/documents/..%2Fx").status_code == 404


def test_the_upload_path_alone_may_carry_a_large_body() -> None:
    async def echo(scope: Any, receive: Any, send: Any) -> None:
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    app = BodyLimitMiddleware(echo, max_bytes=1024, larger={"/v1/admin/uploads": 10_000})
    http = TestClient(app)
    assert http.post("/v1/admin/uploads", content=b"x" * 5000).text == "5000"
    assert http.post("/v1/admin/uploads", content=b"x" * 20_000).status_code == 413
    assert http.post("/v1/admin/documents/x", content=b"x" * 5000).status_code == 413
