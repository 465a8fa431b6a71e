"""The analytics service against real Kafka and PostgreSQL.

The service runs in-process (``create_app`` + its lifespan) with a throwaway consumer group
that starts at the *latest* offsets, so it never replays the topics' history; the tests
publish only after the group owns every partition and has resolved its start offsets. The
``analytics`` schema is shared with other runs, so each test uses its own site id and
fresh conversation ids, and looks only at those.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tandem_analytics.app import create_app
from tandem_analytics.entrypoints.consumers import SUBSCRIBED_TOPICS
from tandem_analytics.settings import AnalyticsSettings
from tandem_events import (
    AgentAssigned,
    AgentPresenceChanged,
    AgentReplied,
    AnswerScored,
    ConversationDeleted,
    ConversationDeletionRequested,
    ConversationRated,
    ConversationResolved,
    ConversationStarted,
    EscalationQueued,
    EscalationRaised,
    Event,
    HeldReplyReleased,
    MessageReceived,
    NoteAdded,
    ReplyCorrected,
    ReplyHeld,
    ReplyPosted,
    Source,
)
from tandem_events.wire import encode

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------- helpers


async def wait_until_consuming(app: FastAPI, timeout: float = 60.0) -> None:
    """Until the service's consumer owns every partition of its topics and knows where it
    starts reading, so nothing published afterwards is skipped by the "latest" reset."""
    consumer: AIOKafkaConsumer = app.state.subscriber.consumer
    expected = sum(topic.partitions for topic in SUBSCRIBED_TOPICS)
    deadline = time.monotonic() + timeout
    while len(consumer.assignment()) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer owns {len(consumer.assignment())}/{expected} partitions")
        await asyncio.sleep(0.1)
    for partition in consumer.assignment():
        await consumer.position(partition)


async def wait_processed(
    app: FastAPI, sent: Sequence[RecordMetadata], timeout: float = 20.0
) -> None:
    """Until the service's group has committed past every record in ``sent`` (commits
    follow the projection's transaction, so its effects are durable)."""
    consumer: AIOKafkaConsumer = app.state.subscriber.consumer
    last: dict[TopicPartition, int] = {}
    for record in sent:
        partition = TopicPartition(record.topic, record.partition)
        last[partition] = max(last.get(partition, -1), record.offset)
    deadline = time.monotonic() + timeout
    for partition, offset in last.items():
        while True:
            committed = await consumer.committed(partition)
            if committed is not None and committed > offset:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"offset {offset} of {partition} not processed")
            await asyncio.sleep(0.05)


async def publish_all(producer: AIOKafkaProducer, events: Sequence[Event]) -> list[RecordMetadata]:
    sent = []
    for event in events:
        value, headers = encode(event, source="/tests/analytics")
        sent.append(
            await producer.send_and_wait(
                event.topic,
                value,
                key=event.key,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        )
    return sent


async def rows_of(dsn: str, conversation_id: uuid.UUID) -> dict[str, int]:
    """Rows about the conversation in every ``analytics`` table with a conversation_id."""
    counts: dict[str, int] = {}
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'analytics' AND column_name = 'conversation_id'"
        )
        tables = [row[0] for row in await cur.fetchall()]
        assert {"conversations", "messages", "answers", "escalations"} <= set(tables)
        for table in tables:
            cur = await conn.execute(
                f'SELECT count(*) FROM analytics."{table}" WHERE conversation_id = %s',
                (conversation_id,),
            )
            counts[table] = (await cur.fetchone())[0]  # type: ignore[index]
    return counts


async def echoed_by_running_services(dsn: str, events: Sequence[Event]) -> bool:
    """Whether another service wrote messages for these conversations (message ids that
    none of ``events`` carries): a running conversation service does."""
    ours = [e.message_id for e in events if isinstance(e, MessageReceived | ReplyPosted)]
    conversations = list({e.conversation_id for e in events})
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM analytics.messages "
            "WHERE conversation_id = ANY(%s) AND NOT (message_id = ANY(%s))",
            (conversations, ours),
        )
        row = await cur.fetchone()
    return bool(row and row[0])


class Script:
    """Two small scripted conversations of one site, at fixed times yesterday (UTC)."""

    def __init__(self) -> None:
        self.site = f"site-an-{uuid.uuid4().hex[:10]}"
        self.escalated = uuid.uuid4()
        self.answered = uuid.uuid4()
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        self.day = yesterday
        self.t0 = datetime(yesterday.year, yesterday.month, yesterday.day, 9, 0, tzinfo=UTC)

    def at(self, minutes: float) -> datetime:
        return self.t0 + timedelta(minutes=minutes)

    def events(self) -> list[Event]:
        site, a, b = self.site, self.escalated, self.answered
        a_question, b_question = uuid.uuid4(), uuid.uuid4()
        b_reply = uuid.uuid4()
        return [
            # A: French visitor, two poor answers to the same question, escalated,
            # rated and resolved.
            ConversationStarted(
                site_id=site,
                conversation_id=a,
                occurred_at=self.at(0),
                locale="fr",
                greeting_message_id=uuid.uuid4(),
                greeting_seq=1,
                greeting_text="Bonjour !",
            ),
            MessageReceived(
                site_id=site,
                conversation_id=a,
                occurred_at=self.at(1),
                message_id=a_question,
                client_message_id="a-2",
                seq=2,
                text="Où est ma commande ?",
            ),
            answer(site, a, a_question, "Où est ma commande ?", 0.4, False, "fr", self.at(1.1)),
            answer(site, a, a_question, "où est ma COMMANDE", 0.3, False, "fr", self.at(1.2)),
            EscalationRaised(
                site_id=site,
                conversation_id=a,
                occurred_at=self.at(1.3),
                reason="low_confidence",
                detail="2 AI answers in a row below 70% confidence",
                summary="...",
            ),
            ConversationRated(site_id=site, conversation_id=a, occurred_at=self.at(5), score=4),
            ConversationResolved(
                site_id=site,
                conversation_id=a,
                occurred_at=self.at(6),
                resolved_by="agent",
                duration_seconds=360,
            ),
            # B: English visitor (widget locale unknown), one good answer posted 2.5 s
            # after the question; the visitor's message is also reported by ReplyPosted.
            ConversationStarted(
                site_id=site,
                conversation_id=b,
                occurred_at=self.at(180),
                greeting_message_id=uuid.uuid4(),
                greeting_seq=1,
                greeting_text="Hello!",
            ),
            MessageReceived(
                site_id=site,
                conversation_id=b,
                occurred_at=self.at(181),
                message_id=b_question,
                client_message_id="b-2",
                seq=2,
                text="Do you ship to Norway?",
            ),
            ReplyPosted(
                site_id=site,
                conversation_id=b,
                occurred_at=self.at(181),
                message_id=b_question,
                seq=2,
                author="visitor",
                text="Do you ship to Norway?",
                created_at=self.at(181),
            ),
            answer(site, b, b_question, "Do you ship to Norway?", 0.9, True, "en", self.at(181)),
            ReplyPosted(
                site_id=site,
                conversation_id=b,
                occurred_at=self.at(181) + timedelta(seconds=2.5),
                message_id=b_reply,
                seq=3,
                author="ai",
                text="Yes, we ship to Norway.",
                created_at=self.at(181) + timedelta(seconds=2.5),
                in_reply_to=b_question,
                confidence=0.9,
                language="en",
            ),
        ]


def answer(
    site: str,
    conversation_id: uuid.UUID,
    in_reply_to: uuid.UUID,
    question: str,
    confidence: float,
    answered: bool,
    language: str,
    at: datetime,
) -> AnswerScored:
    return AnswerScored(
        site_id=site,
        conversation_id=conversation_id,
        occurred_at=at,
        in_reply_to=in_reply_to,
        question_seq=2,
        question=question,
        answer="...",
        confidence=confidence,
        answered=answered,
        sources=(
            Source(title="Shipping", url="https://example.test/shipping", score=0.8),
            Source(title="Orders", url="https://example.test/orders", score=0.5),
        ),
        language=language,
        model_version="test",
        calibration_version="test",
        latency_ms=10.0,
    )


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def service(stack: Stack) -> AsyncIterator[FastAPI]:
    settings = AnalyticsSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        postgres_dsn=stack.postgres_dsn,
        group_id=f"tandem-analytics-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        consumer_retry_backoff_seconds=0.05,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await wait_until_consuming(app)
        yield app


@pytest.fixture(scope="module")
async def producer(stack: Stack) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def client(service: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=service), base_url="http://t") as client:
        yield client


async def summary_of(client: AsyncClient, script: Script) -> dict[str, Any]:
    response = await client.get(
        f"/v1/analytics/sites/{script.site}/summary",
        params={"from": (script.day - timedelta(days=1)).isoformat(), "to": script.day.isoformat()},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def poll_summary(
    client: AsyncClient, script: Script, expected: dict[str, Any], timeout: float = 20.0
) -> dict[str, Any]:
    """The summary once it equals ``expected``, or the last one after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        summary = await summary_of(client, script)
        if summary == expected or time.monotonic() > deadline:
            return summary
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------------------- tests


async def test_summary_reflects_the_events_once_and_deletion_forgets(
    service: FastAPI, producer: AIOKafkaProducer, client: AsyncClient, stack: Stack
) -> None:
    script = Script()
    events = script.events()
    await publish_all(producer, events)

    peak = [0] * 24
    peak[9] = 1  # A's question at 09:01
    peak[12] = 1  # B's question at 12:01
    expected = {
        "site_id": script.site,
        "from": f"{(script.day - timedelta(days=1)).isoformat()}T00:00:00Z",
        "to": f"{(script.day + timedelta(days=1)).isoformat()}T00:00:00Z",
        "conversations": 2,
        "messages": 3,
        "ai_answers": 3,
        "answered_rate": 0.3333,
        "mean_confidence": 0.5333,
        "escalation_rate": 0.5,
        "resolution_rate": 0.5,
        "csat": {"mean": 4.0, "count": 1},
        "escalations_by_reason": {"low_confidence": 1},
        "languages": {"en": 1, "fr": 1},
        "peak_hours": peak,
        "confidence_trend": [
            {"day": script.day.isoformat(), "mean_confidence": 0.5333, "answers": 3}
        ],
        "agent_replies": 0,
        "overrides": {"total": 0, "by_kind": {}, "reasons": []},
        "queue_waits": 0,
        "mean_wait_seconds": None,
        "knowledge_gaps": [
            {
                "question": "ou est ma commande",
                "count": 2,
                "mean_confidence": 0.35,
                "last_asked_at": script.at(1.2).isoformat().replace("+00:00", "Z"),
            }
        ],
    }
    summary = await poll_summary(client, script, expected)
    if summary != expected and await echoed_by_running_services(stack.postgres_dsn, events):
        pytest.skip(
            "the running conversation service stored messages and statuses of its own for "
            "these scripted conversations; the exact figures hold with the services stopped "
            "(make test runs this tier so)"
        )
    assert summary == expected

    listed = await client.get(f"/v1/analytics/sites/{script.site}/conversations")
    assert listed.status_code == 200
    rows = {row["conversation_id"]: row for row in listed.json()["conversations"]}
    escalated, answered = rows[str(script.escalated)], rows[str(script.answered)]
    assert escalated["status"] == "resolved"
    assert escalated["escalated"] is True
    assert escalated["escalation_reason"] == "low_confidence"
    assert escalated["rating"] == 4
    assert escalated["language"] == "fr"
    assert escalated["messages"] == {"visitor": 1, "ai": 0, "agent": 0, "system": 0}
    assert escalated["ai_answers"] == 2
    assert escalated["mean_confidence"] == 0.35
    assert answered["status"] == "active"
    assert answered["messages"] == {"visitor": 1, "ai": 1, "agent": 0, "system": 0}
    assert answered["first_response_seconds"] == 2.5
    assert answered["language"] == "en"
    only_escalated = await client.get(
        f"/v1/analytics/sites/{script.site}/conversations", params={"escalated": "true"}
    )
    assert [r["conversation_id"] for r in only_escalated.json()["conversations"]] == [
        str(script.escalated)
    ]
    resolved = await client.get(
        f"/v1/analytics/sites/{script.site}/conversations", params={"status": "resolved"}
    )
    assert len(resolved.json()["conversations"]) == 1

    # The same events again (same ids): nothing changes.
    again = await publish_all(producer, events)
    await wait_processed(service, again)
    assert await summary_of(client, script) == summary

    # Deletion removes every row of the conversation, and its share of the figures.
    deleted = await publish_all(
        producer,
        [
            ConversationDeleted(
                site_id=script.site, conversation_id=script.escalated, requested_by="visitor"
            )
        ],
    )
    await wait_processed(service, deleted)
    assert set((await rows_of(stack.postgres_dsn, script.escalated)).values()) == {0}
    after = await summary_of(client, script)
    assert after["conversations"] == 1
    assert after["ai_answers"] == 1
    assert after["escalations_by_reason"] == {}
    assert after["knowledge_gaps"] == []
    assert after["peak_hours"][9] == 0
    assert after["peak_hours"][12] == 1

    # A late event of the deleted conversation does not bring it back.
    late = await publish_all(producer, [events[3].model_copy(update={"event_id": uuid.uuid4()})])
    await wait_processed(service, late)
    assert set((await rows_of(stack.postgres_dsn, script.escalated)).values()) == {0}

    # The visitor's own deletion request is honoured too.
    requested = await publish_all(
        producer,
        [ConversationDeletionRequested(site_id=script.site, conversation_id=script.answered)],
    )
    await wait_processed(service, requested)
    assert set((await rows_of(stack.postgres_dsn, script.answered)).values()) == {0}
    emptied = await summary_of(client, script)
    assert emptied["conversations"] == 0
    assert emptied["messages"] == 0
    assert emptied["peak_hours"] == [0] * 24
    assert emptied["escalation_rate"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "2026-02-30"},
        {"from": "2026-11-02", "to": "2026-11-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
    ],
)
async def test_bad_dates_are_refused(client: AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/v1/analytics/sites/site-x/summary", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "abc"}, {"status": "closed"}, {"escalated": "maybe"}]
)
async def test_bad_list_filters_are_refused(client: AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/v1/analytics/sites/site-x/conversations", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


async def test_an_unknown_site_has_empty_figures(client: AsyncClient) -> None:
    summary = (await client.get(f"/v1/analytics/sites/site-{uuid.uuid4().hex}/summary")).json()
    assert summary["conversations"] == 0
    assert summary["answered_rate"] is None
    assert summary["csat"] == {"mean": None, "count": 0}
    assert summary["peak_hours"] == [0] * 24


async def test_operations_endpoints(client: AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "postgres": "ok"}
    metrics = await client.get("/metrics")
    assert "tandem_analytics_projection_lag_seconds" in metrics.text


# ---------------------------------------------------------------------------- hand-off


def handoff_events(script: Script) -> list[Event]:
    site, a, b = script.site, script.escalated, script.answered
    held, correction = uuid.uuid4(), uuid.uuid4()
    return [
        ConversationStarted(
            site_id=site,
            conversation_id=a,
            occurred_at=script.at(0),
            greeting_message_id=uuid.uuid4(),
            greeting_seq=1,
            greeting_text="Hi",
        ),
        ConversationStarted(
            site_id=site,
            conversation_id=b,
            occurred_at=script.at(1),
            greeting_message_id=uuid.uuid4(),
            greeting_seq=1,
            greeting_text="Hi",
        ),
        # A waits 90 s (two position updates), then an agent takes it and replies twice.
        EscalationQueued(
            site_id=site, conversation_id=a, occurred_at=script.at(2), position=2, queue_length=2
        ),
        EscalationQueued(
            site_id=site,
            conversation_id=a,
            occurred_at=script.at(2.5),
            position=1,
            queue_length=1,
        ),
        AgentAssigned(
            site_id=site,
            conversation_id=a,
            occurred_at=script.at(3.5),
            agent_id="agent-1",
            agent_name="Ann",
        ),
        *(
            AgentReplied(
                site_id=site,
                conversation_id=a,
                occurred_at=script.at(4 + i),
                agent_id="agent-1",
                agent_name="Ann",
                message_id=uuid.uuid4(),
                seq=3 + i,
                text=f"reply {i}",
            )
            for i in range(2)
        ),
        NoteAdded(
            site_id=site,
            conversation_id=a,
            occurred_at=script.at(4.5),
            agent_id="agent-1",
            agent_name="Ann",
            note_id=uuid.uuid4(),
            text="VIP, be nice",
        ),
        # B waits 30 s.
        EscalationQueued(
            site_id=site, conversation_id=b, occurred_at=script.at(10), position=1, queue_length=1
        ),
        AgentAssigned(
            site_id=site,
            conversation_id=b,
            occurred_at=script.at(10.5),
            agent_id="agent-2",
            agent_name="Bo",
            assignment="routed",
        ),
        # Held replies: one edited, one fell back on timeout, one approved (no override).
        ReplyHeld(
            site_id=site,
            conversation_id=b,
            occurred_at=script.at(11),
            message_id=held,
            in_reply_to=uuid.uuid4(),
            text="Maybe?",
            confidence=0.4,
            hold_until=script.at(11.5),
            on_timeout="fallback",
        ),
        HeldReplyReleased(
            site_id=site,
            conversation_id=b,
            occurred_at=script.at(11.2),
            message_id=held,
            outcome="edited",
            agent_id="agent-2",
            reason="price was wrong",
        ),
        HeldReplyReleased(
            site_id=site,
            conversation_id=b,
            occurred_at=script.at(12),
            message_id=uuid.uuid4(),
            outcome="timeout_fallback",
        ),
        HeldReplyReleased(
            site_id=site,
            conversation_id=b,
            occurred_at=script.at(13),
            message_id=uuid.uuid4(),
            outcome="approved",
            agent_id="agent-2",
        ),
        ReplyCorrected(
            site_id=site,
            conversation_id=a,
            occurred_at=script.at(14),
            agent_id="agent-1",
            agent_name="Ann",
            corrected_message_id=uuid.uuid4(),
            correction_message_id=correction,
            seq=9,
            text="Sorry, the right answer is 30 days.",
            reason="price was wrong",
        ),
        # The correction is a message of its own, as the conversation service stores it.
        ReplyPosted(
            site_id=site,
            conversation_id=a,
            occurred_at=script.at(14),
            message_id=correction,
            seq=9,
            author="agent",
            author_name="Ann",
            text="Sorry, the right answer is 30 days.",
            created_at=script.at(14),
        ),
        AgentPresenceChanged(
            site_id=site,
            conversation_id=uuid.UUID(int=0),
            occurred_at=script.at(15),
            agent_id="agent-1",
            agent_name="Ann",
            status="available",
        ),
    ]


async def until_summary(client: AsyncClient, script: Script, check: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        summary = await summary_of(client, script)
        if check(summary) or time.monotonic() > deadline:
            return summary
        await asyncio.sleep(0.2)


async def test_overrides_waits_and_agent_replies_are_counted_and_forgotten(
    service: FastAPI,
    producer: AIOKafkaProducer,
    client: AsyncClient,
    stack: Stack,
) -> None:
    script = Script()
    events = handoff_events(script)
    sent = await publish_all(producer, events)
    await wait_processed(service, sent)
    summary = await until_summary(client, script, lambda s: s["queue_waits"] == 2)

    assert summary["agent_replies"] == 3  # two replies and the correction
    assert summary["overrides"] == {
        "total": 3,
        "by_kind": {"corrected": 1, "edited": 1, "timeout_fallback": 1},
        "reasons": [{"reason": "price was wrong", "count": 2}],
    }
    assert summary["queue_waits"] == 2
    assert summary["mean_wait_seconds"] == pytest.approx((90 + 30) / 2)

    # Redelivered: counted once. (Only this test's figures are compared: the running
    # conversation service, if up, reacts to these events with messages of its own.)
    await wait_processed(service, await publish_all(producer, events))
    again = await summary_of(client, script)
    mine = ("agent_replies", "overrides", "queue_waits", "mean_wait_seconds")
    assert {k: again[k] for k in mine} == {k: summary[k] for k in mine}

    deleted = await publish_all(
        producer,
        [
            ConversationDeleted(
                site_id=script.site, conversation_id=script.escalated, requested_by="owner"
            )
        ],
    )
    await wait_processed(service, deleted)
    rows = await rows_of(stack.postgres_dsn, script.escalated)
    assert {"overrides", "queue_waits"} <= set(rows)
    assert set(rows.values()) == {0}, rows
    after = await summary_of(client, script)
    assert after["agent_replies"] == 0
    assert after["overrides"]["by_kind"] == {"edited": 1, "timeout_fallback": 1}
    assert after["queue_waits"] == 1
    assert after["mean_wait_seconds"] == pytest.approx(30.0)
