"""Redis plumbing: the per-conversation message sequence and the live fan-out channels.

Redis is used for what it is good at — counters, presence, short-lived caches and socket
fan-out via pub/sub — never as the event log (that is Kafka).
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

# Atomically raise a counter to at least ARGV[1] (used to re-seed after Redis lost data).
_RAISE_TO = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if current < floor then redis.call('SET', KEYS[1], floor) return floor end
return current
"""


def open_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)


def seq_key(conversation_id: uuid.UUID | str) -> str:
    return f"tandem:conversation:{conversation_id}:seq"


def live_channel(conversation_id: uuid.UUID | str) -> str:
    """Pub/sub channel carrying a conversation's live frames to every gateway replica."""
    return f"tandem:live:conversation:{conversation_id}"


def site_live_channel(site_id: str) -> str:
    """Pub/sub channel for a site's agent consoles (new escalations, status changes)."""
    return f"tandem:live:site:{site_id}"


class SequenceAllocator:
    """Hands out each conversation's message ``seq`` (1, 2, 3, ...).

    The gateway takes numbers for visitor and agent messages as it accepts them, the
    conversation service for AI and system messages as it stores them; one counter keeps
    them in a single order. The conversation service raises the counter to the highest
    stored ``seq`` (``raise_to``) so a Redis that lost its data never hands out a number twice.
    """

    #: Counters of conversations idle this long expire; should one be needed again, the
    #: conversation service re-seeds it from its stored messages (``raise_to``).
    IDLE_TTL_SECONDS = 90 * 24 * 3600

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._raise_to = redis.register_script(_RAISE_TO)

    async def next(self, conversation_id: uuid.UUID | str) -> int:
        key = seq_key(conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.IDLE_TTL_SECONDS)
            value, _ = await pipe.execute()
        return int(value)

    async def raise_to(self, conversation_id: uuid.UUID | str, floor: int) -> int:
        return int(await self._raise_to(keys=[seq_key(conversation_id)], args=[floor]))

    async def forget(self, conversation_id: uuid.UUID | str) -> None:
        await self.redis.delete(seq_key(conversation_id))
