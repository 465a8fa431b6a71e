"""The gateway's agent console (``/v1/agent``) against real Kafka and Redis.

The gateway runs in-process on a real uvicorn server (real websockets). Its two HTTP
neighbours — the conversation service's internal API and the escalation service's team
API — are small real HTTP servers started here that serve those contracts from
dictionaries; the end-to-end test through every real service is tests/e2e/test_handoff_flow.py.

Redis and Kafka are shared with anything else running on the stack (another gateway may
fan the same events out to the same channels), so the tests use fresh ids and addresses
and tolerate repeated frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI, HTTPException, Request
from tandem_events import (
    AgentJoined,
    AgentReplied,
    ConversationStatusChanged,
    EscalationRaised,
    Event,
    NoteAdded,
    ReplyHeld,
    parse_event,
)
from tandem_events.topics import AGENT_EVENTS
from tandem_gateway.app import create_app
from tandem_gateway.domain.agent_tokens import issue_access_token
from tandem_gateway.domain.agents import AgentIdentity
from tandem_gateway.settings import GatewaySettings
from tandem_platform.messaging import EventPublisher, make_broker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
SITE_A, SITE_B = f"agent-it-a-{RUN}", f"agent-it-b-{RUN}"
KEY_A = f"pk_agent_it_{RUN}"
SHOP_ORIGIN = "https://shop.agent-it.example"
CONSOLE_ORIGIN = "https://console.agent-it.example"
PASSWORD = "correct horse battery staple"


# -- the neighbours' internal APIs, served from dictionaries ------------------------------


@dataclass
class Neighbours:
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # email -> agent
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    list_queries: list[dict[str, str]] = field(default_factory=list)

    def add_agent(self, site_id: str, name: str, role: str = "agent") -> dict[str, Any]:
        agent = {
            "agent_id": f"{name.lower()}-{uuid.uuid4().hex}",
            "site_id": site_id,
            "name": name,
            "role": role,
            "skills": ["billing"],
            "languages": ["en"],
            "active": True,
            "email": f"{name.lower()}-{uuid.uuid4().hex[:8]}@agent-it.example",
        }
        self.agents[agent["email"]] = agent
        return agent

    def add_conversation(self, site_id: str, conversation_id: str | None = None) -> str:
        conversation_id = conversation_id or str(uuid.uuid4())
        self.conversations[conversation_id] = {
            "conversation": {
                "conversation_id": conversation_id,
                "site_id": site_id,
                "status": "active",
                "assigned_agent": None,
            },
            "messages": [],
            "held_replies": [],
            "notes": [],
        }
        return conversation_id

    def conversation_app(self) -> FastAPI:
        app = FastAPI()
        site = {
            "site_id": SITE_A,
            "name": "A",
            "public_key": KEY_A,
            "allowed_origins": [SHOP_ORIGIN],
            "greeting": "Hello",
            "require_identity": False,
            "identity_secret": None,
            "show_confidence": True,
            "widget": {},
            "ai_resumes_after_agent": False,
        }

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/internal/sites/by-key/{public_key}")
        async def by_key(public_key: str) -> dict[str, Any]:
            if public_key != KEY_A:
                raise HTTPException(404)
            return site

        @app.get("/internal/sites/{site_id}")
        async def by_id(site_id: str) -> dict[str, Any]:
            if site_id != SITE_A:
                raise HTTPException(404)
            return site

        @app.get("/internal/conversations")
        async def listing(request: Request) -> dict[str, Any]:
            query = dict(request.query_params)
            self.list_queries.append(query)
            return {
                "conversations": [
                    v["conversation"]
                    for v in self.conversations.values()
                    if v["conversation"]["site_id"] == query["site_id"]
                ]
            }

        @app.get("/internal/conversations/{conversation_id}")
        async def conversation(conversation_id: str) -> dict[str, Any]:
            if conversation_id not in self.conversations:
                raise HTTPException(404)
            return self.conversations[conversation_id]["conversation"]  # type: ignore[no-any-return]

        @app.get("/internal/conversations/{conversation_id}/agent-view")
        async def agent_view(conversation_id: str) -> dict[str, Any]:
            if conversation_id not in self.conversations:
                raise HTTPException(404)
            return self.conversations[conversation_id]

        @app.get("/internal/conversations/{conversation_id}/messages")
        async def messages(conversation_id: str) -> dict[str, Any]:
            return {"messages": []}

        return app

    def escalation_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/internal/agents/authenticate")
        async def authenticate(body: dict[str, str]) -> dict[str, Any]:
            agent = self.agents.get(body.get("email", ""))
            if agent is None or body.get("password") != PASSWORD or not agent["active"]:
                raise HTTPException(401, "wrong email or password")
            return {
                k: agent[k] for k in ("agent_id", "site_id", "name", "role", "skills", "languages")
            }

        @app.get("/internal/sites/{site_id}/agents")
        async def roster(site_id: str) -> dict[str, Any]:
            return {"agents": [a for a in self.agents.values() if a["site_id"] == site_id]}

        return app


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
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
            task.result()
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
    base: str
    neighbours: Neighbours
    kafka_bootstrap: str
    settings: GatewaySettings

    @property
    def http(self) -> str:
        return f"http://{self.base}"

    @property
    def agent_socket(self) -> str:
        return f"ws://{self.base}/v1/agent/stream"


@pytest.fixture(scope="module")
async def gateway(stack: Stack) -> AsyncIterator[Gateway]:
    neighbours = Neighbours()
    async with (
        serve(neighbours.conversation_app()) as conversation,
        serve(neighbours.escalation_app()) as escalation,
    ):
        settings = GatewaySettings(
            kafka_bootstrap=stack.kafka_bootstrap,
            redis_url=stack.redis_url,
            conversation_url=f"http://{conversation}",
            escalation_url=f"http://{escalation}",
            token_secret="agent-it-token-secret-0123456789abcdef",  # type: ignore[arg-type]
            console_origins=[CONSOLE_ORIGIN],
            consumer_group=f"tandem-gateway-agent-it-{RUN}",
            consumer_offset_reset="latest",
            site_cache_seconds=0,
            presence_heartbeat_seconds=1.0,
            agent_auth_timeout_seconds=2.0,
            login_attempts_per_minute=5,
        )
        async with serve(create_app(settings)) as base:
            yield Gateway(
                base=base,
                neighbours=neighbours,
                kafka_bootstrap=stack.kafka_bootstrap,
                settings=settings,
            )


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    # A private client address for this test's rate-limit counters (uvicorn trusts
    # X-Forwarded-For from 127.0.0.1).
    forwarded = {"X-Forwarded-For": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}
    async with httpx.AsyncClient(base_url=gateway.http, timeout=20, headers=forwarded) as client:
        yield client


@pytest.fixture
async def agent_topic(gateway: Gateway) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=gateway.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    partitions = [TopicPartition(AGENT_EVENTS.name, p) for p in range(AGENT_EVENTS.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)
    yield consumer
    await consumer.stop()


async def events_until(
    consumer: AIOKafkaConsumer, key: str, stop: Callable[[list[Event]], bool], timeout: float = 30
) -> list[Event]:
    found: list[Event] = []
    deadline = time.monotonic() + timeout
    while not stop(found):
        if time.monotonic() > deadline:
            raise AssertionError(f"only saw {[e.event_type for e in found]}")
        for records in (await consumer.getmany(timeout_ms=300)).values():
            found.extend(parse_event(r.value) for r in records if r.key == key.encode())
    return found


async def sign_in(http: httpx.AsyncClient, agent: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        "/v1/agent/login", json={"email": agent["email"], "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def frame_matching(
    ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> dict[str, Any]:
    """The first frame satisfying ``predicate``, among those already received on ``ws``
    (kept in ``RECEIVED``) and those still to come."""
    received = RECEIVED.setdefault(id(ws), [])
    for frame in received:
        if predicate(frame):
            return frame
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching frame")
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        received.append(frame)
        if predicate(frame):
            return frame


#: Every frame each test socket received, so a frame passed over while waiting for another
#: (an ack, say) can still be found.
RECEIVED: dict[int, list[dict[str, Any]]] = {}


@pytest.fixture(autouse=True)
def _fresh_frame_log() -> None:
    RECEIVED.clear()


@contextlib.asynccontextmanager
async def console(gateway: Gateway, token: str, **headers: str) -> AsyncIterator[ClientConnection]:
    async with connect(gateway.agent_socket, additional_headers=headers or None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ready["type"] == "ready", ready
        try:
            yield ws
        finally:
            RECEIVED.pop(id(ws), None)


async def command(ws: ClientConnection, **frame: Any) -> dict[str, Any]:
    ref = uuid.uuid4().hex
    await ws.send(json.dumps({**frame, "ref": ref}))
    return await frame_matching(ws, lambda f: f.get("ref") == ref and f["type"] in ("ack", "error"))


# -- sign-in ----------------------------------------------------------------------------


async def test_sign_in_refresh_rotation_and_sign_out(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    agent = gateway.neighbours.add_agent(SITE_A, "Ana")
    session = await sign_in(http, agent)
    assert session["token_type"] == "bearer" and session["expires_in"] == 900
    assert session["agent"]["agent_id"] == agent["agent_id"]
    me = await http.get(
        "/v1/agent/me", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["site_id"] == SITE_A

    rotated = await http.post("/v1/agent/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != session["refresh_token"]
    # The spent token again: refused, and it takes the new one down with it.
    replay = await http.post("/v1/agent/refresh", json={"refresh_token": session["refresh_token"]})
    assert replay.status_code == 401
    dead = await http.post(
        "/v1/agent/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
    )
    assert dead.status_code == 401

    fresh = await sign_in(http, agent)
    auth = {"Authorization": f"Bearer {fresh['access_token']}"}
    out = await http.post(
        "/v1/agent/logout", headers=auth, json={"refresh_token": fresh["refresh_token"]}
    )
    assert out.status_code == 204
    assert (await http.get("/v1/agent/me", headers=auth)).status_code == 401
    gone = await http.post("/v1/agent/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert gone.status_code == 401


async def test_wrong_passwords_are_401_and_guessing_is_cut_off_with_429(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    agent = gateway.neighbours.add_agent(SITE_A, "Guessed")
    for _ in range(5):
        wrong = await http.post(
            "/v1/agent/login", json={"email": agent["email"], "password": "nope"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_credentials"
    limited = await http.post(
        "/v1/agent/login", json={"email": agent["email"], "password": PASSWORD}
    )
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    # From another address the account is still protected by its own counter.
    other = await http.post(
        "/v1/agent/login",
        json={"email": agent["email"], "password": PASSWORD},
        headers={"X-Forwarded-For": "10.251.0.9"},
    )
    assert other.status_code == 429


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@b.c"},
        {"email": "a@b.c", "password": "x", "role": "owner"},
        {"email": 3, "password": []},
    ],
)
async def test_malformed_sign_in_is_422(http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await http.post("/v1/agent/login", json=body)
    assert response.status_code == 422
    assert set(response.json()["error"]) == {"code", "message"}


async def test_every_agent_route_needs_a_valid_token(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    conversation_id = gateway.neighbours.add_conversation(SITE_A)
    for method, path in (
        ("GET", "/v1/agent/conversations"),
        ("GET", f"/v1/agent/conversations/{conversation_id}"),
        ("POST", f"/v1/agent/conversations/{conversation_id}/join"),
        ("PUT", "/v1/agent/presence"),
    ):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await http.request(
                method, path, headers=headers, json={"status": "available"}
            )
            assert response.status_code == 401, (method, path, response.text)


# -- REST, scoped to the agent's site -----------------------------------------------------


async def test_rest_reads_and_commands_stay_within_the_agents_site(
    gateway: Gateway, http: httpx.AsyncClient, agent_topic: AIOKafkaConsumer
) -> None:
    ana = gateway.neighbours.add_agent(SITE_A, "Ana")
    eve = gateway.neighbours.add_agent(SITE_B, "Eve", role="owner")
    mine = gateway.neighbours.add_conversation(SITE_A)
    theirs = gateway.neighbours.add_conversation(SITE_B)
    ana_auth = {"Authorization": f"Bearer {(await sign_in(http, ana))['access_token']}"}
    eve_auth = {"Authorization": f"Bearer {(await sign_in(http, eve))['access_token']}"}

    listed = await http.get(
        "/v1/agent/conversations", params={"filter": "waiting"}, headers=ana_auth
    )
    assert listed.status_code == 200
    listed_ids = [c["conversation_id"] for c in listed.json()["conversations"]]
    assert mine in listed_ids and theirs not in listed_ids
    assert {c["site_id"] for c in listed.json()["conversations"]} == {SITE_A}
    assert gateway.neighbours.list_queries[-1]["site_id"] == SITE_A
    assert gateway.neighbours.list_queries[-1]["waiting"] == "true"
    forged_site = await http.get(
        "/v1/agent/conversations", params={"site_id": SITE_B}, headers=ana_auth
    )
    assert {c["site_id"] for c in forged_site.json()["conversations"]} == {SITE_A}

    assert (await http.get(f"/v1/agent/conversations/{mine}", headers=ana_auth)).status_code == 200
    for path in (f"/v1/agent/conversations/{mine}", f"/v1/agent/conversations/{mine}/join"):
        method = "GET" if path.endswith(mine) else "POST"
        refused = await http.request(method, path, headers=eve_auth)
        assert refused.status_code == 404, refused.text
    assert (
        await http.get(f"/v1/agent/conversations/{theirs}", headers=eve_auth)
    ).status_code == 200

    joined = await http.post(f"/v1/agent/conversations/{mine}/join", headers=ana_auth)
    assert joined.status_code == 202, joined.text
    replied = await http.post(
        f"/v1/agent/conversations/{mine}/messages",
        headers=ana_auth,
        json={"text": "Hello from Ana", "client_message_id": "m-1"},
    )
    assert replied.status_code == 202, replied.text
    again = await http.post(
        f"/v1/agent/conversations/{mine}/messages",
        headers=ana_auth,
        json={"text": "Hello from Ana", "client_message_id": "m-1"},
    )
    assert again.json() == replied.json()
    events = await events_until(
        agent_topic, mine, lambda found: any(isinstance(e, AgentReplied) for e in found)
    )
    joined_event = next(e for e in events if isinstance(e, AgentJoined))
    reply_event = next(e for e in events if isinstance(e, AgentReplied))
    assert (joined_event.site_id, joined_event.agent_id) == (SITE_A, ana["agent_id"])
    assert str(reply_event.message_id) == replied.json()["message_id"]
    assert reply_event.seq == replied.json()["seq"]


# -- the agent socket --------------------------------------------------------------------


async def test_the_socket_refuses_foreign_origins_and_wants_the_token_first(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    agent = gateway.neighbours.add_agent(SITE_A, "Origin")
    token = (await sign_in(http, agent))["access_token"]
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            gateway.agent_socket, additional_headers={"Origin": "https://evil.example"}
        ):
            pass
    assert refused.value.response.status_code == 403
    # The console's configured origin and the gateway's own origin are welcome.
    async with console(gateway, token, Origin=CONSOLE_ORIGIN):
        pass
    async with console(gateway, token, Origin=gateway.http):
        pass
    # A token in the URL is not looked at: the first frame must authenticate.
    async with connect(f"{gateway.agent_socket}?token={token}") as ws:
        await ws.send(json.dumps({"type": "join", "conversation_id": str(uuid.uuid4())}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["error"]["code"] == "auth_required"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    # Silence is not authentication either.
    async with connect(gateway.agent_socket) as ws:
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert error["error"]["code"] == "auth_timeout"
    async with connect(gateway.agent_socket) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "forged"}))
        assert json.loads(await ws.recv())["error"]["code"] == "invalid_token"


async def test_console_commands_live_frames_and_what_the_visitor_never_sees(
    gateway: Gateway, http: httpx.AsyncClient, agent_topic: AIOKafkaConsumer
) -> None:
    ana = gateway.neighbours.add_agent(SITE_A, "Ana")
    eve = gateway.neighbours.add_agent(SITE_B, "Eve", role="owner")
    started = await http.post(
        "/v1/widget/conversations", headers={"X-Site-Key": KEY_A, "Origin": SHOP_ORIGIN}, json={}
    )
    assert started.status_code == 201, started.text
    conversation_id = started.json()["conversation_id"]
    visitor_token = started.json()["visitor_token"]
    gateway.neighbours.add_conversation(SITE_A, conversation_id)
    visitor_url = (
        f"ws://{gateway.base}/v1/widget/conversations/{conversation_id}/stream"
        f"?token={visitor_token}&after_seq=0"
    )
    broker, _ = make_broker(gateway.kafka_bootstrap, service="gateway-agent-it")
    await broker.connect()
    publisher = EventPublisher(broker, source="/tests")
    envelope = {"site_id": SITE_A, "conversation_id": uuid.UUID(conversation_id)}
    ana_token = (await sign_in(http, ana))["access_token"]
    eve_token = (await sign_in(http, eve))["access_token"]
    try:
        async with (
            console(gateway, ana_token) as ws,
            connect(visitor_url) as visitor,
            console(gateway, eve_token) as intruder,
        ):
            # Another site's owner cannot even watch it.
            refused = await command(intruder, type="watch", conversation_id=conversation_id)
            assert refused["type"] == "error" and refused["error"]["code"] == "not_found"

            # The fan-out consumer is new and reads from the end once it owns its
            # partitions: raise the escalation until it shows up on the console.
            deadline = time.monotonic() + 60
            while True:
                await publisher.publish(
                    EscalationRaised(
                        reason="human_requested",
                        detail="asked",
                        summary="wants a person",
                        **envelope,  # type: ignore[arg-type]
                    )
                )
                with contextlib.suppress(AssertionError):
                    escalation = await frame_matching(
                        ws,
                        lambda f: (
                            f["type"] == "escalation" and f["conversation_id"] == conversation_id
                        ),
                        timeout=1.0,
                    )
                    break
                assert time.monotonic() < deadline, "the fan-out consumer never got its partitions"
            assert escalation["summary"] == "wants a person"
            handoff = await frame_matching(visitor, lambda f: f["type"] == "handoff")
            assert handoff == {"type": "handoff", "state": "requested"}

            watched = await command(ws, type="watch", conversation_id=conversation_id)
            assert watched["type"] == "ack"
            # Replying before joining is refused; joining then replying works.
            early = await command(ws, type="reply", conversation_id=conversation_id, text="hi")
            assert early["type"] == "error" and early["error"]["code"] == "not_allowed"
            assert (await command(ws, type="join", conversation_id=conversation_id))[
                "type"
            ] == "ack"
            reply = await command(
                ws, type="reply", conversation_id=conversation_id, text="Hi, Ana here"
            )
            assert reply["type"] == "ack" and reply["seq"] >= 2
            assert (await command(ws, type="typing", conversation_id=conversation_id))[
                "type"
            ] == "ack"
            typing = await frame_matching(visitor, lambda f: f["type"] == "typing")
            assert typing == {"type": "typing", "author": "agent"}
            note = await command(
                ws, type="note", conversation_id=conversation_id, text="VIP customer"
            )
            assert note["type"] == "ack"
            invalid = await command(
                ws, type="edit", conversation_id=conversation_id, held_message_id=str(uuid.uuid4())
            )
            assert invalid["type"] == "error" and invalid["error"]["code"] == "invalid_request"
            presence = await command(ws, type="set_presence", status="busy")
            assert presence["type"] == "ack"

            events = await events_until(
                agent_topic,
                conversation_id,
                lambda found: any(isinstance(e, NoteAdded) for e in found),
            )
            assert [e.event_type for e in events] == ["AgentJoined", "AgentReplied", "NoteAdded"]
            # The note comes back to the watching console through the fan-out...
            note_frame = await frame_matching(ws, lambda f: f["type"] == "note")
            assert note_frame["text"] == "VIP customer" and note_frame["agent"]["name"] == "Ana"
            # ...as does a held reply, for the whole site.
            await publisher.publish(
                ReplyHeld(
                    message_id=uuid.uuid4(),
                    in_reply_to=uuid.uuid4(),
                    text="Maybe 30 days?",
                    confidence=0.31,
                    hold_until=datetime.now(UTC),
                    on_timeout="send",
                    **envelope,  # type: ignore[arg-type]
                )
            )
            held = await frame_matching(ws, lambda f: f["type"] == "held_reply")
            assert held["confidence"] == 0.31
            # The visitor saw the joined hand-off with the name, and never a note or held reply.
            await publisher.publish(
                ConversationStatusChanged(previous_status="pending", status="active", **envelope)  # type: ignore[arg-type]
            )
            seen = await frames_until(visitor, lambda f: f["type"] == "status")
            types = {f["type"] for f in seen}
            assert {"handoff", "typing", "status"} <= types
            joined = [f for f in seen if f.get("state") == "agent_joined"]
            assert joined and joined[0]["agent"] == {"name": "Ana"}
            assert not types & {"note", "held_reply"}
            assert all("VIP" not in json.dumps(f) and "Maybe 30" not in json.dumps(f) for f in seen)
            assert not any(
                f["type"] == "note" and f["conversation_id"] == conversation_id
                for f in await drain(intruder)
            ), "another site's console saw the note"
    finally:
        await broker.stop()


async def frames_until(
    ws: ClientConnection, last: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> list[dict[str, Any]]:
    """Every frame received up to and including the first that satisfies ``last``."""
    frames = RECEIVED.setdefault(id(ws), [])
    deadline = time.monotonic() + timeout
    while not any(last(f) for f in frames):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no final frame among {frames}"
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), remaining)))
    return list(frames)


async def drain(ws: ClientConnection, seconds: float = 1.0) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
    return frames


async def test_presence_is_repeated_as_a_heartbeat_while_the_socket_is_open(
    gateway: Gateway, http: httpx.AsyncClient, agent_topic: AIOKafkaConsumer
) -> None:
    agent = gateway.neighbours.add_agent(SITE_A, "Beat")
    token = (await sign_in(http, agent))["access_token"]
    async with console(gateway, token) as ws:
        assert (await command(ws, type="set_presence", status="available", max_concurrent=4))[
            "type"
        ] == "ack"
        beats = await events_until(
            agent_topic, f"{SITE_A}:{agent['agent_id']}", lambda found: len(found) >= 3, timeout=15
        )
    assert {(e.status, e.max_concurrent) for e in beats} == {("available", 4)}  # type: ignore[attr-defined]
    assert len({e.event_id for e in beats}) == len(beats)


def expiring_token(gateway: Gateway, agent: dict[str, Any], seconds_left: int) -> str:
    """A genuine access token of ``agent`` that expires in ``seconds_left`` seconds."""
    identity = AgentIdentity(
        agent_id=agent["agent_id"], site_id=agent["site_id"], name=agent["name"], role="agent"
    )
    token, _ = issue_access_token(
        gateway.settings.agent_token_key(),
        identity,
        now=int(time.time()) + seconds_left - 60,
        ttl_seconds=60,
    )
    return token


async def test_the_socket_closes_when_its_token_expires_unless_renewed(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    agent = gateway.neighbours.add_agent(SITE_A, "Clock")
    async with console(gateway, expiring_token(gateway, agent, 2)) as ws:
        expired = await frame_matching(ws, lambda f: f["type"] == "error", timeout=10)
        assert expired["error"]["code"] == "token_expired"
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async with console(gateway, expiring_token(gateway, agent, 2)) as ws:
        renewed = await command(ws, type="auth", token=expiring_token(gateway, agent, 50))
        assert renewed["type"] == "ack" and renewed["expires_at"] > time.time() + 40
        await asyncio.sleep(3)
        assert (await command(ws, type="set_presence", status="away"))["type"] == "ack"
        # A socket cannot turn into another agent.
        other = gateway.neighbours.add_agent(SITE_A, "Other")
        await ws.send(json.dumps({"type": "auth", "token": expiring_token(gateway, other, 50)}))
        refused = await frame_matching(ws, lambda f: f.get("error", {}).get("code") == "forbidden")
        assert refused["type"] == "error"


async def test_a_signed_out_token_stops_working_on_the_open_socket(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    agent = gateway.neighbours.add_agent(SITE_A, "Leaver")
    session = await sign_in(http, agent)
    async with console(gateway, session["access_token"]) as ws:
        out = await http.post(
            "/v1/agent/logout",
            headers={"Authorization": f"Bearer {session['access_token']}"},
            json={"refresh_token": session["refresh_token"]},
        )
        assert out.status_code == 204
        await ws.send(json.dumps({"type": "set_presence", "status": "busy", "ref": "after"}))
        error = await frame_matching(ws, lambda f: f["type"] == "error")
        assert error["error"]["code"] == "invalid_token"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
