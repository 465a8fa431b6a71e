"""Composition root of the conversation service: the only place adapters are wired."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from tandem_events import ALL_TOPICS
from tandem_platform.http import ops_router
from tandem_platform.messaging import DeadLetterPolicy, ensure_topics, make_broker
from tandem_platform.postgres import OutboxRelay, broker_publish, migrate, open_pool
from tandem_platform.redis import SequenceAllocator, open_redis

from .adapters.schema import MIGRATIONS, SCHEMA
from .entrypoints import consumers, internal_api
from .entrypoints.hold_timer import HoldReleaseTimer
from .handlers import Deps
from .settings import ConversationSettings

SERVICE = "conversation"


def build_broker(settings: ConversationSettings) -> tuple[KafkaBroker, DeadLetterPolicy]:
    return make_broker(
        settings.kafka_bootstrap,
        service=SERVICE,
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
    )


def create_app(settings: ConversationSettings | None = None) -> FastAPI:
    settings = settings or ConversationSettings()
    broker, _ = build_broker(settings)
    deps = Deps()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap, ALL_TOPICS)
        pool = await open_pool(settings.postgres_dsn, max_size=20)
        redis = open_redis(settings.redis_url)
        await migrate(pool, SCHEMA, MIGRATIONS)
        deps.pool = pool
        deps.sequence = SequenceAllocator(redis)
        app.state.pool = pool
        relay = OutboxRelay(
            pool, settings.postgres_dsn, SCHEMA, broker_publish(broker), service=SERVICE
        )
        hold_timer = HoldReleaseTimer(deps, interval_seconds=settings.hold_check_interval_seconds)
        app.state.hold_timer = hold_timer
        await broker.start()
        await relay.start()
        await hold_timer.start()
        try:
            yield
        finally:
            # Stop consuming and releasing first, then flush what is committed to the outbox.
            await hold_timer.stop()
            await broker.stop()
            await relay.stop()
            await redis.aclose()
            await pool.close()

    subscriber = consumers.register(broker, settings, deps)

    app = FastAPI(
        title="Tandem conversation service",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/internal/docs",
        openapi_url="/internal/openapi.json",
    )

    async def check_postgres() -> None:
        async with app.state.pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def check_kafka() -> None:
        if not await broker.ping(timeout=2.0):
            raise RuntimeError("Kafka did not answer")

    app.include_router(ops_router({"postgres": check_postgres, "kafka": check_kafka}))
    app.include_router(internal_api.router)
    app.state.broker = broker
    app.state.subscriber = subscriber
    app.state.deps = deps
    return app
