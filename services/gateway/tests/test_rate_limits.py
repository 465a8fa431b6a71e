"""Rate limits: the bucket arithmetic, the verdict over several buckets, the subjects, the
service's fail-open behaviour, and the HTTP answers (429, headers, client behind proxies)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.testclient import WebSocketDenialResponse
from tandem_gateway.app import create_app
from tandem_gateway.domain.rate_limits import (
    MICROS,
    Bucket,
    BucketResult,
    Limit,
    RateLimitPolicy,
    client_subject,
    decide,
    gcra_step,
)
from tandem_gateway.runtime import GatewayRuntime
from tandem_gateway.service_layer.errors import RateLimitStoreUnavailable
from tandem_gateway.service_layer.fanout import FanoutService
from tandem_gateway.service_layer.rate_limits import RateLimited, RateLimits
from tandem_gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

FIVE_A_MINUTE = Limit("ip", "starts", 5, 60)
SECOND = MICROS


class MemoryBuckets:
    """The Redis script's contract over a dict and a settable clock (µs)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000 * SECOND
        self.tats: dict[str, int] = {}
        self.failure: Exception | None = None
        self.delay = 0.0

    async def consume(self, buckets: Sequence[Bucket], cost: int = 1) -> list[BucketResult]:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        steps = [gcra_step(self.tats.get(b.key), self.now, b.limit, cost) for b in buckets]
        if all(result.allowed for result, _ in steps):
            for bucket, (_, tat) in zip(buckets, steps, strict=True):
                assert tat is not None
                self.tats[bucket.key] = tat
        return [result for result, _ in steps]


# -- the arithmetic ---------------------------------------------------------------------


def test_a_fresh_bucket_lets_its_size_through_at_once_then_one_per_interval() -> None:
    now, tat = 0, None
    remaining = []
    for _ in range(5):
        result, tat = gcra_step(tat, now, FIVE_A_MINUTE)
        assert result.allowed
        remaining.append(result.remaining)
    assert remaining == [4, 3, 2, 1, 0]
    refused, stored = gcra_step(tat, now, FIVE_A_MINUTE)
    assert not refused.allowed and stored is None
    assert refused.retry_after_us == 12 * SECOND  # one token refills every 60/5 s
    assert refused.reset_after_us == 60 * SECOND
    # One interval later exactly one more passes, and none after it.
    later, tat = gcra_step(tat, now + 12 * SECOND, FIVE_A_MINUTE)
    assert later.allowed and later.remaining == 0
    assert not gcra_step(tat, now + 12 * SECOND, FIVE_A_MINUTE)[0].allowed


def test_an_idle_bucket_refills_completely_and_no_further() -> None:
    tat = None
    for _ in range(5):
        _, tat = gcra_step(tat, 0, FIVE_A_MINUTE)
    # A whole period (or much more) later the bucket is full again, not fuller.
    result, _ = gcra_step(tat, 3600 * SECOND, FIVE_A_MINUTE)
    assert result.allowed and result.remaining == 4


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        Limit("ip", "starts", 0)
    with pytest.raises(ValueError, match="at least one request"):
        Limit("ip", "starts", 5, 0)


# -- several buckets --------------------------------------------------------------------


def test_the_verdict_reports_the_tightest_bucket() -> None:
    ip = Bucket(Limit("ip", "requests", 10), "10.0.0.1")
    site = Bucket(Limit("site", "requests", 1000), "acme")
    verdict = decide(
        [(ip, BucketResult(True, 3, 0, 42 * SECOND)), (site, BucketResult(True, 900, 0, SECOND))]
    )
    assert verdict.allowed and verdict.refused_by is None
    assert (verdict.limit, verdict.remaining, verdict.reset_seconds) == (10, 3, 42)
    assert verdict.headers() == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "3",
        "X-RateLimit-Reset": "42",
    }


def test_a_refusal_names_the_scope_that_waits_longest_and_rounds_up() -> None:
    ip = Bucket(Limit("ip", "requests", 10), "10.0.0.1")
    site = Bucket(Limit("site", "requests", 1000), "acme")
    verdict = decide(
        [
            (ip, BucketResult(False, 0, 1_500_000, 6 * SECOND)),
            (site, BucketResult(False, 0, 2_100_000, 60 * SECOND)),
        ]
    )
    assert not verdict.allowed and verdict.refused_by == "site"
    assert verdict.retry_after_seconds == 3
    assert verdict.headers()["Retry-After"] == "3"
    tiny = decide([(ip, BucketResult(False, 0, 10, 10))])
    assert tiny.retry_after_seconds == 1  # never "retry after 0 s"


@pytest.mark.parametrize(
    ("address", "subject"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),  # same /64, same bucket
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("[2001:db8::1]", "2001:db8::/64"),
        ("testclient", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_client_subjects(address: str | None, subject: str) -> None:
    assert client_subject(address) == subject


def test_the_policy_charges_the_site_only_when_the_site_is_known() -> None:
    policy = RateLimitPolicy(ip_starts=3, site_starts=30, ip_requests=7, site_requests=70)
    start = policy.conversation_start("10.1.2.3", "acme")
    assert [(b.limit.scope, b.limit.requests, b.subject) for b in start] == [
        ("ip", 3, "10.1.2.3"),
        ("site", 30, "acme"),
    ]
    assert [b.limit.scope for b in policy.conversation_start("10.1.2.3", None)] == ["ip"]
    request = policy.visitor_request("10.1.2.3", "acme")
    assert [(b.key) for b in request] == ["ip:requests:10.1.2.3", "site:requests:acme"]
    assert [b.key for b in policy.agent_request("agent-1")] == ["agent:requests:agent-1"]


# -- the service ------------------------------------------------------------------------


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_refusals_are_counted_by_scope_and_charge_nothing() -> None:
    store = MemoryBuckets()
    limits = RateLimits(policy=RateLimitPolicy(ip_starts=2, site_starts=100), store=store)
    before = _metric("tandem_gateway_rate_limit_rejections_total", scope="ip")
    for _ in range(2):
        assert await limits.check(limits.policy.conversation_start("10.0.0.9", "acme"))
    site_tat = store.tats["site:starts:acme"]
    with pytest.raises(RateLimited) as refused:
        await limits.check(limits.policy.conversation_start("10.0.0.9", "acme"))
    assert refused.value.status == 429 and refused.value.verdict.refused_by == "ip"
    assert refused.value.retry_after == 30
    assert _metric("tandem_gateway_rate_limit_rejections_total", scope="ip") == before + 1
    # The refused request did not spend the site's budget: other visitors keep theirs.
    assert store.tats["site:starts:acme"] == site_tat
    assert await limits.check(limits.policy.conversation_start("10.0.0.10", "acme"))


async def test_a_store_outage_lets_requests_through_and_is_counted() -> None:
    store = MemoryBuckets()
    store.failure = RateLimitStoreUnavailable("connection refused")
    limits = RateLimits(policy=RateLimitPolicy(ip_starts=1), store=store)
    before = _metric("tandem_gateway_rate_limit_errors_total")
    for _ in range(3):
        assert await limits.check(limits.policy.conversation_start("10.0.0.1", None)) is None
    assert _metric("tandem_gateway_rate_limit_errors_total") == before + 3


async def test_a_slow_store_is_not_waited_for() -> None:
    store = MemoryBuckets()
    store.delay = 5.0
    limits = RateLimits(policy=RateLimitPolicy(), store=store, timeout_seconds=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await limits.check(limits.policy.agent_request("agent-1")) is None
    assert loop.time() - started < 1.0


async def test_limits_can_be_switched_off() -> None:
    store = MemoryBuckets()
    limits = RateLimits(policy=RateLimitPolicy(ip_starts=1, enabled=False), store=store)
    for _ in range(5):
        assert await limits.check(limits.policy.conversation_start("10.0.0.1", None)) is None
    assert store.tats == {}


# -- over HTTP --------------------------------------------------------------------------

KEY = "pk_acme_0123456789"
OTHER_KEY = "pk_other_0123456789"


@pytest.fixture
def limited(world, make_site):  # type: ignore[no-untyped-def]
    """The app over in-memory ports with small limits; proxies trusted per test."""

    def build(trusted: str = "*", **limits: int) -> tuple[TestClient, MemoryBuckets]:
        world.sites.sites[OTHER_KEY] = make_site(site_id="other", public_key=OTHER_KEY)
        settings = GatewaySettings(dev_mode=True, forwarded_allow_ips=trusted)
        app = create_app(settings)
        store = MemoryBuckets()
        app.state.runtime = GatewayRuntime(
            settings=settings,
            widget=world.service(),
            fanout=FanoutService(live=world.live, flags=world.flags),
            hub=app.state.runtime.hub,
            rate_limits=RateLimits(policy=RateLimitPolicy(**limits), store=store),
        )
        return TestClient(app, raise_server_exceptions=False), store

    return build


def _start(client: TestClient, key: str, address: str) -> int:
    response = client.post(
        "/v1/widget/conversations", headers={"X-Site-Key": key, "X-Forwarded-For": address}
    )
    return response.status_code


def test_a_burst_from_one_address_gets_429_in_the_error_shape(limited) -> None:  # type: ignore[no-untyped-def]
    client, _ = limited(ip_starts=3)
    ok = client.post(
        "/v1/widget/conversations", headers={"X-Site-Key": KEY, "X-Forwarded-For": "10.9.9.9"}
    )
    assert ok.status_code == 201
    assert ok.headers["X-RateLimit-Limit"] == "3"
    assert ok.headers["X-RateLimit-Remaining"] == "2"
    assert [_start(client, KEY, "10.9.9.9") for _ in range(3)] == [201, 201, 429]
    refused = client.post(
        "/v1/widget/conversations", headers={"X-Site-Key": KEY, "X-Forwarded-For": "10.9.9.9"}
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert "address" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) == 20
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # Another address, and another site, are unaffected.
    assert _start(client, KEY, "10.9.9.10") == 201
    assert _start(client, OTHER_KEY, "10.9.9.11") == 201


def test_a_site_limit_holds_for_the_site_alone(limited) -> None:  # type: ignore[no-untyped-def]
    client, _ = limited(ip_starts=100, site_starts=2)
    assert [_start(client, KEY, f"10.0.0.{i}") for i in range(1, 4)] == [201, 201, 429]
    assert _start(client, OTHER_KEY, "10.0.0.4") == 201


def test_unknown_site_keys_still_cost_the_address(limited) -> None:  # type: ignore[no-untyped-def]
    client, store = limited(ip_starts=2)
    assert [_start(client, "pk_nope_000000", "10.3.3.3") for _ in range(3)] == [401, 401, 429]
    assert not any(key.startswith("site:") for key in store.tats)


def test_visitor_requests_are_limited_per_address(limited) -> None:  # type: ignore[no-untyped-def]
    client, _ = limited(ip_requests=2)
    headers = {"X-Site-Key": KEY, "X-Forwarded-For": "10.4.4.4"}
    started = client.post("/v1/widget/conversations", headers=headers).json()
    auth = {"Authorization": f"Bearer {started['visitor_token']}", "X-Forwarded-For": "10.4.4.4"}
    base = f"/v1/widget/conversations/{started['conversation_id']}"
    sent = client.post(
        f"{base}/messages", json={"text": "hi", "client_message_id": "m1"}, headers=auth
    )
    assert sent.status_code == 202
    assert client.post(f"{base}/handoff", headers=auth).status_code == 202
    refused = client.post(f"{base}/rating", json={"score": 5}, headers=auth)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"


def test_the_stream_handshake_is_limited_too(limited) -> None:  # type: ignore[no-untyped-def]
    client, _ = limited(ip_requests=1)
    headers = {"X-Site-Key": KEY, "X-Forwarded-For": "10.5.5.5"}
    started = client.post("/v1/widget/conversations", headers=headers).json()
    auth = {"Authorization": f"Bearer {started['visitor_token']}", "X-Forwarded-For": "10.5.5.5"}
    base = f"/v1/widget/conversations/{started['conversation_id']}"
    assert client.get(f"{base}/messages", headers=auth).status_code == 200
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect(
            f"{base}/stream?token={started['visitor_token']}",
            headers={"X-Forwarded-For": "10.5.5.5"},
        ),
    ):
        pass
    assert denied.value.status_code == 429
    assert denied.value.json()["error"]["code"] == "too_many_requests"
    assert denied.value.headers["Retry-After"] == "60"


def test_x_forwarded_for_is_ignored_from_untrusted_peers(limited) -> None:  # type: ignore[no-untyped-def]
    # The test client's peer ("testclient") is no trusted proxy: rotating the header
    # does not buy a fresh budget.
    client, store = limited(trusted="127.0.0.1", ip_starts=2)
    assert [_start(client, KEY, f"10.6.6.{i}") for i in range(1, 4)] == [201, 201, 429]
    assert "ip:starts:unknown" in store.tats
