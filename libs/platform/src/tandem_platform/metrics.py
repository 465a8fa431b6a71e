"""Prometheus metrics shared by all services (``tandem_`` prefix, base units, no per-conversation labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "tandem_events_consumed_total",
    "Events handled by a consumer, by outcome (processed, duplicate, dead_lettered, retried).",
    ["consumer", "event_type", "outcome"],
)
EVENT_HANDLING_SECONDS = Histogram(
    "tandem_event_handling_seconds",
    "Time to handle one event, retries included.",
    ["consumer"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter(
    "tandem_events_published_total",
    "Events published to Kafka, by topic and path (direct or outbox).",
    ["topic", "path"],
)
OUTBOX_PENDING = Gauge(
    "tandem_outbox_pending_events",
    "Outbox rows not yet relayed to Kafka, as seen by the last relay pass.",
    ["service"],
)
OUTBOX_RELAY_LAG_SECONDS = Histogram(
    "tandem_outbox_relay_lag_seconds",
    "Time from an outbox row's commit to its publication on Kafka.",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
