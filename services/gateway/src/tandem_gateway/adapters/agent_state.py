"""Agent-console state in Redis, all of it expiring: refresh tokens, revoked access
tokens, sign-in rate limits and who holds each conversation.

* ``tandem:gateway:refresh:<sha256>`` — a live refresh token's record (JSON), TTL = its life.
* ``tandem:gateway:refresh-used:<sha256>`` — a token already rotated away, with its family,
  so a replay is recognised and the family revoked.
* ``tandem:gateway:refresh-family:<id>`` — the digests of one sign-in's live tokens.
* ``tandem:gateway:revoked-access:<jti>`` — access tokens logged out before they expire.
* ``tandem:gateway:ratelimit:<key>`` — attempt counters per fixed window.
* ``tandem:gateway:conversation:<id>:holder`` — the agent who joined the conversation.
"""

from __future__ import annotations

import json
import uuid

from redis.asyncio import Redis

from ..domain.agents import AgentIdentity
from ..service_layer.ports import RefreshRecord
from .redis_state import holder_key

_PREFIX = "tandem:gateway"

# GETDEL the token and remember it as used, atomically: two concurrent refreshes with the
# same token cannot both succeed.
_TAKE = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
redis.call('DEL', KEYS[1])
local family = cjson.decode(value)['family']
redis.call('SET', KEYS[2], family, 'EX', ARGV[1])
redis.call('SREM', ARGV[2] .. family, ARGV[3])
return value
"""

_REVOKE_FAMILY = """
local members = redis.call('SMEMBERS', KEYS[1])
for _, digest in ipairs(members) do redis.call('DEL', ARGV[1] .. digest) end
redis.call('DEL', KEYS[1])
return #members
"""

# Delete the holder only if it is the expected agent.
_CLEAR_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Count one attempt in the current window; the window's expiry is set by its first attempt.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 1 then ttl = 1 end
  return ttl
end
return 0
"""


def _refresh_key(digest: str) -> str:
    return f"{_PREFIX}:refresh:{digest}"


def _used_key(digest: str) -> str:
    return f"{_PREFIX}:refresh-used:{digest}"


def _family_key(family: str) -> str:
    return f"{_PREFIX}:refresh-family:{family}"


def _encode(record: RefreshRecord) -> str:
    identity = record.identity
    return json.dumps(
        {
            "agent_id": identity.agent_id,
            "site_id": identity.site_id,
            "name": identity.name,
            "role": identity.role,
            "skills": list(identity.skills),
            "languages": list(identity.languages),
            "family": record.family,
            "issued_at": record.issued_at,
        }
    )


def _decode(raw: bytes | str) -> RefreshRecord:
    data = json.loads(raw)
    return RefreshRecord(
        identity=AgentIdentity(
            agent_id=data["agent_id"],
            site_id=data["site_id"],
            name=data["name"],
            role=data["role"],
            skills=tuple(data["skills"]),
            languages=tuple(data["languages"]),
        ),
        family=data["family"],
        issued_at=int(data["issued_at"]),
    )


class RedisSessionStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take = redis.register_script(_TAKE)
        self._revoke_family = redis.register_script(_REVOKE_FAMILY)

    async def put(self, digest: str, record: RefreshRecord, ttl_seconds: int) -> None:
        family = _family_key(record.family)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(_refresh_key(digest), _encode(record), ex=ttl_seconds)
            pipe.sadd(family, digest)
            pipe.expire(family, ttl_seconds)
            await pipe.execute()

    async def take(self, digest: str, ttl_seconds: int) -> RefreshRecord | None:
        raw = await self._take(
            keys=[_refresh_key(digest), _used_key(digest)],
            args=[ttl_seconds, f"{_PREFIX}:refresh-family:", digest],
        )
        return None if raw is None else _decode(raw)

    async def family_of_used(self, digest: str) -> str | None:
        raw = await self.redis.get(_used_key(digest))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def revoke_family(self, family: str) -> None:
        await self._revoke_family(keys=[_family_key(family)], args=[f"{_PREFIX}:refresh:"])

    async def revoke_access(self, token_id: str, ttl_seconds: int) -> None:
        await self.redis.set(f"{_PREFIX}:revoked-access:{token_id}", b"1", ex=max(1, ttl_seconds))

    async def access_revoked(self, token_id: str) -> bool:
        return bool(await self.redis.exists(f"{_PREFIX}:revoked-access:{token_id}"))


class RedisRateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._hit = redis.register_script(_HIT)

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        wait = await self._hit(keys=[f"{_PREFIX}:ratelimit:{key}"], args=[window_seconds, limit])
        return int(wait)


class RedisHolderStore:
    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self._clear_if = redis.register_script(_CLEAR_IF)

    async def get(self, conversation_id: uuid.UUID) -> str | None:
        raw = await self.redis.get(holder_key(conversation_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def set(self, conversation_id: uuid.UUID, agent_id: str) -> None:
        await self.redis.set(holder_key(conversation_id), agent_id, ex=self.ttl_seconds)

    async def clear(self, conversation_id: uuid.UUID, *, only_if: str | None = None) -> None:
        if only_if is None:
            await self.redis.delete(holder_key(conversation_id))
        else:
            await self._clear_if(keys=[holder_key(conversation_id)], args=[only_if])
