"""Composition root of the answering service: the only place the service is wired."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from tandem_events import ALL_TOPICS
from tandem_platform.http import ops_router
from tandem_platform.messaging import DeadLetterPolicy, EventPublisher, ensure_topics, make_broker
from tandem_platform.postgres import OutboxRelay, broker_publish

from .bootstrap import Runtime, open_runtime
from .entrypoints import admin_api, consumers, site_admin_api
from .entrypoints.consumers import SERVICE, ConsumerDeps
from .service_layer.ingestion import SOURCE
from .service_layer.ingestion_jobs import build_ingestion_jobs
from .settings import AnsweringSettings


def build_broker(settings: AnsweringSettings) -> tuple[KafkaBroker, DeadLetterPolicy]:
    return make_broker(
        settings.kafka_bootstrap,
        service=SERVICE,
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
    )


def create_app(settings: AnsweringSettings | None = None) -> FastAPI:
    settings = settings or AnsweringSettings()
    broker, policy = build_broker(settings)
    deps = ConsumerDeps()
    consumers.register(broker, settings, deps, policy)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap, ALL_TOPICS)
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            app.state.ingestion = runtime.ingestion
            # Crawls and uploads run as jobs in this process; jobs of a process that died
            # are marked failed.
            ingestion_jobs = build_ingestion_jobs(settings, runtime.pool, runtime.ingestion)
            await ingestion_jobs.abandon_stale()
            app.state.ingestion_jobs = ingestion_jobs
            app.state.site_policies = runtime.site_policies
            deps.answerer = runtime.answerer
            deps.publisher = EventPublisher(broker, source=SOURCE)
            relay = OutboxRelay(
                runtime.pool,
                settings.postgres_dsn,
                settings.postgres_schema,
                broker_publish(broker),
                service=SERVICE,
            )
            await broker.start()
            await relay.start()
            try:
                yield
            finally:
                # Stop taking messages first, then flush the outbox, then the runtime closes
                # the model, Weaviate and Postgres.
                await broker.stop()
                await ingestion_jobs.shutdown()  # running jobs record that they stopped
                app.state.ingestion_jobs = None
                await relay.stop()
                app.state.ingestion = None
                app.state.site_policies = None
                deps.answerer = None

    app = FastAPI(
        title="Tandem answering service",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/v1/admin/docs",
        openapi_url="/v1/admin/openapi.json",
    )
    app.state.ingestion = None
    app.state.site_policies = None
    app.state.ingestion_jobs = None
    app.state.upload_max_bytes = settings.upload_max_bytes
    app.state.upload_wait_seconds = settings.upload_wait_seconds
    app.state.broker = broker

    def runtime() -> Runtime:
        found: Runtime | None = getattr(app.state, "runtime", None)
        if found is None:
            raise RuntimeError("not started")
        return found

    async def check_postgres() -> None:
        async with runtime().pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def check_kafka() -> None:
        if not await broker.ping(timeout=2.0):
            raise RuntimeError("Kafka did not answer")

    async def check_weaviate() -> None:
        await runtime().store.ping()

    async def check_model() -> None:
        if runtime().model.dimension <= 0:
            raise RuntimeError("the embedding model is not loaded")

    app.include_router(
        ops_router(
            {
                "kafka": check_kafka,
                "postgres": check_postgres,
                "weaviate": check_weaviate,
                "model": check_model,
            }
        )
    )
    app.include_router(admin_api.router)
    app.include_router(admin_api.uploads_router)
    app.include_router(admin_api.ingestion_router)
    app.include_router(site_admin_api.router)
    return app
