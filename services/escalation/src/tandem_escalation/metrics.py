"""The escalation service's own Prometheus metrics (shared ones live in tandem_platform)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ESCALATIONS = Counter(
    "tandem_escalations_total",
    "Escalations raised, by reason.",
    ["reason"],
)
ASSIGNMENTS = Counter(
    "tandem_agent_assignments_total",
    "Conversations given to an agent, by kind (routed, transfer, reassigned).",
    ["assignment"],
)
QUEUED = Counter(
    "tandem_escalations_queued_total",
    "Escalated conversations that had to wait for an agent.",
)
ROUTING_SECONDS = Histogram(
    "tandem_escalation_routing_seconds",
    "Time to decide who takes a conversation (presence, load and queue reads included).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
EMBEDDING_SECONDS = Histogram(
    "tandem_escalation_embedding_seconds",
    "Time to embed one visitor message (off the event loop).",
    buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28),
)
EMBEDDINGS_READY = Gauge(
    "tandem_escalation_embeddings_ready",
    "1 when the embedding model is loaded, 0 when the rules run on their fallbacks.",
)
