"""Long ingestions as jobs: their progress (row + event), and the tasks that run them.

``JobProgress`` keeps a job's counters. Whenever they change it may *flush*: update the job
row and put ``KnowledgeIngestionProgressed`` in the outbox, in one transaction, at most
once per ``interval`` seconds per job, plus once when the job ends, so a crawl of
thousands of pages publishes a steady trickle, not a flood. A listener (the CLI's progress
bar) sees every change, unthrottled.

``JobRunner`` owns the background tasks of the service's jobs, so the service can cancel
them when it stops (the jobs are then marked failed; a job whose process died without
that is found by its stopped heartbeat, see ``JobRepository.abandon_stale``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from tandem_events import KnowledgeIngestionProgressed
from tandem_platform.postgres import Pool as PgPool
from tandem_platform.postgres import enqueue

from ..adapters.job_repository import ItemOutcome, JobRecord, JobRepository
from .ingestion import NO_CONVERSATION, SOURCE

log = logging.getLogger(__name__)

#: How long stopping waits for cancelled jobs to record that they were stopped.
SHUTDOWN_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    job_id: uuid.UUID
    kind: str
    state: Literal["running", "completed", "failed"]
    unit: str
    done: int
    total: int
    failed: int
    skipped: int
    current: str | None
    error: str | None = None


Listener = Callable[[ProgressSnapshot], None]


class JobProgress:
    def __init__(
        self,
        *,
        pool: PgPool,
        schema: str,
        job: JobRecord,
        interval: float = 1.0,
        listener: Listener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.repository = JobRepository(schema)
        self.job = job
        self.interval = interval
        self.listener = listener
        self.clock = clock
        self.done = 0
        self.total = job.total
        self.failed = 0
        self.skipped = 0
        self.current: str | None = None
        self.events_published = 0
        self._last_flush: float | None = None
        self._lock = asyncio.Lock()

    @property
    def job_id(self) -> uuid.UUID:
        return self.job.job_id

    def snapshot(
        self, state: Literal["running", "completed", "failed"] = "running", error: str | None = None
    ) -> ProgressSnapshot:
        return ProgressSnapshot(
            self.job_id,
            self.job.kind,
            state,
            self.job.unit,
            self.done,
            self.total,
            self.failed,
            self.skipped,
            self.current,
            error,
        )

    async def advance(
        self,
        *,
        done: int = 0,
        failed: int = 0,
        skipped: int = 0,
        total: int | None = None,
        current: str | None = None,
    ) -> None:
        self.done += done
        self.failed += failed
        self.skipped += skipped
        if total is not None:
            self.total = total
        if current is not None:
            self.current = current
        if self.listener:
            self.listener(self.snapshot())
        now = self.clock()
        if self._last_flush is not None and now - self._last_flush < self.interval:
            return
        if self._lock.locked():
            return  # another task is flushing; the next change flushes again
        self._last_flush = now
        async with self._lock:
            await self._write("running")

    async def record(
        self,
        item: str,
        outcome: ItemOutcome,
        *,
        document_id: str | None = None,
        reason: str | None = None,
        keep: bool = True,
    ) -> None:
        """One item's fate (its row, when ``keep``), counted."""
        if keep:
            async with self.pool.connection() as conn:
                await self.repository.record_item(
                    conn, self.job_id, item, outcome, document_id=document_id, reason=reason
                )
        await self.advance(
            done=1 if outcome in ("indexed", "unchanged") else 0,
            failed=1 if outcome == "failed" else 0,
            skipped=1 if outcome == "skipped" else 0,
            current=item,
        )

    async def finish(
        self,
        state: Literal["completed", "failed"],
        *,
        error: str | None = None,
        note: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        if self.listener:
            self.listener(self.snapshot(state, error))
        async with self._lock:
            await self._write(state, error=error, note=note, result=result)

    async def _write(
        self,
        state: Literal["running", "completed", "failed"],
        *,
        error: str | None = None,
        note: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        current = self.current[:2000] if self.current else None
        async with self.pool.connection() as conn, conn.transaction():
            await self.repository.update(
                conn,
                self.job_id,
                total=max(self.total, self.done + self.failed + self.skipped),
                done=self.done,
                failed=self.failed,
                skipped=self.skipped,
                current=current,
                state=state,
                error=error,
                note=note,
                result=result,
            )
            await enqueue(
                conn,
                self.schema,
                KnowledgeIngestionProgressed(
                    site_id=self.job.site_id,
                    conversation_id=NO_CONVERSATION,
                    job_id=self.job_id,
                    job_kind=self.job.kind,
                    state=state,
                    unit=self.job.unit,
                    done=self.done,
                    total=max(self.total, self.done + self.failed + self.skipped),
                    failed=self.failed,
                    skipped=self.skipped,
                    current=current,
                    error=error[:2000] if error else None,
                ),
                source=SOURCE,
            )
        self.events_published += 1


class JobRunner:
    """The service's running jobs: started in the background, cancelled on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        if self._closed:
            coroutine.close()
            raise RuntimeError("the service is stopping")
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "ingestion job crashed",
                exc_info=task.exception(),
                extra={"fields": {"task": task.get_name()}},
            )

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def shutdown(self) -> None:
        """Cancel every job; each marks itself failed on the way out (bounded by
        ``SHUTDOWN_SECONDS``)."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_SECONDS)
