"""Sites cached in Redis for a few seconds, shared by every gateway replica.

Every conversation start and every browser socket needs its site; the cache keeps that
off the conversation service. Unknown keys are cached too (briefly) so a flood of bad
keys is cheap. A change to a site shows after at most ``ttl_seconds``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from ..domain.sites import Site
from ..service_layer.ports import SiteDirectory

_UNKNOWN = b"unknown"


def _key_by_public_key(public_key: str) -> str:
    # Hashed: the key is client input of any shape; this keeps Redis keys short and tidy.
    digest = hashlib.sha256(public_key.encode()).hexdigest()
    return f"tandem:gateway:site:key:{digest}"


def _key_by_id(site_id: str) -> str:
    digest = hashlib.sha256(site_id.encode()).hexdigest()
    return f"tandem:gateway:site:id:{digest}"


class CachedSiteDirectory:
    def __init__(
        self, origin: SiteDirectory, redis: Redis, *, ttl_seconds: int, unknown_ttl_seconds: int
    ) -> None:
        self.origin = origin
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.unknown_ttl_seconds = unknown_ttl_seconds

    async def by_key(self, public_key: str) -> Site | None:
        return await self._cached(_key_by_public_key(public_key), self.origin.by_key, public_key)

    async def by_id(self, site_id: str) -> Site | None:
        return await self._cached(_key_by_id(site_id), self.origin.by_id, site_id)

    async def _cached(
        self, cache_key: str, load: Callable[[str], Awaitable[Site | None]], argument: str
    ) -> Site | None:
        if self.ttl_seconds > 0:
            cached = await self.redis.get(cache_key)
            if cached == _UNKNOWN:
                return None
            if cached is not None:
                return Site.model_validate_json(cached)
        site = await load(argument)
        if site is None:
            if self.unknown_ttl_seconds > 0:
                await self.redis.set(cache_key, _UNKNOWN, ex=self.unknown_ttl_seconds)
        elif self.ttl_seconds > 0:
            await self.redis.set(cache_key, site.model_dump_json(), ex=self.ttl_seconds)
        return site
