"""Admin HTTP API of a site's knowledge base (internal: the gateway/dashboard authenticates).

``PUT`` is idempotent: the same content twice indexes once (``status: unchanged``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ..domain.documents import (
    DOCUMENT_ID,
    MAX_DOCUMENT_CHARS,
    MAX_TITLE_CHARS,
    SITE_ID,
    InvalidDocumentError,
    SourceDocument,
)
from ..service_layer.ingestion import IngestionService

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
    format: Literal["markdown", "text"] = "markdown"


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
