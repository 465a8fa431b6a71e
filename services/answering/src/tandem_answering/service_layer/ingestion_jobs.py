"""The job-shaped use cases (crawls, uploads) wired from the settings, for the service's
lifespan (app.py) and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass

from tandem_platform.postgres import Pool as PgPool

from ..adapters.crawler import HttpFetcher
from ..adapters.job_repository import JobRepository
from ..domain.crawling import CrawlLimits
from ..settings import AnsweringSettings
from .crawling import CrawlPolicy, CrawlService
from .ingestion import IngestionService
from .jobs import JobRunner
from .uploads import UploadService


@dataclass
class IngestionJobs:
    runner: JobRunner
    crawls: CrawlService
    uploads: UploadService
    pool: PgPool
    repository: JobRepository
    stale_seconds: float

    async def abandon_stale(self) -> int:
        """Mark the jobs whose process died as failed (at start-up)."""
        async with self.pool.connection() as conn:
            return await self.repository.abandon_stale(conn, silent_seconds=self.stale_seconds)

    async def shutdown(self) -> None:
        await self.runner.shutdown()


def crawl_limits(settings: AnsweringSettings) -> CrawlLimits:
    return CrawlLimits(
        max_pages=settings.crawl_max_pages,
        max_page_bytes=settings.crawl_max_page_bytes,
        max_total_bytes=max(settings.crawl_max_total_bytes, settings.crawl_max_page_bytes),
        delay_seconds=settings.crawl_delay_seconds,
        concurrency=settings.crawl_concurrency,
    )


def build_ingestion_jobs(
    settings: AnsweringSettings, pool: PgPool, ingestion: IngestionService
) -> IngestionJobs:
    schema = settings.postgres_schema
    runner = JobRunner()

    def fetcher(limits: CrawlLimits) -> HttpFetcher:
        return HttpFetcher(
            limits,
            timeout_seconds=settings.crawl_timeout_seconds,
            allow_private_networks=settings.crawl_allow_private_networks,
        )

    crawls = CrawlService(
        pool=pool,
        schema=schema,
        ingestion=ingestion,
        policy=CrawlPolicy(
            limits=crawl_limits(settings),
            max_pages_cap=max(settings.crawl_max_pages_cap, settings.crawl_max_pages),
            progress_interval=settings.job_progress_interval_seconds,
        ),
        fetcher_factory=fetcher,
        runner=runner,
    )
    uploads = UploadService(
        pool=pool,
        schema=schema,
        ingestion=ingestion,
        runner=runner,
        progress_interval=settings.job_progress_interval_seconds,
    )
    return IngestionJobs(
        runner=runner,
        crawls=crawls,
        uploads=uploads,
        pool=pool,
        repository=JobRepository(schema),
        stale_seconds=settings.job_stale_seconds,
    )
