"""Each site's words, as the speller needs them (domain/spelling.py), kept per replica.

A site's word counts come from Postgres (counted there, so only the distinct words travel).
A replica checks the site's knowledge fingerprint at most every ``refresh_seconds``, in the
background: answers meanwhile use the copy in hand, since a vocabulary a few seconds old
only mends a word less. Only a site's first question waits for its words.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tandem_platform.postgres import Pool as PgPool

from ..adapters.repository import DocumentRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Copy:
    words: Mapping[str, int]
    fingerprint: str | None  # None: Postgres could not be read
    checked_at: float


class SiteVocabularies:
    def __init__(
        self,
        *,
        pool: PgPool,
        schema: str,
        refresh_seconds: float = 30.0,
        retry_seconds: float = 1.0,
        max_cached_sites: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.repository = DocumentRepository(schema)
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self.max_cached_sites = max_cached_sites
        self.clock = clock
        self._copies: OrderedDict[str, _Copy] = OrderedDict()
        self._loading: dict[str, asyncio.Task[_Copy]] = {}

    async def words(self, site_id: str) -> Mapping[str, int]:
        """The site's word counts: the copy in hand (refreshed behind it when due), or,
        for a site not seen yet, read now."""
        copy = self._copies.get(site_id)
        if copy is None:
            return await self.refresh(site_id)
        self._copies.move_to_end(site_id)
        if self.clock() - copy.checked_at >= self.refresh_seconds:
            self._load_in_background(site_id, copy)
        return copy.words

    async def refresh(self, site_id: str) -> Mapping[str, int]:
        """Check the site's words against Postgres now (one load however many ask)."""
        # Shielded: one waiting question that gives up must not cancel the others' load.
        task = self._load_in_background(site_id, self._copies.get(site_id))
        return (await asyncio.shield(task)).words

    def _load_in_background(self, site_id: str, previous: _Copy | None) -> asyncio.Task[_Copy]:
        task = self._loading.get(site_id)
        if task is None:
            task = asyncio.create_task(self._load(site_id, previous))
            self._loading[site_id] = task
            task.add_done_callback(lambda done: self._loading.pop(site_id, None))
        return task

    async def _load(self, site_id: str, previous: _Copy | None) -> _Copy:
        try:
            async with self.pool.connection() as conn:
                fingerprint = await self.repository.knowledge_fingerprint(conn, site_id)
                if previous is not None and previous.fingerprint == fingerprint:
                    words = previous.words
                else:
                    words = await self.repository.word_counts(conn, site_id)
        except Exception as exc:
            # Without its words the speller mends nothing; the answer goes on regardless.
            log.warning(
                "site vocabulary could not be read; keeping what this replica had",
                extra={"fields": {"site_id": site_id, "error": repr(exc)}},
            )
            kept = previous.words if previous is not None else {}
            retry_at = self.clock() - self.refresh_seconds + self.retry_seconds
            copy = _Copy(kept, previous.fingerprint if previous else None, retry_at)
        else:
            copy = _Copy(words, fingerprint, self.clock())
        self._copies[site_id] = copy
        self._copies.move_to_end(site_id)
        while len(self._copies) > self.max_cached_sites:
            self._copies.popitem(last=False)
        return copy
