"""The gateway's Prometheus metrics (``tandem_`` prefix, base units, no per-conversation labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "tandem_gateway_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "tandem_gateway_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBSOCKET_CONNECTIONS = Gauge(
    "tandem_gateway_websocket_connections",
    "Websocket streams open on this replica.",
)
WEBSOCKET_CLOSES = Counter(
    "tandem_gateway_websocket_closes_total",
    "Websocket streams closed, by reason.",
    ["reason"],
)
PUBLISH_SECONDS = Histogram(
    "tandem_gateway_publish_duration_seconds",
    "Time from publishing an event to Kafka's acknowledgement, by event type and outcome.",
    ["event_type", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LIVE_FRAMES = Counter(
    "tandem_gateway_live_frames_total",
    "Frames the fan-out consumer published to Redis, by frame type.",
    ["frame_type"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "tandem_gateway_rate_limit_rejections_total",
    "Requests refused with 429 by a rate limit, by the scope of that limit (ip, site, agent).",
    ["scope"],
)
RATE_LIMIT_ERRORS = Counter(
    "tandem_gateway_rate_limit_errors_total",
    "Rate-limit checks that failed (Redis unavailable or slow); the request was let through.",
)
