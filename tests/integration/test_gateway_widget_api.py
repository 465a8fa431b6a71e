"""The widget API of the gateway against real Kafka and Redis.

The gateway runs in-process on a real uvicorn server (real websockets). Its one HTTP
neighbour, the conversation service's internal API, is a small real HTTP server started
here that serves that API's shape from dictionaries; the end-to-end test with every real
service lives elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI, HTTPException
from redis.asyncio import Redis
from tandem_events import ConversationStatusChanged, ReplyPosted, Source
from tandem_events.topics import VISITOR_EVENTS
from tandem_events.wire import header_map
from tandem_gateway.adapters.live import HUB_CLIENT_NAME_PREFIX
from tandem_gateway.app import create_app
from tandem_gateway.settings import GatewaySettings
from tandem_platform.messaging import EventPublisher, make_broker
from tandem_platform.redis import live_channel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

SHOP_ORIGIN = "https://shop.it.example"
IDENTITY_SECRET = "integration-identity-secret-0123456789"


# -- the conversation service's internal API, served from dictionaries --------------------


@dataclass
class ConversationStub:
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)  # by public key
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by conversation

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/internal/sites/by-key/{public_key}")
        async def site_by_key(public_key: str) -> dict[str, Any]:
            if public_key not in self.sites:
                raise HTTPException(404, "unknown site key")
            return self.sites[public_key]

        @app.get("/internal/sites/{site_id}")
        async def site_by_id(site_id: str) -> dict[str, Any]:
            for site in self.sites.values():
                if site["site_id"] == site_id:
                    return site
            raise HTTPException(404, "unknown site")

        @app.get("/internal/conversations/{conversation_id}/messages")
        async def messages(
            conversation_id: str, after_seq: int = 0, limit: int = 200
        ) -> dict[str, Any]:
            if conversation_id not in self.messages:
                raise HTTPException(404, "unknown conversation")
            stored = sorted(self.messages[conversation_id], key=lambda m: m["seq"])
            return {"messages": [m for m in stored if m["seq"] > after_seq][:limit]}

        return app

    def store(
        self, conversation_id: str, seq: int, text: str, author: str = "ai"
    ) -> dict[str, Any]:
        frame: dict[str, Any] = {
            "type": "message",
            "seq": seq,
            "message_id": str(uuid.uuid4()),
            "author": author,
            "text": text,
            "created_at": "2026-11-21T10:00:00Z",
        }
        if author == "ai":
            frame.update(
                confidence=0.8,
                sources=[{"title": "FAQ", "url": "https://x.example"}],
                language="en",
            )
        self.messages.setdefault(conversation_id, []).append(frame)
        return frame


def _site(site_id: str, key: str, **overrides: Any) -> dict[str, Any]:
    site = {
        "site_id": site_id,
        "name": site_id,
        "public_key": key,
        "allowed_origins": [SHOP_ORIGIN],
        "greeting": "Hello from the integration test",
        "require_identity": False,
        "identity_secret": IDENTITY_SECRET,
        "show_confidence": True,
        "widget": {},
        "created_at": "2026-11-21T10:00:00+00:00",
        "updated_at": "2026-11-21T10:00:00+00:00",
    }
    site.update(overrides)
    return site


# -- servers ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[str]:
    """Run ``app`` on a real uvicorn server on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, lifespan="on", ws_ping_interval=5, ws_ping_timeout=5)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


@dataclass
class Gateway:
    base: str  # host:port
    stub: ConversationStub
    site_key: str
    strict_site_key: str
    redis: Redis
    kafka_bootstrap: str

    @property
    def http(self) -> str:
        return f"http://{self.base}"

    def stream_url(self, conversation_id: str, token: str, after_seq: int = 0) -> str:
        return (
            f"ws://{self.base}/v1/widget/conversations/{conversation_id}/stream"
            f"?token={token}&after_seq={after_seq}"
        )


@pytest.fixture(scope="module")
async def gateway(stack: Stack) -> AsyncIterator[Gateway]:
    run = uuid.uuid4().hex[:10]
    stub = ConversationStub()
    site_key, strict_key = f"pk_it_{run}", f"pk_it_strict_{run}"
    stub.sites[site_key] = _site(f"it-{run}", site_key)
    stub.sites[strict_key] = _site(f"it-strict-{run}", strict_key, require_identity=True)
    redis = Redis.from_url(stack.redis_url)
    async with _serve(stub.app()) as conversation_base:
        settings = GatewaySettings(
            kafka_bootstrap=stack.kafka_bootstrap,
            redis_url=stack.redis_url,
            conversation_url=f"http://{conversation_base}",
            token_secret="integration-token-secret-0123456789abcdef",  # type: ignore[arg-type]
            consumer_group=f"tandem-gateway-it-{run}",
            consumer_offset_reset="latest",
            publish_timeout_seconds=10,
            # Every test here comes from 127.0.0.1; the limits have tests of their own
            # (test_gateway_rate_limits.py) and stay on, just out of the way.
            rate_limit_ip_starts_per_minute=100_000,
            rate_limit_ip_requests_per_minute=100_000,
        )
        async with _serve(create_app(settings)) as gateway_base:
            yield Gateway(
                base=gateway_base,
                stub=stub,
                site_key=site_key,
                strict_site_key=strict_key,
                redis=redis,
                kafka_bootstrap=stack.kafka_bootstrap,
            )
    await redis.aclose()


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.http, timeout=20) as client:
        yield client


@pytest.fixture
async def visitor_topic(gateway: Gateway) -> AsyncIterator[AIOKafkaConsumer]:
    """A plain Kafka reader of the visitor topic, positioned at its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=gateway.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    partitions = [TopicPartition(VISITOR_EVENTS.name, p) for p in range(VISITOR_EVENTS.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)  # resolve "end" now, before the test publishes
    yield consumer
    await consumer.stop()


async def _records_until(
    consumer: AIOKafkaConsumer, conversation_id: str, stop: Any, timeout: float = 30
) -> list[Any]:
    """Records of one conversation, read until ``stop(records)`` holds."""
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    while not stop(found):
        if time.monotonic() > deadline:
            raise AssertionError(f"only saw {[json.loads(r.value) for r in found]}")
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            found.extend(r for r in records if r.key == conversation_id.encode())
    return found


async def _start(
    http: httpx.AsyncClient, site_key: str, body: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    return await http.post(
        "/v1/widget/conversations",
        headers={"X-Site-Key": site_key, "Origin": SHOP_ORIGIN, **headers},
        json=body or {},
    )


async def _started(http: httpx.AsyncClient, gateway: Gateway) -> tuple[str, str]:
    response = await _start(http, gateway.site_key)
    assert response.status_code == 201, response.text
    return response.json()["conversation_id"], response.json()["visitor_token"]


async def _frame(ws: ClientConnection, timeout: float = 15) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def _publish_frame(gateway: Gateway, conversation_id: str, frame: dict[str, Any]) -> None:
    await gateway.redis.publish(live_channel(conversation_id), json.dumps(frame))


def _message_frame(seq: int, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "seq": seq,
        "message_id": str(uuid.uuid4()),
        "author": "agent",
        "author_name": "Dana",
        "text": text,
        "created_at": "2026-11-21T10:00:00Z",
    }


# -- starting ----------------------------------------------------------------------------


async def test_start_answers_201_and_publishes_conversation_started(
    gateway: Gateway, http: httpx.AsyncClient, visitor_topic: AIOKafkaConsumer
) -> None:
    response = await _start(http, gateway.site_key, {"locale": "fr"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["greeting"]["seq"] == 1
    assert body["greeting"]["text"] == "Hello from the integration test"
    (record,) = await _records_until(visitor_topic, body["conversation_id"], lambda r: len(r) >= 1)
    event = json.loads(record.value)
    assert event["event_type"] == "ConversationStarted"
    assert event["greeting_message_id"] == body["greeting"]["message_id"]
    assert event["locale"] == "fr"


async def test_an_unknown_site_key_is_401(http: httpx.AsyncClient) -> None:
    response = await _start(http, "pk_nobody_" + uuid.uuid4().hex)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_site_key"


async def test_a_foreign_origin_is_403(gateway: Gateway, http: httpx.AsyncClient) -> None:
    response = await _start(http, gateway.site_key, Origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"


async def test_identity_hmac_is_checked(gateway: Gateway, http: httpx.AsyncClient) -> None:
    good = hmac.new(IDENTITY_SECRET.encode(), b"user-7", hashlib.sha256).hexdigest()
    bad = hmac.new(IDENTITY_SECRET.encode(), b"user-8", hashlib.sha256).hexdigest()
    refused = await _start(
        http, gateway.strict_site_key, {"visitor": {"id": "user-7", "hmac": bad}}
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_identity"
    anonymous = await _start(http, gateway.strict_site_key, {"visitor": {"id": "user-7"}})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "identity_required"
    accepted = await _start(
        http, gateway.strict_site_key, {"visitor": {"id": "user-7", "hmac": good}}
    )
    assert accepted.status_code == 201


# -- sending -----------------------------------------------------------------------------


async def test_a_message_is_on_kafka_with_cloudevents_headers_when_202_comes(
    gateway: Gateway, http: httpx.AsyncClient, visitor_topic: AIOKafkaConsumer
) -> None:
    conversation_id, token = await _started(http, gateway)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await http.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}", "traceparent": traceparent},
        json={"text": "  Where is my parcel?  ", "client_message_id": "m-1"},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["seq"] == 2

    records = await _records_until(visitor_topic, conversation_id, lambda r: len(r) >= 2)
    started, received = (json.loads(r.value) for r in records)
    assert started["event_type"] == "ConversationStarted"
    assert received["event_type"] == "MessageReceived"
    assert received["message_id"] == accepted["message_id"]
    assert received["seq"] == 2
    assert received["text"] == "Where is my parcel?"
    assert received["client_message_id"] == "m-1"
    headers = header_map(records[1].headers)
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == received["event_id"]
    assert headers["ce_type"] == "dev.tandem.MessageReceived.v1"
    assert headers["ce_source"] == "/tandem/gateway"
    assert headers["ce_subject"] == conversation_id
    assert "ce_time" in headers
    # The caller's trace continues on the event: same trace id, new span.
    assert headers["traceparent"].split("-")[1] == traceparent.split("-")[1]
    assert headers["traceparent"] != traceparent


async def test_a_resend_returns_the_same_body_and_publishes_nothing_new(
    gateway: Gateway, http: httpx.AsyncClient, visitor_topic: AIOKafkaConsumer
) -> None:
    conversation_id, token = await _started(http, gateway)
    url = f"/v1/widget/conversations/{conversation_id}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    body = {"text": "hello", "client_message_id": "dup-1"}
    first = await http.post(url, headers=headers, json=body)
    # A concurrent pair and a late resend, all of the same message.
    pair = await asyncio.gather(
        http.post(url, headers=headers, json=body), http.post(url, headers=headers, json=body)
    )
    late = await http.post(url, headers=headers, json=body)
    assert {r.status_code for r in (first, *pair, late)} == {202}
    assert all(r.json() == first.json() for r in (*pair, late))

    # A different message afterwards: the conversation's records are ordered (one key,
    # one partition), so any duplicate of the first would show up before this one.
    sentinel = await http.post(
        url, headers=headers, json={"text": "next", "client_message_id": "s"}
    )
    assert sentinel.json()["seq"] == first.json()["seq"] + 1
    records = await _records_until(
        visitor_topic,
        conversation_id,
        lambda found: any(json.loads(r.value).get("client_message_id") == "s" for r in found),
    )
    received = [json.loads(r.value) for r in records if b"MessageReceived" in r.value]
    assert [e["client_message_id"] for e in received] == ["dup-1", "s"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": "", "client_message_id": "x"},
        {"text": "   ", "client_message_id": "x"},
        {"text": "y" * 4001, "client_message_id": "x"},
        {"text": "fine", "client_message_id": ""},
    ],
)
async def test_empty_or_oversized_messages_are_422(
    gateway: Gateway, http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    conversation_id, token = await _started(http, gateway)
    response = await http.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_a_body_over_the_limit_is_413(gateway: Gateway, http: httpx.AsyncClient) -> None:
    conversation_id, token = await _started(http, gateway)
    response = await http.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={"text": "z" * 70_000, "client_message_id": "big"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_another_conversations_token_is_403(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, _ = await _started(http, gateway)
    _, other_token = await _started(http, gateway)
    response = await http.post(
        f"/v1/widget/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {other_token}"},
        json={"text": "hi", "client_message_id": "x"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_conversation"


# -- reading -----------------------------------------------------------------------------


async def test_reading_proxies_the_stored_messages(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, token = await _started(http, gateway)
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/v1/widget/conversations/{conversation_id}/messages"
    not_stored_yet = await http.get(url, headers=headers)
    assert not_stored_yet.status_code == 200
    assert not_stored_yet.json() == {"messages": []}
    gateway.stub.store(conversation_id, 1, "greeting", author="system")
    answer = gateway.stub.store(conversation_id, 2, "an answer")
    response = await http.get(url, headers=headers, params={"after_seq": 1})
    assert response.status_code == 200
    assert response.json() == {"messages": [answer]}


# -- the live stream ---------------------------------------------------------------------


async def test_the_stream_sends_history_then_frames_published_on_redis(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, token = await _started(http, gateway)
    greeting = gateway.stub.store(conversation_id, 1, "hello", author="system")
    async with connect(gateway.stream_url(conversation_id, token), origin=SHOP_ORIGIN) as ws:  # type: ignore[arg-type]
        assert await _frame(ws) == greeting  # history first: the subscription is live now
        live = _message_frame(2, "an agent writes")
        await _publish_frame(gateway, conversation_id, live)
        assert await _frame(ws) == live
        await _publish_frame(gateway, conversation_id, {"type": "typing", "author": "agent"})
        assert await _frame(ws) == {"type": "typing", "author": "agent"}


async def test_reconnecting_with_after_seq_misses_nothing_and_repeats_nothing(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, token = await _started(http, gateway)
    stored = [gateway.stub.store(conversation_id, seq, f"m{seq}") for seq in (1, 2, 3)]

    async with connect(gateway.stream_url(conversation_id, token, after_seq=1)) as ws:
        assert [await _frame(ws), await _frame(ws)] == stored[1:]
        # Live copies of what the history already gave are dropped; new ones pass.
        await _publish_frame(gateway, conversation_id, stored[2])
        fourth = _message_frame(4, "m4")
        await _publish_frame(gateway, conversation_id, fourth)
        await _publish_frame(gateway, conversation_id, fourth)
        await _publish_frame(gateway, conversation_id, {"type": "status", "status": "pending"})
        assert await _frame(ws) == fourth
        assert await _frame(ws) == {"type": "status", "status": "pending"}
    gateway.stub.messages[conversation_id].append(fourth)

    # Away: message 5 is stored meanwhile. Back with the last seq seen.
    fifth = gateway.stub.store(conversation_id, 5, "m5")
    async with connect(gateway.stream_url(conversation_id, token, after_seq=4)) as ws:
        assert await _frame(ws) == fifth
        await _publish_frame(gateway, conversation_id, fifth)
        sixth = _message_frame(6, "m6")
        await _publish_frame(gateway, conversation_id, sixth)
        await _publish_frame(gateway, conversation_id, {"type": "status", "status": "active"})
        assert await _frame(ws) == sixth
        assert await _frame(ws) == {"type": "status", "status": "active"}


async def test_the_stream_refuses_foreign_origins_and_other_tokens(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, token = await _started(http, gateway)
    _, other_token = await _started(http, gateway)
    with pytest.raises(InvalidStatus) as foreign:
        async with connect(
            gateway.stream_url(conversation_id, token),
            origin="https://evil.example",  # type: ignore[arg-type]
        ):
            pass
    assert foreign.value.response.status_code == 403
    assert json.loads(foreign.value.response.body or b"{}")["error"]["code"] == "origin_not_allowed"
    with pytest.raises(InvalidStatus) as other:
        async with connect(gateway.stream_url(conversation_id, other_token)):
            pass
    assert other.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as forged:
        async with connect(gateway.stream_url(conversation_id, token + "x")):
            pass
    assert forged.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as malformed:
        async with connect(
            gateway.stream_url(conversation_id, token).replace("after_seq=0", "after_seq=-1")
        ):
            pass
    assert malformed.value.response.status_code == 422


async def test_replies_on_kafka_reach_the_socket_through_the_fanout(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, token = await _started(http, gateway)
    gateway.stub.store(conversation_id, 1, "hello", author="system")
    broker, _ = make_broker(gateway.kafka_bootstrap, service="gateway-it-producer")
    await broker.connect()
    publisher = EventPublisher(broker, source="/tests")
    envelope = {"site_id": "it", "conversation_id": uuid.UUID(conversation_id)}
    try:
        async with connect(gateway.stream_url(conversation_id, token)) as ws:
            assert (await _frame(ws))["seq"] == 1
            # The gateway's consumer group is new and starts at the topics' end once it
            # has its partitions: announce a status until it comes through.
            deadline = time.monotonic() + 60
            while True:
                await publisher.publish(
                    ConversationStatusChanged(previous_status=None, status="active", **envelope)  # type: ignore[arg-type]
                )
                with contextlib.suppress(TimeoutError):
                    if (await _frame(ws, timeout=1.0))["type"] == "status":
                        break
                assert time.monotonic() < deadline, "the fan-out consumer never got its partitions"
            await publisher.publish(
                ReplyPosted(
                    message_id=uuid.uuid4(),
                    seq=2,
                    author="ai",
                    text="Parcels ship in 2 days.",
                    created_at=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
                    confidence=0.91,
                    sources=(Source(title="Shipping", url="https://shop.it.example/shipping"),),
                    language="en",
                    **envelope,  # type: ignore[arg-type]
                )
            )
            frame = await _frame(ws)
            while frame["type"] == "status":  # late copies of the probe
                frame = await _frame(ws)
            assert frame["type"] == "message"
            assert frame["seq"] == 2
            assert frame["text"] == "Parcels ship in 2 days."
            assert frame["confidence"] == 0.91
            assert frame["sources"] == [
                {"title": "Shipping", "url": "https://shop.it.example/shipping"}
            ]
            assert frame["language"] == "en"
    finally:
        await broker.stop()


# -- rating, handoff, forgetting ---------------------------------------------------------


async def test_rating_handoff_and_delete(
    gateway: Gateway, http: httpx.AsyncClient, visitor_topic: AIOKafkaConsumer
) -> None:
    conversation_id, token = await _started(http, gateway)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/v1/widget/conversations/{conversation_id}"
    rated = await http.post(f"{base}/rating", headers=headers, json={"score": 4, "comment": "ok"})
    assert rated.status_code == 204
    handoff = await http.post(f"{base}/handoff", headers=headers)
    assert handoff.status_code == 202
    gateway.stub.store(conversation_id, 1, "hello", author="system")

    async with connect(gateway.stream_url(conversation_id, token)) as ws:
        assert (await _frame(ws))["seq"] == 1
        deleted = await http.delete(base, headers=headers)
        assert deleted.status_code == 202
        with pytest.raises(ConnectionClosed) as closed:
            await _frame(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410

    after = await http.post(
        f"{base}/messages", headers=headers, json={"text": "hi", "client_message_id": "z"}
    )
    assert after.status_code == 410
    assert after.json()["error"]["code"] == "conversation_deleted"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(gateway.stream_url(conversation_id, token)):
            pass
    assert refused.value.response.status_code == 410

    records = await _records_until(visitor_topic, conversation_id, lambda r: len(r) >= 4)
    types = [json.loads(r.value)["event_type"] for r in records]
    assert types == [
        "ConversationStarted",
        "ConversationRated",
        "HumanRequested",
        "ConversationDeletionRequested",
    ]


async def test_ready_and_metrics(gateway: Gateway, http: httpx.AsyncClient) -> None:
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "redis": "ok", "conversation_service": "ok"}
    metrics = (await http.get("/metrics")).text
    assert "tandem_gateway_http_requests_total" in metrics
    assert "tandem_gateway_websocket_connections" in metrics
    assert "tandem_gateway_publish_duration_seconds_bucket" in metrics


async def test_sockets_of_one_conversation_share_the_subscription(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, token = await _started(http, gateway)
    gateway.stub.store(conversation_id, 1, "hello", author="system")
    url = gateway.stream_url(conversation_id, token)
    async with connect(url) as first, connect(url) as second:
        assert (await _frame(first))["seq"] == 1
        assert (await _frame(second))["seq"] == 1
        frame = _message_frame(2, "to both")
        await _publish_frame(gateway, conversation_id, frame)
        assert await _frame(first) == frame
        assert await _frame(second) == frame
        await first.close()
        # The other socket still follows after the first one left.
        later = _message_frame(3, "still here")
        await _publish_frame(gateway, conversation_id, later)
        assert await _frame(second) == later


async def test_a_lost_redis_subscription_closes_sockets_so_clients_reconnect(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id, token = await _started(http, gateway)
    gateway.stub.store(conversation_id, 1, "hello", author="system")
    async with connect(gateway.stream_url(conversation_id, token)) as ws:
        assert (await _frame(ws))["seq"] == 1
        own_name = f"{HUB_CLIENT_NAME_PREFIX}{socket.gethostname()}-{os.getpid()}"
        clients = await gateway.redis.client_list()
        # This replica's pub/sub connection (its readiness pings use the same name).
        (hub_client,) = [
            c for c in clients if c.get("name") == own_name and int(c.get("sub", 0)) > 0
        ]
        await gateway.redis.client_kill_filter(_id=hub_client["id"])
        with pytest.raises(ConnectionClosed) as closed:
            await _frame(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012

    # Frames published while the socket was away are in the stored history by then.
    missed = gateway.stub.store(conversation_id, 2, "while away")
    async with connect(gateway.stream_url(conversation_id, token, after_seq=1)) as ws:
        assert await _frame(ws) == missed
        live = _message_frame(3, "live again")
        await _publish_frame(gateway, conversation_id, live)
        assert await _frame(ws) == live
