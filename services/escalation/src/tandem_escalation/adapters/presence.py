"""Agent presence in Redis: one key per agent that expires unless heartbeats renew it.

The gateway publishes ``AgentPresenceChanged`` when an agent sets their status and every
~15 s while their console is open; each one rewrites the agent's key with a time to live
(45 s by default) counted from when the event *happened*, so a heartbeat that arrives late
(consumer lag) cannot keep a closed console alive. An agent whose key is gone is away.

Keys (``{site}`` and ``{agent}`` as given):

* ``tandem:escalation:presence:{site}:{agent}`` — JSON: name, status, max_concurrent,
  skills, languages, last_seen; expires;
* ``tandem:escalation:presence-index:{site}`` — set of agent ids that may be present (a key
  may have expired since; readers drop those);
* ``tandem:escalation:last-seen:{site}:{agent}`` — the last heartbeat's time, kept a day:
  it tells an agent whose heartbeat stopped (away) from one never seen yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from tandem_events import AgentPresenceChanged, utc_now

from ..domain.routing import AgentStatus


def presence_key(site_id: str, agent_id: str) -> str:
    return f"tandem:escalation:presence:{site_id}:{agent_id}"


def index_key(site_id: str) -> str:
    return f"tandem:escalation:presence-index:{site_id}"


def last_seen_key(site_id: str, agent_id: str) -> str:
    return f"tandem:escalation:last-seen:{site_id}:{agent_id}"


LAST_SEEN_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Presence:
    agent_id: str
    name: str
    status: AgentStatus
    max_concurrent: int
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    last_seen: datetime

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "agent_id": self.agent_id,
                "name": self.name,
                "status": self.status,
                "max_concurrent": self.max_concurrent,
                "skills": list(self.skills),
                "languages": list(self.languages),
                "last_seen": self.last_seen.isoformat(),
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Presence:
        data = json.loads(raw)
        return cls(
            agent_id=data["agent_id"],
            name=data["name"],
            status=data["status"],
            max_concurrent=int(data["max_concurrent"]),
            skills=tuple(data.get("skills", ())),
            languages=tuple(data.get("languages", ())),
            last_seen=datetime.fromisoformat(data["last_seen"]),
        )


class PresenceStore:
    def __init__(self, redis: Redis, *, ttl_seconds: float = 45.0) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    async def apply(self, event: AgentPresenceChanged, *, now: datetime | None = None) -> bool:
        """Record the agent's presence; False when the event is older than what is stored
        or already past its time to live (it changes nothing then)."""
        now = now or utc_now()
        remaining = timedelta(seconds=self.ttl_seconds) - (now - event.occurred_at)
        key = presence_key(event.site_id, event.agent_id)
        last = await self.last_seen(event.site_id, event.agent_id)
        if last is not None and last > event.occurred_at:
            return False
        if event.status == "offline":
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.set(
                    last_seen_key(event.site_id, event.agent_id),
                    event.occurred_at.isoformat(),
                    ex=LAST_SEEN_TTL_SECONDS,
                )
                await pipe.execute()
            return True
        if remaining.total_seconds() <= 0:
            return False
        presence = Presence(
            agent_id=event.agent_id,
            name=event.agent_name,
            status=event.status,
            max_concurrent=event.max_concurrent,
            skills=tuple(event.skills),
            languages=tuple(event.languages),
            last_seen=event.occurred_at,
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, presence.to_json(), px=max(1, int(remaining.total_seconds() * 1000)))
            pipe.sadd(index_key(event.site_id), event.agent_id)
            pipe.set(
                last_seen_key(event.site_id, event.agent_id),
                event.occurred_at.isoformat(),
                ex=LAST_SEEN_TTL_SECONDS,
            )
            await pipe.execute()
        return True

    async def get(self, site_id: str, agent_id: str) -> Presence | None:
        raw = await self.redis.get(presence_key(site_id, agent_id))
        return Presence.from_json(raw) if raw else None

    async def many(self, site_id: str, agent_ids: list[str]) -> dict[str, Presence]:
        if not agent_ids:
            return {}
        raws = await self.redis.mget([presence_key(site_id, a) for a in agent_ids])
        return {
            agent_id: Presence.from_json(raw)
            for agent_id, raw in zip(agent_ids, raws, strict=True)
            if raw
        }

    async def site(self, site_id: str) -> dict[str, Presence]:
        """Every agent present on the site now (expired members leave the index)."""
        members = sorted(
            m.decode() if isinstance(m, bytes) else m
            for m in await self.redis.smembers(index_key(site_id))
        )
        present = await self.many(site_id, members)
        gone = [m for m in members if m not in present]
        if gone:
            await self.redis.srem(index_key(site_id), *gone)
        return present

    async def last_seen(self, site_id: str, agent_id: str) -> datetime | None:
        """When the agent's last heartbeat happened (within a day), present or not."""
        raw = await self.redis.get(last_seen_key(site_id, agent_id))
        if not raw:
            return None
        return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)

    async def forget_agent(self, site_id: str, agent_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(presence_key(site_id, agent_id))
            pipe.srem(index_key(site_id), agent_id)
            await pipe.execute()

    async def ping(self) -> None:
        await self.redis.ping()
