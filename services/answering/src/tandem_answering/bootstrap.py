"""Wiring of the adapters into the use cases, shared by the service (app.py) and the CLI.

Nothing happens at import: ``open_runtime`` connects to Postgres and Weaviate, migrates the
schema, loads the model once and builds the ingestion and answer services; leaving the
context closes everything it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tandem_platform.postgres import Pool as PgPool
from tandem_platform.postgres import migrate, open_pool

from .adapters.calibration_store import load_calibration
from .adapters.embedder import BatchingEncoder, SentenceTransformerEncoder, load_model
from .adapters.language import LanguageDetector
from .adapters.repository import migrations
from .adapters.weaviate_store import WeaviateKnowledgeStore
from .domain.answer import FEATURE_NAMES
from .domain.calibration import Calibration
from .service_layer.answering import Answerer, AnswerPolicy, fixed_threshold
from .service_layer.ingestion import IngestionService
from .settings import AnsweringSettings


@dataclass
class Runtime:
    settings: AnsweringSettings
    pool: PgPool
    store: WeaviateKnowledgeStore
    model: SentenceTransformerEncoder
    encoder: BatchingEncoder
    language: LanguageDetector
    calibration: Calibration
    ingestion: IngestionService
    answerer: Answerer

    @property
    def model_version(self) -> str:
        return self.model.version


def uncalibrated(model_version: str) -> Calibration:
    """Confidence 0.5 for everything: only for computing features before any fit exists."""
    return Calibration(
        version="uncalibrated",
        model_version=model_version,
        features=FEATURE_NAMES,
        coefficients=tuple(0.0 for _ in FEATURE_NAMES),
        intercept=0.0,
    )


@contextlib.asynccontextmanager
async def open_runtime(
    settings: AnsweringSettings, *, require_calibration: bool = True
) -> AsyncIterator[Runtime]:
    schema = settings.postgres_schema
    async with contextlib.AsyncExitStack() as stack:
        pool = await open_pool(settings.postgres_dsn, max_size=10)
        stack.push_async_callback(pool.close)
        await migrate(pool, schema, migrations(schema))
        store = await WeaviateKnowledgeStore.connect(
            settings.weaviate_url,
            settings.weaviate_grpc_port,
            api_key=settings.weaviate_api_key,
            search_timeout=settings.weaviate_search_timeout_seconds,
        )
        stack.push_async_callback(store.close)
        language = LanguageDetector()
        model, _ = await asyncio.gather(
            asyncio.to_thread(load_model, settings.device), asyncio.to_thread(language.load)
        )
        if require_calibration:
            calibration = load_calibration(model.version, version=settings.calibration_version)
        else:
            calibration = uncalibrated(model.version)
        encoder = BatchingEncoder(
            model, max_batch=settings.batch_max_size, max_wait=settings.batch_max_wait_ms / 1000
        )
        stack.push_async_callback(encoder.aclose)
        ingestion = IngestionService(
            pool=pool,
            store=store,
            encoder=encoder,
            language=language,
            model_version=model.version,
            schema=schema,
            chunk_max_chars=settings.chunk_max_chars,
            chunk_overlap_chars=settings.chunk_overlap_chars,
        )
        answerer = Answerer(
            encoder=encoder,
            store=store,
            calibration=calibration,
            language=language,
            model_version=model.version,
            policy=AnswerPolicy(
                limit=settings.retrieval_limit,
                alpha=settings.hybrid_alpha,
                max_chars=settings.answer_max_chars,
                max_sentences=settings.answer_max_sentences,
                fallback_text=settings.fallback_text,
            ),
            threshold_for=fixed_threshold(settings.answer_threshold),
        )
        yield Runtime(
            settings=settings,
            pool=pool,
            store=store,
            model=model,
            encoder=encoder,
            language=language,
            calibration=calibration,
            ingestion=ingestion,
            answerer=answerer,
        )
