"""Rate limits per client address, per site and per agent (``domain.rate_limits``).

A request that a limit refuses gets 429 with ``Retry-After``. When the store (Redis) does
not answer in time the request is let through: a limiter outage must not become an outage
of the widget. Such failures are logged (at most every few seconds) and counted in
``tandem_gateway_rate_limit_errors_total``; rejections are counted per scope in
``tandem_gateway_rate_limit_rejections_total``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ..domain.rate_limits import (
    Bucket,
    BucketResult,
    RateLimitPolicy,
    Verdict,
    decide,
    refusal_message,
)
from ..metrics import RATE_LIMIT_ERRORS, RATE_LIMIT_REJECTIONS
from .errors import RateLimitStoreUnavailable, TooManyRequests

log = logging.getLogger(__name__)

#: At most one "store unavailable" log line per this many seconds (the metric counts all).
ERROR_LOG_INTERVAL_SECONDS = 10.0


class RateLimitStore(Protocol):
    async def consume(self, buckets: Sequence[Bucket], cost: int = 1) -> list[BucketResult]:
        """Charge every bucket, or none when any refuses; raise
        ``RateLimitStoreUnavailable`` when the store cannot be reached."""
        ...


class RateLimited(TooManyRequests):
    """429 from a rate limit, with the verdict behind it (for the ``X-RateLimit-*``
    headers)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(refusal_message(verdict), retry_after=verdict.retry_after_seconds)
        self.verdict = verdict


class RateLimits:
    def __init__(
        self,
        *,
        policy: RateLimitPolicy,
        store: RateLimitStore,
        timeout_seconds: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.store = store
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self._last_error_log = -ERROR_LOG_INTERVAL_SECONDS

    async def check(self, buckets: Sequence[Bucket]) -> Verdict | None:
        """Charge the buckets. Returns the verdict (None when limits are off or the store
        is unavailable); raises ``RateLimited`` when a limit refuses."""
        if not self.policy.enabled or not buckets:
            return None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                results = await self.store.consume(buckets)
        except (RateLimitStoreUnavailable, TimeoutError) as exc:
            RATE_LIMIT_ERRORS.inc()
            now = self.clock()
            if now - self._last_error_log >= ERROR_LOG_INTERVAL_SECONDS:
                self._last_error_log = now
                log.warning(
                    "rate limits unavailable: letting requests through",
                    extra={"fields": {"error": repr(exc)}},
                )
            return None
        verdict = decide(list(zip(buckets, results, strict=True)))
        if not verdict.allowed:
            RATE_LIMIT_REJECTIONS.labels(verdict.refused_by or "unknown").inc()
            raise RateLimited(verdict)
        return verdict
