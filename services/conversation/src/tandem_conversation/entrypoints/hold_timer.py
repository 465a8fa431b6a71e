"""The background task that releases held AI replies whose review time is up.

Every replica runs one; ``release_expired_hold`` claims each due reply with SKIP LOCKED, so
replicas share the work and never release the same reply twice. What it posts goes through
the outbox like everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..handlers import Deps, release_expired_hold

log = logging.getLogger(__name__)


class HoldReleaseTimer:
    def __init__(self, deps: Deps, *, interval_seconds: float = 1.0, batch: int = 100) -> None:
        self.deps = deps
        self.interval_seconds = interval_seconds
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="conversation-hold-timer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def release_due(self) -> int:
        """Release what is due now (at most ``batch``); returns how many were released."""
        released = 0
        while released < self.batch and await release_expired_hold(self.deps):
            released += 1
        return released

    async def _run(self) -> None:
        while True:
            try:
                await self.release_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next tick retries; a held reply is never lost
                log.warning("releasing held replies failed", extra={"fields": {"error": repr(exc)}})
            await asyncio.sleep(self.interval_seconds)
