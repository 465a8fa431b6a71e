"""The delivery guarantees of ARCHITECTURE.md, proven against the real broker and database."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from psycopg_pool import AsyncConnectionPool
from tandem_events import MessageReceived, ReplyPosted, Topic, utc_now
from tandem_events.wire import encode, header_map
from tandem_platform.messaging import ensure_topics
from tandem_platform.postgres import OutboxRelay, broker_publish, enqueue, migrate, open_pool

from tests.integration import guarantees_app
from tests.integration.stack import REPO, Stack


def _event(text: str, key: uuid.UUID | None = None) -> MessageReceived:
    return MessageReceived(
        site_id="test",
        conversation_id=key or uuid.uuid4(),
        message_id=uuid.uuid4(),
        client_message_id=uuid.uuid4().hex,
        seq=2,
        text=text,
    )


@pytest.fixture
async def topics(stack: Stack) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    topic, dlq = f"test.guarantees.{suffix}", f"test.guarantees.{suffix}.dlq"
    await ensure_topics(stack.kafka_bootstrap, [Topic(topic, 1, "test"), Topic(dlq, 1, "test")])
    return topic, dlq


@pytest.fixture
async def producer(stack: Stack) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True)
    await p.start()
    yield p
    await p.stop()


async def _send(producer: AIOKafkaProducer, topic: str, event: MessageReceived) -> None:
    value, headers = encode(event, source="/tests")
    await producer.send_and_wait(
        topic, value, key=event.key, headers=[(k, v.encode()) for k, v in headers.items()]
    )


async def _rows(dsn: str, query: str) -> list[tuple]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(query)
        return list(await cur.fetchall())


async def _wait_for(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


@pytest.fixture(params=[False, True], ids=["per-record", "keyed-batch"])
async def consumer_app(
    request: pytest.FixtureRequest, stack: Stack, topics: tuple[str, str], drop_schema_after: str
):
    """The consumer as most services run it (one record at a time) and as the answering
    service does (polled batches, conversations side by side): the same guarantees."""
    schema = drop_schema_after
    broker, pool = await _start_consumer(stack, topics, schema, batch=request.param)
    yield schema
    await broker.stop()
    await pool.close()


async def _start_consumer(
    stack: Stack,
    topics: tuple[str, str],
    schema: str,
    *,
    batch: bool,
    in_flight: dict[str, int] | None = None,
) -> tuple[KafkaBroker, AsyncConnectionPool]:
    """guarantees_app's consumer, started on its own group, with its tables in ``schema``."""
    topic, dlq = topics
    pool = await open_pool(stack.postgres_dsn)
    await migrate(pool, schema, guarantees_app.migrations(schema))
    broker = guarantees_app.build(
        bootstrap=stack.kafka_bootstrap,
        topic=topic,
        dead_letter_topic=dlq,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        schema=schema,
        pool_holder={"pool": pool},
        batch=batch,
        in_flight=in_flight,
    )
    await broker.start()
    return broker, pool


async def test_keyed_batch_runs_conversations_side_by_side_each_in_order(
    stack: Stack, topics: tuple[str, str], producer: AIOKafkaProducer, drop_schema_after: str
) -> None:
    topic, _ = topics
    schema = drop_schema_after
    conversations = [uuid.uuid4() for _ in range(4)]
    # Interleaved on one partition, as a busy topic has them.
    sent = [
        _event(f"slow {turn} of {n}", conversation)
        for turn in range(3)
        for n, conversation in enumerate(conversations)
    ]
    for event in sent:
        await _send(producer, topic, event)

    in_flight: dict[str, int] = {}
    broker, pool = await _start_consumer(stack, topics, schema, batch=True, in_flight=in_flight)
    try:
        await _wait_for(
            lambda: _rows(
                stack.postgres_dsn, f"SELECT 1 FROM {schema}.effects HAVING count(*) = {len(sent)}"
            )
        )
    finally:
        await broker.stop()
        await pool.close()

    # Different conversations were handled at the same time...
    assert in_flight["most"] > 1
    # ...and each conversation's messages one after the other, in the order sent: a message
    # started only after the previous one of its conversation had its effect.
    started = dict(await _rows(stack.postgres_dsn, f"SELECT event_id, at FROM {schema}.deliveries"))
    finished = dict(await _rows(stack.postgres_dsn, f"SELECT event_id, at FROM {schema}.effects"))
    for conversation in conversations:
        mine = [e.event_id for e in sent if e.conversation_id == conversation]
        for previous, following in itertools.pairwise(mine):
            assert started[following] >= finished[previous]


async def test_redelivered_event_changes_nothing(
    stack: Stack, topics: tuple[str, str], producer: AIOKafkaProducer, consumer_app: str
) -> None:
    topic, _ = topics
    event = _event("hello once")
    for _ in range(3):  # the same event (same event_id) delivered three times
        await _send(producer, topic, event)
    schema = consumer_app
    await _wait_for(
        lambda: _rows(stack.postgres_dsn, f"SELECT 1 FROM {schema}.deliveries HAVING count(*) >= 3")
    )
    effects = await _rows(stack.postgres_dsn, f"SELECT event_id, text FROM {schema}.effects")
    assert effects == [(event.event_id, "hello once")]


async def test_poison_message_goes_to_dead_letter_and_partition_keeps_moving(
    stack: Stack, topics: tuple[str, str], producer: AIOKafkaProducer, consumer_app: str
) -> None:
    topic, dlq = topics
    key = uuid.uuid4()
    await producer.send_and_wait(topic, b"{not json", key=str(key).encode())
    failing = _event("fail-always please", key)
    await _send(producer, topic, failing)
    after = _event("after the poison", key)  # same key, same partition, later offset
    await _send(producer, topic, after)

    schema = consumer_app
    await _wait_for(
        lambda: _rows(
            stack.postgres_dsn, f"SELECT 1 FROM {schema}.effects WHERE text = 'after the poison'"
        )
    )
    # The failing handler was tried exactly max_attempts (3) times before giving up.
    attempts = await _rows(
        stack.postgres_dsn,
        f"SELECT count(*) FROM {schema}.deliveries WHERE event_id = '{failing.event_id}'",
    )
    assert attempts == [(3,)]

    consumer = AIOKafkaConsumer(
        dlq,
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"dlq-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        records = []
        deadline = time.monotonic() + 20
        while len(records) < 2 and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    assert len(records) == 2
    undecodable, failed = records
    assert undecodable.value == b"{not json"
    h1 = header_map(undecodable.headers)
    assert h1["x-dead-letter-topic"] == topic
    assert h1["x-dead-letter-error-type"]
    h2 = header_map(failed.headers)
    assert json.loads(failed.value)["event_id"] == str(failing.event_id)
    assert h2["x-dead-letter-attempts"] == "3"
    assert "can never process" in h2["x-dead-letter-error"]
    assert h2["ce_id"] == str(failing.event_id)  # original CloudEvents headers kept


async def test_outage_is_waited_out_not_dead_lettered(
    stack: Stack, topics: tuple[str, str], producer: AIOKafkaProducer, consumer_app: str
) -> None:
    topic, dlq = topics
    flaky = _event("flaky-dependency: fails four times, then works")
    await _send(producer, topic, flaky)
    schema = consumer_app
    await _wait_for(
        lambda: _rows(
            stack.postgres_dsn,
            f"SELECT 1 FROM {schema}.effects WHERE event_id = '{flaky.event_id}'",
        ),
        timeout=60,
    )
    deliveries = await _rows(
        stack.postgres_dsn,
        f"SELECT count(*) FROM {schema}.deliveries WHERE event_id = '{flaky.event_id}'",
    )
    assert deliveries == [(5,)]  # 3 in place, then redelivered after a pause, 2 more
    consumer = AIOKafkaConsumer(
        dlq,
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"dlq-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=1500)
    finally:
        await consumer.stop()
    assert not any(batch.values()), "a transient outage must not dead-letter valid events"


async def test_crash_after_effect_before_offset_commit_redelivers_without_duplicating(
    stack: Stack, topics: tuple[str, str], producer: AIOKafkaProducer, drop_schema_after: str
) -> None:
    topic, dlq = topics
    schema = drop_schema_after
    group = f"test-crash-{uuid.uuid4().hex[:8]}"
    event = _event("survives a crash")
    await _send(producer, topic, event)

    def run(mode: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.guarantees_app",
                stack.kafka_bootstrap,
                topic,
                dlq,
                group,
                schema,
                stack.postgres_dsn,
                mode,
            ],
            cwd=REPO,
        )

    crashing = run("die")
    assert crashing.wait(timeout=60) == 17, "the consumer should die right after the effect"
    assert await _rows(stack.postgres_dsn, f"SELECT text FROM {schema}.effects") == [
        ("survives a crash",)
    ]

    healthy = run("normal")
    try:
        # The offset was never committed, so the same group gets the record again...
        await _wait_for(
            lambda: _rows(
                stack.postgres_dsn, f"SELECT 1 FROM {schema}.deliveries HAVING count(*) >= 2"
            ),
            timeout=60,
        )
    finally:
        healthy.kill()
        healthy.wait()
    # ...and the inbox keeps the effect single.
    assert await _rows(stack.postgres_dsn, f"SELECT text FROM {schema}.effects") == [
        ("survives a crash",)
    ]


async def test_outbox_row_of_rolled_back_transaction_is_never_published(
    stack: Stack, topics: tuple[str, str], drop_schema_after: str
) -> None:
    topic, _ = topics
    schema = drop_schema_after
    pool = await open_pool(stack.postgres_dsn)
    await migrate(pool, schema, [])

    def reply(text: str) -> ReplyPosted:
        return ReplyPosted(
            site_id="test",
            conversation_id=uuid.uuid4(),
            message_id=uuid.uuid4(),
            seq=3,
            author="ai",
            text=text,
            created_at=utc_now(),
        )

    class TestReply(ReplyPosted):
        topic = topics[0]

    rolled_back = TestReply(**reply("never published").model_dump())
    committed = TestReply(**reply("published").model_dump())

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):  # noqa: PT012 - the raise is what rolls back
        async with pool.connection() as conn, conn.transaction():
            await enqueue(conn, schema, rolled_back, source="/tests")
            raise Rollback
    async with pool.connection() as conn, conn.transaction():
        await enqueue(conn, schema, committed, source="/tests")

    broker = KafkaBroker(stack.kafka_bootstrap, enable_idempotence=True)
    await broker.connect()
    relay = OutboxRelay(pool, stack.postgres_dsn, schema, broker_publish(broker), service="test")
    assert await relay.relay_once() == 1
    assert await relay.relay_once() == 0
    await broker.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"outbox-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        seen = []
        deadline = time.monotonic() + 5  # long enough for anything wrongly sent to show up
        while time.monotonic() < deadline:
            for recs in (await consumer.getmany(timeout_ms=300)).values():
                seen.extend(json.loads(r.value)["text"] for r in recs)
    finally:
        await consumer.stop()
        await pool.close()
    assert seen == ["published"]
