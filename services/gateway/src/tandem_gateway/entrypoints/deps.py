"""Dependency aliases, so route signatures read like prose."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ..domain.agent_tokens import AgentClaims
from ..domain.origins import same_origin
from ..domain.tokens import VisitorClaims
from ..runtime import GatewayRuntime
from ..service_layer.agent import AgentConsoleService
from ..service_layer.agent_auth import AgentAuthService
from ..service_layer.errors import Unavailable
from ..service_layer.widget import RequestOrigin, WidgetService

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
    """The client's address (uvicorn takes it from X-Forwarded-For behind trusted proxies)."""
    return connection.client.host if connection.client else None


ClientIp = Annotated[str | None, Depends(client_ip)]
