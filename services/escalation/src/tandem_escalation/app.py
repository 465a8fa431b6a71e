"""The escalation service's composition root: ``create_app(settings)`` wires everything.

Nothing is built at import time. The lifespan opens Postgres and migrates the schema, opens
Redis (agent presence), loads the embedding model off the event loop, starts the Kafka
broker (consumer and producer), the outbox relay and the routing sweeper; on shutdown it
stops consuming first, then the sweeper, relays what is left, and closes the producer,
Redis and the pool.
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
from tandem_platform.redis import open_redis

from .adapters.embedder import Embedder
from .adapters.presence import PresenceStore
from .adapters.repository import PolicyBook
from .adapters.roster import Passwords
from .adapters.schema import MIGRATIONS, SCHEMA
from .dispatch import Dispatcher
from .entrypoints import invitations, team
from .entrypoints.consumers import register_consumers
from .entrypoints.http import install_error_handlers, readiness_router, router
from .handlers import SERVICE, EscalationHandlers
from .metrics import EMBEDDINGS_READY
from .settings import EscalationSettings
from .sweeper import Sweeper


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
    redis = open_redis(settings.redis_url)
    presence = PresenceStore(redis, ttl_seconds=settings.presence_ttl_seconds)
    dispatcher = Dispatcher(presence)
    embedder = Embedder(threads=settings.embedding_threads)
    handlers = EscalationHandlers(policies=PolicyBook(), dispatcher=dispatcher, embedder=embedder)
    subscriber = register_consumers(broker, handlers, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap, ALL_TOPICS)
        if settings.embeddings_enabled:
            await embedder.load()
        EMBEDDINGS_READY.set(1 if embedder.ready else 0)
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
            sweeper = Sweeper(
                pool,
                dispatcher,
                interval_seconds=settings.sweep_interval_seconds,
                presence_ttl_seconds=settings.presence_ttl_seconds,
            )
            app.state.sweeper = sweeper
            await broker.start()
            await relay.start()
            await sweeper.start()
            try:
                yield
            finally:
                await subscriber.stop()
                await sweeper.stop()
                await relay.stop()
                await broker.stop()
        finally:
            await pool.close()
            await redis.aclose()
            embedder.close()

    async def kafka_ready() -> None:
        if not await broker.ping(timeout=1.5):
            raise ConnectionError("Kafka does not answer")

    async def postgres_ready() -> None:
        if handlers.pool is None:
            raise ConnectionError("the database pool is not open yet")
        async with handlers.pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def redis_ready() -> None:
        await presence.ping()

    app = FastAPI(
        title="Tandem escalation service",
        version="0.1.0",
        lifespan=lifespan,
        description="Decides when a conversation goes to a human (EscalationRaised) and "
        "which human (AgentAssigned, EscalationQueued); owns the team roster and presence.",
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.subscriber = subscriber
    app.state.handlers = handlers
    app.state.dispatcher = dispatcher
    app.state.embedder = embedder
    app.state.passwords = Passwords()
    install_error_handlers(app)
    checks = {"kafka": kafka_ready, "postgres": postgres_ready, "redis": redis_ready}
    # Registered before the shared ops routes, so its /readyz (the same checks, plus whether
    # the embedding model runs or the fallback does) is the one served.
    app.include_router(readiness_router(checks, embedder))
    app.include_router(ops_router(checks))
    app.include_router(router)
    app.include_router(team.router)
    app.include_router(invitations.router)
    return app
