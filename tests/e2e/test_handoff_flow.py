"""The hand-off to a human end to end, through the five running services and the real
servers: an agent signs in through the gateway (the escalation service checks the
password), sees the escalation a visitor caused, joins, replies, writes a note the visitor
never sees, and resolves; the AI never answers after the join, even with the answer
already in flight; and a site's hold policy keeps a low-confidence answer back until an
agent approves it.

Other people's tests may run on the same stack: every test makes its own agents, sites
and conversations and looks only at those.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tandem_events import AgentJoined, AnswerScored, parse_event
from tandem_events.topics import ANSWERING_EVENTS
from tandem_events.wire import encode

from tests.e2e.client import WidgetSession
from tests.integration.stack import Stack, real_stack

RUN = uuid.uuid4().hex[:8]
PASSWORD = "e2e-agent-password-0123"


@pytest.fixture(scope="module")
def servers() -> Any:
    with real_stack() as stack:
        yield stack


@pytest.fixture
def escalation_url(running: dict[str, str]) -> str:
    url = running.get("ESCALATION_URL")
    if not url:
        raise RuntimeError("ESCALATION_URL unknown: run the services with `make up`")
    return url


def client_address() -> dict[str, str]:
    """A private client address (the gateway trusts X-Forwarded-For from localhost), so
    this run's sign-ins never count against anyone else's rate limit."""
    octets = uuid.uuid4().bytes[:3]
    return {"X-Forwarded-For": f"10.{octets[0]}.{octets[1]}.{octets[2]}"}


async def create_agent(
    client: httpx.AsyncClient, escalation_url: str, site_id: str, name: str
) -> dict[str, Any]:
    agent_id = uuid.uuid4().hex
    email = f"{name.lower()}-{agent_id[:10]}@e2e.example"
    response = await client.put(
        f"{escalation_url}/internal/sites/{site_id}/agents/{agent_id}",
        json={
            "email": email,
            "name": name,
            "role": "agent",
            "skills": [],
            "languages": ["en"],
            "password": PASSWORD,
        },
    )
    assert response.status_code in (200, 201), response.text
    return {"agent_id": agent_id, "email": email, "name": name, "site_id": site_id}


async def sign_in(client: httpx.AsyncClient, gateway: str, agent: dict[str, Any]) -> str:
    response = await client.post(
        f"{gateway}/v1/agent/login",
        json={"email": agent["email"], "password": PASSWORD},
        headers=client_address(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["agent"]["site_id"] == agent["site_id"]
    return response.json()["access_token"]  # type: ignore[no-any-return]


class Console:
    """The agent console's socket: every frame it received stays readable."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        for frame in self.frames:
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching console frame; got {self.frames[-10:]}")
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            self.frames.append(frame)
            if predicate(frame):
                return frame

    async def command(self, **frame: Any) -> dict[str, Any]:
        ref = uuid.uuid4().hex
        await self.ws.send(json.dumps({**frame, "ref": ref}))
        answer = await self.wait_for(lambda f: f.get("ref") == ref, timeout=30)
        assert answer["type"] == "ack", answer
        return answer


@contextlib.asynccontextmanager
async def console(gateway: str, token: str) -> AsyncIterator[Console]:
    url = gateway.replace("http://", "ws://").replace("https://", "wss://") + "/v1/agent/stream"
    # The console page is served by the gateway itself: its own origin.
    async with websockets.connect(url, additional_headers={"Origin": gateway}) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ready["type"] == "ready", ready
        yield Console(ws)


def of(conversation_id: str, frame_type: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda f: (
        f.get("type") == frame_type
        and f.get("conversation_id") == conversation_id
        and all(f.get(k) == v for k, v in fields.items())
    )


class VisitorStream:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        for frame in self.frames:
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the visitor never saw it; got {self.frames}")
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            self.frames.append(frame)
            if predicate(frame):
                return frame


# -- the whole hand-off ----------------------------------------------------------------


async def test_an_agent_sees_the_escalation_joins_replies_notes_and_resolves(
    running: dict[str, str], escalation_url: str
) -> None:
    gateway = running["GATEWAY_URL"]
    async with httpx.AsyncClient(timeout=20) as client:
        agent = await create_agent(
            client, escalation_url, running.get("DEMO_SITE_ID", "demo"), "Dana"
        )
        token = await sign_in(client, gateway, agent)
        session = WidgetSession(gateway, running["DEMO_SITE_KEY"])
        await session.start(client)
        async with console(gateway, token) as agent_console, await session.connect() as ws:
            visitor = VisitorStream(ws)
            await agent_console.command(type="set_presence", status="available")
            asked = await session.send(client, "I want to talk to a human, please")
            assert asked.status_code == 202, asked.text
            cid = session.conversation_id

            # The console sees the escalation arrive, with its reason and summary.
            escalation = await agent_console.wait_for(of(cid, "escalation"))
            assert escalation["reason"] == "human_requested"
            assert "talk to a human" in escalation["summary"]
            await visitor.wait_for(lambda f: f == {"type": "handoff", "state": "requested"})

            await agent_console.command(type="watch", conversation_id=cid)
            await agent_console.command(type="join", conversation_id=cid)
            joined = await visitor.wait_for(lambda f: f.get("state") == "agent_joined")
            assert joined == {"type": "handoff", "state": "agent_joined", "agent": {"name": "Dana"}}

            reply = await agent_console.command(
                type="reply", conversation_id=cid, text="Hi, I'm Dana. How can I help?"
            )
            shown = await visitor.wait_for(
                lambda f: f.get("type") == "message" and f.get("author") == "agent"
            )
            assert shown["text"] == "Hi, I'm Dana. How can I help?"
            assert shown["author_name"] == "Dana"
            assert (shown["seq"], shown["message_id"]) == (reply["seq"], reply["message_id"])

            note = await agent_console.command(
                type="note", conversation_id=cid, text="Internal: refund approved by finance"
            )
            noted = await agent_console.wait_for(of(cid, "note"))
            assert noted["note_id"] == note["note_id"]

            await agent_console.command(type="resolve", conversation_id=cid)
            await visitor.wait_for(lambda f: f == {"type": "status", "status": "resolved"})
            await agent_console.wait_for(of(cid, "resolved", resolved_by="agent"))

            # The visitor never saw the note, live or in the stored history.
            assert all("refund approved" not in json.dumps(f) for f in visitor.frames)
            history = await client.get(
                f"{gateway}/v1/widget/conversations/{cid}/messages", headers=session.headers
            )
            assert "refund approved" not in history.text
            # Agents see it, with everything else, in the conversation's agent view.
            view = await client.get(
                f"{gateway}/v1/agent/conversations/{cid}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert view.status_code == 200, view.text
            body = view.json()
            assert [n["text"] for n in body["notes"]] == ["Internal: refund approved by finance"]
            assert body["conversation"]["status"] == "resolved"
            assert body["conversation"]["assigned_agent"]["id"] == agent["agent_id"]
            assert any(m.get("author_name") == "Dana" for m in body["messages"])


# -- the race: an answer in flight when the agent joins -----------------------------------


async def _answers_of(
    consumer: AIOKafkaConsumer, conversations: set[str], timeout: float
) -> dict[str, AnswerScored]:
    found: dict[str, AnswerScored] = {}
    deadline = time.monotonic() + timeout
    while set(found) != conversations:
        assert time.monotonic() < deadline, f"{len(conversations) - len(found)} never answered"
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in records:
                key = (record.key or b"").decode()
                if key in conversations:
                    event = parse_event(record.value)
                    if isinstance(event, AnswerScored):
                        found.setdefault(key, event)
    return found


async def test_no_ai_reply_is_ever_stored_or_posted_after_the_agent_joined(
    running: dict[str, str], servers: Stack
) -> None:
    """30 conversations: the visitor asks, and the agent's join is published right after
    (0 to 5.4 s later, so that some answers land before the join and some after; in two
    of them the join goes out first, so that some answer surely lands after it). Whatever
    the interleaving, no AI message may be stored (and so posted) after the conversation
    service applied the join."""
    gateway = running["GATEWAY_URL"]
    answers = AIOKafkaConsumer(
        bootstrap_servers=servers.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=servers.kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await answers.start()
    await producer.start()
    try:
        partitions = [
            TopicPartition(ANSWERING_EVENTS.name, p) for p in range(ANSWERING_EVENTS.partitions)
        ]
        answers.assign(partitions)
        await answers.seek_to_end(*partitions)
        for partition in partitions:
            await answers.position(partition)

        sessions: list[WidgetSession] = []
        async with httpx.AsyncClient(timeout=20) as client:
            for _ in range(30):
                session = WidgetSession(gateway, running["DEMO_SITE_KEY"])
                await session.start(client)
                sessions.append(session)

            async def ask(session: WidgetSession) -> None:
                sent = await session.send(client, "How do I scale Tandem horizontally?")
                assert sent.status_code == 202, sent.text

            async def join(session: WidgetSession) -> None:
                joined = AgentJoined(
                    site_id=running.get("DEMO_SITE_ID", "demo"),
                    conversation_id=uuid.UUID(session.conversation_id),
                    agent_id=f"race-agent-{RUN}",
                    agent_name="Racer",
                )
                value, headers = encode(joined, source="/tests/e2e")
                await producer.send_and_wait(
                    joined.topic,
                    value,
                    key=joined.key,
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )

            async def ask_and_join(session: WidgetSession, offset: float) -> None:
                """The join ``offset`` seconds after the question (before it if negative):
                from "before the question" to "after the answer landed"."""
                first, second = (ask, join) if offset >= 0 else (join, ask)
                await first(session)
                await asyncio.sleep(abs(offset))
                await second(session)

            await asyncio.gather(*(ask_and_join(s, (i - 2) * 0.2) for i, s in enumerate(sessions)))
        ids = {s.conversation_id for s in sessions}
        scored = await _answers_of(answers, ids, timeout=120)
    finally:
        await answers.stop()
        await producer.stop()

    rows = await _until_applied(servers.postgres_dsn, ids)
    late = [r for r in rows if r["ai_after_join"]]
    assert late == [], f"AI messages stored after the join: {late}"
    suppressed = [r for r in rows if r["ai_messages"] == 0]
    posted_before = [r for r in rows if r["ai_messages"] > 0]
    print(
        f"\nrace: {len(suppressed)} answers dropped after the join, "
        f"{len(posted_before)} posted before it, 0 after"
    )
    # The race was really run: answers were computed for every question, and at least
    # one of them arrived after the join and was dropped.
    assert len(scored) == 30
    assert suppressed, "every answer beat the join: the race was not exercised"


async def _until_applied(dsn: str, ids: set[str], timeout: float = 120) -> list[dict[str, Any]]:
    """Per conversation, once the conversation service applied both the join and the
    answer (it records the answer's confidence even when it drops the answer): how many
    AI messages it stored, and how many of them after the join."""
    query = """
        SELECT c.conversation_id::text AS id,
               c.agent_joined_at IS NOT NULL AS joined,
               c.last_confidence IS NOT NULL AS answered,
               (SELECT count(*) FROM conversation.messages m
                 WHERE m.conversation_id = c.conversation_id AND m.author = 'ai') AS ai_messages,
               (SELECT count(*) FROM conversation.messages m
                 WHERE m.conversation_id = c.conversation_id AND m.author = 'ai'
                   AND m.stored_at > c.agent_joined_at) AS ai_after_join
        FROM conversation.conversations c WHERE c.conversation_id = ANY(%s::uuid[])
    """
    deadline = time.monotonic() + timeout
    while True:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            cur = await conn.execute(query, (list(ids),))
            columns = [c.name for c in cur.description or []]
            rows = [dict(zip(columns, row, strict=True)) for row in await cur.fetchall()]
        if len(rows) == len(ids) and all(r["joined"] and r["answered"] for r in rows):
            return rows
        assert time.monotonic() < deadline, "the conversation service did not apply everything"
        await asyncio.sleep(0.5)


# -- hold policy: a low-confidence answer waits for the agent ------------------------------


async def test_a_held_answer_reaches_the_visitor_only_once_an_agent_approves_it(
    running: dict[str, str], escalation_url: str
) -> None:
    gateway, conversation_url = running["GATEWAY_URL"], running["CONVERSATION_URL"]
    site_id = f"e2e-hold-{RUN}"
    async with httpx.AsyncClient(timeout=20) as client:
        site = await client.put(
            f"{conversation_url}/internal/sites/{site_id}",
            json={
                "name": "Hold e2e",
                "allowed_origins": ["*"],
                "greeting": "Hello",
                # Every answer is held (no confidence reaches 1.0) for an hour: only a
                # review releases it.
                "hold_below_confidence": 1.0,
                "hold_seconds": 3600,
            },
        )
        assert site.status_code == 200, site.text
        agent = await create_agent(client, escalation_url, site_id, "Hanna")
        token = await sign_in(client, gateway, agent)
        session = WidgetSession(gateway, site.json()["public_key"])
        await session.start(client)
        async with console(gateway, token) as agent_console, await session.connect() as ws:
            visitor = VisitorStream(ws)
            cid = session.conversation_id
            asked = await session.send(client, "What is the warranty on refurbished items?")
            assert asked.status_code == 202, asked.text

            held = await agent_console.wait_for(of(cid, "held_reply"), timeout=90)
            assert 0.0 <= held["confidence"] < 1.0
            # Held: the visitor has their question and nothing from the AI.
            await visitor.wait_for(lambda f: f.get("author") == "visitor")
            await asyncio.sleep(1.0)
            with contextlib.suppress(TimeoutError, AssertionError):
                await visitor.wait_for(lambda f: f.get("author") == "ai", timeout=1.0)
            assert not [f for f in visitor.frames if f.get("author") == "ai"]
            listed = await client.get(
                f"{gateway}/v1/agent/conversations",
                params={"filter": "flagged"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert cid in [c["conversation_id"] for c in listed.json()["conversations"]]

            await agent_console.command(
                type="approve",
                conversation_id=cid,
                held_message_id=held["message_id"],
                reason="checked the warranty page",
            )
            shown = await visitor.wait_for(lambda f: f.get("author") == "ai")
            assert shown["message_id"] == held["message_id"]
            assert shown["text"] == held["text"]
            released = await agent_console.wait_for(of(cid, "held_reply_released"))
            assert (released["outcome"], released["agent_id"]) == ("approved", agent["agent_id"])
