"""Routing use cases: give an escalated conversation to an agent or queue it, move it when
its agent transfers it or goes away, and advance the queue when capacity frees.

Every function runs inside the caller's transaction and takes the site's lock first, then
reads presence (Redis) and load (Postgres), applies ``domain.routing`` and writes the
assignment or queue entry together with the events (``AgentAssigned``,
``EscalationQueued``) in the outbox. Event ids derive from what caused them, so a retried
transaction or a second replica publishes nothing new.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from tandem_events import AgentAssigned, EscalationQueued, Event, deterministic_event_id, utc_now
from tandem_events.wire import child_traceparent
from tandem_platform.postgres import enqueue as outbox

from .adapters import routing_store as store
from .adapters.presence import PresenceStore
from .adapters.schema import SCHEMA
from .domain.routing import (
    AgentSnapshot,
    Assignment,
    Choice,
    QueueEntry,
    RoutingRequest,
    RoutingSettings,
    choose_agent,
    estimate_wait,
    mean_handling_seconds,
    order_queue,
    work_queue,
)
from .metrics import ASSIGNMENTS, QUEUED, ROUTING_SECONDS

Conn = AsyncConnection[Any]

SERVICE = "escalation"
SOURCE = "/tandem/escalation"


@dataclass(frozen=True)
class Cause:
    """Why routing runs: the consumed event (envelope for what it publishes), or a sweep."""

    seed: str
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    traceparent: str | None = None

    @classmethod
    def of(cls, event: Event, traceparent: str | None = None) -> Cause:
        return cls(
            seed=str(event.event_id),
            correlation_id=event.correlation_id or event.event_id,
            causation_id=event.event_id,
            traceparent=traceparent,
        )

    def event_id(self, kind: str, conversation_id: uuid.UUID, *extra: object) -> uuid.UUID:
        return deterministic_event_id(SERVICE, self.seed, kind, conversation_id, *extra)


@dataclass
class Dispatcher:
    presence: PresenceStore
    clock: Callable[[], datetime] = field(default=utc_now)

    # ------------------------------------------------------------------ reading

    async def agents(self, conn: Conn, site_id: str) -> list[AgentSnapshot]:
        """Agents present on the site (heartbeat not expired, not deactivated) with their load."""
        present = await self.presence.site(site_id)
        if not present:
            return []
        counts = await store.active_counts(conn, site_id)
        cur = await conn.execute(
            f"SELECT agent_id FROM {SCHEMA}.agents WHERE site_id = %s AND NOT active", (site_id,)
        )
        deactivated = {r["agent_id"] for r in await cur.fetchall()}
        return [
            AgentSnapshot(
                agent_id=p.agent_id,
                name=p.name,
                status=p.status,
                max_concurrent=p.max_concurrent,
                active_conversations=counts.get(p.agent_id, 0),
                skills=frozenset(p.skills),
                languages=frozenset(p.languages),
            )
            for p in present.values()
            if p.agent_id not in deactivated
        ]

    async def settings(self, conn: Conn, site_id: str) -> RoutingSettings:
        return await store.load_settings(conn, site_id) or RoutingSettings()

    # ------------------------------------------------------------------ routing

    async def route(
        self,
        conn: Conn,
        *,
        site_id: str,
        request: RoutingRequest,
        cause: Cause,
        assignment: Assignment = "routed",
        previous_agent_id: str | None = None,
        queued_since: datetime | None = None,
    ) -> AgentAssigned | EscalationQueued:
        """Give the conversation to the best agent free now, or queue it."""
        started = time.perf_counter()
        await store.lock_site(conn, site_id)
        agents = await self.agents(conn, site_id)
        cursor = await store.cursor_of(conn, site_id)
        choice = choose_agent(agents, request, cursor)
        result: AgentAssigned | EscalationQueued
        if choice is not None:
            result = await self._assign(
                conn, site_id, request, choice, cause, assignment, previous_agent_id
            )
            await store.save_cursor(conn, site_id, choice.agent.agent_id)
        else:
            entry = QueueEntry(request, queued_since or self.clock(), assignment, previous_agent_id)
            await store.enqueue(
                conn,
                site_id=site_id,
                entry=entry,
                correlation_id=cause.correlation_id,
                cause_id=cause.causation_id,
            )
            QUEUED.inc()
            queue = [row.entry for row in await store.queue_of(conn, site_id)]
            announced = await self._announce(
                conn, site_id, order_queue(queue), agents, cause, only={request.conversation_id}
            )
            result = announced[0]
        ROUTING_SECONDS.observe(time.perf_counter() - started)
        return result

    async def assign_to(
        self,
        conn: Conn,
        *,
        site_id: str,
        request: RoutingRequest,
        agent_id: str,
        agent_name: str,
        cause: Cause,
        assignment: Assignment,
        previous_agent_id: str | None,
    ) -> AgentAssigned:
        """Give the conversation to a named agent (a transfer), whatever their load."""
        await store.lock_site(conn, site_id)
        present = await self.presence.get(site_id, agent_id)
        agent = AgentSnapshot(
            agent_id=agent_id,
            name=present.name if present else agent_name,
            status=present.status if present else "offline",
            max_concurrent=present.max_concurrent if present else 0,
            skills=frozenset(present.skills) if present else frozenset(),
        )
        skill = request.required_skill if request.required_skill in agent.skills else None
        return await self._assign(
            conn, site_id, request, Choice(agent, skill), cause, assignment, previous_agent_id
        )

    async def take(
        self, conn: Conn, *, site_id: str, conversation_id: uuid.UUID, agent_id: str, name: str
    ) -> str | None:
        """An agent joined the conversation: it is theirs (and counts towards their load).
        Returns the agent it was assigned to before, if another one."""
        await store.lock_site(conn, site_id)
        current = await store.assignment_of(conn, conversation_id)
        if current is not None and current.agent_id == agent_id:
            return None
        request = RoutingRequest(
            conversation_id,
            current.required_skill if current else None,
            current.language if current else None,
            current.priority if current else "normal",
        )
        await store.assign(
            conn,
            conversation_id=conversation_id,
            site_id=site_id,
            agent_id=agent_id,
            agent_name=name,
            request=request,
            at=self.clock(),
        )
        return current.agent_id if current else None

    async def release(
        self,
        conn: Conn,
        *,
        site_id: str,
        conversation_id: uuid.UUID,
        resolved_at: datetime | None = None,
    ) -> store.AssignmentRow | None:
        """The conversation no longer needs its agent (resolved, deleted, handed back);
        a resolution records how long the agent took."""
        await store.lock_site(conn, site_id)
        await store.dequeue(conn, conversation_id)
        released = await store.release(conn, conversation_id)
        if released is not None and resolved_at is not None:
            seconds = (resolved_at - released.assigned_at).total_seconds()
            await store.record_handling_time(conn, site_id, seconds, resolved_at)
        return released

    async def reassign_agent(self, conn: Conn, *, site_id: str, agent_id: str, cause: Cause) -> int:
        """The agent went away: route each of their conversations to someone else (or the
        queue, ahead of newer arrivals). Returns how many conversations moved."""
        await store.lock_site(conn, site_id)
        moved = await store.assignments_of_agent(conn, site_id, agent_id)
        for row in moved:
            await store.release(conn, row.conversation_id)
        for row in moved:
            request = RoutingRequest(
                row.conversation_id,
                row.required_skill,
                row.language,
                row.priority,
                excluded=frozenset({agent_id}),
            )
            await self.route(
                conn,
                site_id=site_id,
                request=request,
                cause=cause,
                assignment="reassigned",
                previous_agent_id=agent_id,
                queued_since=row.assigned_at,
            )
        return len(moved)

    async def advance_queue(self, conn: Conn, *, site_id: str, cause: Cause) -> int:
        """Assign what the queue's conversations can now get; announce the new positions
        of those still waiting. Returns how many were assigned."""
        await store.lock_site(conn, site_id)
        rows = await store.queue_of(conn, site_id)
        if not rows:
            return 0
        agents = await self.agents(conn, site_id)
        by_conversation = {r.entry.request.conversation_id: r for r in rows}
        plan = work_queue([r.entry for r in rows], agents, await store.cursor_of(conn, site_id))
        for entry, choice in plan.assigned:
            row = by_conversation[entry.request.conversation_id]
            # The queued escalation's correlation carries on into its assignment.
            queued_cause = Cause(
                seed=cause.seed,
                correlation_id=row.correlation_id or cause.correlation_id,
                causation_id=cause.causation_id or row.cause_id,
                traceparent=cause.traceparent,
            )
            await self._assign(
                conn,
                site_id,
                entry.request,
                choice,
                queued_cause,
                entry.assignment,
                entry.previous_agent_id,
            )
        if plan.cursor is not None and plan.assigned:
            await store.save_cursor(conn, site_id, plan.cursor)
        # Whoever is now at another place than last announced (those ahead were assigned,
        # resolved or left) hears their new position.
        moved = {
            e.request.conversation_id
            for i, e in enumerate(plan.waiting, start=1)
            if by_conversation[e.request.conversation_id].announced_position != i
        }
        if moved:
            await self._announce(conn, site_id, plan.waiting, agents, cause, only=moved)
        return len(plan.assigned)

    async def queue_view(self, conn: Conn, site_id: str) -> list[dict[str, Any]]:
        """The site's queue in serving order, with positions and wait estimates."""
        rows = await store.queue_of(conn, site_id)
        entries = order_queue(r.entry for r in rows)
        agents = await self.agents(conn, site_id)
        mean = mean_handling_seconds(await store.recent_handling_times(conn, site_id))
        return [
            {
                "conversation_id": e.request.conversation_id,
                "position": position,
                "waiting_since": e.enqueued_at,
                "required_skill": e.request.required_skill,
                "language": e.request.language,
                "priority": e.request.priority,
                "estimated_wait_seconds": estimate_wait(position, agents, e.request, mean),
            }
            for position, e in enumerate(entries, start=1)
        ]

    # ------------------------------------------------------------------ events

    async def _assign(
        self,
        conn: Conn,
        site_id: str,
        request: RoutingRequest,
        choice: Choice,
        cause: Cause,
        assignment: Assignment,
        previous_agent_id: str | None,
    ) -> AgentAssigned:
        now = self.clock()
        await store.assign(
            conn,
            conversation_id=request.conversation_id,
            site_id=site_id,
            agent_id=choice.agent.agent_id,
            agent_name=choice.agent.name,
            request=request,
            at=now,
        )
        assigned = AgentAssigned(
            event_id=cause.event_id("assigned", request.conversation_id, choice.agent.agent_id),
            occurred_at=now,
            site_id=site_id,
            conversation_id=request.conversation_id,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
            agent_id=choice.agent.agent_id,
            agent_name=choice.agent.name,
            assignment=assignment,
            previous_agent_id=previous_agent_id,
            matched_skill=choice.matched_skill,
        )
        await outbox(
            conn,
            SCHEMA,
            assigned,
            source=SOURCE,
            traceparent=child_traceparent(cause.traceparent),
        )
        ASSIGNMENTS.labels(assignment).inc()
        return assigned

    async def _announce(
        self,
        conn: Conn,
        site_id: str,
        waiting: Sequence[QueueEntry],
        agents: Sequence[AgentSnapshot],
        cause: Cause,
        *,
        only: set[uuid.UUID],
    ) -> list[EscalationQueued]:
        """EscalationQueued for the waiting conversations in ``only``: position, queue
        length, wait estimate, and the offline message outside business hours."""
        settings = await self.settings(conn, site_id)
        now = self.clock()
        open_now = settings.within_business_hours(now)
        mean = mean_handling_seconds(await store.recent_handling_times(conn, site_id))
        events = []
        for position, entry in enumerate(waiting, start=1):
            conversation_id = entry.request.conversation_id
            if conversation_id not in only:
                continue
            queued = EscalationQueued(
                event_id=cause.event_id("queued", conversation_id, position, len(waiting)),
                occurred_at=now,
                site_id=site_id,
                conversation_id=conversation_id,
                correlation_id=cause.correlation_id,
                causation_id=cause.causation_id,
                position=position,
                queue_length=len(waiting),
                estimated_wait_seconds=estimate_wait(position, agents, entry.request, mean),
                required_skill=entry.request.required_skill,
                language=entry.request.language,
                priority=entry.request.priority,
                within_business_hours=open_now,
                offline_message=None if open_now else settings.offline_message,
            )
            await outbox(
                conn,
                SCHEMA,
                queued,
                source=SOURCE,
                traceparent=child_traceparent(cause.traceparent),
            )
            await store.set_announced(conn, conversation_id, position)
            events.append(queued)
        return events
