"""Two tenants on the running stack, and no way across: every widget and console API, and
both sockets, refuse site A's credentials on site B's data and never answer with it.

Each run makes two fresh sites (``iso-<random>-a`` and ``-b``), each with its own
knowledge-base document, owner agent and conversation, so concurrent runs and other
people's tests never meet. Every refusal is paired with a control that shows the same
request succeeds with the right tenant's credentials, so no check passes vacuously.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.client import WidgetSession, next_frame

pytestmark = pytest.mark.e2e

PASSWORD = "isolation-agent-password-0123"
RUN = uuid.uuid4().hex[:8]
REFUSED = (401, 403, 404)


@dataclass
class Tenant:
    site_id: str
    site_key: str
    greeting: str
    document_title: str
    document_url: str
    #: What only this tenant's knowledge base knows, and a question that finds it.
    fact: str
    question: str
    agent_id: str
    agent_name: str
    access_token: str
    visitor: WidgetSession
    #: A visitor message only this tenant's conversation holds.
    secret_message: str

    @property
    def conversation_id(self) -> str:
        return self.visitor.conversation_id


@dataclass
class Tenants:
    a: Tenant
    b: Tenant
    gateway: str
    conversation_url: str
    client: httpx.AsyncClient


def client_address() -> dict[str, str]:
    """A private client address (the gateway trusts X-Forwarded-For from localhost), so
    this run's requests never count against anyone else's rate limit."""
    octets = uuid.uuid4().bytes[:3]
    return {"X-Forwarded-For": f"10.{octets[0]}.{octets[1]}.{octets[2]}"}


def service_url(running: dict[str, str], name: str, default: str) -> str:
    return running.get(name) or default


# The two knowledge bases: distinct subjects, so a source from the other site could only
# come from a cross-tenant search.
KNOWLEDGE = {
    "a": (
        "Brindlemoor bakery hours",
        "The Brindlemoor bakery opens at 6:15 on weekdays and sells rye loaves until noon.",
        "When does the Brindlemoor bakery open?",
    ),
    "b": (
        "Vortenal lighthouse tours",
        "The Vortenal lighthouse tour departs every Thursday at 7:40 from pier 19. "
        "Tickets for the Vortenal lighthouse tour cost 31 euros at the harbour kiosk.",
        "When does the Vortenal lighthouse tour depart?",
    ),
}


async def make_tenant(client: httpx.AsyncClient, running: dict[str, str], label: str) -> Tenant:
    gateway = running["GATEWAY_URL"]
    conversation_url = service_url(running, "CONVERSATION_URL", "http://127.0.0.1:8001")
    answering_url = service_url(running, "ANSWERING_URL", "http://127.0.0.1:8002")
    escalation_url = service_url(running, "ESCALATION_URL", "http://127.0.0.1:8003")
    site_id = f"iso-{RUN}-{label}"
    greeting = f"Welcome to tenant {label.upper()} ({RUN})"
    site = await client.put(
        f"{conversation_url}/internal/sites/{site_id}",
        json={
            "name": f"Isolation {label.upper()} {RUN}",
            "allowed_origins": [],
            "greeting": greeting,
        },
    )
    assert site.status_code in (200, 201), site.text

    title, fact, question = KNOWLEDGE[label]
    url = f"https://{site_id}.example/kb/{label}"
    document = await client.put(
        f"{answering_url}/v1/admin/sites/{site_id}/documents/kb-{label}",
        json={"title": title, "url": url, "text": f"# {title}\n\n{fact}\n", "format": "markdown"},
    )
    assert document.status_code in (200, 201), document.text

    agent_id = uuid.uuid4().hex
    email = f"iso-{label}-{agent_id[:10]}@isolation.example"
    agent_name = f"Owner {label.upper()} {RUN}"
    agent = await client.put(
        f"{escalation_url}/internal/sites/{site_id}/agents/{agent_id}",
        json={
            "email": email,
            "name": agent_name,
            "role": "owner",
            "skills": [],
            "languages": ["en"],
            "max_concurrent": 3,
            "password": PASSWORD,
        },
    )
    assert agent.status_code in (200, 201), agent.text
    login = await client.post(
        f"{gateway}/v1/agent/login",
        json={"email": email, "password": PASSWORD},
        headers=client_address(),
    )
    assert login.status_code == 200, login.text
    assert login.json()["agent"]["site_id"] == site_id

    visitor = WidgetSession(gateway, site.json()["public_key"])
    await visitor.start(client)
    secret = f"tenant {label.upper()} private order number {uuid.uuid4().hex[:12]}"
    sent = await visitor.send(client, secret)
    assert sent.status_code == 202, sent.text
    # Let the AI answer it first, so later questions' answers are told apart by seq.
    async with await visitor.connect(after_seq=sent.json()["seq"]) as ws:
        await next_frame(ws, lambda f: f.get("author") in ("ai", "system"), timeout=60)
    return Tenant(
        site_id=site_id,
        site_key=site.json()["public_key"],
        greeting=greeting,
        document_title=title,
        document_url=url,
        fact=fact,
        question=question,
        agent_id=agent_id,
        agent_name=agent_name,
        access_token=login.json()["access_token"],
        visitor=visitor,
        secret_message=secret,
    )


@pytest.fixture(scope="module")
async def tenants(running: dict[str, str]) -> AsyncIterator[Tenants]:
    async with httpx.AsyncClient(timeout=30) as client:
        a = await make_tenant(client, running, "a")
        b = await make_tenant(client, running, "b")
        yield Tenants(
            a=a,
            b=b,
            gateway=running["GATEWAY_URL"],
            conversation_url=service_url(running, "CONVERSATION_URL", "http://127.0.0.1:8001"),
            client=client,
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: httpx.Response, *leaked: str) -> None:
    """A 401/403/404 with the gateway's error body, which names none of ``leaked``."""
    assert response.status_code in REFUSED, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    for secret in leaked:
        assert secret not in response.text, f"{secret!r} leaked in {response.text}"


async def history(tenants: Tenants, tenant: Tenant) -> list[dict[str, Any]]:
    response = await tenants.client.get(
        f"{tenants.gateway}/v1/widget/conversations/{tenant.conversation_id}/messages",
        headers=tenant.visitor.headers,
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def wait_until(check: Callable[[], Any], timeout: float = 30, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(every)


def ws_base(gateway: str) -> str:
    return gateway.replace("http://", "ws://").replace("https://", "wss://")


# -- knowledge: answers only ever come from the visitor's own site ------------------------


async def test_a_visitor_of_site_a_never_gets_site_b_documents_as_sources(
    tenants: Tenants,
) -> None:
    a, b, client = tenants.a, tenants.b, tenants.client

    async def ai_answer_to(session: WidgetSession, question: str) -> dict[str, Any]:
        async with await session.connect() as ws:
            sent = await session.send(client, question)
            assert sent.status_code == 202, sent.text
            asked_seq = sent.json()["seq"]
            return await next_frame(
                ws,
                lambda f: (
                    f.get("type") == "message"
                    and f.get("author") in ("ai", "system")
                    and f.get("seq", 0) > asked_seq
                ),
                timeout=60,
            )

    # Control: B's own visitor gets B's document for this question.
    own = await ai_answer_to(b.visitor, b.question)
    assert b.document_url in [s.get("url") for s in own.get("sources", [])], own

    # A's visitor asks the same: nothing of B's knowledge base comes back.
    answer = await ai_answer_to(a.visitor, b.question)
    sources = answer.get("sources", [])
    assert all(s.get("url") != b.document_url for s in sources), answer
    assert all(s.get("title") != b.document_title for s in sources), answer
    for detail in ("pier 19", "7:40", "31 euros"):
        assert detail not in answer.get("text", ""), answer
    assert all(b.document_url not in json.dumps(m) for m in await history(tenants, a))


# -- the widget API with site A's visitor token ---------------------------------------------


async def test_a_visitor_token_of_site_a_cannot_read_site_b_messages(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    refused = await tenants.client.get(
        f"{tenants.gateway}/v1/widget/conversations/{b.conversation_id}/messages",
        headers=a.visitor.headers,
    )
    assert_refused(refused, b.secret_message, b.greeting)
    # Control: B's own token reads it.
    assert any(m["text"] == b.secret_message for m in await history(tenants, b))


async def test_a_visitor_token_of_site_a_cannot_post_to_site_b_conversation(
    tenants: Tenants,
) -> None:
    a, b = tenants.a, tenants.b
    intrusion = f"written by tenant A into B {uuid.uuid4().hex}"
    refused = await tenants.client.post(
        f"{tenants.gateway}/v1/widget/conversations/{b.conversation_id}/messages",
        json={"text": intrusion, "client_message_id": uuid.uuid4().hex},
        headers=a.visitor.headers,
    )
    assert_refused(refused, b.secret_message)
    await asyncio.sleep(1.0)  # had it been accepted, it would be stored by now
    assert all(m["text"] != intrusion for m in await history(tenants, b))


async def test_a_visitor_token_of_site_a_cannot_rate_or_hand_off_site_b_conversation(
    tenants: Tenants,
) -> None:
    a, b = tenants.a, tenants.b
    base = f"{tenants.gateway}/v1/widget/conversations/{b.conversation_id}"
    rated = await tenants.client.post(
        f"{base}/rating", json={"score": 1, "comment": "from A"}, headers=a.visitor.headers
    )
    assert_refused(rated, b.secret_message)
    handed = await tenants.client.post(f"{base}/handoff", headers=a.visitor.headers)
    assert_refused(handed, b.secret_message)


async def test_a_visitor_token_of_site_a_cannot_delete_site_b_conversation(
    tenants: Tenants,
) -> None:
    a, b = tenants.a, tenants.b
    refused = await tenants.client.delete(
        f"{tenants.gateway}/v1/widget/conversations/{b.conversation_id}",
        headers=a.visitor.headers,
    )
    assert_refused(refused, b.secret_message)
    await asyncio.sleep(1.0)
    found = await tenants.client.get(
        f"{tenants.conversation_url}/internal/conversations/{b.conversation_id}"
    )
    assert found.status_code == 200, "B's conversation was deleted with A's token"
    assert any(m["text"] == b.secret_message for m in await history(tenants, b))


async def test_the_widget_stream_refuses_site_a_token_on_site_b_conversation(
    tenants: Tenants,
) -> None:
    a, b = tenants.a, tenants.b
    url = (
        f"{ws_base(tenants.gateway)}/v1/widget/conversations/{b.conversation_id}/stream"
        f"?token={a.visitor.token}&after_seq=0"
    )
    frames: list[str] = []
    refused_status: int | None = None
    try:
        async with websockets.connect(url) as ws:
            # Accepted and then closed at once is a refusal too, as long as no frame of
            # B's conversation came first.
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                while True:
                    frames.append(str(await asyncio.wait_for(ws.recv(), 3)))
            assert ws.close_code is not None and ws.close_code >= 4000, ws.close_code
    except InvalidStatus as denial:
        refused_status = denial.response.status_code
    assert refused_status is None or refused_status in REFUSED, refused_status
    assert not any(b.secret_message in f or b.greeting in f for f in frames), frames
    # Control: B's token streams B's history.
    async with await b.visitor.connect() as own:
        first = await next_frame(own, lambda f: f.get("type") == "message")
        assert first["text"] == b.greeting


async def test_the_widget_config_of_site_a_reveals_nothing_of_site_b(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b

    async def config(site_key: str) -> httpx.Response:
        return await tenants.client.get(
            f"{tenants.gateway}/v1/widget/config", headers={"X-Site-Key": site_key}
        )

    own = await config(a.site_key)
    assert own.status_code == 200, own.text
    assert own.json()["greeting"] == a.greeting
    for secret in (b.site_id, b.site_key, b.greeting, a.site_id):
        assert secret not in own.text, f"{secret!r} in site A's public config"
    other = await config(b.site_key)
    assert other.json()["greeting"] == b.greeting and a.greeting not in other.text


async def test_tokens_of_one_kind_are_not_accepted_as_the_other(tenants: Tenants) -> None:
    """An agent's access token is no visitor token, and a visitor token no agent's."""
    a, b = tenants.a, tenants.b
    as_visitor = await tenants.client.get(
        f"{tenants.gateway}/v1/widget/conversations/{b.conversation_id}/messages",
        headers=bearer(a.access_token),
    )
    assert_refused(as_visitor, b.secret_message)
    as_agent = await tenants.client.get(
        f"{tenants.gateway}/v1/agent/conversations/{b.conversation_id}",
        headers=bearer(b.visitor.token),
    )
    assert_refused(as_agent, b.secret_message)
    listed = await tenants.client.get(
        f"{tenants.gateway}/v1/agent/conversations", headers=bearer(b.visitor.token)
    )
    assert_refused(listed, b.conversation_id)


# -- the console API with site A's agent token ----------------------------------------------


async def listed_ids(tenants: Tenants, tenant: Tenant, **params: str) -> set[str]:
    response = await tenants.client.get(
        f"{tenants.gateway}/v1/agent/conversations",
        params=params,
        headers=bearer(tenant.access_token),
    )
    assert response.status_code == 200, response.text
    return {str(c.get("conversation_id")) for c in response.json()["conversations"]}


async def test_an_agent_of_site_a_never_lists_site_b_conversations(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b

    async def both_listed() -> bool:
        return b.conversation_id in await listed_ids(
            tenants, b
        ) and a.conversation_id in await listed_ids(tenants, a)

    # Control: each site's agent sees their own conversation once the services caught up.
    await wait_until(both_listed)
    for params in (
        {},
        {"filter": "all"},
        {"filter": "waiting"},
        {"filter": "flagged"},
        {"filter": "mine"},
        {"status": "active"},
        {"limit": "500"},
    ):
        seen = await listed_ids(tenants, a, **params)
        assert b.conversation_id not in seen, params


async def test_an_agent_of_site_a_cannot_read_site_b_conversation(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    refused = await tenants.client.get(
        f"{tenants.gateway}/v1/agent/conversations/{b.conversation_id}",
        headers=bearer(a.access_token),
    )
    assert_refused(refused, b.secret_message, b.greeting)
    own = await tenants.client.get(
        f"{tenants.gateway}/v1/agent/conversations/{b.conversation_id}",
        headers=bearer(b.access_token),
    )
    assert own.status_code == 200 and b.secret_message in own.text


async def test_an_agent_of_site_a_cannot_act_on_site_b_conversation(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    base = f"{tenants.gateway}/v1/agent/conversations/{b.conversation_id}"
    marker = f"agent A was here {uuid.uuid4().hex}"
    some_message = str(uuid.uuid4())
    commands: list[tuple[str, dict[str, Any] | None]] = [
        ("join", {}),
        ("leave", {}),
        ("messages", {"text": marker, "client_message_id": uuid.uuid4().hex}),
        ("typing", None),
        (f"held-replies/{some_message}", {"decision": "approve"}),
        (f"held-replies/{some_message}", {"decision": "edit", "text": marker}),
        ("notes", {"text": marker}),
        ("corrections", {"message_id": some_message, "text": marker}),
        ("escalate", {"reason": marker}),
        ("transfer", {"to_agent_id": a.agent_id}),
        ("resolve", {}),
    ]
    for path, body in commands:
        response = await tenants.client.post(
            f"{base}/{path}", json=body, headers=bearer(a.access_token)
        )
        assert_refused(response, b.secret_message)

    await asyncio.sleep(1.5)  # had any been accepted, its effect would show by now
    view = await tenants.client.get(base, headers=bearer(b.access_token))
    assert view.status_code == 200, view.text
    assert marker not in view.text and a.agent_id not in view.text and a.agent_name not in view.text
    state = await tenants.client.get(
        f"{tenants.conversation_url}/internal/conversations/{b.conversation_id}"
    )
    assert state.json()["status"] != "resolved"
    assert (
        state.json()["assigned_agent"] is None or state.json()["assigned_agent"]["id"] != a.agent_id
    )


async def test_an_agent_of_site_a_cannot_transfer_a_conversation_to_site_b_agent(
    tenants: Tenants,
) -> None:
    """Handing one's own conversation to another site's agent would show that agent's
    name to this site's visitor and count against their load: refused, or never applied."""
    a, b = tenants.a, tenants.b
    base = f"{tenants.gateway}/v1/agent/conversations/{a.conversation_id}"
    joined = await tenants.client.post(f"{base}/join", json={}, headers=bearer(a.access_token))
    assert joined.status_code == 202, joined.text
    transfer = await tenants.client.post(
        f"{base}/transfer", json={"to_agent_id": b.agent_id}, headers=bearer(a.access_token)
    )
    if transfer.status_code == 202:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = (
                await tenants.client.get(
                    f"{tenants.conversation_url}/internal/conversations/{a.conversation_id}"
                )
            ).json()
            assigned = state.get("assigned_agent") or {}
            assert assigned.get("id") != b.agent_id, f"assigned to site B's agent: {state}"
            assert b.agent_name not in json.dumps(state), state
            await asyncio.sleep(0.5)
        frames = json.dumps(await history(tenants, a))
        assert b.agent_name not in frames, "site B's agent's name reached site A's visitor"
    else:
        assert transfer.status_code in (403, 404, 409, 422), transfer.text
        assert b.agent_name not in transfer.text


# -- the console socket with site A's agent token -------------------------------------------


class ConsoleSocket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def command(self, **frame: Any) -> dict[str, Any]:
        ref = uuid.uuid4().hex
        await self.ws.send(json.dumps({**frame, "ref": ref}))
        deadline = time.monotonic() + 15
        while True:
            answer: dict[str, Any] = json.loads(
                await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic())
            )
            self.frames.append(answer)
            if answer.get("ref") == ref:
                return answer

    async def drain(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                self.frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), remaining)))


@contextlib.asynccontextmanager
async def console(gateway: str, token: str) -> AsyncIterator[ConsoleSocket]:
    async with websockets.connect(
        f"{ws_base(gateway)}/v1/agent/stream", additional_headers={"Origin": gateway}
    ) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ready["type"] == "ready", ready
        yield ConsoleSocket(ws)


async def test_the_console_socket_of_site_a_cannot_watch_or_command_site_b_conversation(
    tenants: Tenants,
) -> None:
    a, b = tenants.a, tenants.b
    marker = f"socket agent A was here {uuid.uuid4().hex}"
    cid = b.conversation_id
    async with console(tenants.gateway, a.access_token) as socket_a:
        for frame in (
            {"type": "watch", "conversation_id": cid},
            {"type": "join", "conversation_id": cid},
            {"type": "reply", "conversation_id": cid, "text": marker},
            {"type": "note", "conversation_id": cid, "text": marker},
            {"type": "typing", "conversation_id": cid},
            {"type": "escalate", "conversation_id": cid},
            {"type": "resolve", "conversation_id": cid},
        ):
            answer = await socket_a.command(**frame)
            assert answer["type"] == "error", (frame, answer)
            assert answer["error"]["code"] in ("not_found", "forbidden"), answer
            assert b.secret_message not in json.dumps(answer)
        # Control: the same watch on A's own conversation is acknowledged.
        own = await socket_a.command(type="watch", conversation_id=a.conversation_id)
        assert own["type"] == "ack", own
    await asyncio.sleep(1.0)
    view = await tenants.client.get(
        f"{tenants.gateway}/v1/agent/conversations/{cid}", headers=bearer(b.access_token)
    )
    assert marker not in view.text


async def test_the_console_socket_of_site_a_receives_nothing_of_site_b(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    cid = b.conversation_id
    async with (
        console(tenants.gateway, a.access_token) as socket_a,
        console(tenants.gateway, b.access_token) as socket_b,
    ):
        # Both try to watch B's conversation: only B's agent may, and gets its frames.
        assert (await socket_b.command(type="watch", conversation_id=cid))["type"] == "ack"
        assert (await socket_a.command(type="watch", conversation_id=cid))["type"] == "error"
        text = f"tenant B live message {uuid.uuid4().hex}"
        sent = await b.visitor.send(tenants.client, text)
        assert sent.status_code == 202, sent.text

        # Control: B's console hears about it.
        deadline = time.monotonic() + 30
        while not any(f.get("conversation_id") == cid for f in socket_b.frames):
            assert time.monotonic() < deadline, f"B's console saw nothing: {socket_b.frames}"
            await socket_b.drain(0.5)
        await socket_a.drain(3.0)
        leaked = [
            f
            for f in socket_a.frames
            if f.get("conversation_id") == cid
            or text in json.dumps(f)
            or b.site_id in json.dumps(f)
        ]
        assert not leaked, leaked


# -- the dashboard (owners and admins) with site A's owner token ----------------------------


async def test_the_dashboard_of_site_a_never_lists_or_finds_site_b_conversations(
    tenants: Tenants,
) -> None:
    a, b = tenants.a, tenants.b

    async def browse(tenant: Tenant, **params: str) -> httpx.Response:
        return await tenants.client.get(
            f"{tenants.gateway}/v1/admin/conversations",
            params=params,
            headers=bearer(tenant.access_token),
        )

    # Control: B's owner finds B's conversation by its message text.
    own = await browse(b, q=b.secret_message)
    assert own.status_code == 200, own.text
    assert b.conversation_id in own.text
    for params in ({}, {"q": b.secret_message}, {"q": b.conversation_id}, {"limit": "200"}):
        listed = await browse(a, **params)
        assert listed.status_code == 200, listed.text
        assert b.conversation_id not in listed.text and b.secret_message not in listed.text, params


async def test_the_dashboard_of_site_a_cannot_open_site_b_conversation(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    refused = await tenants.client.get(
        f"{tenants.gateway}/v1/admin/conversations/{b.conversation_id}",
        headers=bearer(a.access_token),
    )
    assert_refused(refused, b.secret_message, b.greeting)
    own = await tenants.client.get(
        f"{tenants.gateway}/v1/admin/conversations/{b.conversation_id}",
        headers=bearer(b.access_token),
    )
    assert own.status_code == 200 and b.secret_message in own.text


async def test_the_dashboard_of_site_a_never_shows_or_deletes_site_b_documents(
    tenants: Tenants, running: dict[str, str]
) -> None:
    a, b = tenants.a, tenants.b
    listed = await tenants.client.get(
        f"{tenants.gateway}/v1/admin/documents", headers=bearer(a.access_token)
    )
    assert listed.status_code == 200, listed.text
    assert a.document_url in listed.text  # control: A's own document is there
    assert b.document_url not in listed.text and b.document_title not in listed.text

    deleted = await tenants.client.delete(
        f"{tenants.gateway}/v1/admin/documents/kb-b", headers=bearer(a.access_token)
    )
    assert deleted.status_code in (*REFUSED, 204), deleted.text
    answering = service_url(running, "ANSWERING_URL", "http://127.0.0.1:8002")
    still = await tenants.client.get(f"{answering}/v1/admin/sites/{b.site_id}/documents/kb-b")
    assert still.status_code == 200, "site B's document was deleted by site A's owner"


async def test_the_team_and_roster_of_site_a_never_show_site_b_agents(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    for path in ("/v1/admin/agents", "/v1/agent/roster"):
        response = await tenants.client.get(
            f"{tenants.gateway}{path}", headers=bearer(a.access_token)
        )
        assert response.status_code == 200, (path, response.text)
        assert a.agent_id in response.text, path  # control: A's own team is listed
        assert b.agent_id not in response.text and b.agent_name not in response.text, path


async def test_an_owner_of_site_a_cannot_take_over_site_b_agent(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    hijacker_email = f"hijack-{uuid.uuid4().hex[:10]}@isolation.example"
    hijacker_password = "hijacked-password-0123"
    taken = await tenants.client.put(
        f"{tenants.gateway}/v1/admin/agents/{b.agent_id}",
        json={
            "email": hijacker_email,
            "name": "Hijacked",
            "role": "owner",
            "password": hijacker_password,
        },
        headers=bearer(a.access_token),
    )
    assert 400 <= taken.status_code < 500, taken.text
    # B's agent still signs in as before, on site B, under its name; the new one does not.
    login = await tenants.client.post(
        f"{tenants.gateway}/v1/agent/login",
        json={"email": hijacker_email, "password": hijacker_password},
        headers=client_address(),
    )
    assert login.status_code == 401, login.text
    me = await tenants.client.get(f"{tenants.gateway}/v1/agent/me", headers=bearer(b.access_token))
    assert me.status_code == 200, me.text
    assert me.json()["site_id"] == b.site_id and me.json()["name"] == b.agent_name


async def test_the_dashboard_site_settings_of_site_a_are_only_site_a(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    settings = await tenants.client.get(
        f"{tenants.gateway}/v1/admin/site", headers=bearer(a.access_token)
    )
    assert settings.status_code == 200, settings.text
    assert a.greeting in settings.text
    for secret in (b.site_id, b.site_key, b.greeting):
        assert secret not in settings.text


# -- the answering policy (curated answers, threshold, fallback text) -----------------------


async def test_the_answering_policy_of_site_b_is_out_of_reach_of_site_a(
    tenants: Tenants, running: dict[str, str]
) -> None:
    a, b, client, gateway = tenants.a, tenants.b, tenants.client, tenants.gateway
    pinned = f"tenant B pinned answer {uuid.uuid4().hex}"
    fallback_b = f"tenant B fallback {uuid.uuid4().hex}"
    created = await client.post(
        f"{gateway}/v1/admin/curated-answers",
        json={"question": f"What does tenant B pin {RUN}?", "answer": pinned},
        headers=bearer(b.access_token),
    )
    assert created.status_code == 201, created.text
    b_entry = created.json()["curated_id"]
    changed = await client.put(
        f"{gateway}/v1/admin/answering-settings",
        json={"answer_threshold": 0.77, "fallback_text": fallback_b},
        headers=bearer(b.access_token),
    )
    assert changed.status_code == 200, changed.text
    own = await client.post(
        f"{gateway}/v1/admin/curated-answers",
        json={"question": f"What does tenant A pin {RUN}?", "answer": "A's own answer"},
        headers=bearer(a.access_token),
    )
    assert own.status_code == 201, own.text

    # A's lists and settings hold A's own entry (the control) and nothing of B's.
    listed = await client.get(f"{gateway}/v1/admin/curated-answers", headers=bearer(a.access_token))
    assert listed.status_code == 200, listed.text
    assert own.json()["curated_id"] in listed.text
    assert b_entry not in listed.text and pinned not in listed.text
    settings = await client.get(
        f"{gateway}/v1/admin/answering-settings", headers=bearer(a.access_token)
    )
    assert settings.status_code == 200, settings.text
    assert fallback_b not in settings.text and b.site_id not in settings.text
    assert settings.json()["answer_threshold"] != 0.77

    # B's entry by its id, with A's token: not found, whatever the method.
    entry = f"{gateway}/v1/admin/curated-answers/{b_entry}"
    intrusion = {"question": "Hijacked?", "answer": f"written by tenant A {uuid.uuid4().hex}"}
    for method, body in (("GET", None), ("PUT", intrusion), ("DELETE", None)):
        refused = await client.request(method, entry, json=body, headers=bearer(a.access_token))
        assert_refused(refused, pinned)

    # A changing A's settings leaves B's as B set them; B's entry is intact.
    mine = await client.put(
        f"{gateway}/v1/admin/answering-settings",
        json={"answer_threshold": 0.11, "fallback_text": "A's fallback"},
        headers=bearer(a.access_token),
    )
    assert mine.status_code == 200, mine.text
    answering = service_url(running, "ANSWERING_URL", "http://127.0.0.1:8002")
    stored = await client.get(f"{answering}/v1/admin/sites/{b.site_id}/answering-settings")
    assert stored.status_code == 200, stored.text
    assert (stored.json()["answer_threshold"], stored.json()["fallback_text"]) == (0.77, fallback_b)
    kept = await client.get(entry, headers=bearer(b.access_token))
    assert kept.status_code == 200, kept.text
    assert kept.json()["answer"] == pinned


# -- the dashboard's conversation filters and paging ----------------------------------------


async def test_no_filter_or_page_of_site_a_reaches_site_b_conversations(tenants: Tenants) -> None:
    """Filtering is SQL in the conversation service; every combination, and every page of
    a cursor walk (even with a cursor taken from B's listing), stays within A's site."""
    a, b = tenants.a, tenants.b

    async def browse(tenant: Tenant, **params: str) -> dict[str, Any]:
        response = await tenants.client.get(
            f"{tenants.gateway}/v1/admin/conversations",
            params=params,
            headers=bearer(tenant.access_token),
        )
        assert response.status_code == 200, (params, response.text)
        body: dict[str, Any] = response.json()
        return body

    today = time.strftime("%Y-%m-%d", time.gmtime())
    secret_word = b.secret_message.split()[-1]  # the random number only B's visitor typed
    filters: list[dict[str, str]] = [
        {"q": secret_word},
        {"q": f'"{b.secret_message}"'},
        {"q": b.conversation_id},
        {"from": today, "to": today},
        {"language": "en"},
        {"confidence": "low"},
        {"confidence": "high"},
        {"confidence": "none"},
        {"escalated": "false"},
        {"escalated": "true"},
        {"status": "active"},
        {"status": "pending"},
    ]
    # Control: B finds its own conversation by what its visitor typed.
    own = await browse(b, q=secret_word)
    assert b.conversation_id in [c["conversation_id"] for c in own["conversations"]]
    for params in filters:
        listed = await browse(a, **params)
        assert b.conversation_id not in json.dumps(listed), params
        assert b.secret_message not in json.dumps(listed), params

    # A cursor walk over A's whole list, one at a time.
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        page = await browse(a, limit="1", **({"cursor": cursor} if cursor else {}))
        seen += [c["conversation_id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert a.conversation_id in seen and b.conversation_id not in seen

    # B's own cursor, replayed with A's token: still only A's conversations.
    b_page = await browse(b, limit="1")
    if b_page["next_cursor"]:
        replayed = await browse(a, cursor=b_page["next_cursor"])
        assert all(c["site_id"] == a.site_id for c in replayed["conversations"])
        assert b.conversation_id not in json.dumps(replayed)


# -- invitations: list, withdraw, accept ------------------------------------------------------


async def test_invitations_stay_on_their_site(tenants: Tenants) -> None:
    a, b, client, gateway = tenants.a, tenants.b, tenants.client, tenants.gateway
    invitee = f"iso-invitee-{uuid.uuid4().hex[:10]}@isolation.example"
    created = await client.post(
        f"{gateway}/v1/admin/invitations",
        json={"email": invitee, "role": "admin"},
        headers=bearer(b.access_token),
    )
    assert created.status_code == 201, created.text
    b_invitation = created.json()["invitation_id"]
    token = created.json()["token"]

    # A's list holds nothing of B's; B's holds it (the control).
    listed_a = await client.get(f"{gateway}/v1/admin/invitations", headers=bearer(a.access_token))
    assert listed_a.status_code == 200, listed_a.text
    assert b_invitation not in listed_a.text and invitee not in listed_a.text
    listed_b = await client.get(f"{gateway}/v1/admin/invitations", headers=bearer(b.access_token))
    assert b_invitation in listed_b.text

    # A cannot withdraw it, and the attempt changes nothing.
    refused = await client.delete(
        f"{gateway}/v1/admin/invitations/{b_invitation}", headers=bearer(a.access_token)
    )
    assert_refused(refused, invitee)
    listed_b = await client.get(f"{gateway}/v1/admin/invitations", headers=bearer(b.access_token))
    assert b_invitation in listed_b.text

    # Accepting (from anywhere) makes an admin of B's site, never of A's.
    joined = await client.post(
        f"{gateway}/v1/invitations/accept",
        json={"token": token, "name": f"Invitee {RUN}", "password": PASSWORD},
        headers=client_address(),
    )
    assert joined.status_code == 201, joined.text
    agent = joined.json()["agent"]
    assert (agent["site_id"], agent["role"]) == (b.site_id, "admin")
    login = await client.post(
        f"{gateway}/v1/agent/login",
        json={"email": invitee, "password": PASSWORD},
        headers=client_address(),
    )
    assert login.status_code == 200 and login.json()["agent"]["site_id"] == b.site_id
    team_a = await client.get(f"{gateway}/v1/admin/agents", headers=bearer(a.access_token))
    assert invitee not in team_a.text and agent["agent_id"] not in team_a.text
    # The new admin sees B's team and conversations, none of A's.
    new_admin = login.json()["access_token"]
    listed = await client.get(f"{gateway}/v1/admin/conversations", headers=bearer(new_admin))
    assert listed.status_code == 200, listed.text
    assert a.conversation_id not in listed.text
    again = await client.post(
        f"{gateway}/v1/invitations/accept",
        json={"token": token, "name": "Second Use", "password": PASSWORD},
        headers=client_address(),
    )
    assert again.status_code == 410 and again.json()["error"]["code"] == "invitation_used"
