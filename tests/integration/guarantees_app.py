"""A minimal consumer built from tandem_platform exactly as services build theirs.

Used by test_messaging_guarantees, also as a subprocess that can die at a chosen point.
Effect: each MessageReceived inserts its text into ``<schema>.effects`` together with the
inbox record; every delivery (even duplicates) is logged in ``<schema>.deliveries`` outside
that transaction, so tests can see redeliveries happen. ``batch=True`` builds the consumer
the answering service runs: polled batches through ``consume_keyed_batch``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from psycopg_pool import AsyncConnectionPool
from tandem_events import Event, MessageReceived
from tandem_platform.messaging import (
    AT_LEAST_ONCE,
    consume_keyed_batch,
    decode_event,
    make_broker,
    raw_records,
)
from tandem_platform.postgres import claim_event, migrate, open_pool


def migrations(schema: str) -> list[str]:
    return [
        f"CREATE TABLE {schema}.effects (event_id uuid, text text, at timestamptz DEFAULT clock_timestamp())",
        f"CREATE TABLE {schema}.deliveries (event_id uuid, at timestamptz DEFAULT clock_timestamp())",
    ]


def build(
    *,
    bootstrap: str,
    topic: str,
    dead_letter_topic: str,
    group_id: str,
    schema: str,
    pool_holder: dict[str, AsyncConnectionPool],
    die_after_effect: bool = False,
    batch: bool = False,
    in_flight: dict[str, int] | None = None,
) -> KafkaBroker:
    """``in_flight`` (optional) receives "now" and "most": handlers running at once."""
    in_flight = in_flight if in_flight is not None else {}
    in_flight.update(now=0, most=0)
    broker, policy = make_broker(
        bootstrap,
        service="guarantees-test",
        max_attempts=3,
        backoff_seconds=0.05,
        dead_letter_topic=dead_letter_topic,
    )

    async def on_message(event: MessageReceived) -> None:
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        try:
            await handle(event)
        finally:
            in_flight["now"] -= 1

    async def handle(event: MessageReceived) -> None:
        pool = pool_holder["pool"]
        async with pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO {schema}.deliveries (event_id) VALUES (%s)", (event.event_id,)
            )
            await conn.commit()
        if event.text.startswith("slow"):
            await asyncio.sleep(0.2)
        if event.text.startswith("fail-always"):
            raise RuntimeError("this handler can never process this message")
        if event.text.startswith("flaky-dependency"):
            async with pool.connection() as conn:
                cur = await conn.execute(
                    f"SELECT count(*) AS n FROM {schema}.deliveries WHERE event_id = %s",
                    (event.event_id,),
                )
                row = await cur.fetchone()
            if row is not None and row["n"] < 5:  # an outage outlasting the in-place retries
                raise ConnectionError("database unreachable (simulated outage)")
        async with pool.connection() as conn, conn.transaction():
            if await claim_event(conn, schema, "guarantees-test", event.event_id):
                await conn.execute(
                    f"INSERT INTO {schema}.effects (event_id, text) VALUES (%s, %s)",
                    (event.event_id, event.text),
                )
        if die_after_effect:
            # The effect is committed but the offset is not: a crash exactly here.
            os._exit(17)

    if batch:

        async def on_event(event: Event) -> None:
            if not isinstance(event, MessageReceived):
                raise TypeError(f"unexpected {event.event_type}")
            await on_message(event)

        @broker.subscriber(
            topic,
            group_id=group_id,
            ack_policy=AT_LEAST_ONCE,
            batch=True,
            max_records=50,
            batch_timeout_ms=20,
            decoder=raw_records,
            auto_offset_reset="earliest",
        )
        async def on_batch(message: KafkaMessage) -> None:
            await consume_keyed_batch(message.raw_message, on_event, policy)

    else:
        broker.subscriber(
            topic,
            group_id=group_id,
            ack_policy=AT_LEAST_ONCE,
            decoder=decode_event,
            auto_offset_reset="earliest",
        )(on_message)
    return broker


async def _run_subprocess(argv: list[str]) -> None:
    bootstrap, topic, dlq, group_id, schema, dsn, mode = argv
    pool = await open_pool(dsn)
    await migrate(pool, schema, migrations(schema))
    broker = build(
        bootstrap=bootstrap,
        topic=topic,
        dead_letter_topic=dlq,
        group_id=group_id,
        schema=schema,
        pool_holder={"pool": pool},
        die_after_effect=mode == "die",
    )
    await broker.start()
    await asyncio.sleep(60)  # the test kills us long before this


if __name__ == "__main__":
    asyncio.run(_run_subprocess(sys.argv[1:]))
