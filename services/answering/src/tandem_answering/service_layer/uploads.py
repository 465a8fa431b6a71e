"""Use case: index an uploaded file (Markdown, text, HTML or PDF).

The file is read at once (format, text, title: a wrong type, a scan without text or an
unreadable PDF is refused before anything is recorded), then indexed as a job of kind
``upload``, counted in passages. The caller waits up to ``wait_seconds`` for it: a small
file is done by then and the answer is the finished job; a big PDF is not, and the answer
is the running job, to be polled while its progress events go out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from tandem_platform.postgres import Pool as PgPool

from ..adapters.job_repository import JobRecord, JobRepository
from ..domain.documents import (
    InvalidDocumentError,
    SourceDocument,
    document_id_from_name,
    validate_document_id,
    validate_site_id,
)
from ..domain.formats import detect_format, load_bytes, suffix_of
from .ingestion import IngestionService, IngestResult
from .jobs import JobProgress, JobRunner

log = logging.getLogger(__name__)


class UnsupportedFileType(InvalidDocumentError):
    """Not a format Tandem indexes (HTTP 415)."""


class IndexingFailed(Exception):
    """Indexing broke for a reason that is not the file's fault (HTTP 503: retry)."""


@dataclass(frozen=True, slots=True)
class Upload:
    site_id: str
    filename: str
    content_type: str | None
    data: bytes
    title: str | None = None
    url: str | None = None
    document_id: str | None = None


class UploadService:
    def __init__(
        self,
        *,
        pool: PgPool,
        schema: str,
        ingestion: IngestionService,
        runner: JobRunner,
        progress_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.ingestion = ingestion
        self.runner = runner
        self.progress_interval = progress_interval
        self.jobs = JobRepository(schema)

    async def prepare(self, upload: Upload) -> SourceDocument:
        validate_site_id(upload.site_id)
        fmt = detect_format(upload.filename, upload.content_type, upload.data[:1024])
        if fmt is None:
            raise UnsupportedFileType(
                f"cannot index {suffix_of(upload.filename) or 'this'} files; "
                "upload Markdown (.md), text (.txt), HTML (.html, .htm) or PDF (.pdf)"
            )
        loaded = await asyncio.to_thread(load_bytes, upload.data, fmt)
        document_id = upload.document_id or document_id_from_name(upload.filename or "upload")
        validate_document_id(document_id)
        stem = (upload.filename or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        title = (upload.title or "").strip() or loaded.title or stem.replace("_", " ").strip()
        return SourceDocument(
            site_id=upload.site_id,
            document_id=document_id,
            title=title[:300] or document_id,
            url=upload.url,
            text=loaded.text,
            format=loaded.format,  # type: ignore[arg-type]
        )

    async def upload(self, upload: Upload, *, wait_seconds: float) -> JobRecord:
        """The job, finished if it finished within ``wait_seconds``, else running.

        Raises ``InvalidDocumentError`` (``UnsupportedFileType``) for a file that cannot be
        indexed, and ``IndexingFailed`` when indexing broke within the wait.
        """
        document = await self.prepare(upload)
        async with self.pool.connection() as conn, conn.transaction():
            job = await self.jobs.create(
                conn,
                site_id=upload.site_id,
                kind="upload",
                request={
                    "filename": upload.filename[:300],
                    "bytes": len(upload.data),
                    "document_id": document.document_id,
                    "format": document.format,
                },
                unit="passages",
            )
        task = self.runner.spawn(self._index(job, document), name=f"upload-{job.job_id}")
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), timeout=wait_seconds)
        except TimeoutError:
            outcome = None
        if isinstance(outcome, InvalidDocumentError):
            raise outcome
        if isinstance(outcome, Exception):
            raise IndexingFailed(f"indexing failed: {type(outcome).__name__}: {outcome}")
        found = await self.get(upload.site_id, job.job_id)
        assert found is not None
        return found

    async def _index(self, job: JobRecord, document: SourceDocument) -> IngestResult | Exception:
        """Index the document as the job; what went wrong is returned, not raised (the job
        records it, and the caller who waited reports it)."""
        progress = JobProgress(
            pool=self.pool, schema=self.schema, job=job, interval=self.progress_interval
        )

        async def embedding(passages: int) -> None:
            await progress.advance(total=passages, current=document.document_id)

        try:
            result = await self.ingestion.ingest(document, on_chunks=embedding)
        except asyncio.CancelledError:
            await asyncio.shield(
                progress.finish("failed", error="cancelled: the service stopped while indexing")
            )
            raise
        except Exception as exc:
            if not isinstance(exc, InvalidDocumentError):
                log.exception(
                    "indexing an upload failed", extra={"fields": {"job_id": str(job.job_id)}}
                )
            progress.failed = 1
            await progress.finish("failed", error=str(exc) or type(exc).__name__)
            return exc
        progress.done = progress.total = result.document.chunk_count
        progress.current = document.document_id
        await progress.finish("completed", result=_result(result))
        return result

    async def get(self, site_id: str, job_id: uuid.UUID) -> JobRecord | None:
        async with self.pool.connection() as conn:
            return await self.jobs.get(conn, site_id, job_id)


def _result(result: IngestResult) -> dict[str, Any]:
    return {"status": result.status, "document": result.document.to_json()}
