"""The escalation service against real Kafka and PostgreSQL.

The service runs in-process (``create_app`` + its lifespan) with a throwaway consumer group
that starts at the *latest* offsets, so it never replays the topics' history; the tests
publish only after the group owns every partition and has resolved its start offsets (see
``wait_until_consuming``). The ``escalation`` schema is shared with other runs, so every
test uses fresh conversation ids and looks only at its own rows.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tandem_escalation.adapters.repository import conversation_digest
from tandem_escalation.app import create_app
from tandem_escalation.entrypoints.consumers import SUBSCRIBED_TOPICS
from tandem_escalation.settings import EscalationSettings
from tandem_events import (
    AgentJoined,
    AgentLeft,
    AnswerScored,
    ConversationDeleted,
    ConversationResolved,
    EscalationRaised,
    Event,
    MessageReceived,
    deterministic_event_id,
    parse_event,
)
from tandem_events.topics import ESCALATION_EVENTS
from tandem_events.wire import encode, header_map

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

SITE = "site-escalation-it"


# ---------------------------------------------------------------------------- helpers


async def wait_until_consuming(app: FastAPI, timeout: float = 60.0) -> None:
    """Until the service's consumer owns every partition of its topics and knows where it
    starts reading: only then can a test publish without the record being skipped by the
    "latest" offset reset."""
    consumer: AIOKafkaConsumer = app.state.subscriber.consumer
    expected = sum(topic.partitions for topic in SUBSCRIBED_TOPICS)
    deadline = time.monotonic() + timeout
    while len(consumer.assignment()) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer owns {len(consumer.assignment())}/{expected} partitions")
        await asyncio.sleep(0.1)
    for partition in consumer.assignment():
        await consumer.position(partition)


async def wait_processed(app: FastAPI, sent: RecordMetadata, timeout: float = 20.0) -> None:
    """Until the service's group has committed past ``sent``: commits follow the handler's
    transaction, so the record's effects (or its being ignored) are durable."""
    consumer: AIOKafkaConsumer = app.state.subscriber.consumer
    partition = TopicPartition(sent.topic, sent.partition)
    deadline = time.monotonic() + timeout
    while True:
        committed = await consumer.committed(partition)
        if committed is not None and committed > sent.offset:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"offset {sent.offset} of {partition} not processed")
        await asyncio.sleep(0.05)


class TopicWatcher:
    """Reads the escalation topic from its current end, like any analyst's consumer."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        self.records: list[tuple[float, Event, dict[str, str]]] = []
        self._seen: set[uuid.UUID] = set()
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [
            TopicPartition(ESCALATION_EVENTS.name, p) for p in range(ESCALATION_EVENTS.partitions)
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()

    async def _read(self) -> None:
        async for record in self.consumer:
            arrived = time.perf_counter()
            event = parse_event(record.value)
            if event.event_id in self._seen:
                continue  # at-least-once: a republished event is the same event
            self._seen.add(event.event_id)
            async with self._arrived:
                self.records.append((arrived, event, header_map(record.headers)))
                self._arrived.notify_all()

    def of(self, conversation_id: uuid.UUID) -> list[tuple[float, Event, dict[str, str]]]:
        return [r for r in self.records if r[1].conversation_id == conversation_id]

    def raised(self, conversation_id: uuid.UUID) -> list[tuple[float, Event, dict[str, str]]]:
        """The conversation's EscalationRaised records (routing adds AgentAssigned or
        EscalationQueued after each)."""
        return [r for r in self.of(conversation_id) if isinstance(r[1], EscalationRaised)]

    async def first(
        self, conversation_id: uuid.UUID, timeout: float = 20.0
    ) -> tuple[float, EscalationRaised, dict[str, str]]:
        def found() -> bool:
            return bool(self.of(conversation_id))

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(found), timeout)
        # The escalation is relayed before the routing events it causes.
        arrived, event, headers = self.of(conversation_id)[0]
        assert isinstance(event, EscalationRaised)
        return arrived, event, headers


class Publisher:
    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all"
        )

    async def publish(self, event: Event) -> RecordMetadata:
        value, headers = encode(event, source="/tests/escalation")
        return await self.producer.send_and_wait(
            event.topic,
            value,
            key=event.key,
            headers=[(k, v.encode()) for k, v in headers.items()],
        )


def message(conversation_id: uuid.UUID, text: str, seq: int = 1) -> MessageReceived:
    return MessageReceived(
        site_id=SITE,
        conversation_id=conversation_id,
        message_id=uuid.uuid4(),
        client_message_id=f"client-{seq}",
        seq=seq,
        text=text,
    )


def scored(conversation_id: uuid.UUID, confidence: float, seq: int) -> AnswerScored:
    return AnswerScored(
        site_id=SITE,
        conversation_id=conversation_id,
        in_reply_to=uuid.uuid4(),
        question_seq=seq,
        question=f"question number {seq} about something obscure",
        answer="I am not sure, but perhaps this helps.",
        confidence=confidence,
        answered=False,
        language="en",
        model_version="test",
        calibration_version="test",
        latency_ms=12.0,
    )


async def rows_of(dsn: str, conversation_id: uuid.UUID) -> dict[str, int]:
    """Rows about the conversation in every table of the ``escalation`` schema that has a
    ``conversation_id`` column, plus the outbox (keyed by conversation id)."""
    counts: dict[str, int] = {}
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'escalation' AND column_name = 'conversation_id'"
        )
        tables = [row[0] for row in await cur.fetchall()]
        assert {"conversation_states", "escalations"} <= set(tables)
        for table in tables:
            cur = await conn.execute(
                f'SELECT count(*) FROM escalation."{table}" WHERE conversation_id = %s',
                (conversation_id,),
            )
            counts[table] = (await cur.fetchone())[0]  # type: ignore[index]
        cur = await conn.execute(
            "SELECT count(*) FROM escalation.outbox WHERE key = %s",
            (str(conversation_id).encode(),),
        )
        counts["outbox"] = (await cur.fetchone())[0]  # type: ignore[index]
    return counts


async def poll(check: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def service(stack: Stack) -> AsyncIterator[FastAPI]:
    settings = EscalationSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        postgres_dsn=stack.postgres_dsn,
        redis_url=stack.redis_url,
        group_id=f"tandem-escalation-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        consumer_retry_backoff_seconds=0.05,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await wait_until_consuming(app)
        yield app


@pytest.fixture(scope="module")
async def publisher(stack: Stack) -> AsyncIterator[Publisher]:
    publisher = Publisher(stack.kafka_bootstrap)
    await publisher.producer.start()
    yield publisher
    await publisher.producer.stop()


@pytest.fixture
async def watcher(stack: Stack, service: FastAPI) -> AsyncIterator[TopicWatcher]:
    watcher = TopicWatcher(stack.kafka_bootstrap)
    await watcher.start()
    yield watcher
    await watcher.stop()


# ---------------------------------------------------------------------------- tests


async def test_asking_for_a_human_raises_an_escalation(
    service: FastAPI, publisher: Publisher, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    trigger = message(conversation_id, "I want to talk to a human")
    await publisher.publish(trigger)

    _, raised, headers = await watcher.first(conversation_id)
    assert raised.reason == "human_requested"
    assert raised.site_id == SITE
    assert raised.causation_id == trigger.event_id
    assert raised.event_id == deterministic_event_id("escalation", trigger.event_id)
    assert "I want to talk to a human" in raised.summary
    assert raised.language == "en"
    assert headers["ce_type"] == "dev.tandem.EscalationRaised.v1"
    assert headers["ce_source"] == "/tandem/escalation"


async def test_three_low_confidence_answers_raise_one_escalation(
    service: FastAPI, publisher: Publisher, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    for seq in (1, 2, 3):
        last = await publisher.publish(scored(conversation_id, 0.3, seq))
    _, raised, _ = await watcher.first(conversation_id)
    assert raised.reason == "low_confidence"
    assert "30% confident" in raised.summary

    # A fourth poor answer changes nothing: one escalation until it is handed back.
    fourth = await publisher.publish(scored(conversation_id, 0.2, 4))
    assert fourth.offset > last.offset
    await wait_processed(service, fourth)
    await poll(lambda: _outbox_empty(service, conversation_id))
    await asyncio.sleep(0.5)
    assert len(watcher.raised(conversation_id)) == 1


async def test_a_redelivered_message_raises_nothing_twice(
    service: FastAPI, publisher: Publisher, watcher: TopicWatcher, stack: Stack
) -> None:
    conversation_id = uuid.uuid4()
    trigger = message(conversation_id, "talk to an agent please")
    await publisher.publish(trigger)
    await watcher.first(conversation_id)

    again = await publisher.publish(trigger)  # same event id: the inbox absorbs it
    await wait_processed(service, again)
    await poll(lambda: _outbox_empty(service, conversation_id))
    await asyncio.sleep(0.5)
    assert len(watcher.raised(conversation_id)) == 1
    assert (await rows_of(stack.postgres_dsn, conversation_id))["escalations"] == 1


async def test_agents_and_resolution_decide_when_escalating_is_possible_again(
    service: FastAPI, publisher: Publisher, watcher: TopicWatcher, stack: Stack
) -> None:
    conversation_id = uuid.uuid4()
    agent = {"agent_id": "agent-1", "agent_name": "Ann"}
    joined = await publisher.publish(
        AgentJoined(site_id=SITE, conversation_id=conversation_id, **agent)
    )
    # The join and the message travel on different topics, so nothing orders them: the
    # test waits for the join to be processed, as a real visitor's reply would follow it.
    await wait_processed(service, joined)
    asked = await publisher.publish(message(conversation_id, "talk to a human", seq=1))
    await wait_processed(service, asked)
    assert watcher.raised(conversation_id) == []

    # Handed back to the AI: the next request escalates.
    await publisher.publish(
        AgentLeft(site_id=SITE, conversation_id=conversation_id, ai_resumes=True, **agent)
    )
    await publisher.publish(message(conversation_id, "talk to a human again", seq=2))
    await watcher.first(conversation_id)

    # Resolved: the rule state is dropped, and a later request escalates again.
    resolved = await publisher.publish(
        ConversationResolved(
            site_id=SITE, conversation_id=conversation_id, resolved_by="agent", duration_seconds=5
        )
    )
    await wait_processed(service, resolved)
    # No escalated state is left (a running answering service may still score the last
    # message after the resolution, which starts a fresh state: not escalated).
    async with await psycopg.AsyncConnection.connect(stack.postgres_dsn) as conn:
        cur = await conn.execute(
            "SELECT escalated FROM escalation.conversation_states WHERE conversation_id = %s",
            (conversation_id,),
        )
        assert [row[0] for row in await cur.fetchall()] in ([], [False])
    assert (await rows_of(stack.postgres_dsn, conversation_id))["assignments"] == 0
    await publisher.publish(message(conversation_id, "I need a person", seq=3))
    await poll(lambda: _escalations_on_topic(watcher, conversation_id, 2))
    reasons = [event.reason for _, event, _ in watcher.raised(conversation_id)]  # type: ignore[attr-defined]
    assert reasons == ["human_requested", "human_requested"]


async def test_deleting_the_conversation_forgets_it(
    service: FastAPI, publisher: Publisher, watcher: TopicWatcher, stack: Stack
) -> None:
    conversation_id = uuid.uuid4()
    await publisher.publish(message(conversation_id, "this is useless"))
    await watcher.first(conversation_id)
    before = await rows_of(stack.postgres_dsn, conversation_id)
    assert before["conversation_states"] == 1
    assert before["escalations"] == 1

    deleted = await publisher.publish(
        ConversationDeleted(site_id=SITE, conversation_id=conversation_id, requested_by="visitor")
    )
    await wait_processed(service, deleted)
    after = await rows_of(stack.postgres_dsn, conversation_id)
    assert set(after.values()) == {0}, after

    # An event arriving late on another topic does not bring the conversation back.
    late = await publisher.publish(message(conversation_id, "talk to a human", seq=2))
    await wait_processed(service, late)
    assert set((await rows_of(stack.postgres_dsn, conversation_id)).values()) == {0}
    async with await psycopg.AsyncConnection.connect(stack.postgres_dsn) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM escalation.forgotten_conversations "
            "WHERE conversation_digest = %s",
            (conversation_digest(conversation_id),),
        )
        assert (await cur.fetchone())[0] == 1  # type: ignore[index]
    assert len(watcher.raised(conversation_id)) == 1


async def test_median_latency_from_message_to_escalation(
    service: FastAPI, publisher: Publisher, watcher: TopicWatcher
) -> None:
    latencies = []
    for _ in range(20):
        conversation_id = uuid.uuid4()
        started = time.perf_counter()
        await publisher.publish(message(conversation_id, "I want to talk to a human"))
        arrived, _, _ = await watcher.first(conversation_id)
        latencies.append(arrived - started)
    median_ms = statistics.median(latencies) * 1000
    print(
        f"\nescalation latency over {len(latencies)} runs: median {median_ms:.1f} ms, "
        f"min {min(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    assert median_ms < 1000


async def test_site_policy_api(service: FastAPI) -> None:
    site = f"site-{uuid.uuid4().hex[:8]}"
    async with AsyncClient(transport=ASGITransport(app=service), base_url="http://t") as client:
        default = await client.get(f"/internal/sites/{site}/escalation-policy")
        assert default.status_code == 200
        assert default.json()["effective"]["low_confidence_threshold"] == 0.7
        assert default.json()["effective"]["sensitive_topics"] == ["billing_dispute", "refund"]

        put = await client.put(
            f"/internal/sites/{site}/escalation-policy",
            json={
                "low_confidence_threshold": 0.5,
                "disabled_reasons": ["frustration"],
                "sensitive_topics": {"legal": ["lawyer*"]},
            },
        )
        assert put.status_code == 200, put.text
        stored = (await client.get(f"/internal/sites/{site}/escalation-policy")).json()
        assert stored["effective"]["low_confidence_threshold"] == 0.5
        assert "frustration" not in stored["effective"]["enabled_reasons"]
        assert stored["effective"]["sensitive_topics"] == ["legal"]

        bad = await client.put(
            f"/internal/sites/{site}/escalation-policy", json={"low_confidence_threshold": 2}
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_request"

        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        metrics = await client.get("/metrics")
    assert health.status_code == 200
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "postgres": "ok", "redis": "ok"}
    assert "tandem_escalations_total" in metrics.text


async def _escalations_on_topic(
    watcher: TopicWatcher, conversation_id: uuid.UUID, expected: int
) -> bool:
    return len(watcher.raised(conversation_id)) >= expected


async def _outbox_empty(service: FastAPI, conversation_id: uuid.UUID) -> bool:
    async with service.state.handlers.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM escalation.outbox WHERE key = %s",
            (str(conversation_id).encode(),),
        )
        row = await cur.fetchone()
    return row["n"] == 0
