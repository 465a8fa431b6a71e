"""The CLI's long ingestions: a progress bar, ``crawl``, and the job behind a multi-file
``ingest`` (so its progress is published like a crawl's).

On a terminal the bar redraws itself on stderr; the per-document lines go to stdout above
it. Anywhere else (a pipe, CI) there is no bar: the lines are the progress.
"""

# A command's output for a person, like cli.py's.
# ruff: noqa: T201

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from ..bootstrap import open_runtime
from ..service_layer.crawling import CrawlRequest
from ..service_layer.ingestion_jobs import build_ingestion_jobs
from ..service_layer.jobs import ProgressSnapshot
from ..settings import AnsweringSettings


class ProgressBar:
    """``[#######.......]  42/120 documents · 2 failed · 5 skipped · <current>``."""

    def __init__(self, stream: TextIO | None = None, *, redraws_per_second: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.min_interval = 1.0 / redraws_per_second
        self._last = 0.0
        self._shown = False
        self._snapshot: ProgressSnapshot | None = None

    def update(self, snapshot: ProgressSnapshot) -> None:
        self._snapshot = snapshot
        now = time.monotonic()
        if not self.enabled or (
            now - self._last < self.min_interval and snapshot.state == "running"
        ):
            return
        self._last = now
        self._draw()

    def println(self, line: str, stream: TextIO | None = None) -> None:
        """A line above the bar."""
        out = stream or sys.stdout
        if self.enabled and self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(line, file=out, flush=True)
        if self.enabled and self._snapshot is not None:
            self._draw()

    def close(self) -> None:
        if self.enabled and self._shown:
            if self._snapshot is not None:
                self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False

    def render(self, width: int) -> str:
        s = self._snapshot
        if s is None:
            return ""
        finished = s.done + s.failed + s.skipped
        total = max(s.total, finished, 1)
        bar_width = max(10, min(30, width // 4))
        filled = round(bar_width * finished / total)
        text = f"[{'#' * filled}{'.' * (bar_width - filled)}] {finished:>4}/{total} {s.unit}"
        if s.failed:
            text += f" · {s.failed} failed"
        if s.skipped:
            text += f" · {s.skipped} skipped"
        if s.current:
            room = width - len(text) - 4
            if room > 10:
                current = s.current if len(s.current) <= room else "…" + s.current[-room + 1 :]
                text += f" · {current}"
        return text[: max(10, width - 1)]

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r\033[K" + self.render(width))
        self.stream.flush()
        self._shown = True


async def crawl_site(
    settings: AnsweringSettings,
    site_id: str,
    start_url: str,
    *,
    sitemap: bool,
    max_pages: int | None,
    allow_private_networks: bool,
) -> int:
    """``crawl``: the same job the admin API starts, run here in the foreground."""
    if allow_private_networks:
        settings = settings.model_copy(update={"crawl_allow_private_networks": True})
    bar = ProgressBar()
    last_line = [0.0]

    def show(snapshot: ProgressSnapshot) -> None:
        bar.update(snapshot)
        # Without a terminal, a plain line now and then says how far it got.
        if not bar.enabled and time.monotonic() - last_line[0] >= 2.0:
            last_line[0] = time.monotonic()
            print(
                f"[{snapshot.done + snapshot.failed + snapshot.skipped}/{snapshot.total}] "
                f"{snapshot.done} indexed or unchanged, {snapshot.failed} failed, "
                f"{snapshot.skipped} skipped  {snapshot.current or ''}",
                flush=True,
            )

    async with open_runtime(settings, require_calibration=False) as runtime:
        jobs = build_ingestion_jobs(settings, runtime.pool, runtime.ingestion)
        request = CrawlRequest(site_id, start_url, sitemap=sitemap, max_pages=max_pages)
        job = await jobs.crawls.create_job(request)
        bar.println(f"crawl {job.job_id}: {start_url} into site {site_id}")
        try:
            await jobs.crawls.run(job, request, listener=show)
        finally:
            bar.close()
        async with runtime.pool.connection() as conn:
            finished = await jobs.repository.get(conn, site_id, job.job_id)
            items = await jobs.repository.items(
                conn,
                job.job_id,
                outcomes=("indexed", "unchanged", "failed", "skipped"),
                limit=10_000,
            )
    for item in items:
        reason = f"  {item.reason}" if item.reason else ""
        print(f"{item.outcome:<10} {item.item}{reason}")
    assert finished is not None
    print(
        f"{finished.state}: {finished.done} indexed or unchanged, {finished.failed} failed, "
        f"{finished.skipped} skipped"
    )
    if finished.note:
        print(f"note: {finished.note}")
    if finished.error:
        print(f"error: {finished.error}", file=sys.stderr)
    return 0 if finished.state == "completed" and not finished.failed else 1
