"""The periodic routing pass: what no event announces.

A heartbeat that stops coming is silence, not an event, so every few seconds the sweeper
looks for agents holding conversations whose presence has expired (or says away/offline)
and reassigns those conversations, then works every site's queue (an agent may have room
that no event has offered yet, e.g. after a restart). Several replicas may sweep at once:
each site is handled under its advisory lock and the events' ids derive from the state
they change, so the work is done once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import datetime

from tandem_events import utc_now
from tandem_platform.postgres import Pool as PgPool

from .adapters import routing_store as store
from .dispatch import Cause, Dispatcher
from .domain.routing import agent_gone

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self,
        pool: PgPool,
        dispatcher: Dispatcher,
        *,
        interval_seconds: float = 2.0,
        presence_ttl_seconds: float = 45.0,
    ) -> None:
        self.pool = pool
        self.dispatcher = dispatcher
        self.interval_seconds = interval_seconds
        self.presence_ttl_seconds = presence_ttl_seconds
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="escalation-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed pass is retried on the next tick
                log.warning("routing sweep failed", extra={"fields": {"error": repr(exc)}})
            await asyncio.sleep(self.interval_seconds)

    async def sweep(self, now: datetime | None = None) -> tuple[int, int]:
        """One pass; returns (conversations reassigned, conversations taken from queues)."""
        now = now or utc_now()
        reassigned = 0
        async with self.pool.connection() as conn:
            holders = await store.sites_with_assignments(conn)
            queued_sites = await store.sites_with_queue(conn)
        by_site: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
        for site_id, agent_id, since in holders:
            by_site[site_id].append((agent_id, since))
        for site_id, agents in by_site.items():
            present = await self.dispatcher.presence.many(site_id, [a for a, _ in agents])
            for agent_id, since in agents:
                presence = present.get(agent_id)
                last_seen = (
                    presence.last_seen
                    if presence is not None
                    else await self.dispatcher.presence.last_seen(site_id, agent_id)
                )
                status = presence.status if presence is not None else None
                if not agent_gone(status, last_seen, since, now, self.presence_ttl_seconds):
                    continue
                cause = Cause(seed=f"away:{site_id}:{agent_id}:{since.isoformat()}")
                async with self.pool.connection() as conn, conn.transaction():
                    moved = await self.dispatcher.reassign_agent(
                        conn, site_id=site_id, agent_id=agent_id, cause=cause
                    )
                if moved:
                    reassigned += moved
                    log.info(
                        "agent away: conversations reassigned",
                        extra={"fields": {"site_id": site_id, "conversations": moved}},
                    )
        taken = 0
        for site_id in queued_sites:
            cause = Cause(seed=f"sweep:{site_id}:{now.isoformat()}")
            async with self.pool.connection() as conn, conn.transaction():
                taken += await self.dispatcher.advance_queue(conn, site_id=site_id, cause=cause)
        self.passes += 1
        return reassigned, taken
