"""Postgres: what the answering service knows about each site's documents and chunks.

Schema ``answering`` (configurable for tests). Weaviate holds the searchable copy of each
chunk; these tables are the record of what was ingested, from which content (hash), when,
and the source text, so a knowledge base can be re-embedded without its owner re-uploading.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

SCHEMA = "answering"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def migrations(schema: str = SCHEMA) -> list[str]:
    """Append-only: index ``i`` is migration ``i + 1`` after the platform's inbox/outbox."""
    s = schema
    return [
        f"""
        CREATE TABLE IF NOT EXISTS {s}.documents (
            site_id       text        NOT NULL,
            document_id   text        NOT NULL,
            title         text        NOT NULL,
            url           text,
            format        text        NOT NULL,
            source_text   text        NOT NULL,
            content_hash  text        NOT NULL,
            language      text        NOT NULL,
            chunk_count   integer     NOT NULL,
            model_version text        NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            indexed_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (site_id, document_id)
        )""",
        f"""
        CREATE TABLE IF NOT EXISTS {s}.chunks (
            site_id      text    NOT NULL,
            document_id  text    NOT NULL,
            chunk_id     uuid    NOT NULL,
            position     integer NOT NULL,
            heading_path text[]  NOT NULL,
            text         text    NOT NULL,
            PRIMARY KEY (site_id, chunk_id),
            UNIQUE (site_id, document_id, position),
            FOREIGN KEY (site_id, document_id)
                REFERENCES {s}.documents (site_id, document_id) ON DELETE CASCADE
        )""",
        # A site's answering settings and curated answers (adapters/site_policy_repository.py).
        f"""
        CREATE TABLE IF NOT EXISTS {s}.site_answering_settings (
            site_id          text             PRIMARY KEY,
            answer_threshold double precision
                CHECK (answer_threshold >= 0 AND answer_threshold <= 1),
            fallback_text    text,
            updated_at       timestamptz      NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS {s}.curated_answers (
            site_id       text        NOT NULL,
            curated_id    text        NOT NULL,
            question      text        NOT NULL,
            alternatives  text[]      NOT NULL,
            answer        text        NOT NULL,
            title         text,
            url           text,
            embeddings    bytea       NOT NULL,
            dimension     integer     NOT NULL,
            model_version text        NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (site_id, curated_id)
        )""",
        # Long ingestions (crawls, uploads, imports) and what became of each of their
        # items (adapters/job_repository.py).
        f"""
        CREATE TABLE IF NOT EXISTS {s}.ingestion_jobs (
            job_id      uuid        PRIMARY KEY,
            site_id     text        NOT NULL,
            kind        text        NOT NULL,
            state       text        NOT NULL,
            request     jsonb       NOT NULL DEFAULT '{{}}'::jsonb,
            unit        text        NOT NULL DEFAULT 'documents',
            total       integer     NOT NULL DEFAULT 0,
            done        integer     NOT NULL DEFAULT 0,
            failed      integer     NOT NULL DEFAULT 0,
            skipped     integer     NOT NULL DEFAULT 0,
            current     text,
            error       text,
            note        text,
            result      jsonb,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz
        );
        CREATE INDEX IF NOT EXISTS ingestion_jobs_by_site
            ON {s}.ingestion_jobs (site_id, kind, created_at DESC);
        CREATE TABLE IF NOT EXISTS {s}.ingestion_job_items (
            job_id      uuid        NOT NULL
                REFERENCES {s}.ingestion_jobs (job_id) ON DELETE CASCADE,
            item        text        NOT NULL,
            outcome     text        NOT NULL,
            document_id text,
            reason      text,
            at          timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (job_id, item)
        )""",
    ]


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    site_id: str
    document_id: str
    title: str
    url: str | None
    format: str
    content_hash: str
    language: str
    chunk_count: int
    model_version: str
    created_at: datetime
    indexed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "document_id": self.document_id,
            "title": self.title,
            "url": self.url,
            "format": self.format,
            "content_hash": self.content_hash,
            "language": self.language,
            "chunks": self.chunk_count,
            "model_version": self.model_version,
            "created_at": self.created_at.isoformat(),
            "indexed_at": self.indexed_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    chunk_id: uuid.UUID
    position: int
    heading_path: tuple[str, ...]
    text: str


_DOCUMENT_COLUMNS = (
    "site_id, document_id, title, url, format, content_hash, language, chunk_count, "
    "model_version, created_at, indexed_at"
)


class DocumentRepository:
    def __init__(self, schema: str = SCHEMA) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        self.schema = schema

    async def lock(self, conn: AsyncConnection[Any], site_id: str, document_id: str) -> None:
        """Serialise concurrent writers of one document until the transaction ends."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
            (f"{self.schema}.documents", f"{site_id}/{document_id}"),
        )

    async def get(
        self, conn: AsyncConnection[Any], site_id: str, document_id: str
    ) -> DocumentRecord | None:
        cur = await conn.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM {self.schema}.documents "
            "WHERE site_id = %s AND document_id = %s",
            (site_id, document_id),
        )
        row = await cur.fetchone()
        return _document(row) if row else None

    async def list_documents(
        self, conn: AsyncConnection[Any], site_id: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[DocumentRecord], int]:
        cur = await conn.execute(
            f"SELECT {_DOCUMENT_COLUMNS}, count(*) OVER () AS total FROM {self.schema}.documents "
            "WHERE site_id = %s ORDER BY document_id LIMIT %s OFFSET %s",
            (site_id, limit, offset),
        )
        rows = await cur.fetchall()
        if rows:
            return [_document(row) for row in rows], int(rows[0]["total"])
        cur = await conn.execute(
            f"SELECT count(*) AS total FROM {self.schema}.documents WHERE site_id = %s", (site_id,)
        )
        counted = await cur.fetchone()
        return [], int(counted["total"]) if counted else 0

    async def save(
        self,
        conn: AsyncConnection[Any],
        *,
        site_id: str,
        document_id: str,
        title: str,
        url: str | None,
        format: str,
        source_text: str,
        content_hash: str,
        language: str,
        model_version: str,
        chunks: Sequence[ChunkRecord],
    ) -> DocumentRecord:
        """Insert or replace the document and all its chunks (inside the caller's transaction)."""
        cur = await conn.execute(
            f"""
            INSERT INTO {self.schema}.documents (site_id, document_id, title, url, format,
                source_text, content_hash, language, chunk_count, model_version)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (site_id, document_id) DO UPDATE SET
                title = EXCLUDED.title, url = EXCLUDED.url, format = EXCLUDED.format,
                source_text = EXCLUDED.source_text, content_hash = EXCLUDED.content_hash,
                language = EXCLUDED.language, chunk_count = EXCLUDED.chunk_count,
                model_version = EXCLUDED.model_version, indexed_at = now()
            RETURNING {_DOCUMENT_COLUMNS}""",
            (
                site_id,
                document_id,
                title,
                url,
                format,
                source_text,
                content_hash,
                language,
                len(chunks),
                model_version,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        await conn.execute(
            f"DELETE FROM {self.schema}.chunks WHERE site_id = %s AND document_id = %s",
            (site_id, document_id),
        )
        async with conn.cursor() as cursor:
            await cursor.executemany(
                f"INSERT INTO {self.schema}.chunks "
                "(site_id, document_id, chunk_id, position, heading_path, text) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    (site_id, document_id, c.chunk_id, c.position, list(c.heading_path), c.text)
                    for c in chunks
                ],
            )
        return _document(row)

    async def delete(self, conn: AsyncConnection[Any], site_id: str, document_id: str) -> bool:
        cur = await conn.execute(
            f"DELETE FROM {self.schema}.documents WHERE site_id = %s AND document_id = %s",
            (site_id, document_id),
        )
        return cur.rowcount > 0

    async def delete_site(self, conn: AsyncConnection[Any], site_id: str) -> int:
        cur = await conn.execute(
            f"DELETE FROM {self.schema}.documents WHERE site_id = %s", (site_id,)
        )
        return cur.rowcount

    async def chunks(
        self, conn: AsyncConnection[Any], site_id: str, document_id: str
    ) -> list[ChunkRecord]:
        cur = await conn.execute(
            f"SELECT chunk_id, position, heading_path, text FROM {self.schema}.chunks "
            "WHERE site_id = %s AND document_id = %s ORDER BY position",
            (site_id, document_id),
        )
        return [
            ChunkRecord(row["chunk_id"], row["position"], tuple(row["heading_path"]), row["text"])
            for row in await cur.fetchall()
        ]

    async def knowledge_fingerprint(self, conn: AsyncConnection[Any], site_id: str) -> str:
        """Changes whenever a document of the site is added, replaced or removed: a cheap
        check that a copy of what the site's knowledge base says is still current."""
        cur = await conn.execute(
            f"""
            SELECT count(*) AS n, coalesce(sum(chunk_count), 0) AS chunks,
                   coalesce(max(indexed_at)::text, '') AS latest
            FROM {self.schema}.documents WHERE site_id = %s""",
            (site_id,),
        )
        row = await cur.fetchone()
        return f"{row['n']}:{row['chunks']}:{row['latest']}" if row else "0:0:"

    async def word_counts(self, conn: AsyncConnection[Any], site_id: str) -> dict[str, int]:
        """How often each word occurs in the site's titles, heading paths and chunks.

        Words as the speller reads them (``domain.spelling.WORD``: lower-cased runs of the
        letters a-z); counted here so that only the distinct words leave the database."""
        cur = await conn.execute(
            f"""
            SELECT word, count(*) AS n
            FROM (
                SELECT lower(title) AS text FROM {self.schema}.documents WHERE site_id = %s
                UNION ALL
                SELECT lower(array_to_string(heading_path, ' ') || ' ' || text)
                FROM {self.schema}.chunks WHERE site_id = %s
            ) AS texts, regexp_split_to_table(texts.text, '[^a-z]+') AS word
            WHERE word <> ''
            GROUP BY word""",
            (site_id, site_id),
        )
        return {row["word"]: int(row["n"]) for row in await cur.fetchall()}


def _document(row: Any) -> DocumentRecord:
    return DocumentRecord(
        site_id=row["site_id"],
        document_id=row["document_id"],
        title=row["title"],
        url=row["url"],
        format=row["format"],
        content_hash=row["content_hash"],
        language=row["language"],
        chunk_count=int(row["chunk_count"]),
        model_version=row["model_version"],
        created_at=row["created_at"],
        indexed_at=row["indexed_at"],
    )
