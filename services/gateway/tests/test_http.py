"""The HTTP layer (routing, validation, error shape, limits) over in-memory ports."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from tandem_gateway.app import create_app
from tandem_gateway.runtime import GatewayRuntime
from tandem_gateway.service_layer.fanout import FanoutService
from tandem_gateway.settings import GatewaySettings

pytestmark = pytest.mark.component

KEY = "pk_acme_0123456789"


@pytest.fixture
def client(world) -> TestClient:  # type: ignore[no-untyped-def]
    settings = GatewaySettings(dev_mode=True, max_body_bytes=4096, demo_site_key="pk_demo")
    app = create_app(settings)
    real = app.state.runtime
    app.state.runtime = GatewayRuntime(
        settings=settings,
        widget=world.service(),
        fanout=FanoutService(live=world.live, flags=world.flags),
        hub=real.hub,
    )
    # No lifespan: nothing here talks to Kafka or Redis.
    return TestClient(app, raise_server_exceptions=False)


def _start(client: TestClient) -> tuple[str, str]:
    response = client.post(
        "/v1/widget/conversations",
        headers={"X-Site-Key": KEY, "Origin": "https://shop.acme.example"},
        json={},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["conversation_id"], body["visitor_token"]


def _assert_error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_start_answers_201_with_token_and_greeting(client: TestClient) -> None:
    response = client.post("/v1/widget/conversations", headers={"X-Site-Key": KEY})
    assert response.status_code == 201
    body = response.json()
    uuid.UUID(body["conversation_id"])
    assert body["visitor_token"]
    greeting = body["greeting"]
    assert greeting["type"] == "message"
    assert greeting["seq"] == 1
    assert greeting["created_at"].endswith("Z")
    assert "confidence" not in greeting


def test_start_refusals_have_the_error_shape(client: TestClient) -> None:
    _assert_error(client.post("/v1/widget/conversations"), 401, "missing_site_key")
    _assert_error(
        client.post("/v1/widget/conversations", headers={"X-Site-Key": "nope"}),
        401,
        "invalid_site_key",
    )
    _assert_error(
        client.post(
            "/v1/widget/conversations",
            headers={"X-Site-Key": KEY, "Origin": "https://evil.example"},
        ),
        403,
        "origin_not_allowed",
    )
    _assert_error(
        client.post(
            "/v1/widget/conversations",
            headers={"X-Site-Key": KEY},
            json={"visitor": {"id": "u1", "hmac": "00" * 32}},
        ),
        401,
        "invalid_identity",
    )


def test_the_gateways_own_pages_may_start_conversations(client: TestClient) -> None:
    response = client.post(
        "/v1/widget/conversations",
        headers={"X-Site-Key": KEY, "Origin": "http://testserver"},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": "   ", "client_message_id": "c1"}, "text"),
        ({"text": "x" * 4001, "client_message_id": "c1"}, "4000"),
        ({"text": "hi"}, "client_message_id"),
        ({"text": "hi", "client_message_id": ""}, "client_message_id"),
        ({"text": "hi", "client_message_id": "c" * 129}, "client_message_id"),
        ({"text": 42, "client_message_id": "c1"}, "text"),
        ({"text": "nul\u0000byte", "client_message_id": "c1"}, "control characters"),
        ({"text": "hi", "client_message_id": "c\u001b1"}, "client_message_id"),
        ([], "dictionary"),
    ],
)
def test_invalid_messages_are_422_with_a_clear_message(
    client: TestClient, body: object, fragment: str
) -> None:
    conversation_id, token = _start(client)
    response = client.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )
    error = _assert_error(response, 422, "invalid_request")
    assert fragment in error["message"]


def test_a_body_that_is_not_json_is_422(client: TestClient) -> None:
    conversation_id, token = _start(client)
    response = client.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        content=b"{not json",
    )
    error = _assert_error(response, 422, "invalid_request")
    assert "JSON" in error["message"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"text": "lone \\ud800 surrogate", "client_message_id": "c1"}', 422),
        (b'{"text": "hi", "client_message_id": "\\udfff"}', 422),
        (
            b'{"text": "\xff\xfe not utf-8", "client_message_id": "c1"}',
            422,
        ),  # documented: malformed body
    ],
)
def test_text_that_is_not_unicode_is_refused(client: TestClient, raw: bytes, status: int) -> None:
    conversation_id, token = _start(client)
    response = client.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        content=raw,
    )
    _assert_error(response, status)


def test_an_oversized_body_is_413(client: TestClient) -> None:
    conversation_id, token = _start(client)
    response = client.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={"text": "x" * 5000, "client_message_id": "c1"},
    )
    _assert_error(response, 413, "request_too_large")


def test_message_accepted_is_202_and_idempotent(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    conversation_id, token = _start(client)
    url = f"/v1/widget/conversations/{conversation_id}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    first = client.post(url, headers=headers, json={"text": " hi ", "client_message_id": "c1"})
    again = client.post(url, headers=headers, json={"text": " hi ", "client_message_id": "c1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() == {"message_id": first.json()["message_id"], "seq": 2}
    assert world.events.published[-1].text == "hi"


def test_kafka_down_is_503_and_the_retry_works(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    conversation_id, token = _start(client)
    url = f"/v1/widget/conversations/{conversation_id}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    world.events.failures_left = 1
    _assert_error(
        client.post(url, headers=headers, json={"text": "hi", "client_message_id": "c1"}),
        503,
        "unavailable",
    )
    retry = client.post(url, headers=headers, json={"text": "hi", "client_message_id": "c1"})
    assert retry.status_code == 202


def test_token_problems_are_401_403_and_410(client: TestClient) -> None:
    conversation_id, token = _start(client)
    other_id, _ = _start(client)
    url = f"/v1/widget/conversations/{conversation_id}/messages"
    _assert_error(client.get(url), 401, "missing_token")
    _assert_error(client.get(url, headers={"Authorization": "Bearer junk"}), 401, "invalid_token")
    _assert_error(
        client.get(url, headers={"Authorization": f"Basic {token}"}), 401, "missing_token"
    )
    _assert_error(
        client.get(
            f"/v1/widget/conversations/{other_id}/messages",
            headers={"Authorization": f"Bearer {token}"},
        ),
        403,
        "wrong_conversation",
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.delete(f"/v1/widget/conversations/{conversation_id}", headers=headers).status_code
        == 202
    )
    assert (
        client.delete(f"/v1/widget/conversations/{conversation_id}", headers=headers).status_code
        == 202
    )
    _assert_error(
        client.post(url, headers=headers, json={"text": "hi", "client_message_id": "c9"}),
        410,
        "conversation_deleted",
    )


def test_malformed_paths_and_params_are_4xx(client: TestClient) -> None:
    conversation_id, token = _start(client)
    headers = {"Authorization": f"Bearer {token}"}
    _assert_error(client.get("/v1/widget/conversations/not-a-uuid/messages", headers=headers), 422)
    _assert_error(
        client.get(
            f"/v1/widget/conversations/{conversation_id}/messages?after_seq=-1", headers=headers
        ),
        422,
    )
    _assert_error(
        client.get(
            f"/v1/widget/conversations/{conversation_id}/messages?after_seq=x", headers=headers
        ),
        422,
    )
    _assert_error(client.get("/v1/widget/nothing-here"), 404, "not_found")
    _assert_error(client.put("/v1/widget/conversations"), 405, "method_not_allowed")


def test_reading_a_conversation_not_stored_yet_gives_no_messages(client: TestClient) -> None:
    conversation_id, token = _start(client)
    response = client.get(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.json() == {"messages": []}


def test_rating_is_204_and_validated(client: TestClient) -> None:
    conversation_id, token = _start(client)
    url = f"/v1/widget/conversations/{conversation_id}/rating"
    headers = {"Authorization": f"Bearer {token}"}
    ok = client.post(url, headers=headers, json={"score": 5, "comment": "great"})
    assert ok.status_code == 204
    assert ok.content == b""
    _assert_error(client.post(url, headers=headers, json={"score": 6}), 422)
    _assert_error(client.post(url, headers=headers, json={"score": 3, "comment": "x" * 2001}), 422)


def test_handoff_is_202(client: TestClient) -> None:
    conversation_id, token = _start(client)
    response = client.post(
        f"/v1/widget/conversations/{conversation_id}/handoff",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202


def test_an_unexpected_failure_is_a_500_in_the_error_shape(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    async def broken(_: str) -> None:
        raise RuntimeError("a bug")

    world.sites.by_key = broken
    response = client.post("/v1/widget/conversations", headers={"X-Site-Key": KEY})
    error = _assert_error(response, 500, "internal_error")
    assert "bug" not in error["message"]  # internals stay in the logs


def test_cors_preflight_lets_widgets_on_other_sites_call(client: TestClient) -> None:
    response = client.options(
        "/v1/widget/conversations",
        headers={
            "Origin": "https://shop.acme.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-site-key, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_requests_are_counted_by_route_template(client: TestClient) -> None:
    conversation_id, token = _start(client)
    client.get(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
    )
    count = REGISTRY.get_sample_value(
        "tandem_gateway_http_requests_total",
        {
            "method": "GET",
            "route": "/v1/widget/conversations/{conversation_id}/messages",
            "status": "200",
        },
    )
    assert count is not None and count >= 1


def test_the_demo_page_escapes_the_site_key_and_locks_scripts_down(client: TestClient) -> None:
    page = client.get("/demo")
    assert page.status_code == 200
    assert "<title>Tandem demo</title>" in page.text
    assert 'content="pk_demo"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    hostile = client.get("/demo", params={"site_key": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in hostile.text
    assert "&quot;&gt;&lt;script&gt;" in hostile.text
    script = client.get("/static/demo.js")
    assert script.status_code == 200
    assert "innerHTML" not in script.text.replace("never innerHTML", "")


def test_every_documented_route_has_a_summary_and_response_models(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            for status, response in operation["responses"].items():
                if status == "204":
                    continue
                assert "application/json" in response.get("content", {}), (method, path, status)
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, status)
