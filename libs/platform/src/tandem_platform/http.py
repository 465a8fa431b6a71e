"""The operational HTTP surface every service exposes: /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

ReadinessCheck = Callable[[], Awaitable[None]]


class Liveness(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="ok, or unavailable when a dependency failed")
    checks: dict[str, str] = Field(description="each dependency: ok, or the error it gave")
    duration_ms: float


def ops_router(checks: Mapping[str, ReadinessCheck], *, timeout: float = 2.0) -> APIRouter:
    """Liveness is cheap and checks nothing external (a dependency outage must not restart
    pods); readiness checks each dependency with a timeout and says which one failed."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is up", response_model=Liveness)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency answers",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "a dependency is unavailable"}},
    )
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        ok = True
        started = time.perf_counter()
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=timeout)
                results[name] = "ok"
            except Exception as exc:  # readiness reports every failure, whatever its type
                ok = False
                results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
        body = {
            "status": "ok" if ok else "unavailable",
            "checks": results,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
