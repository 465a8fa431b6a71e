"""The escalation service's composition root: ``create_app(settings)`` wires everything.

Nothing is built at import time. The lifespan opens Postgres and migrates the schema,
starts the Kafka broker (consumer and producer) and the outbox relay, and on shutdown stops
consuming first, relays what is left, then closes the producer and the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from tandem_events import ALL_TOPICS
from tandem_platform.http import ops_router
from tandem_platform.messaging import ensure_topics, make_broker
from tandem_platform.postgres import OutboxRelay, broker_publish, migrate, open_pool

from .adapters.repository import PolicyBook
from .adapters.schema import MIGRATIONS, SCHEMA
from .entrypoints.consumers import register_consumers
from .entrypoints.http import install_error_handlers, router
from .handlers import SERVICE, EscalationHandlers
from .settings import EscalationSettings


def build_broker(settings: EscalationSettings) -> KafkaBroker:
    broker, _ = make_broker(
        settings.kafka_bootstrap,
        service=SERVICE,
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    return broker


def create_app(settings: EscalationSettings | None = None) -> FastAPI:
    settings = settings or EscalationSettings()
    broker = build_broker(settings)
    handlers = EscalationHandlers(policies=PolicyBook())
    subscriber = register_consumers(broker, handlers, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap, ALL_TOPICS)
        pool = await open_pool(settings.postgres_dsn, max_size=settings.postgres_pool_size)
        try:
            await migrate(pool, SCHEMA, MIGRATIONS)
            handlers.attach(pool)
            relay = OutboxRelay(
                pool,
                settings.postgres_dsn,
                SCHEMA,
                broker_publish(broker),
                service=SERVICE,
                poll_interval=settings.outbox_poll_interval_seconds,
            )
            await broker.start()
            await relay.start()
            try:
                yield
            finally:
                await subscriber.stop()
                await relay.stop()
                await broker.stop()
        finally:
            await pool.close()

    async def kafka_ready() -> None:
        if not await broker.ping(timeout=1.5):
            raise ConnectionError("Kafka does not answer")

    async def postgres_ready() -> None:
        if handlers.pool is None:
            raise ConnectionError("the database pool is not open yet")
        async with handlers.pool.connection() as conn:
            await conn.execute("SELECT 1")

    app = FastAPI(
        title="Tandem escalation service",
        version="0.1.0",
        lifespan=lifespan,
        description="Decides when a conversation goes to a human: EscalationRaised.",
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.subscriber = subscriber
    app.state.handlers = handlers
    install_error_handlers(app)
    app.include_router(ops_router({"kafka": kafka_ready, "postgres": postgres_ready}))
    app.include_router(router)
    return app
