"""A site's answering policy: its threshold, its fallback text and its curated answers.

``SitePolicies`` is what the answer use case asks per question (``threshold``,
``fallback_text``, ``match_curated``: cheap, from a per-site in-process cache) and what the
admin API changes (the settings and the curated answers' CRUD).

Caching: each replica keeps a snapshot per site (settings + curated entries with their
vectors). A write through this object drops the site's snapshot at once; other replicas
notice within ``cache_seconds``: an expired snapshot is revalidated with one small query
(the settings row and a fingerprint of the site's entries) and the entries are only read
again when the fingerprint changed. Concurrent questions of one site share one load.

When Postgres cannot be read, answers go on: the last snapshot is kept (or, with none, the
service's defaults and no curated answers) and retried after ``retry_seconds``; this
object never makes a visitor's question fail.

Vectors: each entry's phrasings are embedded once, when written, by ``embed`` (the same
model that embeds visitors' questions) and stored with the model's version. An entry
whose stored vectors come from another model version is re-embedded when a site is loaded
and the new vectors written back; until that succeeds it matches by exact text only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tandem_platform.postgres import Pool as PgPool

from ..adapters.site_policy_repository import SitePolicyRepository, StoredCurated
from ..domain.curated import (
    DEFAULT_MATCH_MARGIN,
    DEFAULT_MATCH_THRESHOLD,
    MAX_PER_SITE,
    CuratedAnswer,
    CuratedContent,
    CuratedEntry,
    CuratedIndex,
    CuratedMatch,
    Vectors,
    match_curated,
    normalise_question,
)
from ..domain.documents import validate_site_id
from ..domain.site_settings import SiteAnsweringSettings

log = logging.getLogger(__name__)

#: Text in, one unit row per text out (float32), off the event loop.
Embed = Callable[[list[str]], Awaitable[Vectors]]


class CuratedAnswerNotFound(LookupError):
    """No curated answer of that id on that site."""


class CuratedAnswerConflict(ValueError):
    """The change would break a rule over the site's entries: a phrasing already pinned by
    another entry, or more entries than a site may have."""


@dataclass(frozen=True, slots=True)
class SiteSettingsView:
    """A site's own settings, the service's defaults, and what applies."""

    site_id: str
    own: SiteAnsweringSettings
    default_threshold: float
    default_fallback_text: str

    @property
    def answer_threshold(self) -> float:
        return self.own.threshold_or(self.default_threshold)

    @property
    def fallback_text(self) -> str:
        return self.own.fallback_or(self.default_fallback_text)

    def to_json(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "answer_threshold": self.answer_threshold,
            "fallback_text": self.fallback_text,
            "uses_default": {
                "answer_threshold": self.own.answer_threshold is None,
                "fallback_text": self.own.fallback_text is None,
            },
            "defaults": {
                "answer_threshold": self.default_threshold,
                "fallback_text": self.default_fallback_text,
            },
        }


@dataclass(frozen=True, slots=True)
class _Snapshot:
    settings: SiteAnsweringSettings
    entries: tuple[CuratedEntry, ...]
    index: CuratedIndex
    fingerprint: str | None  # None: not read from Postgres (it could not be)
    expires_at: float
    #: False while some entries wait to be re-embedded (they match by exact text only).
    complete: bool = True


class SitePolicies:
    def __init__(
        self,
        *,
        pool: PgPool,
        schema: str,
        embed: Embed,
        model_version: str,
        default_threshold: float,
        default_fallback_text: str,
        match_threshold: float = DEFAULT_MATCH_THRESHOLD,
        match_margin: float = DEFAULT_MATCH_MARGIN,
        cache_seconds: float = 5.0,
        retry_seconds: float = 1.0,
        max_cached_sites: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.repository = SitePolicyRepository(schema)
        self.embed = embed
        self.model_version = model_version
        self.default_threshold = default_threshold
        self.default_fallback_text = default_fallback_text
        self.match_threshold = match_threshold
        self.match_margin = match_margin
        self.cache_seconds = cache_seconds
        self.retry_seconds = retry_seconds
        self.max_cached_sites = max_cached_sites
        self.clock = clock
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()
        self._loading: dict[str, asyncio.Task[_Snapshot]] = {}
        # Bumped by every write: a load that began before a write must not be cached.
        self._epoch = 0

    # -- what the answer use case asks ---------------------------------------------------

    async def threshold(self, site_id: str) -> float:
        """The confidence the AI needs to answer on this site (an Answerer's
        ``threshold_for``)."""
        return (await self._snapshot(site_id)).settings.threshold_or(self.default_threshold)

    async def fallback_text(self, site_id: str) -> str:
        """What the visitor reads when the AI is not sure enough."""
        return (await self._snapshot(site_id)).settings.fallback_or(self.default_fallback_text)

    async def match_curated(
        self,
        site_id: str,
        question: str,
        question_vector: NDArray[Any] | None,
        *,
        vector_model_version: str | None = None,
    ) -> CuratedMatch | None:
        """The site's curated answer for ``question`` (raw visitor text; normalised here),
        or None when none matches.

        ``question_vector`` must come from the model of ``embed`` (``model_version``):
        vectors of two models of the same size would compare without error and mean
        nothing. Say which model made it with ``vector_model_version`` when the caller
        has several; another model's vector (or None) matches by exact text only.
        """
        snapshot = await self._snapshot(site_id)
        if not snapshot.entries:
            return None
        if vector_model_version is not None and vector_model_version != self.model_version:
            question_vector = None
        return match_curated(
            normalise_question(question),
            question_vector,
            snapshot.index,
            threshold=self.match_threshold,
            margin=self.match_margin,
        )

    def invalidate(self, site_id: str) -> None:
        """Forget the site's snapshot (after a write): the next question reads it again."""
        self._epoch += 1
        self._snapshots.pop(site_id, None)
        self._loading.pop(site_id, None)

    # -- settings ------------------------------------------------------------------------

    async def settings(self, site_id: str) -> SiteSettingsView:
        validate_site_id(site_id)
        async with self.pool.connection() as conn:
            own = await self.repository.settings(conn, site_id)
        return self._view(site_id, own)

    async def update_settings(self, site_id: str, changes: Mapping[str, Any]) -> SiteSettingsView:
        """Change the named fields (``answer_threshold``, ``fallback_text``); ``None``
        brings a field back to the service's default. Fields not named are kept."""
        validate_site_id(site_id)
        unknown = set(changes) - {"answer_threshold", "fallback_text"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                (f"{self.repository.schema}.site_answering_settings", site_id),
            )
            current = await self.repository.settings(conn, site_id)
            merged = SiteAnsweringSettings(
                answer_threshold=changes.get("answer_threshold", current.answer_threshold),
                fallback_text=changes.get("fallback_text", current.fallback_text),
            )
            await self.repository.save_settings(conn, site_id, merged)
        self.invalidate(site_id)
        return self._view(site_id, merged)

    def _view(self, site_id: str, own: SiteAnsweringSettings) -> SiteSettingsView:
        return SiteSettingsView(site_id, own, self.default_threshold, self.default_fallback_text)

    # -- curated answers -----------------------------------------------------------------

    async def list_curated(self, site_id: str) -> list[CuratedAnswer]:
        validate_site_id(site_id)
        async with self.pool.connection() as conn:
            return [s.answer for s in await self.repository.list_curated(conn, site_id)]

    async def get_curated(self, site_id: str, curated_id: str) -> CuratedAnswer | None:
        validate_site_id(site_id)
        async with self.pool.connection() as conn:
            stored = await self.repository.get_curated(conn, site_id, curated_id)
        return stored.answer if stored else None

    async def create_curated(self, site_id: str, content: CuratedContent) -> CuratedAnswer:
        validate_site_id(site_id)
        vectors = await self._vectors(content)
        async with self.pool.connection() as conn, conn.transaction():
            await self.repository.lock_site(conn, site_id)
            existing = await self.repository.list_curated(conn, site_id)
            if len(existing) >= MAX_PER_SITE:
                raise CuratedAnswerConflict(
                    f"a site has at most {MAX_PER_SITE} curated answers; delete one first"
                )
            _refuse_taken_phrasings(content, existing, keep=None)
            stored = await self.repository.insert_curated(
                conn,
                site_id=site_id,
                curated_id=new_curated_id(),
                content=content,
                vectors=vectors,
                model_version=self.model_version,
            )
        self.invalidate(site_id)
        return stored.answer

    async def update_curated(
        self, site_id: str, curated_id: str, content: CuratedContent
    ) -> CuratedAnswer:
        validate_site_id(site_id)
        vectors = await self._vectors(content)
        async with self.pool.connection() as conn, conn.transaction():
            await self.repository.lock_site(conn, site_id)
            existing = await self.repository.list_curated(conn, site_id)
            _refuse_taken_phrasings(content, existing, keep=curated_id)
            stored = await self.repository.update_curated(
                conn,
                site_id=site_id,
                curated_id=curated_id,
                content=content,
                vectors=vectors,
                model_version=self.model_version,
            )
        if stored is None:
            raise CuratedAnswerNotFound(curated_id)
        self.invalidate(site_id)
        return stored.answer

    async def delete_curated(self, site_id: str, curated_id: str) -> bool:
        validate_site_id(site_id)
        async with self.pool.connection() as conn, conn.transaction():
            deleted = await self.repository.delete_curated(conn, site_id, curated_id)
        self.invalidate(site_id)
        return deleted

    async def _vectors(self, content: CuratedContent) -> Vectors:
        vectors = np.asarray(await self.embed(list(content.phrasings)), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(content.phrasings):
            raise RuntimeError(
                f"the embedder returned {vectors.shape} for {len(content.phrasings)}"
            )
        return vectors

    # -- the cache -----------------------------------------------------------------------

    async def _snapshot(self, site_id: str) -> _Snapshot:
        snapshot = self._snapshots.get(site_id)
        if snapshot is not None and snapshot.expires_at > self.clock():
            self._snapshots.move_to_end(site_id)
            return snapshot
        task = self._loading.get(site_id)
        if task is None:
            task = asyncio.create_task(self._load(site_id, snapshot))
            self._loading[site_id] = task
            task.add_done_callback(lambda done: self._loaded(site_id, done))
        # Shielded: one waiting question that gives up must not cancel the others' load.
        return await asyncio.shield(task)

    def _loaded(self, site_id: str, task: asyncio.Task[_Snapshot]) -> None:
        if self._loading.get(site_id) is task:
            del self._loading[site_id]

    async def _load(self, site_id: str, previous: _Snapshot | None) -> _Snapshot:
        epoch = self._epoch
        try:
            async with self.pool.connection() as conn:
                settings = await self.repository.settings(conn, site_id)
                fingerprint = await self.repository.curated_fingerprint(conn, site_id)
                if (
                    previous is not None
                    and previous.complete
                    and previous.fingerprint == fingerprint
                ):
                    entries, index = previous.entries, previous.index
                    stale: list[StoredCurated] = []
                else:
                    stored = await self.repository.list_curated(conn, site_id)
                    entries, stale = self._entries(stored)
                    index = None
        except Exception as exc:
            log.warning(
                "site answering policy could not be read; keeping what this replica had",
                extra={"fields": {"site_id": site_id, "error": repr(exc)}},
            )
            kept = previous or _Snapshot(SiteAnsweringSettings(), (), _NO_ENTRIES, None, 0.0)
            snapshot = replace(kept, expires_at=self.clock() + self.retry_seconds)
        else:
            complete = True
            if stale:
                entries, complete = await self._reembed(site_id, entries, stale)
                index = None
            if index is None:
                # Normalising and stacking a large site's phrasings takes milliseconds: not
                # on the event loop.
                index = await asyncio.to_thread(CuratedIndex.build, entries)
            snapshot = _Snapshot(
                settings, entries, index, fingerprint, self.clock() + self.cache_seconds, complete
            )
        if epoch != self._epoch:
            return snapshot  # a write happened meanwhile: good for these callers, not to keep
        self._snapshots[site_id] = snapshot
        self._snapshots.move_to_end(site_id)
        while len(self._snapshots) > self.max_cached_sites:
            self._snapshots.popitem(last=False)
        return snapshot

    def _entries(
        self, stored: list[StoredCurated]
    ) -> tuple[tuple[CuratedEntry, ...], list[StoredCurated]]:
        """Entries ready to match, and those whose vectors are another model's (they match
        by exact text only until re-embedded)."""
        entries: list[CuratedEntry] = []
        stale: list[StoredCurated] = []
        for item in stored:
            if item.model_version == self.model_version:
                entries.append(CuratedEntry(item.answer, item.vectors))
            else:
                stale.append(item)
                entries.append(_text_only(item.answer))
        return tuple(entries), stale

    async def _reembed(
        self, site_id: str, entries: tuple[CuratedEntry, ...], stale: list[StoredCurated]
    ) -> tuple[tuple[CuratedEntry, ...], bool]:
        texts = [p for item in stale for p in item.answer.content.phrasings]
        try:
            vectors = np.asarray(await self.embed(texts), dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] != len(texts):
                raise RuntimeError(f"the embedder returned {vectors.shape} for {len(texts)}")
        except Exception as exc:
            log.warning(
                "curated answers could not be re-embedded; exact matches only for now",
                extra={"fields": {"site_id": site_id, "entries": len(stale), "error": repr(exc)}},
            )
            return entries, False
        fresh: dict[str, Vectors] = {}
        offset = 0
        for item in stale:
            rows = len(item.answer.content.phrasings)
            fresh[item.answer.curated_id] = vectors[offset : offset + rows]
            offset += rows
        # Writing back is an optimisation (the next load need not embed again).
        with contextlib.suppress(Exception):
            async with self.pool.connection() as conn:
                for item in stale:
                    async with conn.transaction():
                        await self.repository.replace_vectors(
                            conn,
                            site_id=site_id,
                            curated_id=item.answer.curated_id,
                            seen_updated_at=item.answer.updated_at,
                            vectors=fresh[item.answer.curated_id],
                            model_version=self.model_version,
                        )
        log.info(
            "curated answers re-embedded for the current model",
            extra={
                "fields": {
                    "site_id": site_id,
                    "entries": len(stale),
                    "model_version": self.model_version,
                }
            },
        )
        entries = tuple(
            CuratedEntry(e.answer, fresh[e.answer.curated_id])
            if e.answer.curated_id in fresh
            else e
            for e in entries
        )
        return entries, True


_NO_ENTRIES = CuratedIndex.build(())


def new_curated_id() -> str:
    """``ca_`` and 128 random bits, URL-safe: ids cannot be guessed or enumerated."""
    return "ca_" + secrets.token_urlsafe(16)


def _text_only(answer: CuratedAnswer) -> CuratedEntry:
    rows = len(answer.content.phrasings)
    return CuratedEntry(answer, np.zeros((rows, 0), dtype=np.float32))


def _refuse_taken_phrasings(
    content: CuratedContent, existing: list[StoredCurated], *, keep: str | None
) -> None:
    """Two entries pinned to the same words would make the exact match ambiguous."""
    mine = dict(zip(content.normalised_phrasings, content.phrasings, strict=True))
    for other in existing:
        if other.answer.curated_id == keep:
            continue
        for normalised in other.answer.content.normalised_phrasings:
            if normalised in mine:
                raise CuratedAnswerConflict(
                    f"“{mine[normalised]}” is already a phrasing of curated answer "
                    f"{other.answer.curated_id}"
                )
