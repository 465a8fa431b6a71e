"""The analytics service's composition root: ``create_app(settings)`` wires everything.

Nothing is built at import time. The lifespan opens Postgres and migrates the schema and
starts the Kafka consumer; on shutdown the consumer stops (committing what it finished)
before the pool closes. Analytics publishes nothing, so there is no outbox relay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from tandem_events import ALL_TOPICS
from tandem_platform.http import ops_router
from tandem_platform.messaging import ensure_topics, make_broker
from tandem_platform.postgres import migrate, open_pool

from .adapters.schema import MIGRATIONS, SCHEMA
from .entrypoints.consumers import register_consumers
from .entrypoints.http import install_error_handlers, router
from .handlers import SERVICE, AnalyticsProjector
from .settings import AnalyticsSettings


def build_broker(settings: AnalyticsSettings) -> KafkaBroker:
    broker, _ = make_broker(
        settings.kafka_bootstrap,
        service=SERVICE,
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    return broker


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    broker = build_broker(settings)
    projector = AnalyticsProjector()
    subscriber = register_consumers(broker, projector, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap, ALL_TOPICS)
        pool = await open_pool(settings.postgres_dsn, max_size=settings.postgres_pool_size)
        try:
            await migrate(pool, SCHEMA, MIGRATIONS)
            projector.attach(pool)
            await broker.start()
            try:
                yield
            finally:
                await broker.stop()
        finally:
            await pool.close()

    async def kafka_ready() -> None:
        if not await broker.ping(timeout=1.5):
            raise ConnectionError("Kafka does not answer")

    async def postgres_ready() -> None:
        if projector.pool is None:
            raise ConnectionError("the database pool is not open yet")
        async with projector.pool.connection() as conn:
            await conn.execute("SELECT 1")

    app = FastAPI(
        title="Tandem analytics service",
        version="0.1.0",
        lifespan=lifespan,
        description="Dashboard figures projected from Tandem's event stream.",
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.subscriber = subscriber
    app.state.projector = projector
    install_error_handlers(app)
    app.include_router(ops_router({"kafka": kafka_ready, "postgres": postgres_ready}))
    app.include_router(router)
    return app
