"""The gateway's rate limits against the real Redis: the Lua script is atomic under
concurrency, buckets refill and expire on Redis's clock, several gateway replicas (limiter
instances with connections of their own) share one budget, a refusal charges nothing, and
an unreachable Redis lets requests through."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from tandem_gateway.adapters.rate_limits import PREFIX, RedisRateLimitStore
from tandem_gateway.domain.rate_limits import Bucket, Limit, RateLimitPolicy, gcra_step
from tandem_gateway.service_layer.rate_limits import RateLimited, RateLimits

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    # Room for every concurrent call of the tests at once (the default pool holds 100).
    client = Redis.from_url(stack.redis_url, max_connections=500)
    yield client
    await client.aclose()


@pytest.fixture
async def second_redis(stack: Stack) -> AsyncIterator[Redis]:
    """Another replica's own connection pool."""
    client = Redis.from_url(stack.redis_url, max_connections=500)
    yield client
    await client.aclose()


def subject() -> str:
    return f"it-{uuid.uuid4().hex}"


async def test_concurrent_requests_never_pass_more_than_the_limit(redis: Redis) -> None:
    store = RedisRateLimitStore(redis)
    bucket = Bucket(Limit("ip", "starts", 50, 3600), subject())
    results = await asyncio.gather(*(store.consume([bucket]) for _ in range(300)))
    allowed = [r[0] for r in results if r[0].allowed]
    assert len(allowed) == 50
    # Each passing request saw a different number left: they were serialised.
    assert sorted(r.remaining for r in allowed) == list(range(50))


async def test_two_replicas_share_one_budget(redis: Redis, second_redis: Redis) -> None:
    replica_a, replica_b = RedisRateLimitStore(redis), RedisRateLimitStore(second_redis)
    bucket = Bucket(Limit("site", "requests", 40, 3600), subject())
    for _ in range(25):
        assert (await replica_a.consume([bucket]))[0].allowed
    # The other replica sees what the first spent: 15 left, whoever asks.
    (first_on_b,) = await replica_b.consume([bucket])
    assert first_on_b.allowed and first_on_b.remaining == 14
    mixed = await asyncio.gather(
        *(store.consume([bucket]) for _ in range(30) for store in (replica_a, replica_b))
    )
    assert sum(r[0].allowed for r in mixed) == 14


async def test_the_script_computes_what_the_domain_says(redis: Redis) -> None:
    """With an hour-long period, the microseconds the test takes change nothing: the
    script's answers match the reference arithmetic step for step."""
    store = RedisRateLimitStore(redis)
    limit = Limit("agent", "requests", 4, 3600)
    bucket = Bucket(limit, subject())
    tat = None
    for _ in range(6):
        expected, tat_after = gcra_step(tat, 0, limit)
        tat = tat_after if tat_after is not None else tat
        (got,) = await store.consume([bucket])
        assert (got.allowed, got.remaining) == (expected.allowed, expected.remaining)
        assert abs(got.retry_after_us - expected.retry_after_us) < 2_000_000
        assert abs(got.reset_after_us - expected.reset_after_us) < 2_000_000


async def test_a_bucket_refills_and_its_key_expires_on_redis_clock(redis: Redis) -> None:
    store = RedisRateLimitStore(redis)
    bucket = Bucket(Limit("ip", "requests", 3, 1), subject())
    assert [(await store.consume([bucket]))[0].allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    key = PREFIX + bucket.key
    assert 0 < await redis.pttl(key) <= 1000
    (refused,) = await store.consume([bucket])
    assert not refused.allowed and 0 < refused.retry_after_us <= 334_000
    await asyncio.sleep(refused.retry_after_us / 1_000_000 + 0.05)
    (again,) = await store.consume([bucket])
    assert again.allowed
    # Idle for a whole period: the key is gone and the next request finds a full bucket.
    await asyncio.sleep(1.1)
    assert await redis.exists(key) == 0
    (fresh,) = await store.consume([bucket])
    assert fresh.allowed and fresh.remaining == 2


async def test_a_refused_request_charges_none_of_its_buckets(redis: Redis) -> None:
    store = RedisRateLimitStore(redis)
    client = Bucket(Limit("ip", "starts", 2, 3600), subject())
    site = Bucket(Limit("site", "starts", 100, 3600), subject())
    for _ in range(2):
        assert all(r.allowed for r in await store.consume([client, site]))
    site_tat = await redis.get(PREFIX + site.key)
    results = await store.consume([client, site])
    assert [r.allowed for r in results] == [False, True]
    assert await redis.get(PREFIX + site.key) == site_tat
    # Another client of the same site still has the site's remaining budget.
    (other, site_now) = await store.consume([Bucket(client.limit, subject()), site])
    assert other.allowed and site_now.remaining == 97


async def test_the_service_refuses_with_the_verdict_of_the_tight_bucket(redis: Redis) -> None:
    limits = RateLimits(
        policy=RateLimitPolicy(ip_requests=2, site_requests=1000),
        store=RedisRateLimitStore(redis),
    )
    address, site = f"10.{uuid.uuid4().int % 250}.7.9", subject()
    for _ in range(2):
        assert await limits.check(limits.policy.visitor_request(address, site))
    with pytest.raises(RateLimited) as refused:
        await limits.check(limits.policy.visitor_request(address, site))
    assert refused.value.verdict.refused_by == "ip"
    assert 1 <= refused.value.retry_after <= 30
    await redis.delete(PREFIX + f"ip:requests:{address}")


async def test_an_unreachable_redis_lets_requests_through() -> None:
    # A port nobody listens on: the check fails fast and the request passes.
    down = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    limits = RateLimits(
        policy=RateLimitPolicy(ip_starts=1), store=RedisRateLimitStore(down), timeout_seconds=1
    )
    before = REGISTRY.get_sample_value("tandem_gateway_rate_limit_errors_total") or 0.0
    try:
        for _ in range(3):
            assert await limits.check(limits.policy.conversation_start("10.0.0.1", None)) is None
    finally:
        await down.aclose()
    assert REGISTRY.get_sample_value("tandem_gateway_rate_limit_errors_total") == before + 3
