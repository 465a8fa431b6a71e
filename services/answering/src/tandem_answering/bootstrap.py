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
from .adapters.embedder import (
    BatchingEncoder,
    MultilingualEncoder,
    SentenceTransformerEncoder,
    load_model,
    load_multilingual_model,
    model_words,
)
from .adapters.language import LanguageDetector
from .adapters.repository import migrations
from .adapters.weaviate_store import WeaviateKnowledgeStore
from .domain.answer import (
    ENGLISH_ROUTE,
    FEATURE_NAMES,
    MULTILINGUAL_NOISE_FLOOR,
    MULTILINGUAL_ROUTE,
    NOISE_FLOOR,
)
from .domain.calibration import Calibration
from .domain.spelling import Speller
from .service_layer.answering import Answerer, AnswerPolicy, Route
from .service_layer.ingestion import IngestionService
from .service_layer.site_policy import SitePolicies
from .service_layer.vocabulary import SiteVocabularies
from .settings import AnsweringSettings


@dataclass
class Runtime:
    settings: AnsweringSettings
    pool: PgPool
    store: WeaviateKnowledgeStore
    model: SentenceTransformerEncoder
    encoder: BatchingEncoder
    multilingual_model: MultilingualEncoder
    multilingual_encoder: BatchingEncoder
    language: LanguageDetector
    calibration: Calibration
    multilingual_calibration: Calibration
    ingestion: IngestionService
    site_policies: SitePolicies
    vocabularies: SiteVocabularies
    answerer: Answerer

    @property
    def model_version(self) -> str:
        return self.model.version

    @property
    def index_version(self) -> str:
        """What a document's vectors depend on: both models (a new one re-indexes)."""
        return f"{self.model.version}+{self.multilingual_model.version}"


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
        model, multilingual_model, _ = await asyncio.gather(
            asyncio.to_thread(load_model, settings.device),
            asyncio.to_thread(load_multilingual_model),
            asyncio.to_thread(language.load),
        )
        if require_calibration:
            calibration = load_calibration(model.version, version=settings.calibration_version)
            multilingual_calibration = load_calibration(
                multilingual_model.version, version=settings.multilingual_calibration_version
            )
        else:
            calibration = uncalibrated(model.version)
            multilingual_calibration = uncalibrated(multilingual_model.version)
        encoder = BatchingEncoder(
            model,
            max_batch=settings.batch_max_size,
            max_wait=settings.batch_max_wait_ms / 1000,
            name=ENGLISH_ROUTE,
        )
        stack.push_async_callback(encoder.aclose)
        multilingual_encoder = BatchingEncoder(
            multilingual_model,
            max_batch=settings.batch_max_size,
            max_wait=settings.batch_max_wait_ms / 1000,
            name=MULTILINGUAL_ROUTE,
        )
        stack.push_async_callback(multilingual_encoder.aclose)
        ingestion = IngestionService(
            pool=pool,
            store=store,
            encoder=encoder,
            multilingual_encoder=multilingual_encoder,
            language=language,
            model_version=f"{model.version}+{multilingual_model.version}",
            schema=schema,
            chunk_max_chars=settings.chunk_max_chars,
            chunk_overlap_chars=settings.chunk_overlap_chars,
        )
        # Per-site threshold, fallback text and curated answers; curated phrasings are
        # embedded by the English model (a multilingual question matches them by text).
        site_policies = SitePolicies(
            pool=pool,
            schema=schema,
            embed=encoder.encode,
            model_version=model.version,
            default_threshold=settings.answer_threshold,
            default_fallback_text=settings.fallback_text,
            match_threshold=settings.curated_match_threshold,
            match_margin=settings.curated_match_margin,
            cache_seconds=settings.site_policy_cache_seconds,
        )
        vocabularies = SiteVocabularies(
            pool=pool, schema=schema, refresh_seconds=settings.spelling_refresh_seconds
        )
        answerer = Answerer(
            english=Route(ENGLISH_ROUTE, encoder, calibration, NOISE_FLOOR),
            multilingual=Route(
                MULTILINGUAL_ROUTE,
                multilingual_encoder,
                multilingual_calibration,
                MULTILINGUAL_NOISE_FLOOR,
            ),
            store=store,
            language=language,
            policy=AnswerPolicy(
                limit=settings.retrieval_limit,
                alpha=settings.hybrid_alpha,
                max_chars=settings.answer_max_chars,
                max_sentences=settings.answer_max_sentences,
                fallback_text=settings.fallback_text,
            ),
            threshold_for=site_policies.threshold,
            fallback_for=site_policies.fallback_text,
            curated=site_policies,
            speller=Speller(model_words()) if settings.spelling else None,
            words_for=vocabularies.words,
        )
        yield Runtime(
            settings=settings,
            pool=pool,
            store=store,
            model=model,
            encoder=encoder,
            multilingual_model=multilingual_model,
            multilingual_encoder=multilingual_encoder,
            language=language,
            calibration=calibration,
            multilingual_calibration=multilingual_calibration,
            ingestion=ingestion,
            site_policies=site_policies,
            vocabularies=vocabularies,
            answerer=answerer,
        )
