"""Internal HTTP API for the gateway (not exposed publicly): sites, conversations, messages."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from tandem_platform.postgres import Pool as PgPool

from ..adapters import repository as repo
from ..adapters import sites
from ..domain.browsing import (
    MAX_SEARCH_CHARS,
    ConfidenceBand,
    ConversationQuery,
    Cursor,
    InvalidQuery,
    Order,
)
from ..domain.hold import DEFAULT_HOLD_SECONDS, MAX_HOLD_SECONDS, MIN_HOLD_SECONDS
from ..domain.lifecycle import STATUSES


def _pool(request: Request) -> PgPool:
    pool: PgPool = request.app.state.pool
    return pool


Pool = Annotated[PgPool, Depends(_pool)]
SITE_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class SiteIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    public_key: str | None = Field(default=None, min_length=8, max_length=100)
    allowed_origins: list[str] = Field(default_factory=list, max_length=100)
    greeting: str = Field(default="Hi! Ask me anything.", min_length=1, max_length=1000)
    require_identity: bool = False
    identity_secret: str | None = Field(default=None, min_length=16, max_length=200)
    show_confidence: bool = True
    widget: dict[str, Any] = Field(default_factory=dict)
    # Hold policy: AI answers below this confidence wait for an agent (None: never hold).
    hold_below_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    hold_seconds: int = Field(
        default=DEFAULT_HOLD_SECONDS, ge=MIN_HOLD_SECONDS, le=MAX_HOLD_SECONDS
    )
    hold_timeout_action: Literal["send", "fallback"] = "send"
    fallback_text: str | None = Field(default=None, min_length=1, max_length=1000)
    # Whether the AI answers again when an agent leaves without saying (the agent's own
    # choice in AgentLeft.ai_resumes wins).
    ai_resumes_after_agent: bool = True


router = APIRouter(prefix="/internal", tags=["internal"])


@router.get("/sites/by-key/{public_key}", summary="Find a site by its public widget key")
async def site_by_key(public_key: str, pool: Pool) -> dict[str, Any]:
    async with pool.connection() as conn:
        row = await sites.get_by_key(conn, public_key)
    if row is None:
        raise HTTPException(404, "unknown site key")
    return sites.site_view(row)


@router.get("/sites/{site_id}", summary="Read a site")
async def site_by_id(site_id: str, pool: Pool) -> dict[str, Any]:
    async with pool.connection() as conn:
        row = await sites.get(conn, site_id)
    if row is None:
        raise HTTPException(404, "unknown site")
    return sites.site_view(row)


@router.put("/sites/{site_id}", summary="Create or update a site")
async def put_site(site_id: str, body: SiteIn, pool: Pool) -> dict[str, Any]:
    if not re.match(SITE_ID, site_id):
        raise HTTPException(422, "site_id must be 1-64 chars of a-z, 0-9, '-' and '_'")
    if body.require_identity and not body.identity_secret:
        raise HTTPException(422, "require_identity needs an identity_secret")
    async with pool.connection() as conn, conn.transaction():
        row = await sites.upsert(conn, site_id, body.model_dump())
    return sites.site_view(row)


@router.get("/conversations/{conversation_id}", summary="Read a conversation's state")
async def get_conversation(conversation_id: uuid.UUID, pool: Pool) -> dict[str, Any]:
    async with pool.connection() as conn:
        row = await repo.get_conversation(conn, conversation_id)
    if row is None:
        raise HTTPException(404, "unknown conversation")
    return repo.conversation_view(row)


@router.get("/conversations/{conversation_id}/messages", summary="Messages after a seq")
async def get_messages(
    conversation_id: uuid.UUID,
    pool: Pool,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    async with pool.connection() as conn:
        if await repo.get_conversation(conn, conversation_id) is None:
            raise HTTPException(404, "unknown conversation")
        messages = await repo.list_messages(conn, conversation_id, after_seq, limit)
    return {"messages": messages}


@router.get("/conversations/{conversation_id}/agent-view", summary="Everything an agent sees")
async def get_agent_view(conversation_id: uuid.UUID, pool: Pool) -> dict[str, Any]:
    """The conversation with every message (per-message confidence, corrections), held
    replies with their state, and internal notes. Never for visitors."""
    async with pool.connection() as conn:
        view = await repo.agent_view(conn, conversation_id)
    if view is None:
        raise HTTPException(404, "unknown conversation")
    return view


#: Counting the conversations that pass the filters stops here (the dashboard shows "N+").
TOTAL_CAP = 10_000


@router.get("/conversations", summary="A site's conversations, filtered and paged")
async def list_conversations(
    pool: Pool,
    site_id: Annotated[str, Query(min_length=1, max_length=64)],
    status: str | None = None,
    assigned_agent_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    waiting: bool | None = None,
    flagged: bool | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    confidence: ConfidenceBand | None = None,
    language: Annotated[str | None, Query(min_length=2, max_length=35)] = None,
    escalated: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=MAX_SEARCH_CHARS)] = None,
    order: Order = "activity",
    cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    with_total: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Always within ``site_id``. ``waiting``: escalated (or transferred) and no agent has
    joined yet, longest waiting first. ``flagged``: flagged, or an AI reply is held for
    review. ``created_from`` (inclusive) and ``created_before`` (exclusive) bound the start
    time; ``confidence`` is the band of the last AI answer (low < 0.5 <= medium < 0.8 <=
    high, none); ``language`` matches the tag or its primary language; ``escalated``: an
    escalation was raised (or it waits for a person); ``q`` searches what visitors and
    agents typed (whole words), visitor and agent names, the escalation reason, or is a
    conversation id. ``order=created`` lists newest first and pages with ``cursor`` (the
    previous page's ``next_cursor``); otherwise most recently active first.
    ``with_total`` adds ``total``, counted up to 10,000 (``total_capped`` says it stopped)."""
    if status is not None and status not in STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(STATUSES)}")
    try:
        query = ConversationQuery(
            status=status,
            assigned_agent_id=assigned_agent_id,
            waiting=waiting,
            flagged=flagged,
            created_from=created_from,
            created_before=created_before,
            confidence=confidence,
            language=language,
            escalated=escalated,
            text=q,
            order=order,
            after=Cursor.decode(cursor) if cursor is not None else None,
        )
    except InvalidQuery as exc:
        raise HTTPException(422, str(exc)) from None
    async with pool.connection() as conn:
        rows, next_cursor = await repo.list_conversations(conn, site_id, query, limit)
        total = (
            await repo.count_conversations(conn, site_id, query, cap=TOTAL_CAP)
            if with_total
            else None
        )
    body: dict[str, Any] = {
        "conversations": [repo.conversation_view(r) for r in rows],
        "next_cursor": next_cursor.encode() if next_cursor else None,
    }
    if total is not None:
        body["total"] = min(total, TOTAL_CAP)
        body["total_capped"] = total > TOTAL_CAP
    return body
