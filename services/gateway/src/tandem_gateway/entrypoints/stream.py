"""``WS /v1/widget/conversations/{id}/stream``: stored messages after ``after_seq``, then live.

Order matters for "misses nothing, sees nothing twice": the socket subscribes to the
conversation's Redis channel (confirmed by Redis) *before* it reads the stored history, so
every message is either in that history or arrives live after it; ``DeliveredMessages``
drops the overlap and anything redelivered.

Refusals happen before the handshake completes (an HTTP error response with the usual
JSON body where the server supports it, else a close code 4000 + HTTP status). After the
handshake the socket closes with 4401 when the token expires, 4410 when the conversation
is deleted, 1012 when the live stream was interrupted and 1013 when a dependency is down;
clients reconnect with their last ``seq`` after 1012 and 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from tandem_platform.redis import live_channel

from ..adapters.live import LiveSubscription, StreamLost
from ..domain.frames import (
    CLOSE_TOKEN_EXPIRED,
    DeliveredMessages,
    frame_json,
    is_close_order,
)
from ..domain.tokens import VisitorClaims
from ..metrics import WEBSOCKET_CLOSES, WEBSOCKET_CONNECTIONS
from ..runtime import GatewayRuntime
from ..service_layer.errors import GatewayError
from ..service_layer.rate_limits import RateLimited
from .deps import Runtime, limit_visitor_request, request_origin
from .errors import error_body

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/widget", tags=["widget: stream"])

MAX_SEQ = 2**31 - 1
CLOSE_NORMAL = 1000
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str
    metric: str


_CLIENT_LEFT = _Close(CLOSE_NORMAL, "", "client_closed")


async def _deny(
    websocket: WebSocket,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    WEBSOCKET_CLOSES.labels(f"refused_{status}").inc()
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            JSONResponse(error_body(code, message), status, headers=headers)
        )
        return
    close_code = CLOSE_TRY_AGAIN_LATER if status >= 500 else 4000 + status
    await websocket.close(code=close_code, reason=message[:120])


@router.websocket("/conversations/{conversation_id}/stream", name="conversation_stream")
async def stream_conversation(websocket: WebSocket, conversation_id: str, runtime: Runtime) -> None:
    try:
        conversation = uuid.UUID(conversation_id)
    except ValueError:
        await _deny(websocket, 422, "invalid_request", "conversation_id: not a valid UUID")
        return
    raw_after_seq = websocket.query_params.get("after_seq", "0")
    if not raw_after_seq.isascii() or not raw_after_seq.isdigit() or len(raw_after_seq) > 10:
        await _deny(websocket, 422, "invalid_request", "after_seq: must be an integer >= 0")
        return
    after_seq = int(raw_after_seq)
    if after_seq > MAX_SEQ:
        await _deny(websocket, 422, "invalid_request", f"after_seq: must be at most {MAX_SEQ}")
        return
    token = websocket.query_params.get("token")
    try:
        # Opening the stream is a visitor request like any other: limited per client
        # address and per site before anything else is looked up.
        await limit_visitor_request(websocket, runtime, token)
    except RateLimited as refused:
        await _deny(
            websocket, 429, refused.code, refused.message, headers=refused.verdict.headers()
        )
        return
    try:
        claims = await runtime.widget.authorize_stream(
            token, conversation, request_origin(websocket)
        )
    except GatewayError as exc:
        await _deny(websocket, exc.status, exc.code, exc.message)
        return
    except RedisError:
        await _deny(websocket, 503, "unavailable", "the gateway's store is unavailable; retry")
        return

    await websocket.accept()
    WEBSOCKET_CONNECTIONS.inc()
    outcome = _CLIENT_LEFT
    try:
        outcome = await _serve(websocket, runtime, claims, after_seq)
    except (StreamLost, GatewayError, RedisError) as exc:
        log.info("stream ended early", extra={"fields": {"error": repr(exc)}})
        outcome = _Close(CLOSE_TRY_AGAIN_LATER, "temporarily unavailable; reconnect", "unavailable")
    except (WebSocketDisconnect, OSError):
        outcome = _CLIENT_LEFT
    finally:
        WEBSOCKET_CONNECTIONS.dec()
        WEBSOCKET_CLOSES.labels(outcome.metric).inc()
        if outcome is not _CLIENT_LEFT:
            # The client may be gone already; closing twice is not an error worth reporting.
            with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
                await websocket.close(code=outcome.code, reason=outcome.reason)


async def _serve(
    websocket: WebSocket, runtime: GatewayRuntime, claims: VisitorClaims, after_seq: int
) -> _Close:
    widget = runtime.widget
    async with runtime.hub.subscription(live_channel(claims.conversation_id)) as live:
        delivered = DeliveredMessages(after_seq)
        for frame in await widget.all_messages_after(claims, after_seq):
            if delivered.admit(frame.seq):
                await websocket.send_json(frame_json(frame))
        forward = asyncio.create_task(_forward_live(websocket, live, delivered))
        listen = asyncio.create_task(_until_client_leaves(websocket))
        expiry = asyncio.create_task(asyncio.sleep(max(0.0, claims.expires_at - widget.clock())))
        tasks = {forward, listen, expiry}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if forward in done and not forward.cancelled():
            return forward.result()
        if expiry in done:
            return _Close(CLOSE_TOKEN_EXPIRED, "token expired", "token_expired")
        return _CLIENT_LEFT


async def _forward_live(
    websocket: WebSocket, live: LiveSubscription, delivered: DeliveredMessages
) -> _Close:
    while True:
        try:
            raw = await live.get()
        except StreamLost as exc:
            return _Close(CLOSE_SERVICE_RESTART, str(exc)[:120], "stream_lost")
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("dropped a live frame that is not JSON")
            continue
        if not isinstance(frame, dict):
            continue
        if is_close_order(frame):
            code = frame.get("code")
            return _Close(
                code if isinstance(code, int) else CLOSE_NORMAL,
                str(frame.get("reason", ""))[:120],
                "conversation_deleted",
            )
        if frame.get("type") == "message":
            seq = frame.get("seq")
            if not isinstance(seq, int) or not delivered.admit(seq):
                continue
        try:
            await websocket.send_text(raw.decode())
        except (WebSocketDisconnect, RuntimeError, OSError):
            return _CLIENT_LEFT


async def _until_client_leaves(websocket: WebSocket) -> None:
    """Reads (and ignores) what the client sends, so a disconnect is noticed at once."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
