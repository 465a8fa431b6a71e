"""How an event travels on Kafka: JSON value plus CloudEvents binary-mode headers.

Binary mode (CloudEvents Kafka protocol binding) keeps the value a plain JSON document an
analyst can read with any Kafka client, while the ``ce_*`` headers let CloudEvents-aware
tooling route and trace without parsing the body. ``traceparent`` follows W3C Trace Context.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping

from .envelope import Event

CE_SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
CE_TYPE_PREFIX = "dev.tandem."


def ce_type(event: Event) -> str:
    return f"{CE_TYPE_PREFIX}{event.event_type}.v{event.schema_version}"


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Continue the caller's trace with a new span id, or start a new trace."""
    if parent:
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
            return f"{parts[0]}-{parts[1]}-{secrets.token_hex(8)}-{parts[3]}"
    return new_traceparent()


def encode(
    event: Event, *, source: str, traceparent: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Return the Kafka value and headers for ``event`` published by ``source``."""
    value = event.model_dump_json().encode()
    headers = {
        "ce_specversion": CE_SPECVERSION,
        "ce_id": str(event.event_id),
        "ce_type": ce_type(event),
        "ce_source": source,
        "ce_time": event.occurred_at.isoformat(),
        "ce_subject": str(event.conversation_id),
        "content-type": CONTENT_TYPE,
        "traceparent": traceparent or new_traceparent(),
    }
    return value, headers


def header_map(
    headers: Mapping[str, str | bytes] | Iterable[tuple[str, bytes]] | None,
) -> dict[str, str]:
    """Normalise Kafka headers (a list of (key, bytes) tuples or a mapping) to a str dict."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, value in items:
        out[key] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return out
