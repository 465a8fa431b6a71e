"""Pure ASGI middleware: the client behind trusted proxies, request body limit, per-route
metrics and trace context, and the rate-limit headers."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..adapters.kafka import request_traceparent
from ..domain.client_address import TrustedProxies, client_address
from ..domain.rate_limits import Verdict
from ..metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS
from .errors import error_body


async def _send_json(send: Send, status: int, body: dict[str, object]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413 before any handler sees them.

    The (small) body is read here in full and replayed to the app, so the limit holds
    whether or not the client sent Content-Length and however it chunks the body.
    ``larger`` names the few paths allowed more (a file upload), each with its own limit.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope.get("path", ""), self.max_bytes)
        too_large = error_body(
            "request_too_large", f"the request body may not exceed {max_bytes} bytes"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, error_body("bad_request", "invalid Content-Length"))
                    return
                if declared > max_bytes:
                    await _send_json(send, 413, too_large)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > max_bytes:
                await _send_json(send, 413, too_large)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RequestMetricsMiddleware:
    """Counts requests by route template (never the raw path: ids would explode the
    label set) and continues the caller's W3C trace onto the events a request publishes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        traceparent = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"traceparent"), None
        )
        request_traceparent.set(traceparent)
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(method, template).observe(time.perf_counter() - started)


_FORWARDED_SCHEMES = {"http", "https", "ws", "wss"}


class ForwardedHeadersMiddleware:
    """Sets the request's client address (and scheme) from ``X-Forwarded-For`` (and
    ``X-Forwarded-Proto``) when, and only when, the socket peer is a trusted proxy
    (``domain.client_address``); otherwise the peer is the client. Outermost, so every
    layer below (rate limits, sign-in limits, origin checks) sees the same client."""

    def __init__(self, app: ASGIApp, *, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            peer_host = peer[0] if peer else None
            if self.trusted.trusts(peer_host):
                forwarded_for: list[str] = []
                proto: str | None = None
                for name, value in scope.get("headers", ()):
                    if name == b"x-forwarded-for":
                        forwarded_for.append(value.decode("latin-1"))
                    elif name == b"x-forwarded-proto":
                        proto = value.decode("latin-1").strip().lower()
                client = client_address(peer_host, forwarded_for, self.trusted)
                if client is not None and client != peer_host:
                    scope["client"] = (client, 0)
                if proto in _FORWARDED_SCHEMES:
                    secure = proto in ("https", "wss")
                    if scope["type"] == "websocket":
                        scope["scheme"] = "wss" if secure else "ws"
                    else:
                        scope["scheme"] = "https" if secure else "http"
        await self.app(scope, receive, send)


#: Where a rate-limit check leaves its verdict for ``RateLimitHeadersMiddleware``
#: (``request.state``, which lives in the ASGI scope).
RATE_LIMIT_STATE = "rate_limit_verdict"


class RateLimitHeadersMiddleware:
    """Adds ``X-RateLimit-Limit/-Remaining/-Reset`` to every answer of a rate-limited
    request (a 429 and the handler's own answer alike), whatever the route returned."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                verdict = (scope.get("state") or {}).get(RATE_LIMIT_STATE)
                if isinstance(verdict, Verdict):
                    headers = MutableHeaders(scope=message)
                    for name, value in verdict.headers().items():
                        if name not in headers:
                            headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
