"""Postgres: a site's answering settings and its curated answers.

Tables ``site_answering_settings`` and ``curated_answers`` (see ``repository.migrations``).
Each curated answer keeps the vectors of its phrasings as one ``bytea``: little-endian
float32, row-major, one row per phrasing (the question first, then the alternatives),
``dimension`` columns, and the ``model_version`` that computed them, so that a change of
model is noticed and the vectors recomputed instead of compared across models.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from psycopg import AsyncConnection

from ..domain.curated import CuratedAnswer, CuratedContent, InvalidCuratedAnswer, Vectors
from ..domain.site_settings import InvalidSiteSettings, SiteAnsweringSettings
from .repository import SCHEMA

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
_FLOAT32 = np.dtype("<f4")


def vectors_to_bytes(vectors: Vectors) -> bytes:
    return np.ascontiguousarray(vectors, dtype=_FLOAT32).tobytes()


def vectors_from_bytes(data: bytes, rows: int, dimension: int) -> Vectors:
    if len(data) != rows * dimension * _FLOAT32.itemsize:
        raise ValueError(f"{len(data)} bytes is not {rows} x {dimension} float32")
    return np.frombuffer(data, dtype=_FLOAT32).reshape(rows, dimension).astype(np.float32)


@dataclass(frozen=True, slots=True)
class StoredCurated:
    answer: CuratedAnswer
    vectors: Vectors
    model_version: str


_CURATED_COLUMNS = (
    "site_id, curated_id, question, alternatives, answer, title, url, embeddings, dimension, "
    "model_version, created_at, updated_at"
)


class SitePolicyRepository:
    def __init__(self, schema: str = SCHEMA) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        self.schema = schema

    # -- settings ----------------------------------------------------------------------

    async def settings(self, conn: AsyncConnection[Any], site_id: str) -> SiteAnsweringSettings:
        cur = await conn.execute(
            f"SELECT answer_threshold, fallback_text FROM {self.schema}.site_answering_settings "
            "WHERE site_id = %s",
            (site_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return SiteAnsweringSettings()
        try:
            return SiteAnsweringSettings(row["answer_threshold"], row["fallback_text"])
        except InvalidSiteSettings as exc:
            # Stored under older rules: the defaults serve rather than failing every answer.
            log.warning(
                "stored answering settings no longer valid; using the defaults",
                extra={"fields": {"site_id": site_id, "error": str(exc)}},
            )
            return SiteAnsweringSettings()

    async def save_settings(
        self, conn: AsyncConnection[Any], site_id: str, settings: SiteAnsweringSettings
    ) -> SiteAnsweringSettings:
        await conn.execute(
            f"""
            INSERT INTO {self.schema}.site_answering_settings
                (site_id, answer_threshold, fallback_text)
            VALUES (%s, %s, %s)
            ON CONFLICT (site_id) DO UPDATE SET
                answer_threshold = EXCLUDED.answer_threshold,
                fallback_text = EXCLUDED.fallback_text,
                updated_at = now()""",
            (site_id, settings.answer_threshold, settings.fallback_text),
        )
        return settings

    # -- curated answers ---------------------------------------------------------------

    async def lock_site(self, conn: AsyncConnection[Any], site_id: str) -> None:
        """Serialise writers of one site's curated answers (count limit, unique phrasings)
        until the transaction ends."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
            (f"{self.schema}.curated_answers", site_id),
        )

    async def list_curated(self, conn: AsyncConnection[Any], site_id: str) -> list[StoredCurated]:
        """Every entry of the site, oldest first (a stable order for tie-breaking)."""
        cur = await conn.execute(
            f"SELECT {_CURATED_COLUMNS} FROM {self.schema}.curated_answers "
            "WHERE site_id = %s ORDER BY created_at, curated_id",
            (site_id,),
        )
        stored: list[StoredCurated] = []
        for row in await cur.fetchall():
            found = _stored(row)
            if found is not None:
                stored.append(found)
        return stored

    async def curated_fingerprint(self, conn: AsyncConnection[Any], site_id: str) -> str:
        """Changes whenever an entry of the site is added, changed, re-embedded or removed:
        a cheap check that a cached copy is still current."""
        cur = await conn.execute(
            f"""
            SELECT count(*) AS n, coalesce(md5(string_agg(
                curated_id || '@' || updated_at::text || '@' || model_version, ','
                ORDER BY curated_id)), '') AS digest
            FROM {self.schema}.curated_answers WHERE site_id = %s""",
            (site_id,),
        )
        row = await cur.fetchone()
        return f"{row['n']}:{row['digest']}" if row else "0:"

    async def get_curated(
        self, conn: AsyncConnection[Any], site_id: str, curated_id: str
    ) -> StoredCurated | None:
        cur = await conn.execute(
            f"SELECT {_CURATED_COLUMNS} FROM {self.schema}.curated_answers "
            "WHERE site_id = %s AND curated_id = %s",
            (site_id, curated_id),
        )
        row = await cur.fetchone()
        return _stored(row) if row else None

    async def count_curated(self, conn: AsyncConnection[Any], site_id: str) -> int:
        cur = await conn.execute(
            f"SELECT count(*) AS n FROM {self.schema}.curated_answers WHERE site_id = %s",
            (site_id,),
        )
        row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def insert_curated(
        self,
        conn: AsyncConnection[Any],
        *,
        site_id: str,
        curated_id: str,
        content: CuratedContent,
        vectors: Vectors,
        model_version: str,
    ) -> StoredCurated:
        cur = await conn.execute(
            f"""
            INSERT INTO {self.schema}.curated_answers (site_id, curated_id, question,
                alternatives, answer, title, url, embeddings, dimension, model_version)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            RETURNING {_CURATED_COLUMNS}""",
            (
                site_id,
                curated_id,
                *_content_values(content),
                *_vector_values(vectors),
                model_version,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        return _stored_strict(row)

    async def update_curated(
        self,
        conn: AsyncConnection[Any],
        *,
        site_id: str,
        curated_id: str,
        content: CuratedContent,
        vectors: Vectors,
        model_version: str,
    ) -> StoredCurated | None:
        cur = await conn.execute(
            f"""
            UPDATE {self.schema}.curated_answers SET
                question = %s, alternatives = %s, answer = %s, title = %s, url = %s,
                embeddings = %s, dimension = %s, model_version = %s, updated_at = now()
            WHERE site_id = %s AND curated_id = %s
            RETURNING {_CURATED_COLUMNS}""",
            (
                *_content_values(content),
                *_vector_values(vectors),
                model_version,
                site_id,
                curated_id,
            ),
        )
        row = await cur.fetchone()
        return _stored_strict(row) if row else None

    async def replace_vectors(
        self,
        conn: AsyncConnection[Any],
        *,
        site_id: str,
        curated_id: str,
        seen_updated_at: datetime,
        vectors: Vectors,
        model_version: str,
    ) -> bool:
        """Store recomputed vectors, unless the entry changed since it was read (its new
        content then has vectors of its own). ``updated_at`` is left alone: the owner's
        content did not change."""
        cur = await conn.execute(
            f"""
            UPDATE {self.schema}.curated_answers SET
                embeddings = %s, dimension = %s, model_version = %s
            WHERE site_id = %s AND curated_id = %s AND updated_at = %s""",
            (*_vector_values(vectors), model_version, site_id, curated_id, seen_updated_at),
        )
        return cur.rowcount > 0

    async def delete_curated(
        self, conn: AsyncConnection[Any], site_id: str, curated_id: str
    ) -> bool:
        cur = await conn.execute(
            f"DELETE FROM {self.schema}.curated_answers WHERE site_id = %s AND curated_id = %s",
            (site_id, curated_id),
        )
        return cur.rowcount > 0


def _content_values(content: CuratedContent) -> tuple[Any, ...]:
    return (
        content.question,
        list(content.alternatives),
        content.answer,
        content.title,
        content.url,
    )


def _vector_values(vectors: Vectors) -> tuple[bytes, int]:
    if vectors.ndim != 2:
        raise ValueError("expected a matrix of vectors")
    return vectors_to_bytes(vectors), int(vectors.shape[1])


def _stored_strict(row: Any) -> StoredCurated:
    content = CuratedContent(
        question=row["question"],
        answer=row["answer"],
        alternatives=tuple(row["alternatives"]),
        title=row["title"],
        url=row["url"],
    )
    answer = CuratedAnswer(
        site_id=row["site_id"],
        curated_id=row["curated_id"],
        content=content,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    vectors = vectors_from_bytes(
        bytes(row["embeddings"]), len(content.phrasings), int(row["dimension"])
    )
    return StoredCurated(answer, vectors, row["model_version"])


def _stored(row: Any) -> StoredCurated | None:
    """The entry, or None (logged) when it cannot be read back: one bad row must not stop
    a site's other curated answers, nor its visitors' answers."""
    try:
        return _stored_strict(row)
    except (InvalidCuratedAnswer, ValueError) as exc:
        log.warning(
            "curated answer unreadable, skipped",
            extra={
                "fields": {
                    "site_id": row["site_id"],
                    "curated_id": row["curated_id"],
                    "error": str(exc),
                }
            },
        )
        return None
