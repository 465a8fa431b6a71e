"""Internal HTTP API of the escalation service (the gateway calls it for the console):

* each site's escalation policy: the defaults apply until overrides are stored; ``PUT``
  replaces the site's overrides as a whole;
* the team roster: agents, their skills, languages and capacity, sign-in;
* the queue of escalated conversations waiting for an agent;
* routing settings: business hours, offline message, VIP visitors.

Bad input is a 422 ``{"error": {"code": "invalid_request", ...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from tandem_platform.http import ReadinessCheck, ops_router
from tandem_platform.postgres import Pool as PgPool

from ..adapters import repository
from ..adapters.embedder import Embedder
from ..domain.triggers import EscalationPolicy, PolicyOverrides, Reason

SiteId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class EffectivePolicy(BaseModel):
    low_confidence_threshold: float
    low_confidence_answers: int
    repeated_question_count: int
    repeated_question_similarity: float
    enabled_reasons: list[Reason]
    sensitive_topics: list[str]
    human_request_patterns: int
    frustration_patterns: int

    @classmethod
    def of(cls, policy: EscalationPolicy) -> EffectivePolicy:
        return cls(
            low_confidence_threshold=policy.low_confidence_threshold,
            low_confidence_answers=policy.low_confidence_answers,
            repeated_question_count=policy.repeated_question_count,
            repeated_question_similarity=policy.repeated_question_similarity,
            enabled_reasons=[r for r in Reason if policy.enabled(r)],
            sensitive_topics=sorted(policy.sensitive_topics),
            human_request_patterns=len(policy.human_request_phrases),
            frustration_patterns=len(policy.frustration_phrases),
        )


class SitePolicy(BaseModel):
    site_id: str
    overrides: PolicyOverrides
    effective: EffectivePolicy


def _pool(request: Request) -> PgPool:
    """The service's database pool (503 until the lifespan opened it)."""
    pool: PgPool | None = request.app.state.handlers.pool
    if pool is None:
        raise HTTPException(503, "the service is starting")
    return pool


def _policies(request: Request) -> repository.PolicyBook:
    book: repository.PolicyBook = request.app.state.handlers.policies
    return book


Pool = Annotated[PgPool, Depends(_pool)]
Policies = Annotated[repository.PolicyBook, Depends(_policies)]

router = APIRouter(prefix="/internal/sites", tags=["escalation policy"])


@router.get("/{site_id}/escalation-policy", response_model=SitePolicy)
async def get_policy(site_id: SiteId, pool: Pool, policies: Policies) -> SitePolicy:
    async with pool.connection() as conn:
        overrides = await repository.load_overrides(conn, site_id)
    overrides = overrides or PolicyOverrides()
    return SitePolicy(
        site_id=site_id,
        overrides=overrides,
        effective=EffectivePolicy.of(policies.effective(overrides)),
    )


@router.put("/{site_id}/escalation-policy", response_model=SitePolicy)
async def put_policy(
    site_id: SiteId, overrides: PolicyOverrides, pool: Pool, policies: Policies
) -> SitePolicy:
    async with pool.connection() as conn, conn.transaction():
        await repository.save_overrides(conn, site_id, overrides)
    return SitePolicy(
        site_id=site_id,
        overrides=overrides,
        effective=EffectivePolicy.of(policies.effective(overrides)),
    )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Errors in the project's shape: ``{"error": {"code", "message"}}``, 400 for bad input."""

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        errors: Sequence[Any] = exc.errors() if isinstance(exc, RequestValidationError) else []
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            for e in errors
        ]
        return _error(422, "invalid_request", "; ".join(parts) or "invalid request")

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        code = {
            401: "unauthorized",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
            422: "invalid_request",
            503: "unavailable",
        }.get(status, "error")
        return _error(status, code, str(detail))

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)


def readiness_router(checks: Mapping[str, ReadinessCheck], embedder: Embedder) -> APIRouter:
    """``/readyz`` as the shared ops router serves it, plus a ``details`` entry saying
    whether the embedding model runs or the rules fell back to the lexicon and token
    similarity: degraded, not unready."""
    shared = ops_router(checks)
    readyz = next(
        r for r in shared.routes if isinstance(r, APIRoute) and r.path == "/readyz"
    ).endpoint
    ready_router = APIRouter(tags=["operations"])

    @ready_router.get("/readyz", summary="Readiness: every dependency answers")
    async def readiness() -> JSONResponse:
        response: JSONResponse = await readyz()
        body = json.loads(bytes(response.body))
        body["details"] = {
            "embeddings": f"ok: {embedder.model_name}"
            if embedder.ready
            else f"fallback: lexicon and token similarity ({embedder.error or 'disabled'})"
        }
        return JSONResponse(body, status_code=response.status_code)

    return ready_router
