"""Dependency aliases, so route signatures read like prose."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ..domain.agent_tokens import AgentClaims
from ..domain.origins import same_origin
from ..domain.rate_limits import Bucket
from ..domain.tokens import VisitorClaims
from ..runtime import GatewayRuntime
from ..service_layer.agent import AgentConsoleService
from ..service_layer.agent_auth import AgentAuthService
from ..service_layer.errors import GatewayError, Unavailable
from ..service_layer.rate_limits import RateLimited
from ..service_layer.widget import RequestOrigin, WidgetService
from .middleware import RATE_LIMIT_STATE

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="VisitorToken",
    description="The `visitor_token` returned when the conversation was started.",
)
_site_key = APIKeyHeader(
    name="X-Site-Key",
    auto_error=False,
    scheme_name="SiteKey",
    description="The site's public widget key.",
)


def get_runtime(connection: HTTPConnection) -> GatewayRuntime:
    runtime: GatewayRuntime = connection.app.state.runtime
    return runtime


Runtime = Annotated[GatewayRuntime, Depends(get_runtime)]


def get_widget(runtime: Runtime) -> WidgetService:
    return runtime.widget


Widget = Annotated[WidgetService, Depends(get_widget)]

SiteKey = Annotated[str | None, Depends(_site_key)]


def request_origin(connection: HTTPConnection) -> RequestOrigin:
    origin = connection.headers.get("origin")
    if origin is None:
        return RequestOrigin(origin=None)
    host = connection.headers.get("host", "")
    return RequestOrigin(
        origin=origin,
        is_gateway_itself=same_origin(origin, scheme=connection.url.scheme, host_header=host),
    )


BrowserOrigin = Annotated[RequestOrigin, Depends(request_origin)]


async def _visitor(
    conversation_id: uuid.UUID,
    widget: Widget,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> VisitorClaims:
    token = credentials.credentials if credentials else None
    return await widget.authorize(token, conversation_id)


async def _visitor_even_if_deleted(
    conversation_id: uuid.UUID,
    widget: Widget,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> VisitorClaims:
    token = credentials.credentials if credentials else None
    return await widget.authorize(token, conversation_id, allow_deleted=True)


#: The visitor holding a token for the conversation in the path, which still exists.
Visitor = Annotated[VisitorClaims, Depends(_visitor)]
#: The same, also for a deleted conversation (deleting again is harmless).
VisitorOfDeleted = Annotated[VisitorClaims, Depends(_visitor_even_if_deleted)]


# -- the agent console --------------------------------------------------------------------

_agent_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AgentToken",
    description="The `access_token` from `POST /v1/agent/login` (or `/v1/agent/refresh`).",
)


def get_agent_auth(runtime: Runtime) -> AgentAuthService:
    if runtime.agent_auth is None:
        raise Unavailable("the agent console is not configured on this gateway")
    return runtime.agent_auth


def get_agents(runtime: Runtime) -> AgentConsoleService:
    if runtime.agents is None:
        raise Unavailable("the agent console is not configured on this gateway")
    return runtime.agents


AgentAuth = Annotated[AgentAuthService, Depends(get_agent_auth)]
Agents = Annotated[AgentConsoleService, Depends(get_agents)]


async def _agent(
    auth: AgentAuth,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_agent_bearer)],
) -> AgentClaims:
    return await auth.verify_access(credentials.credentials if credentials else None)


async def _maybe_agent(
    auth: AgentAuth,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_agent_bearer)],
) -> AgentClaims | None:
    if credentials is None:
        return None
    return await auth.verify_access(credentials.credentials)


#: The signed-in agent (a valid, unrevoked access token).
Agent = Annotated[AgentClaims, Depends(_agent)]
#: The same when a token is sent, None without one (sign-out works with either token).
MaybeAgent = Annotated[AgentClaims | None, Depends(_maybe_agent)]


def client_ip(connection: HTTPConnection) -> str | None:
    """The client's address (``ForwardedHeadersMiddleware`` takes it from X-Forwarded-For
    when the peer is a trusted proxy)."""
    return connection.client.host if connection.client else None


ClientIp = Annotated[str | None, Depends(client_ip)]


# -- rate limits --------------------------------------------------------------------------


async def enforce_rate_limit(
    connection: HTTPConnection, runtime: GatewayRuntime, buckets: list[Bucket]
) -> None:
    """Charge the buckets; 429 (``RateLimited``) when a limit refuses. The verdict is left
    in the request's state for the ``X-RateLimit-*`` headers."""
    if runtime.rate_limits is None:
        return
    try:
        verdict = await runtime.rate_limits.check(buckets)
    except RateLimited as refused:
        setattr(connection.state, RATE_LIMIT_STATE, refused.verdict)
        raise
    if verdict is not None:
        setattr(connection.state, RATE_LIMIT_STATE, verdict)


def visitor_site(runtime: GatewayRuntime, token: str | None) -> str | None:
    """The site a visitor token was issued for; None when it is missing or not valid (the
    request is then limited by its client address alone, and refused further on)."""
    if not token:
        return None
    try:
        return runtime.widget.verify_token(token).site_id
    except GatewayError:
        return None


async def _limit_conversation_start(
    connection: HTTPConnection, runtime: Runtime, site_key: SiteKey
) -> None:
    if runtime.rate_limits is None:
        return
    site_id = None
    key = (site_key or "").strip()
    if key and len(key) <= 200:
        site = await runtime.widget.sites.by_key(key)  # cached; the route reads it again
        site_id = site.site_id if site else None
    buckets = runtime.rate_limits.policy.conversation_start(client_ip(connection), site_id)
    await enforce_rate_limit(connection, runtime, buckets)


async def limit_visitor_request(
    connection: HTTPConnection, runtime: GatewayRuntime, token: str | None
) -> None:
    """A visitor's request in a conversation (the live stream's handshake too)."""
    if runtime.rate_limits is None:
        return
    site_id = visitor_site(runtime, token)
    buckets = runtime.rate_limits.policy.visitor_request(client_ip(connection), site_id)
    await enforce_rate_limit(connection, runtime, buckets)


async def _limit_visitor_request(
    connection: HTTPConnection,
    runtime: Runtime,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    await limit_visitor_request(
        connection, runtime, credentials.credentials if credentials else None
    )


async def _limit_agent_request(connection: HTTPConnection, runtime: Runtime, agent: Agent) -> None:
    if runtime.rate_limits is None:
        return
    buckets = runtime.rate_limits.policy.agent_request(agent.identity.agent_id)
    await enforce_rate_limit(connection, runtime, buckets)


#: Route dependencies: the client's and the site's budget for starting conversations...
ConversationStartLimit = Depends(_limit_conversation_start)
#: ... and for everything else a visitor does in a conversation.
VisitorRequestLimit = Depends(_limit_visitor_request)
#: The signed-in agent's budget on the agent and admin APIs.
AgentRequestLimit = Depends(_limit_agent_request)
