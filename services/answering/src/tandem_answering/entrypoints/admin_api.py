"""Admin HTTP API of a site's knowledge base (internal: the gateway/dashboard authenticates).

``PUT`` is idempotent: the same content twice indexes once (``status: unchanged``). Files
(PDFs included) are uploaded as multipart to ``.../uploads``; whole sites are crawled by
``.../crawls`` (both at the end of this module).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Message

from ..adapters.job_repository import JobAlreadyRunning
from ..domain.documents import (
    DOCUMENT_ID,
    MAX_DOCUMENT_CHARS,
    MAX_TITLE_CHARS,
    SITE_ID,
    InvalidDocumentError,
    SourceDocument,
)
from ..service_layer.crawling import CrawlRequest
from ..service_layer.ingestion import IngestionService
from ..service_layer.ingestion_jobs import IngestionJobs
from ..service_layer.uploads import IndexingFailed, UnsupportedFileType, Upload

router = APIRouter(prefix="/v1/admin/sites/{site_id}/documents", tags=["knowledge base"])

SiteId = Annotated[str, Path(pattern=SITE_ID.pattern, description="the site (a tenant)")]
DocumentId = Annotated[str, Path(pattern=DOCUMENT_ID.pattern, description="the site's id for it")]


def get_ingestion(request: Request) -> IngestionService:
    ingestion: IngestionService | None = getattr(request.app.state, "ingestion", None)
    if ingestion is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is starting")
    return ingestion


Ingestion = Annotated[IngestionService, Depends(get_ingestion)]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    url: str | None = Field(default=None, max_length=2000)
    text: str = Field(min_length=1, max_length=MAX_DOCUMENT_CHARS)
    format: Literal["markdown", "text", "html"] = "markdown"


class DocumentOut(BaseModel):
    site_id: str
    document_id: str
    title: str
    url: str | None
    format: str
    content_hash: str
    language: str
    chunks: int
    model_version: str
    created_at: str
    indexed_at: str


class IngestOut(DocumentOut):
    status: Literal["indexed", "unchanged"]


class ChunkOut(BaseModel):
    chunk_id: str
    position: int
    heading_path: list[str]
    text: str


class DocumentDetailOut(DocumentOut):
    chunk_list: list[ChunkOut]


class DocumentListOut(BaseModel):
    documents: list[DocumentOut]
    total: int
    limit: int
    offset: int


@router.put("/{document_id}", response_model=IngestOut, summary="Add or replace a document")
async def put_document(
    site_id: SiteId, document_id: DocumentId, body: DocumentIn, ingestion: Ingestion
) -> Any:
    try:
        document = SourceDocument(
            site_id=site_id,
            document_id=document_id,
            title=body.title.strip(),
            url=body.url,
            text=body.text,
            format=body.format,
        )
        result = await ingestion.ingest(document)
    except InvalidDocumentError as exc:
        raise HTTPException(422, str(exc)) from None
    return {**result.document.to_json(), "status": result.status}


@router.get("", response_model=DocumentListOut, summary="List the site's documents")
async def list_documents(
    site_id: SiteId,
    ingestion: Ingestion,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    documents, total = await ingestion.list_documents(site_id, limit=limit, offset=offset)
    return {
        "documents": [d.to_json() for d in documents],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/{document_id}", response_model=DocumentDetailOut, summary="One document and its chunks"
)
async def get_document(site_id: SiteId, document_id: DocumentId, ingestion: Ingestion) -> Any:
    found = await ingestion.get(site_id, document_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such document")
    record, chunks = found
    return {
        **record.to_json(),
        "chunk_list": [
            {
                "chunk_id": str(c.chunk_id),
                "position": c.position,
                "heading_path": list(c.heading_path),
                "text": c.text,
            }
            for c in chunks
        ],
    }


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a document from the knowledge base",
)
async def delete_document(
    site_id: SiteId, document_id: DocumentId, ingestion: Ingestion
) -> Response:
    if not await ingestion.delete(site_id, document_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such document")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- uploads and crawls: ingestion as jobs -----------------------------------------------
#
# ``POST .../uploads`` takes a file (multipart) and answers 200 with the finished job when
# it was indexed within the wait, else 202 with the running job; ``POST .../crawls`` starts
# a crawl and answers 202 with its job at once. Both jobs are polled at their own
# ``GET .../{uploads,crawls}/{job_id}`` and report progress as KnowledgeIngestionProgressed.

ingestion_router = APIRouter(prefix="/v1/admin/sites/{site_id}", tags=["knowledge base"])

#: Room for the multipart envelope (boundaries, headers, the small text fields).
MULTIPART_OVERHEAD = 64 * 1024
DEFAULT_UPLOAD_MAX_BYTES = 20 * 1024 * 1024


def get_jobs(request: Request) -> IngestionJobs:
    jobs: IngestionJobs | None = getattr(request.app.state, "ingestion_jobs", None)
    if jobs is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is starting")
    return jobs


Jobs = Annotated[IngestionJobs, Depends(get_jobs)]


def _upload_limit(request: Request) -> int:
    return int(getattr(request.app.state, "upload_max_bytes", DEFAULT_UPLOAD_MAX_BYTES))


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"the file may not exceed {limit} bytes"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
    )


class _BodyTooLarge(Exception):
    pass


class BoundedUploadRoute(APIRoute):
    """Refuses an upload over the limit with 413 before the multipart body is spooled:
    by its Content-Length when it has one, else by counting what arrives."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            limit = _upload_limit(request)
            ceiling = limit + MULTIPART_OVERHEAD
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > ceiling:
                return _too_large(limit)
            received = 0
            receive = request.receive

            async def counting() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > ceiling:
                        raise _BodyTooLarge
                return message

            try:
                return await handler(Request(request.scope, counting))
            except _BodyTooLarge:
                return _too_large(limit)
            except HTTPException:
                if received > ceiling:  # the form parser reported our stop as a bad body
                    return _too_large(limit)
                raise

        return bounded


uploads_router = APIRouter(
    prefix="/v1/admin/sites/{site_id}", tags=["knowledge base"], route_class=BoundedUploadRoute
)


class JobItemOut(BaseModel):
    item: str = Field(description="the URL or file")
    outcome: Literal["indexed", "unchanged", "failed", "skipped"]
    document_id: str | None
    reason: str | None
    at: str


class JobOut(BaseModel):
    job_id: str
    site_id: str
    kind: Literal["crawl", "upload", "import"]
    state: Literal["running", "completed", "failed"]
    request: dict[str, Any]
    unit: Literal["documents", "passages"]
    total: int = Field(description="items known so far (a crawl's grows as it finds pages)")
    done: int = Field(description="items indexed or unchanged")
    failed: int
    skipped: int
    current: str | None = Field(description="the item being worked on, or the last one")
    error: str | None = Field(description="why the job failed")
    note: str | None = Field(description="what the job left out (limits reached)")
    result: dict[str, Any] | None = Field(description="an upload's indexed document")
    created_at: str
    updated_at: str
    finished_at: str | None


class JobDetailOut(JobOut):
    problems: list[JobItemOut] = Field(
        description="items that failed or were skipped, and why (the first 200)"
    )


class JobListOut(BaseModel):
    jobs: list[JobOut]


class CrawlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_url: str = Field(
        min_length=8, max_length=2000, pattern=r"^https?://\S+$", description="a page or sitemap"
    )
    sitemap: bool = Field(
        default=False, description="start_url is a sitemap: crawl the pages it lists"
    )
    max_pages: int | None = Field(default=None, ge=1, le=100_000)


async def _job_detail(jobs: IngestionJobs, site_id: str, job_id: uuid.UUID, kind: str) -> Any:
    async with jobs.pool.connection() as conn:
        await jobs.repository.abandon_stale(
            conn, silent_seconds=jobs.stale_seconds, site_id=site_id
        )
        job = await jobs.repository.get(conn, site_id, job_id)
        if job is None or job.kind != kind:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such {kind} job")
        problems = await jobs.repository.items(
            conn, job_id, outcomes=("failed", "skipped"), limit=200
        )
    return {**job.to_json(), "problems": [p.to_json() for p in problems]}


@uploads_router.post(
    "/uploads",
    response_model=JobDetailOut,
    summary="Upload a file (Markdown, text, HTML, PDF) and index it",
    responses={
        202: {"model": JobDetailOut, "description": "Still indexing: poll the job"},
        413: {"description": "The file is larger than the upload limit"},
        415: {"description": "Not a format Tandem indexes"},
        422: {"description": "The file cannot be indexed (e.g. a scanned PDF without text)"},
    },
)
async def upload_file(
    site_id: SiteId,
    request: Request,
    response: Response,
    jobs: Jobs,
    file: Annotated[UploadFile, File(description=".md, .txt, .html, .htm or .pdf")],
    title: Annotated[str | None, Form(max_length=MAX_TITLE_CHARS)] = None,
    url: Annotated[str | None, Form(max_length=2000)] = None,
    document_id: Annotated[str | None, Form(pattern=DOCUMENT_ID.pattern)] = None,
) -> Any:
    limit = _upload_limit(request)
    data = await file.read(limit + 1)
    if len(data) > limit:
        return _too_large(limit)
    upload = Upload(
        site_id=site_id,
        filename=file.filename or "upload",
        content_type=file.content_type,
        data=data,
        title=title,
        url=url or None,
        document_id=document_id or None,
    )
    wait = float(getattr(request.app.state, "upload_wait_seconds", 20.0))
    try:
        job = await jobs.uploads.upload(upload, wait_seconds=wait)
    except UnsupportedFileType as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from None
    except InvalidDocumentError as exc:
        raise HTTPException(422, str(exc)) from None
    except IndexingFailed as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{exc}; retry") from None
    if job.state == "running":
        response.status_code = status.HTTP_202_ACCEPTED
    return {**job.to_json(), "problems": []}


@ingestion_router.get(
    "/uploads/{job_id}", response_model=JobDetailOut, summary="An upload's indexing job"
)
async def get_upload(site_id: SiteId, job_id: uuid.UUID, jobs: Jobs) -> Any:
    return await _job_detail(jobs, site_id, job_id, "upload")


@ingestion_router.post(
    "/crawls",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Crawl a site (from a page or a sitemap) into the knowledge base",
    responses={409: {"description": "A crawl is already running for this site"}},
)
async def start_crawl(site_id: SiteId, body: CrawlIn, jobs: Jobs) -> Any:
    try:
        job = await jobs.crawls.start(
            CrawlRequest(site_id, body.start_url, body.sitemap, body.max_pages)
        )
    except JobAlreadyRunning as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except InvalidDocumentError as exc:
        raise HTTPException(422, str(exc)) from None
    return job.to_json()


@ingestion_router.get("/crawls", response_model=JobListOut, summary="The site's recent crawls")
async def list_crawls(
    site_id: SiteId, jobs: Jobs, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Any:
    async with jobs.pool.connection() as conn:
        await jobs.repository.abandon_stale(
            conn, silent_seconds=jobs.stale_seconds, site_id=site_id
        )
        found = await jobs.repository.list_jobs(conn, site_id, kind="crawl", limit=limit)
    return {"jobs": [job.to_json() for job in found]}


@ingestion_router.get(
    "/crawls/{job_id}",
    response_model=JobDetailOut,
    summary="A crawl's progress: pages done, failed, skipped, and why",
)
async def get_crawl(site_id: SiteId, job_id: uuid.UUID, jobs: Jobs) -> Any:
    return await _job_detail(jobs, site_id, job_id, "crawl")
