"""PostgreSQL plumbing: the connection pool, per-service schema migrations, inbox and outbox.

Each service owns one schema (``conversation``, ``answering``, ...) and never reads another's.
The inbox (``processed_events``) makes consumers idempotent: the event id is inserted in the
same transaction as the effect, so a redelivered event finds its id and changes nothing.
The outbox stores events in the same transaction as the state change; ``OutboxRelay``
publishes them afterwards, so a rolled-back transaction can never publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool
from tandem_events import Event
from tandem_events.wire import encode

from .metrics import EVENTS_PUBLISHED, OUTBOX_PENDING, OUTBOX_RELAY_LAG_SECONDS

log = logging.getLogger(__name__)

#: Connections of the pools built here return rows as dicts.
DictConnection = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[DictConnection]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def _check_schema(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def open_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    pool: Pool = AsyncConnectionPool(
        dsn,
        connection_class=DictConnection,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": False, "row_factory": dict_row},
    )
    await pool.open(wait=True, timeout=30)
    return pool


def platform_migrations(schema: str) -> list[str]:
    """The inbox and outbox tables every service schema carries."""
    s = _check_schema(schema)
    return [
        f"""
        CREATE TABLE IF NOT EXISTS {s}.processed_events (
            consumer     text        NOT NULL,
            event_id     uuid        NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )""",
        f"""
        CREATE TABLE IF NOT EXISTS {s}.outbox (
            id          bigserial   PRIMARY KEY,
            event_id    uuid        NOT NULL UNIQUE,
            topic       text        NOT NULL,
            key         bytea,
            value       bytea       NOT NULL,
            headers     jsonb       NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
        )""",
    ]


async def migrate(pool: Pool, schema: str, migrations: Sequence[str]) -> None:
    """Apply numbered migrations once each, under an advisory lock so replicas don't race.

    ``migrations`` is append-only: index ``i`` is migration ``i + 1`` forever.
    """
    s = _check_schema(schema)
    steps = [*platform_migrations(s), *migrations]
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tandem-migrate-{s}",))
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(s)))
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations "
                "(version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(s))
        )
        cur = await conn.execute(
            sql.SQL("SELECT coalesce(max(version), 0) AS v FROM {}.schema_migrations").format(
                sql.Identifier(s)
            )
        )
        row = await cur.fetchone()
        applied = int(row["v"]) if row else 0
        for version, statement in enumerate(steps, start=1):
            if version <= applied:
                continue
            await conn.execute(statement)
            await conn.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (version) VALUES (%s)").format(
                    sql.Identifier(s)
                ),
                (version,),
            )


async def claim_event(
    conn: DictConnection, schema: str, consumer: str, event_id: uuid.UUID
) -> bool:
    """Record ``event_id`` as processed by ``consumer`` inside the caller's transaction.

    Returns False when it was already processed: the caller must then do nothing.
    """
    s = _check_schema(schema)
    cur = await conn.execute(
        f"INSERT INTO {s}.processed_events (consumer, event_id) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING",
        (consumer, event_id),
    )
    return cur.rowcount == 1


async def enqueue(
    conn: DictConnection, schema: str, event: Event, *, source: str, traceparent: str | None = None
) -> None:
    """Add ``event`` to the outbox inside the caller's transaction (published after commit)."""
    s = _check_schema(schema)
    value, headers = encode(event, source=source, traceparent=traceparent)
    await conn.execute(
        f"INSERT INTO {s}.outbox (event_id, topic, key, value, headers) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
        (event.event_id, event.topic, event.key, value, json.dumps(headers)),
    )
    await conn.execute("SELECT pg_notify(%s, '')", (f"{s}_outbox",))


class OutboxRelay:
    """Moves committed outbox rows to Kafka, in order, then deletes them.

    Rows are locked with ``FOR UPDATE SKIP LOCKED`` so several replicas can relay at once
    without publishing a row twice in the normal case; a crash between the broker's ack and
    the delete publishes that row again, which consumers' inboxes absorb (deterministic
    event ids). A LISTEN/NOTIFY wake-up keeps latency low; a periodic poll is the safety net.
    """

    def __init__(
        self,
        pool: Pool,
        dsn: str,
        schema: str,
        publish: _Publish,
        *,
        service: str,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.dsn = dsn
        self.schema = _check_schema(schema)
        self.publish = publish
        self.service = service
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name=f"{self.service}-outbox-listen"),
            asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # One last pass so a graceful shutdown leaves nothing behind that it could send.
        with contextlib.suppress(Exception):
            while await self.relay_once():
                pass

    async def _listen(self) -> None:
        channel = f"{self.schema}_outbox"
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._wake.set()
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox LISTEN connection lost", extra={"fields": {"error": repr(exc)}})
                await asyncio.sleep(1)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                while await self.relay_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay pass failed", extra={"fields": {"error": repr(exc)}})
                await asyncio.sleep(self.poll_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            self._wake.clear()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were relayed."""
        s = self.schema
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"SELECT id, topic, key, value, headers, created_at FROM {s}.outbox "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.batch_size,),
            )
            rows = await cur.fetchall()
            if not rows:
                OUTBOX_PENDING.labels(self.service).set(0)
                return 0
            OUTBOX_PENDING.labels(self.service).set(len(rows))
            for row in rows:
                await self.publish(
                    bytes(row["value"]),
                    row["topic"],
                    bytes(row["key"]) if row["key"] is not None else None,
                    dict(row["headers"]),
                )
                EVENTS_PUBLISHED.labels(row["topic"], "outbox").inc()
                OUTBOX_RELAY_LAG_SECONDS.labels(self.service).observe(
                    max(0.0, (datetime.now(UTC) - row["created_at"]).total_seconds())
                )
            await conn.execute(
                f"DELETE FROM {s}.outbox WHERE id = ANY(%s)",
                ([row["id"] for row in rows],),
            )
            return len(rows)


class _Publish:  # pragma: no cover - typing protocol only
    async def __call__(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None: ...


def broker_publish(broker: object) -> _Publish:
    """Adapt a faststream KafkaBroker to the relay's publish callable."""

    async def publish(value: bytes, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        await broker.publish(value, topic=topic, key=key, headers=headers)  # type: ignore[attr-defined]

    return publish  # type: ignore[return-value]
