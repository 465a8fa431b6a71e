"""``WS /v1/agent/stream``: the agent console's live connection (protocol: docs/agent-api.md).

* The browser's ``Origin`` must be the gateway itself or one of the configured console
  origins (checked before the handshake completes).
* No credential in the URL: the first frame must be ``{"type": "auth", "token": ...}``
  with an access token, within a few seconds. Sending ``auth`` again with a fresh token
  before expiry keeps the socket open; otherwise it closes with 4401 when the token expires.
* The server pushes the agent's site's live frames (escalations, queue, assignments,
  status changes, held replies, hand-offs, presence), plus messages and notes of the
  conversations the socket ``watch``es.
* Commands (``join``, ``reply``, ...; see ``domain.agent_commands``) are answered with
  ``{"type": "ack", "ref": ...}`` once their event is on Kafka, or ``{"type": "error",
  "ref": ..., "error": {...}}``. They run in the order sent.
* While the socket is open, the agent's last presence is re-announced every 15 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from redis.exceptions import RedisError
from tandem_platform.redis import site_live_channel

from ..adapters.live import LiveSubscription, StreamLost
from ..domain.agent_commands import (
    SOCKET_COMMANDS,
    AgentStatus,
    Authenticate,
    SetPresence,
    Unwatch,
    Watch,
)
from ..domain.agent_tokens import AgentClaims
from ..domain.agents import AgentIdentity
from ..domain.frames import WATCHED_ONLY_FRAMES, is_close_order
from ..domain.origins import origin_allowed, same_origin
from ..metrics import WEBSOCKET_CLOSES, WEBSOCKET_CONNECTIONS
from ..runtime import GatewayRuntime
from ..service_layer.agent import AgentConsoleService
from ..service_layer.agent_auth import AgentAuthService
from ..service_layer.errors import GatewayError
from .agent_schemas import AgentOut
from .deps import Runtime
from .errors import error_body, validation_message

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/agent", tags=["agent: stream"])

CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHENTICATED = 4401
MAX_FRAME_CHARS = 64 * 1024
# A console sends a handful of commands a second at most; more is a runaway client.
MAX_COMMANDS_PER_SECOND = 20


async def _deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    WEBSOCKET_CLOSES.labels(f"agent_refused_{status}").inc()
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error_body(code, message), status))
        return
    await websocket.close(code=4000 + status, reason=message[:120])


def console_origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Browsers always send Origin on websockets; clients without one are not browsers
    (and still need a valid token)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = websocket.headers.get("host", "")
    if same_origin(origin, scheme=websocket.url.scheme, host_header=host):
        return True
    return bool(allowed) and origin_allowed(origin, allowed)


@router.websocket("/stream", name="agent_stream")
async def agent_stream(websocket: WebSocket, runtime: Runtime) -> None:
    if runtime.agent_auth is None or runtime.agents is None:
        await _deny(websocket, 503, "unavailable", "the agent console is not configured")
        return
    if not console_origin_allowed(websocket, runtime.settings.console_origins):
        origin = websocket.headers.get("origin", "")
        await _deny(
            websocket, 403, "origin_not_allowed", f"origin {origin[:200]!r} may not connect"
        )
        return
    await websocket.accept()
    WEBSOCKET_CONNECTIONS.inc()
    outcome = "client_closed"
    try:
        claims = await _authenticate_first(websocket, runtime)
        if claims is None:
            outcome = "unauthenticated"
            return
        outcome = await AgentSocket(websocket, runtime, claims).serve()
    except (WebSocketDisconnect, OSError):
        outcome = "client_closed"
    finally:
        WEBSOCKET_CONNECTIONS.dec()
        WEBSOCKET_CLOSES.labels(f"agent_{outcome}").inc()


async def _authenticate_first(websocket: WebSocket, runtime: GatewayRuntime) -> AgentClaims | None:
    auth = runtime.agent_auth
    assert auth is not None
    try:
        raw = await asyncio.wait_for(
            websocket.receive_text(), runtime.settings.agent_auth_timeout_seconds
        )
    except TimeoutError:
        await _refuse(websocket, "auth_timeout", 'send {"type": "auth", "token": ...} first')
        return None
    try:
        command = SOCKET_COMMANDS.validate_json(raw[:MAX_FRAME_CHARS])
    except ValidationError:
        command = None
    if not isinstance(command, Authenticate):
        await _refuse(websocket, "auth_required", "the first frame must be an auth frame")
        return None
    try:
        return await auth.verify_access(command.token)
    except GatewayError as exc:
        await _refuse(websocket, exc.code, exc.message)
        return None
    except RedisError:
        await _refuse(websocket, "unavailable", "the gateway's store is unavailable; retry", 1013)
        return None


async def _refuse(websocket: WebSocket, code: str, message: str, close_code: int = 4401) -> None:
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await websocket.send_json({"type": "error", **error_body(code, message)})
        await websocket.close(code=close_code, reason=message[:120])


class AgentSocket:
    """One signed-in console connection."""

    def __init__(self, websocket: WebSocket, runtime: GatewayRuntime, claims: AgentClaims) -> None:
        assert runtime.agent_auth is not None and runtime.agents is not None
        self.websocket = websocket
        self.runtime = runtime
        self.auth: AgentAuthService = runtime.agent_auth
        self.agents: AgentConsoleService = runtime.agents
        self.claims = claims
        self.watched: set[str] = set()
        self.presence: tuple[AgentStatus, int | None] | None = None
        self._send_lock = asyncio.Lock()
        self._expiry_changed = asyncio.Event()
        self._window_started = time.monotonic()
        self._window_commands = 0

    @property
    def identity(self) -> AgentIdentity:
        return self.claims.identity

    async def send(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def serve(self) -> str:
        hub = self.runtime.hub
        try:
            async with hub.subscription(site_live_channel(self.identity.site_id)) as live:
                await self.send(
                    {
                        "type": "ready",
                        "agent": AgentOut.of(self.identity).model_dump(),
                        "expires_at": self.claims.expires_at,
                        "heartbeat_seconds": self.runtime.settings.presence_heartbeat_seconds,
                    }
                )
                return await self._run(live)
        except (StreamLost, RedisError) as exc:
            log.info("agent stream ended early", extra={"fields": {"error": repr(exc)}})
            await self._close(CLOSE_TRY_AGAIN_LATER, "temporarily unavailable; reconnect")
            return "unavailable"

    async def _run(self, live: LiveSubscription) -> str:
        tasks = {
            asyncio.create_task(self._forward(live), name="forward"),
            asyncio.create_task(self._commands(), name="commands"),
            asyncio.create_task(self._expiry(), name="expiry"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finished = done.pop()
        if finished.cancelled():
            return "client_closed"
        error = finished.exception()
        if error is not None:
            # Sending to a socket the client already closed raises one of these.
            if isinstance(error, WebSocketDisconnect | OSError | RuntimeError):
                return "client_closed"
            raise error
        outcome: str = finished.result()
        return outcome

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self.websocket.close(code=code, reason=reason[:120])

    # -- server → console -----------------------------------------------------------------

    async def _forward(self, live: LiveSubscription) -> str:
        while True:
            try:
                raw = await live.get()
            except StreamLost as exc:
                await self._close(CLOSE_SERVICE_RESTART, str(exc))
                return "stream_lost"
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(frame, dict) or is_close_order(frame):
                continue
            if (
                frame.get("type") in WATCHED_ONLY_FRAMES
                and frame.get("conversation_id") not in self.watched
            ):
                continue
            await self.send(raw.decode())

    async def _expiry(self) -> str:
        while True:
            remaining = self.claims.expires_at - self.auth.clock()
            if remaining <= 0:
                await self._refuse_and_close("token_expired", "the access token expired")
                return "token_expired"
            self._expiry_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._expiry_changed.wait(), remaining)

    async def _refuse_and_close(self, code: str, message: str) -> None:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self.send({"type": "error", **error_body(code, message)})
        await self._close(CLOSE_UNAUTHENTICATED, message)

    async def _heartbeat(self) -> str:
        interval = self.runtime.settings.presence_heartbeat_seconds
        while True:
            await asyncio.sleep(interval)
            if self.presence is None:
                continue
            status, max_concurrent = self.presence
            try:
                await self.agents.publish_presence(self.identity, status, max_concurrent)
            except GatewayError as exc:  # the next beat tries again
                log.warning("presence heartbeat failed", extra={"fields": {"error": exc.message}})

    # -- console → server -----------------------------------------------------------------

    async def _commands(self) -> str:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return "client_closed"
            text = message.get("text")
            if text is None:
                raw_bytes = message.get("bytes") or b""
                text = raw_bytes.decode("utf-8", errors="replace")
            outcome = await self._one_command(text)
            if outcome is not None:
                return outcome

    def _too_fast(self) -> bool:
        now = time.monotonic()
        if now - self._window_started >= 1.0:
            self._window_started, self._window_commands = now, 0
        self._window_commands += 1
        return self._window_commands > MAX_COMMANDS_PER_SECOND

    async def _one_command(self, text: str) -> str | None:
        """Run one command and answer it; returns an outcome when the socket must end."""
        ref = _ref_of(text)
        if len(text) > MAX_FRAME_CHARS:
            await self._error(
                ref, "request_too_large", f"frames may not exceed {MAX_FRAME_CHARS} characters"
            )
            return None
        if self._too_fast():
            await self._error(ref, "too_many_requests", "slow down: too many commands")
            return None
        try:
            command = SOCKET_COMMANDS.validate_json(text)
        except ValidationError as exc:
            message = (
                "the frame is not valid JSON"
                if any(e.get("type") == "json_invalid" for e in exc.errors())
                else validation_message([dict(e) for e in exc.errors()])
            )
            await self._error(ref, "invalid_request", message)
            return None
        try:
            if isinstance(command, Authenticate):
                return await self._reauthenticate(command)
            if await self.auth.sessions.access_revoked(self.claims.token_id):
                await self._refuse_and_close("invalid_token", "the access token was revoked")
                return "revoked"
            details: dict[str, Any] = {}
            if isinstance(command, Watch):
                await self.agents.access(self.identity, command.conversation_id, "watch")
                self.watched.add(str(command.conversation_id))
            elif isinstance(command, Unwatch):
                self.watched.discard(str(command.conversation_id))
            else:
                result = await self.agents.execute(self.identity, command)
                details = result.details
                if isinstance(command, SetPresence):
                    self.presence = (command.status, command.max_concurrent)
            await self.send({"type": "ack", "ref": command.ref, "command": command.type, **details})
        except GatewayError as exc:
            await self._error(command.ref, exc.code, exc.message)
        except RedisError:
            await self._error(
                command.ref, "unavailable", "the gateway's store is unavailable; retry"
            )
        return None

    async def _reauthenticate(self, command: Authenticate) -> str | None:
        try:
            claims = await self.auth.verify_access(command.token)
        except GatewayError as exc:
            await self._error(command.ref, exc.code, exc.message)
            return None
        if (claims.identity.agent_id, claims.identity.site_id) != (
            self.identity.agent_id,
            self.identity.site_id,
        ):
            await self._refuse_and_close("forbidden", "a socket cannot change its agent")
            return "agent_changed"
        self.claims = claims
        self._expiry_changed.set()
        await self.send(
            {"type": "ack", "ref": command.ref, "command": "auth", "expires_at": claims.expires_at}
        )
        return None

    async def _error(self, ref: str | None, code: str, message: str) -> None:
        await self.send({"type": "error", "ref": ref, **error_body(code, message)})


def _ref_of(text: str) -> str | None:
    """The frame's ``ref`` when it can be read, so even a refused command's answer names it."""
    try:
        data = json.loads(text[:MAX_FRAME_CHARS])
    except ValueError:
        return None
    ref = data.get("ref") if isinstance(data, dict) else None
    return ref[:128] if isinstance(ref, str) else None


__all__ = ["AgentSocket", "router"]
