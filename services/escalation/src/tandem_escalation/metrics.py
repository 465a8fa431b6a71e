"""The escalation service's own Prometheus metrics (shared ones live in tandem_platform)."""

from __future__ import annotations

from prometheus_client import Counter

ESCALATIONS = Counter(
    "tandem_escalations_total",
    "Escalations raised, by reason.",
    ["reason"],
)
