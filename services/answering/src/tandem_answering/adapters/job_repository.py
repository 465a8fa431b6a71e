"""Postgres: long ingestion jobs (crawls, uploads, imports) and the fate of their items.

A job row holds the counters the status endpoint shows; it is updated with each progress
event (about once a second), and its ``updated_at`` is the job's heartbeat: a ``running``
job whose heartbeat stopped (the process died mid-crawl) is marked failed by
``abandon_stale``. ``ingestion_job_items`` has one row per URL or file: indexed,
unchanged, failed or skipped, and why.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from .repository import SCHEMA

JobKind = Literal["crawl", "upload", "import"]
JobState = Literal["running", "completed", "failed"]
ItemOutcome = Literal["indexed", "unchanged", "failed", "skipped"]
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
_COLUMNS = (
    "job_id, site_id, kind, state, request, unit, total, done, failed, skipped, current, "
    "error, note, result, created_at, updated_at, finished_at"
)


class JobAlreadyRunning(Exception):
    """The site already has a job of this kind running (one crawl per site at a time)."""


@dataclass(frozen=True, slots=True)
class JobItem:
    item: str
    outcome: str
    document_id: str | None
    reason: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "outcome": self.outcome,
            "document_id": self.document_id,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class JobRecord:
    job_id: uuid.UUID
    site_id: str
    kind: str
    state: str
    request: dict[str, Any]
    unit: str
    total: int
    done: int
    failed: int
    skipped: int
    current: str | None
    error: str | None
    note: str | None
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": str(self.job_id),
            "site_id": self.site_id,
            "kind": self.kind,
            "state": self.state,
            "request": self.request,
            "unit": self.unit,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "current": self.current,
            "error": self.error,
            "note": self.note,
            "result": self.result,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class JobRepository:
    def __init__(self, schema: str = SCHEMA) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        self.schema = schema

    async def create(
        self,
        conn: AsyncConnection[Any],
        *,
        site_id: str,
        kind: JobKind,
        request: dict[str, Any],
        unit: str = "documents",
        exclusive: bool = False,
    ) -> JobRecord:
        """A new running job. ``exclusive``: refuse (``JobAlreadyRunning``) while the site
        has another running job of the kind."""
        if exclusive:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                (f"{self.schema}.ingestion_jobs", f"{site_id}/{kind}"),
            )
            cur = await conn.execute(
                f"SELECT job_id FROM {self.schema}.ingestion_jobs "
                "WHERE site_id = %s AND kind = %s AND state = 'running' LIMIT 1",
                (site_id, kind),
            )
            if await cur.fetchone():
                raise JobAlreadyRunning(f"a {kind} is already running for this site")
        try:
            cur = await conn.execute(
                f"INSERT INTO {self.schema}.ingestion_jobs (job_id, site_id, kind, state, "
                "request, unit) VALUES (%s, %s, %s, 'running', %s, %s) "
                f"RETURNING {_COLUMNS}",
                (uuid.uuid4(), site_id, kind, json.dumps(request), unit),
            )
        except UniqueViolation:  # pragma: no cover - a uuid4 collision
            raise JobAlreadyRunning("job id collision; retry") from None
        row = await cur.fetchone()
        assert row is not None
        return _job(row)

    async def get(
        self, conn: AsyncConnection[Any], site_id: str, job_id: uuid.UUID
    ) -> JobRecord | None:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.schema}.ingestion_jobs "
            "WHERE site_id = %s AND job_id = %s",
            (site_id, job_id),
        )
        row = await cur.fetchone()
        return _job(row) if row else None

    async def list_jobs(
        self, conn: AsyncConnection[Any], site_id: str, *, kind: str | None, limit: int
    ) -> list[JobRecord]:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.schema}.ingestion_jobs WHERE site_id = %s "
            "AND (%s::text IS NULL OR kind = %s) ORDER BY created_at DESC LIMIT %s",
            (site_id, kind, kind, limit),
        )
        return [_job(row) for row in await cur.fetchall()]

    async def update(
        self,
        conn: AsyncConnection[Any],
        job_id: uuid.UUID,
        *,
        total: int,
        done: int,
        failed: int,
        skipped: int,
        current: str | None,
        state: JobState = "running",
        error: str | None = None,
        note: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Progress (and the heartbeat); with a final ``state``, the end of the job. A job
        already ended (abandoned as stale, say) stays as it ended."""
        await conn.execute(
            f"""
            UPDATE {self.schema}.ingestion_jobs SET
                total = %s, done = %s, failed = %s, skipped = %s, current = %s,
                state = %s, error = %s, note = coalesce(%s, note),
                result = coalesce(%s::jsonb, result), updated_at = now(),
                finished_at = CASE WHEN %s = 'running' THEN NULL ELSE now() END
            WHERE job_id = %s AND state = 'running'""",
            (
                total,
                done,
                failed,
                skipped,
                current,
                state,
                error,
                note,
                json.dumps(result) if result is not None else None,
                state,
                job_id,
            ),
        )

    async def record_item(
        self,
        conn: AsyncConnection[Any],
        job_id: uuid.UUID,
        item: str,
        outcome: ItemOutcome,
        *,
        document_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        await conn.execute(
            f"""
            INSERT INTO {self.schema}.ingestion_job_items
                (job_id, item, outcome, document_id, reason)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (job_id, item) DO UPDATE SET outcome = EXCLUDED.outcome,
                document_id = EXCLUDED.document_id, reason = EXCLUDED.reason, at = now()""",
            (job_id, item[:2000], outcome, document_id, reason[:1000] if reason else None),
        )

    async def items(
        self,
        conn: AsyncConnection[Any],
        job_id: uuid.UUID,
        *,
        outcomes: tuple[str, ...],
        limit: int,
    ) -> list[JobItem]:
        cur = await conn.execute(
            f"SELECT item, outcome, document_id, reason, at FROM {self.schema}.ingestion_job_items "
            "WHERE job_id = %s AND outcome = ANY(%s) ORDER BY at, item LIMIT %s",
            (job_id, list(outcomes), limit),
        )
        return [
            JobItem(row["item"], row["outcome"], row["document_id"], row["reason"], row["at"])
            for row in await cur.fetchall()
        ]

    async def abandon_stale(
        self, conn: AsyncConnection[Any], *, silent_seconds: float, site_id: str | None = None
    ) -> int:
        """Fail the running jobs whose heartbeat stopped: their process is gone."""
        cur = await conn.execute(
            f"""
            UPDATE {self.schema}.ingestion_jobs SET state = 'failed', finished_at = now(),
                error = 'interrupted: the process running it stopped before it finished'
            WHERE state = 'running' AND updated_at < now() - make_interval(secs => %s)
              AND (%s::text IS NULL OR site_id = %s)""",
            (silent_seconds, site_id, site_id),
        )
        return cur.rowcount


def _job(row: Any) -> JobRecord:
    return JobRecord(
        job_id=row["job_id"],
        site_id=row["site_id"],
        kind=row["kind"],
        state=row["state"],
        request=dict(row["request"] or {}),
        unit=row["unit"],
        total=int(row["total"]),
        done=int(row["done"]),
        failed=int(row["failed"]),
        skipped=int(row["skipped"]),
        current=row["current"],
        error=row["error"],
        note=row["note"],
        result=dict(row["result"]) if row["result"] is not None else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
    )
