"""Rate limits: which token buckets a request draws from, the bucket arithmetic, and the
verdict (allowed or not, for how long, which headers to send).

Every limit is a token bucket of ``requests`` tokens that refills at ``requests`` per
``period_seconds``, kept as GCRA (the generic cell rate algorithm): one number per bucket,
its *theoretical arrival time* (TAT). A request costs ``interval = period / requests``;
it passes when, after adding its cost, the TAT lies at most one period ahead of now. So a
fresh bucket lets ``requests`` requests through at once, then one every ``interval``.

``gcra_step`` is the reference for that arithmetic; the Redis script in
``adapters/rate_limits.py`` computes exactly the same, atomically, on Redis's clock, for
every bucket of a request at once: either every bucket is charged or none is, so a client
refused by its own limit never spends its site's budget.

Times are whole microseconds so the script and this module agree to the unit.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Scope = Literal["ip", "site", "agent"]
SCOPES: tuple[Scope, ...] = ("ip", "site", "agent")
MICROS = 1_000_000

#: The subject of a client whose address cannot be read (a unix socket, a test client).
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True, slots=True)
class Limit:
    """``requests`` per ``period_seconds`` for one scope and one kind of request."""

    scope: Scope
    name: str  # the kind of request: "starts", "requests"
    requests: int
    period_seconds: int = 60

    def __post_init__(self) -> None:
        if self.requests < 1 or self.period_seconds < 1:
            raise ValueError("a limit allows at least one request per period of at least 1 s")

    @property
    def period_us(self) -> int:
        return self.period_seconds * MICROS

    @property
    def interval_us(self) -> int:
        """The cost of one request: the time it takes the bucket to refill one token."""
        return max(1, self.period_us // self.requests)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One limit applied to one subject (a client address, a site, an agent)."""

    limit: Limit
    subject: str

    @property
    def key(self) -> str:
        return f"{self.limit.scope}:{self.limit.name}:{self.subject}"


@dataclass(frozen=True, slots=True)
class BucketResult:
    """What one bucket said about one request."""

    allowed: bool
    remaining: int  # requests that would still pass right now
    retry_after_us: int  # 0 when allowed; else until one more would pass
    reset_after_us: int  # until the bucket is full again


def gcra_step(
    tat_us: int | None, now_us: int, limit: Limit, cost: int = 1
) -> tuple[BucketResult, int | None]:
    """One request against a bucket whose stored TAT is ``tat_us`` (None: never used or
    expired). Returns the result and the TAT to store (None: store nothing, refused)."""
    interval, period = limit.interval_us, limit.period_us
    tat = now_us if tat_us is None or tat_us < now_us else tat_us
    new_tat = tat + interval * cost
    allow_at = new_tat - period
    if now_us < allow_at:
        return BucketResult(False, 0, allow_at - now_us, tat - now_us), None
    remaining = (now_us - allow_at) // interval
    return BucketResult(True, remaining, 0, new_tat - now_us), new_tat


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one request drawn from several buckets."""

    allowed: bool
    limit: int  # the most constraining bucket's size
    remaining: int
    reset_seconds: int
    retry_after_seconds: int  # 0 when allowed
    refused_by: Scope | None  # the scope whose limit refused it

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` (and ``Retry-After`` when refused); reset in seconds from now."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


def _seconds(micros: int) -> int:
    return max(0, math.ceil(micros / MICROS))


def decide(results: Sequence[tuple[Bucket, BucketResult]]) -> Verdict:
    """One verdict from every bucket's result: refused when any bucket refused (the one
    that makes the client wait longest is reported); otherwise the bucket with the fewest
    requests left is the one the headers describe."""
    if not results:
        raise ValueError("a verdict needs at least one bucket")
    refused = [(b, r) for b, r in results if not r.allowed]
    if refused:
        bucket, result = max(refused, key=lambda pair: pair[1].retry_after_us)
        return Verdict(
            allowed=False,
            limit=bucket.limit.requests,
            remaining=0,
            reset_seconds=_seconds(result.reset_after_us),
            retry_after_seconds=max(1, _seconds(result.retry_after_us)),
            refused_by=bucket.limit.scope,
        )
    bucket, result = min(results, key=lambda pair: (pair[1].remaining, -pair[1].reset_after_us))
    return Verdict(
        allowed=True,
        limit=bucket.limit.requests,
        remaining=result.remaining,
        reset_seconds=_seconds(result.reset_after_us),
        retry_after_seconds=0,
        refused_by=None,
    )


def refusal_message(verdict: Verdict) -> str:
    wait = f"retry in {verdict.retry_after_seconds} s"
    match verdict.refused_by:
        case "ip":
            return f"too many requests from this address; {wait}"
        case "site":
            return f"this site's widget is receiving too many requests; {wait}"
        case "agent":
            return f"too many requests from this agent; {wait}"
    return f"too many requests; {wait}"


def client_subject(address: str | None) -> str:
    """The rate-limit subject of a client address: an IPv4 address as is, an IPv6 one by
    its /64 network (one subscriber usually holds a whole /64, so counting single IPv6
    addresses would let one client rotate through millions), anything else ``unknown``."""
    if not address:
        return UNKNOWN_CLIENT
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """Which limits apply to which request. Every count is per minute."""

    ip_starts: int = 20
    ip_requests: int = 120
    site_starts: int = 600
    site_requests: int = 6000
    agent_requests: int = 600
    period_seconds: int = 60
    enabled: bool = True

    def _limit(self, scope: Scope, name: str, requests: int) -> Limit:
        return Limit(scope, name, requests, self.period_seconds)

    def conversation_start(self, client: str | None, site_id: str | None) -> list[Bucket]:
        """Starting a conversation: the client's and the site's start budgets. An unknown
        site key still costs the client (a flood of bad keys is limited too)."""
        buckets = [Bucket(self._limit("ip", "starts", self.ip_starts), client_subject(client))]
        if site_id:
            buckets.append(Bucket(self._limit("site", "starts", self.site_starts), site_id))
        return buckets

    def visitor_request(self, client: str | None, site_id: str | None) -> list[Bucket]:
        """Anything else a visitor does in a conversation (messages, rating, hand-off,
        reading, forgetting, opening the live stream)."""
        buckets = [Bucket(self._limit("ip", "requests", self.ip_requests), client_subject(client))]
        if site_id:
            buckets.append(Bucket(self._limit("site", "requests", self.site_requests), site_id))
        return buckets

    def agent_request(self, agent_id: str) -> list[Bucket]:
        """A call to the agent or admin API by a signed-in agent."""
        return [Bucket(self._limit("agent", "requests", self.agent_requests), agent_id)]
