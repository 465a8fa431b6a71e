"""Every error leaves the gateway as ``{"error": {"code", "message"}}`` with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..domain import agent_commands
from ..service_layer.errors import GatewayError, TooManyRequests

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _field(location: tuple[Any, ...]) -> str:
    # ("body", "visitor", "id") -> "visitor.id"; ("query", "after_seq") -> "after_seq"
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_message(errors: list[dict[str, Any]]) -> str:
    shown = []
    for error in errors[:5]:
        if error.get("type") == "json_invalid":
            shown.append("the body is not valid JSON")
        elif error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",):
            shown.append("a JSON body is required")
        else:
            shown.append(f"{_field(tuple(error.get('loc', ())))}: {error.get('msg', 'invalid')}")
    more = len(errors) - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


async def _gateway_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    headers = {"Retry-After": "2"} if exc.status == 503 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(max(1, exc.retry_after))}
    return error_response(exc.status, exc.code, exc.message, headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", validation_message(list(exc.errors())))


#: The console's commands: routes build them from the request body after FastAPI's own
#: validation, and they check more (control characters, text an edit needs, agent id
#: syntax), so their refusal is the client's bad input, not a fault of ours.
_COMMAND_MODELS = frozenset(
    name
    for name, value in vars(agent_commands).items()
    if isinstance(value, type)
    and issubclass(value, BaseModel)
    and value.__module__ == agent_commands.__name__
)


async def _model_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    if exc.title not in _COMMAND_MODELS:
        # Any other model failing inside a route is our bug (e.g. a response we built).
        return await _unexpected_error(request, exc)
    errors = [dict(error) for error in exc.errors(include_url=False, include_input=False)]
    return error_response(422, "invalid_request", validation_message(errors))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if status == 400 and "parsing the body" in message:
        # Starlette's answer to a body that is not JSON (or not UTF-8): the same documented
        # 422 as any other malformed request.
        return error_response(422, "invalid_request", "the body is not valid JSON")
    code = _CODES_BY_STATUS.get(status, "bad_request" if status < 500 else "unavailable")
    return error_response(status, code, message, dict(exc.headers or {}))


async def _redis_error(_: Request, exc: Exception) -> JSONResponse:
    log.warning("Redis unavailable", extra={"fields": {"error": repr(exc)}})
    return error_response(
        503,
        "unavailable",
        "the gateway's store is unavailable; retry shortly",
        {"Retry-After": "2"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception(
        "unhandled error",
        exc_info=exc,
        extra={"fields": {"path": request.url.path, "method": request.method}},
    )
    return error_response(500, "internal_error", "something went wrong on our side")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _model_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RedisError, _redis_error)
    app.add_exception_handler(Exception, _unexpected_error)
