"""The issue-2 path end to end, through all five running services and the real servers:
ask over HTTP → MessageReceived → answering (Weaviate + model) → AnswerScored →
conversation (stores both with seq) → ReplyPosted → gateway → visitor's websocket."""

from __future__ import annotations

import asyncio
import time

import httpx
import psycopg
import pytest

from tests.e2e.client import WidgetSession, next_frame


def _is_ai(frame: dict) -> bool:  # type: ignore[type-arg]
    return frame.get("type") == "message" and frame.get("author") == "ai"


async def test_question_over_http_gets_ai_reply_with_confidence_and_sources_on_the_socket(
    running: dict[str, str],
) -> None:
    session = WidgetSession(running["GATEWAY_URL"], running["DEMO_SITE_KEY"])
    async with httpx.AsyncClient(timeout=10) as client:
        started = await session.start(client)
        assert started["greeting"]["seq"] == 1
        async with await session.connect(after_seq=0) as ws:
            greeting = await next_frame(ws, lambda f: f.get("type") == "message")
            assert greeting["seq"] == 1
            sent = await session.send(client, "How do I stop Tandem and delete the local data?")
            assert sent.status_code == 202, sent.text
            body = sent.json()
            assert body["seq"] == 2
            visitor = await next_frame(ws, lambda f: f.get("message_id") == body["message_id"])
            assert visitor["author"] == "visitor" and visitor["seq"] == 2
            reply = await next_frame(ws, _is_ai, timeout=60)
    assert reply["seq"] == 3
    assert 0.0 <= reply["confidence"] <= 1.0
    assert reply["language"]
    assert reply["sources"], "an AI answer names its sources"
    titles = [source["title"] for source in reply["sources"]]
    assert titles[0] in ("Getting started with Tandem", "Frequently asked questions"), titles
    assert "make purge" in reply["text"]
    async with httpx.AsyncClient(timeout=10) as client:
        cited = await client.get(reply["sources"][0]["url"])
    assert cited.status_code == 200, "a cited source is a link that opens"


async def test_reconnect_with_after_seq_gets_exactly_the_missed_messages(
    running: dict[str, str],
) -> None:
    session = WidgetSession(running["GATEWAY_URL"], running["DEMO_SITE_KEY"])
    async with httpx.AsyncClient(timeout=10) as client:
        await session.start(client)
        async with await session.connect(after_seq=0) as ws:
            await session.send(client, "What does the confidence percentage mean?")
            first_reply = await next_frame(ws, _is_ai, timeout=60)
        last_seen = first_reply["seq"]  # 3: greeting, question, answer
        # Offline: two more questions are answered while no socket is open.
        stored: list[dict] = []  # type: ignore[type-arg]
        for question, expected in (
            ("Which languages does Tandem support?", 5),
            ("How do I scale Tandem?", 7),
        ):
            assert (await session.send(client, question)).status_code == 202
            deadline = time.monotonic() + 60
            while len(stored) < expected and time.monotonic() < deadline:
                r = await client.get(
                    f"{session.gateway}/v1/widget/conversations/{session.conversation_id}/messages",
                    params={"after_seq": 0},
                    headers=session.headers,
                )
                stored = r.json()["messages"]
                await asyncio.sleep(0.1)
        assert [m["seq"] for m in stored] == [1, 2, 3, 4, 5, 6, 7]

        async with await session.connect(after_seq=last_seen) as ws:
            replayed = [
                await next_frame(ws, lambda f: f.get("type") == "message") for _ in range(4)
            ]
            # Nothing else may follow: no duplicates of what the client already had.
            with pytest.raises((TimeoutError, asyncio.TimeoutError)):
                await next_frame(ws, lambda f: f.get("type") == "message", timeout=1.5)
    assert [m["seq"] for m in replayed] == [4, 5, 6, 7]
    assert [m["author"] for m in replayed] == ["visitor", "ai", "visitor", "ai"]


async def test_resent_client_message_id_creates_nothing_new(running: dict[str, str]) -> None:
    session = WidgetSession(running["GATEWAY_URL"], running["DEMO_SITE_KEY"])
    async with httpx.AsyncClient(timeout=10) as client:
        await session.start(client)
        first = await session.send(client, "Where are the logs?", client_message_id="retry-1")
        again = await session.send(client, "Where are the logs?", client_message_id="retry-1")
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = await client.get(
                f"{session.gateway}/v1/widget/conversations/{session.conversation_id}/messages",
                headers=session.headers,
            )
            messages = r.json()["messages"]
            if any(m["author"] == "ai" for m in messages):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a duplicate would have been stored by now
        r = await client.get(
            f"{session.gateway}/v1/widget/conversations/{session.conversation_id}/messages",
            headers=session.headers,
        )
    authors = [m["author"] for m in r.json()["messages"]]
    assert authors == ["system", "visitor", "ai"]


async def test_deleted_conversation_is_forgotten_by_every_store(running: dict[str, str]) -> None:
    import os

    session = WidgetSession(running["GATEWAY_URL"], running["DEMO_SITE_KEY"])
    async with httpx.AsyncClient(timeout=10) as client:
        await session.start(client)
        assert (await session.send(client, "I want to talk to a human")).status_code == 202
        # Wait until the conversation reached every store.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = await client.get(
                f"{session.gateway}/v1/widget/conversations/{session.conversation_id}/messages",
                headers=session.headers,
            )
            if len(r.json()["messages"]) >= 3:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        deleted = await client.delete(
            f"{session.gateway}/v1/widget/conversations/{session.conversation_id}",
            headers=session.headers,
        )
        assert deleted.status_code == 202
        after = await session.send(client, "still there?")
        assert after.status_code == 410

    dsn = os.environ["TANDEM_POSTGRES_DSN"]
    cid = session.conversation_id
    deadline = time.monotonic() + 30
    leftovers: list[str] = []
    while time.monotonic() < deadline:
        leftovers = []
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            cur = await conn.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE column_name = 'conversation_id' AND table_schema IN "
                "('conversation', 'escalation', 'analytics', 'answering') "
                "AND table_name <> 'deleted_conversations'"
            )
            for schema, table, column in await cur.fetchall():
                found = await conn.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text = %s', (cid,)
                )
                row = await found.fetchone()
                if row and row[0]:
                    leftovers.append(f"{schema}.{table}")
        if not leftovers:
            break
        await asyncio.sleep(0.5)
    assert not leftovers, f"rows of the deleted conversation remain in {leftovers}"

    import redis.asyncio as aioredis

    r = aioredis.from_url(os.environ["TANDEM_REDIS_URL"])
    keys = [k async for k in r.scan_iter(match=f"*{cid}*")]
    await r.aclose()
    # Only the gateway's deletion marker may remain (it refuses further posts with 410).
    assert all(b"deleted" in k for k in keys), keys
