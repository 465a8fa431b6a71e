"""Use case: crawl a site (from a start page, or a sitemap) into its knowledge base.

A crawl is a job (``ingestion_jobs``, kind ``crawl``), one at a time per site. It reads
robots.txt first (a site whose robots.txt cannot be read is not crawled), then fetches
pages breadth first: the start page and the links found on each page, or every page a
sitemap lists (sitemap crawls follow no links). Each HTML page or PDF becomes a document
whose id derives from its (canonical) URL and whose ``url`` is that URL, ingested by the
same ``IngestionService`` as uploads, so re-crawling an unchanged page changes nothing and
a changed one replaces its passages.

Every URL decided is recorded with its outcome (indexed, unchanged, failed, skipped and
why); progress goes out as ``KnowledgeIngestionProgressed``. The crawl stops queueing at
``max_pages`` and stops fetching at the total byte budget; it gives up when indexing fails
several times in a row (the knowledge store is down: no point fetching more).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tandem_platform.postgres import Pool as PgPool

from ..adapters.crawler import FetchedPage, FetchFailed, FetchSkipped, RobotsUnavailable
from ..adapters.job_repository import JobRecord, JobRepository
from ..domain.crawling import (
    CrawlLimits,
    Frontier,
    RobotsRules,
    canonicalize,
    document_id_for_url,
    host_of,
    origin_of,
    parse_sitemap,
    title_from_url,
)
from ..domain.documents import InvalidDocumentError, SourceDocument, validate_site_id
from ..domain.formats import load_bytes
from ..domain.html_document import PageInfo, inspect_page
from .ingestion import IngestionService
from .jobs import JobProgress, JobRunner, Listener

log = logging.getLogger(__name__)

#: Indexing failures in a row after which a crawl gives up.
MAX_CONSECUTIVE_INDEXING_FAILURES = 5
#: Sitemaps read at most (an index and the sitemaps it lists).
MAX_SITEMAPS = 50
#: Skipped URLs recorded one by one at most; beyond that they are only counted.
MAX_RECORDED_SKIPS = 2000


class Fetcher(Protocol):
    async def robots(self, origin: str) -> RobotsRules: ...
    async def fetch(self, url: str, robots: RobotsRules) -> FetchedPage: ...
    async def sitemap(self, url: str, robots: RobotsRules) -> bytes: ...
    async def aclose(self) -> None: ...

    delay: float


@dataclass(frozen=True, slots=True)
class CrawlRequest:
    site_id: str
    start_url: str
    sitemap: bool = False
    max_pages: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"start_url": self.start_url, "sitemap": self.sitemap, "max_pages": self.max_pages}


@dataclass(frozen=True, slots=True)
class CrawlPolicy:
    limits: CrawlLimits = field(default_factory=CrawlLimits)
    #: The most pages a request may ask for.
    max_pages_cap: int = 5000
    progress_interval: float = 1.0


class CrawlAborted(Exception):
    pass


class CrawlService:
    def __init__(
        self,
        *,
        pool: PgPool,
        schema: str,
        ingestion: IngestionService,
        policy: CrawlPolicy,
        fetcher_factory: Callable[[CrawlLimits], Fetcher],
        runner: JobRunner | None = None,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.ingestion = ingestion
        self.policy = policy
        self.fetcher_factory = fetcher_factory
        self.runner = runner or JobRunner()
        self.jobs = JobRepository(schema)

    def limits_for(self, request: CrawlRequest) -> CrawlLimits:
        if request.max_pages is None:
            return self.policy.limits
        if not 1 <= request.max_pages <= self.policy.max_pages_cap:
            raise InvalidDocumentError(f"max_pages must be 1..{self.policy.max_pages_cap}")
        return replace(self.policy.limits, max_pages=request.max_pages)

    async def create_job(self, request: CrawlRequest) -> JobRecord:
        """Validate the request and record the job (``JobAlreadyRunning`` while the site has
        a crawl running)."""
        validate_site_id(request.site_id)
        if canonicalize(request.start_url) is None:
            raise InvalidDocumentError("start_url must be an http(s) address without credentials")
        self.limits_for(request)
        async with self.pool.connection() as conn, conn.transaction():
            return await self.jobs.create(
                conn,
                site_id=request.site_id,
                kind="crawl",
                request=request.to_json(),
                exclusive=True,
            )

    async def start(self, request: CrawlRequest) -> JobRecord:
        """Record the job and run it in the background; the job as it starts."""
        job = await self.create_job(request)
        self.runner.spawn(self.run(job, request), name=f"crawl-{job.job_id}")
        return job

    async def run(
        self, job: JobRecord, request: CrawlRequest, listener: Listener | None = None
    ) -> JobProgress:
        progress = JobProgress(
            pool=self.pool,
            schema=self.schema,
            job=job,
            interval=self.policy.progress_interval,
            listener=listener,
        )
        limits = self.limits_for(request)
        fetcher = self.fetcher_factory(limits)
        crawl = _Crawl(self, request, limits, fetcher, progress)
        try:
            note = await crawl.run()
        except (CrawlAborted, RobotsUnavailable, FetchFailed, FetchSkipped) as exc:
            await progress.finish("failed", error=str(exc), note=crawl.note())
        except InvalidDocumentError as exc:
            await progress.finish("failed", error=str(exc), note=crawl.note())
        except asyncio.CancelledError:
            await asyncio.shield(
                progress.finish("failed", error="cancelled: the service stopped during the crawl")
            )
            raise
        except Exception as exc:
            log.exception("crawl failed", extra={"fields": {"job_id": str(job.job_id)}})
            await progress.finish("failed", error=f"the crawl failed: {type(exc).__name__}: {exc}")
        else:
            await progress.finish("completed", note=note)
        finally:
            await fetcher.aclose()
        return progress


class _Crawl:
    """One crawl's state: the frontier, the queue, the budgets."""

    def __init__(
        self,
        service: CrawlService,
        request: CrawlRequest,
        limits: CrawlLimits,
        fetcher: Fetcher,
        progress: JobProgress,
    ) -> None:
        self.service = service
        self.request = request
        self.limits = limits
        self.fetcher = fetcher
        self.progress = progress
        start = canonicalize(request.start_url)
        assert start is not None  # checked when the job was created
        self.start = start
        self.frontier: Frontier | None = None
        self.robots = RobotsRules.allowing_everything()
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.bytes_fetched = 0
        self.out_of_bytes = False
        self.not_fetched = 0
        self.recorded_skips = 0
        self.disallowed = 0
        self.indexing_failures_in_a_row = 0
        self.aborted: CrawlAborted | None = None

    async def run(self) -> str | None:
        self.robots = await self.fetcher.robots(origin_of(self.start))
        self.fetcher.delay = self.limits.polite_delay(self.robots)
        self.frontier = Frontier(host_of(self.start), self.robots, self.limits)
        if self.request.sitemap:
            for url in await self._sitemap_pages():
                await self._offer(url, None)
        else:
            await self._offer(self.start, None)
        workers = [asyncio.create_task(self._work()) for _ in range(self.limits.concurrency)]
        try:
            await self.queue.join()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        if self.aborted is not None:
            raise self.aborted
        return self.note()

    def note(self) -> str | None:
        parts = []
        if self.frontier is not None and self.frontier.over_limit:
            parts.append(
                f"{self.frontier.over_limit} more page(s) found beyond max_pages "
                f"({self.limits.max_pages}) were not crawled"
            )
        if self.out_of_bytes:
            parts.append(
                f"stopped at the total download limit ({self.limits.max_total_bytes} bytes); "
                f"{self.not_fetched} queued page(s) not fetched"
            )
        return "; ".join(parts) or None

    async def _sitemap_pages(self) -> list[str]:
        host = host_of(self.start)
        pending = [self.start]
        seen: set[str] = set()
        pages: list[str] = []
        while pending and len(seen) < MAX_SITEMAPS:
            url = pending.pop(0)
            if url in seen:
                continue
            seen.add(url)
            sitemap = parse_sitemap(await self.fetcher.sitemap(url, self.robots))
            pages.extend(sitemap.pages)
            for nested in sitemap.sitemaps:
                canonical = canonicalize(nested, url)
                if canonical and host_of(canonical) == host:
                    pending.append(canonical)
        return pages

    async def _offer(self, url: str, base: str | None) -> None:
        assert self.frontier is not None
        decision, canonical = self.frontier.offer(url, base)
        if decision == "queued" and canonical:
            self.queue.put_nowait(canonical)
            await self.progress.advance(total=self.frontier.queued + self.disallowed)
        elif decision == "disallowed" and canonical:
            self.disallowed += 1
            await self._skip(canonical, "disallowed by robots.txt")

    async def _skip(self, url: str, reason: str) -> None:
        keep = self.recorded_skips < MAX_RECORDED_SKIPS
        self.recorded_skips += 1
        await self.progress.record(url, "skipped", reason=reason, keep=keep)

    async def _work(self) -> None:
        while True:
            url = await self.queue.get()
            try:
                if self.out_of_bytes or self.aborted is not None:
                    self.not_fetched += 1
                    continue
                await self._crawl_one(url)
            except CrawlAborted as exc:
                self.aborted = exc
            except Exception as exc:  # one page's surprise must not end the crawl
                log.warning(
                    "crawling a page failed",
                    exc_info=True,
                    extra={"fields": {"job_id": str(self.progress.job_id), "url": url}},
                )
                await self.progress.record(url, "failed", reason=f"{type(exc).__name__}: {exc}")
            finally:
                self.queue.task_done()

    async def _crawl_one(self, url: str) -> None:
        assert self.frontier is not None
        try:
            page = await self.fetcher.fetch(url, self.robots)
        except FetchSkipped as exc:
            await self._skip(url, str(exc))
            return
        except FetchFailed as exc:
            await self.progress.record(url, "failed", reason=str(exc))
            return
        self.bytes_fetched += len(page.body)
        if self.bytes_fetched >= self.limits.max_total_bytes:
            self.out_of_bytes = True
        if page.url != url and not self.frontier.claim(page.url):
            await self._skip(url, f"redirects to {page.url}, already crawled")
            return
        document_url = page.url
        if page.media_type == "application/pdf":
            try:
                loaded = await asyncio.to_thread(load_bytes, page.body, "pdf")
            except InvalidDocumentError as exc:
                await self._skip(url, str(exc))
                return
        else:
            try:
                loaded = await asyncio.to_thread(
                    load_bytes, page.body, "html", charset=page.charset
                )
            except InvalidDocumentError as exc:  # an empty page
                await self._skip(url, str(exc))
                return
            info: PageInfo = await asyncio.to_thread(inspect_page, loaded.text)
            if not info.nofollow and not self.request.sitemap:
                base = canonicalize(info.base_href, page.url) if info.base_href else None
                for link in info.links:
                    await self._offer(link, base or page.url)
            canonical = canonicalize(info.canonical, page.url) if info.canonical else None
            if canonical and canonical != page.url and host_of(canonical) == self.frontier.host:
                if not self.frontier.claim(canonical):
                    await self._skip(url, f"a duplicate of {canonical} (its canonical URL)")
                    return
                document_url = canonical
            if info.noindex:
                await self._skip(url, "the page asks not to be indexed (robots meta tag)")
                return
        await self._index(url, document_url, loaded.text, loaded.format, loaded.title)

    async def _index(
        self, url: str, document_url: str, text: str, fmt: str, title: str | None
    ) -> None:
        document_id = document_id_for_url(document_url)
        try:
            document = SourceDocument(
                site_id=self.request.site_id,
                document_id=document_id,
                title=(title or title_from_url(document_url)).strip()[:300],
                url=document_url,
                text=text,
                format=fmt,  # type: ignore[arg-type]
            )
            result = await self.service.ingestion.ingest(document)
        except InvalidDocumentError as exc:
            await self._skip(url, str(exc))
            return
        except Exception as exc:
            self.indexing_failures_in_a_row += 1
            reason = f"indexing failed: {type(exc).__name__}: {exc}"
            await self.progress.record(url, "failed", document_id=document_id, reason=reason)
            if self.indexing_failures_in_a_row >= MAX_CONSECUTIVE_INDEXING_FAILURES:
                raise CrawlAborted(
                    f"indexing failed {self.indexing_failures_in_a_row} times in a row; "
                    f"last error: {reason}"
                ) from exc
            return
        self.indexing_failures_in_a_row = 0
        await self.progress.record(url, result.status, document_id=document_id)
