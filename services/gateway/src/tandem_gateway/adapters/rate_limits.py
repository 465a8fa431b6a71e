"""Token buckets in Redis, shared by every gateway replica.

One Lua script charges all the buckets of a request atomically (``domain.rate_limits``
describes the arithmetic): it reads Redis's own clock (``TIME``), so replicas with skewed
clocks agree, and it charges either every bucket or none. Each bucket is one string key,
``tandem:gateway:rl:<scope>:<kind>:<subject>``, holding its theoretical arrival time in
microseconds and expiring when the bucket would be full again, so idle clients cost no
memory. The keys of one request are used by one script call: on a Redis Cluster they
would need a common hash slot; Tandem runs a single primary (with replicas), as deployed.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..domain.rate_limits import Bucket, BucketResult
from ..service_layer.errors import RateLimitStoreUnavailable

PREFIX = "tandem:gateway:rl:"

# KEYS: the buckets. ARGV[1]: the cost; then per bucket its interval and period (µs).
# Returns, per bucket: allowed (1/0), remaining, retry-after (µs), reset-after (µs).
_CONSUME = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local cost = tonumber(ARGV[1])
local results = {}
local new_tats = {}
local refused = false
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  local stored = redis.call('GET', key)
  local tat = now
  if stored then
    tat = tonumber(stored)
    if tat < now then tat = now end
  end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - period
  if now < allow_at then
    refused = true
    results[#results + 1] = 0
    results[#results + 1] = 0
    results[#results + 1] = allow_at - now
    results[#results + 1] = tat - now
  else
    new_tats[i] = new_tat
    results[#results + 1] = 1
    results[#results + 1] = math.floor((now - allow_at) / interval)
    results[#results + 1] = 0
    results[#results + 1] = new_tat - now
  end
end
if not refused then
  for i, key in ipairs(KEYS) do
    local ttl_ms = math.ceil((new_tats[i] - now) / 1000)
    redis.call('SET', key, string.format('%d', new_tats[i]), 'PX', ttl_ms)
  end
end
return results
"""


class RedisRateLimitStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._consume = redis.register_script(_CONSUME)

    async def consume(self, buckets: Sequence[Bucket], cost: int = 1) -> list[BucketResult]:
        """Charge every bucket ``cost`` requests, or none of them when any would refuse."""
        args: list[int] = [cost]
        for bucket in buckets:
            args += [bucket.limit.interval_us, bucket.limit.period_us]
        try:
            raw = await self._consume(keys=[PREFIX + b.key for b in buckets], args=args)
        except (RedisError, OSError) as exc:
            raise RateLimitStoreUnavailable(f"rate limits unavailable: {exc!r}") from exc
        values = [int(v) for v in raw]
        return [
            BucketResult(
                allowed=values[i] == 1,
                remaining=values[i + 1],
                retry_after_us=values[i + 2],
                reset_after_us=values[i + 3],
            )
            for i in range(0, len(values), 4)
        ]
