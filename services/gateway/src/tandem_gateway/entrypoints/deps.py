"""Dependency aliases, so route signatures read like prose."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ..domain.origins import same_origin
from ..domain.tokens import VisitorClaims
from ..runtime import GatewayRuntime
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
