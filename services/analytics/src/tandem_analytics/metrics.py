"""The analytics service's own Prometheus metrics (shared ones live in tandem_platform)."""

from __future__ import annotations

from prometheus_client import Histogram

PROJECTION_LAG = Histogram(
    "tandem_analytics_projection_lag_seconds",
    "Time from an event's occurrence to its projection into the read models.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
