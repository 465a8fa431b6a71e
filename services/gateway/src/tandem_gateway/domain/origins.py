"""Which web origins may embed a site's widget.

Browsers send ``Origin: scheme://host[:port]`` (no path, default ports omitted). Site
owners write their origins by hand, so both sides are normalised before an exact
comparison: lower-case scheme and host, default port dropped, trailing slash ignored.
``*`` allows every origin. The opaque origin ``null`` (sandboxed frames, files) matches
only ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

WILDCARD = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in canonical form, or None when ``value`` is no origin."""
    value = value.strip().rstrip("/")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_allowed(origin: str, allowed_origins: Iterable[str]) -> bool:
    allowed = [a.strip() for a in allowed_origins]
    if WILDCARD in allowed:
        return True
    candidate = normalize_origin(origin)
    if candidate is None:
        return False
    return any(normalize_origin(entry) == candidate for entry in allowed)


def same_origin(origin: str, *, scheme: str, host_header: str) -> bool:
    """Whether ``origin`` is the gateway itself (its own pages, e.g. the demo), judged
    from the request's scheme and Host header."""
    page_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    candidate = normalize_origin(origin)
    own = normalize_origin(f"{page_scheme}://{host_header}")
    return candidate is not None and candidate == own
