"""Dashboard API of the analytics service (the gateway proxies ``/v1/analytics/...``).

Read-only; every figure comes from the read models, so it is as fresh as the consumer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from tandem_events import utc_now
from tandem_platform.postgres import Pool as PgPool

from ..adapters import queries
from ..domain.report import PeriodError, parse_period

SiteId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Status = Literal["active", "pending", "flagged", "resolved", "error"]


class Csat(BaseModel):
    mean: float | None = Field(description="mean rating 1-5, null without ratings")
    count: int


class TrendPoint(BaseModel):
    day: date
    mean_confidence: float | None
    answers: int


class KnowledgeGap(BaseModel):
    question: str = Field(description="normalised question text")
    count: int
    mean_confidence: float | None
    last_asked_at: datetime


class OverrideReason(BaseModel):
    reason: str
    count: int


class Overrides(BaseModel):
    total: int = Field(description="AI replies a person overrode in the period")
    by_kind: dict[str, int] = Field(
        description="edited, replaced, discarded, timeout_fallback (held replies) and "
        "corrected (replies corrected after sending)"
    )
    reasons: list[OverrideReason] = Field(description="the reasons given, most frequent first")


class Summary(BaseModel):
    site_id: str
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    conversations: int = Field(description="conversations started in the period")
    messages: int = Field(description="messages stored in the period, every author")
    ai_answers: int = Field(description="answers the AI scored in the period")
    answered_rate: float | None = Field(
        description="share of AI answers not replaced by the fallback"
    )
    mean_confidence: float | None
    escalation_rate: float | None = Field(description="share of the conversations escalated")
    resolution_rate: float | None = Field(description="share of the conversations resolved")
    csat: Csat
    escalations_by_reason: dict[str, int]
    languages: dict[str, int] = Field(description="conversations by language")
    peak_hours: list[int] = Field(description="visitor messages by hour of day (UTC), 24 values")
    confidence_trend: list[TrendPoint] = Field(description="mean confidence per UTC day")
    agent_replies: int = Field(description="messages agents sent in the period")
    overrides: Overrides
    queue_waits: int = Field(description="waits for an agent that ended in the period")
    mean_wait_seconds: float | None = Field(
        description="mean time from queued to assigned of those waits; null without any"
    )
    knowledge_gaps: list[KnowledgeGap] = Field(
        description="most frequent low-confidence questions, top 10"
    )


class MessageCounts(BaseModel):
    visitor: int
    ai: int
    agent: int
    system: int


class ConversationRow(BaseModel):
    conversation_id: uuid.UUID
    started_at: datetime
    status: str
    language: str | None
    escalated: bool
    escalation_reason: str | None
    escalated_at: datetime | None
    agent_joined_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    rating: int | None
    messages: MessageCounts
    ai_answers: int
    mean_confidence: float | None
    first_response_seconds: float | None


class ConversationList(BaseModel):
    conversations: list[ConversationRow]


def _pool(request: Request) -> PgPool:
    pool: PgPool | None = request.app.state.projector.pool
    if pool is None:
        raise HTTPException(503, "the service is starting")
    return pool


Pool = Annotated[PgPool, Depends(_pool)]

router = APIRouter(prefix="/v1/analytics/sites", tags=["analytics"])


@router.get("/{site_id}/summary", response_model=Summary, response_model_by_alias=True)
async def summary(
    request: Request,
    site_id: SiteId,
    pool: Pool,
    from_: Annotated[
        str | None,
        Query(alias="from", description="ISO 8601 date or date-time; default: 30 days before 'to'"),
    ] = None,
    to: Annotated[
        str | None,
        Query(description="ISO 8601 date (inclusive) or date-time (exclusive); default: now"),
    ] = None,
) -> dict[str, Any]:
    try:
        period = parse_period(from_, to, now=utc_now())
    except PeriodError as exc:
        raise HTTPException(400, str(exc)) from None
    async with pool.connection() as conn:
        return await queries.site_summary(
            conn,
            site_id,
            period,
            gap_confidence=request.app.state.settings.knowledge_gap_confidence,
        )


@router.get("/{site_id}/conversations", response_model=ConversationList)
async def conversations(
    site_id: SiteId,
    pool: Pool,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Status | None = None,
    escalated: bool | None = None,
) -> dict[str, Any]:
    where = queries.ConversationFilter(limit=limit, status=status, escalated=escalated)
    async with pool.connection() as conn:
        return {"conversations": await queries.list_conversations(conn, site_id, where)}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Errors in the project's shape: ``{"error": {"code", "message"}}``, 400 for bad input."""

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        errors: Sequence[Any] = exc.errors() if isinstance(exc, RequestValidationError) else []
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path'))}: "
            f"{e.get('msg')}"
            for e in errors
        ]
        return _error(400, "invalid_request", "; ".join(parts) or "invalid request")

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        code = {
            400: "invalid_request",
            404: "not_found",
            405: "method_not_allowed",
            503: "unavailable",
        }.get(status, "error")
        return _error(status, code, str(detail))

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
