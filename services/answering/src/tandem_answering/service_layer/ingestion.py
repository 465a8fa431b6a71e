"""Use cases of a site's knowledge base: ingest (or re-ingest) a document, delete, list.

The admin HTTP API and the CLI both call these, so a document indexed either way is the
same. Writing order, and why it converges after any crash:

1. Under a per-document advisory lock (Postgres transaction), compare the content hash
   with the recorded one: equal means nothing to do (re-ingesting is idempotent).
2. Write the new chunk objects to the site's Weaviate tenant, then delete the document's
   other objects: search never sees the document missing, and object ids are derived from
   the content, so writing the same chunks again is an upsert.
3. Record the document and its chunks in Postgres and put ``KnowledgeDocumentIndexed`` in
   the outbox, in one transaction. Until it commits, Postgres still holds the old hash, so
   a retry after a crash in step 2 or 3 redoes the work instead of skipping it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from tandem_events import KnowledgeDocumentIndexed, KnowledgeDocumentRemoved
from tandem_platform.postgres import Pool as PgPool
from tandem_platform.postgres import enqueue

from ..adapters.embedder import BatchingEncoder
from ..adapters.language import LanguageDetector
from ..adapters.repository import ChunkRecord, DocumentRecord, DocumentRepository
from ..adapters.weaviate_store import ChunkObject, WeaviateKnowledgeStore
from ..domain.chunking import chunk_document
from ..domain.documents import (
    InvalidDocumentError,
    SourceDocument,
    body_text,
    chunk_uuid,
    content_hash,
    title_text,
    validate_document_id,
    validate_site_id,
)
from ..metrics import DOCUMENTS_INDEXED

log = logging.getLogger(__name__)

SOURCE = "/tandem/answering"
#: Knowledge events belong to no conversation.
NO_CONVERSATION = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class IngestResult:
    document: DocumentRecord
    status: Literal["indexed", "unchanged"]
    removed_chunks: int = 0


class IngestionService:
    def __init__(
        self,
        *,
        pool: PgPool,
        store: WeaviateKnowledgeStore,
        encoder: BatchingEncoder,
        multilingual_encoder: BatchingEncoder,
        language: LanguageDetector,
        model_version: str,
        schema: str,
        chunk_max_chars: int = 900,
        chunk_overlap_chars: int = 150,
    ) -> None:
        self.pool = pool
        self.store = store
        self.encoder = encoder
        self.multilingual_encoder = multilingual_encoder
        self.language = language
        self.model_version = model_version
        self.schema = schema
        self.repository = DocumentRepository(schema)
        self.chunk_max_chars = chunk_max_chars
        self.chunk_overlap_chars = chunk_overlap_chars

    async def ingest(
        self,
        document: SourceDocument,
        *,
        force: bool = False,
        on_chunks: Callable[[int], Awaitable[None]] | None = None,
    ) -> IngestResult:
        """``on_chunks`` hears how many passages are about to be embedded (the long part of
        a big document), before they are."""
        # Hashing an HTML page parses it; parsing and chunking a long page or PDF takes a
        # while, so both run off the event loop.
        digest = await asyncio.to_thread(content_hash, document, model_version=self.model_version)
        async with self.pool.connection() as conn:
            existing = await self.repository.get(conn, document.site_id, document.document_id)
        if existing and existing.content_hash == digest and not force:
            DOCUMENTS_INDEXED.labels("unchanged").inc()
            return IngestResult(existing, "unchanged")

        _, chunks = await asyncio.to_thread(
            chunk_document,
            document.text,
            document.format,
            max_chars=self.chunk_max_chars,
            overlap_chars=self.chunk_overlap_chars,
        )
        if not chunks:
            raise InvalidDocumentError(
                "the document has no text to index (only headings or markup)"
            )
        if on_chunks is not None:
            await on_chunks(len(chunks))
        # Markup would mislead the language guess: an HTML page's first 3000 characters
        # are mostly its <head>.
        language_sample = (
            document.text[:3000]
            if document.format in ("markdown", "text")
            else "\n".join(c.text for c in chunks)[:3000]
        )
        # The model and the language guess run off the event loop; ingestion is "bulk", so
        # visitors' questions are served between its batches.
        texts = [body_text(c) for c in chunks] + [
            title_text(document.title, c.heading_path) for c in chunks
        ]
        passages = [
            title_text(document.title, c.heading_path) + "\n" + body_text(c) for c in chunks
        ]
        vectors, multilingual_vectors, language = await asyncio.gather(
            self.encoder.encode(texts, bulk=True, query=False),
            # e5's symmetric "query:" mode on both sides: sections are short and often
            # phrased like questions; on xSID it finds the right intent for far more
            # non-English questions than "passage:" mode (German recall@1 0.76 vs 0.41).
            self.multilingual_encoder.encode(passages, bulk=True, query=True),
            asyncio.to_thread(self.language.detect, language_sample),
        )
        body_vectors, title_vectors = vectors[: len(chunks)], vectors[len(chunks) :]
        ids = [
            chunk_uuid(document.site_id, document.document_id, digest, c.position) for c in chunks
        ]
        objects = [
            ChunkObject(
                uuid=ids[i],
                document_id=document.document_id,
                title=document.title,
                url=document.url,
                heading_path=chunk.heading_path,
                text=chunk.text,
                language=language,
                body_vector=body_vectors[i],
                title_vector=title_vectors[i],
                multilingual_vector=multilingual_vectors[i],
            )
            for i, chunk in enumerate(chunks)
        ]

        async with self.pool.connection() as conn, conn.transaction():
            await self.repository.lock(conn, document.site_id, document.document_id)
            existing = await self.repository.get(conn, document.site_id, document.document_id)
            if existing and existing.content_hash == digest and not force:
                DOCUMENTS_INDEXED.labels("unchanged").inc()
                return IngestResult(existing, "unchanged")
            removed = await self.store.replace_document(
                document.site_id, document.document_id, objects
            )
            record = await self.repository.save(
                conn,
                site_id=document.site_id,
                document_id=document.document_id,
                title=document.title,
                url=document.url,
                format=document.format,
                source_text=document.text,
                content_hash=digest,
                language=language,
                model_version=self.model_version,
                chunks=[
                    ChunkRecord(ids[i], chunk.position, chunk.heading_path, chunk.text)
                    for i, chunk in enumerate(chunks)
                ],
            )
            await enqueue(
                conn,
                self.schema,
                KnowledgeDocumentIndexed(
                    site_id=document.site_id,
                    conversation_id=NO_CONVERSATION,
                    document_id=document.document_id,
                    title=document.title,
                    url=document.url,
                    chunks=len(chunks),
                ),
                source=SOURCE,
            )
        DOCUMENTS_INDEXED.labels("indexed").inc()
        log.info(
            "document indexed",
            extra={
                "fields": {
                    "site_id": document.site_id,
                    "document_id": document.document_id,
                    "chunks": len(chunks),
                    "removed_chunks": removed,
                }
            },
        )
        return IngestResult(record, "indexed", removed)

    async def delete(self, site_id: str, document_id: str) -> bool:
        """Forget a document everywhere; False when there was nothing to forget."""
        validate_site_id(site_id)
        validate_document_id(document_id)
        async with self.pool.connection() as conn, conn.transaction():
            await self.repository.lock(conn, site_id, document_id)
            removed_objects = await self.store.delete_document(site_id, document_id)
            removed_row = await self.repository.delete(conn, site_id, document_id)
            if removed_row or removed_objects:
                await enqueue(
                    conn,
                    self.schema,
                    KnowledgeDocumentRemoved(
                        site_id=site_id, conversation_id=NO_CONVERSATION, document_id=document_id
                    ),
                    source=SOURCE,
                )
        if removed_row or removed_objects:
            DOCUMENTS_INDEXED.labels("deleted").inc()
            return True
        return False

    async def delete_site(self, site_id: str) -> None:
        """Drop a whole knowledge base (used for throw-away sites such as calibration runs)."""
        validate_site_id(site_id)
        async with self.pool.connection() as conn, conn.transaction():
            await self.store.delete_site(site_id)
            await self.repository.delete_site(conn, site_id)

    async def list_documents(
        self, site_id: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[DocumentRecord], int]:
        validate_site_id(site_id)
        async with self.pool.connection() as conn:
            return await self.repository.list_documents(conn, site_id, limit=limit, offset=offset)

    async def get(
        self, site_id: str, document_id: str
    ) -> tuple[DocumentRecord, list[ChunkRecord]] | None:
        validate_site_id(site_id)
        validate_document_id(document_id)
        async with self.pool.connection() as conn:
            record = await self.repository.get(conn, site_id, document_id)
            if record is None:
                return None
            return record, await self.repository.chunks(conn, site_id, document_id)
