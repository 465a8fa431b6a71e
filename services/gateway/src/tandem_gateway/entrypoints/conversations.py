"""Conversations: start one (site key) and forget one (visitor token)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body, status

from ..service_layer.widget import VisitorIdentity
from .deps import (
    BrowserOrigin,
    ConversationStartLimit,
    SiteKey,
    VisitorOfDeleted,
    VisitorRequestLimit,
    Widget,
)
from .schemas import Accepted, StartConversationRequest, StartConversationResponse, error_responses

router = APIRouter(prefix="/v1/widget", tags=["widget: conversations"])


@router.post(
    "/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=StartConversationResponse,
    response_model_exclude_none=True,
    summary="Start a conversation",
    description=(
        "Needs the site's public key in `X-Site-Key`. Browsers must come from one of the "
        "site's allowed origins. A visitor identity whose `hmac` does not verify is refused. "
        "Returns the conversation's bearer token and its greeting (seq 1). Limited per "
        "client address and per site (429 with `Retry-After`)."
    ),
    responses=error_responses(401, 403, 413, 422, 429, 503),
    dependencies=[ConversationStartLimit],
)
async def start_conversation(
    widget: Widget,
    site_key: SiteKey,
    origin: BrowserOrigin,
    body: StartConversationRequest | None = Body(default=None),
) -> StartConversationResponse:
    body = body or StartConversationRequest()
    visitor = (
        VisitorIdentity(
            id=body.visitor.id,
            name=body.visitor.name,
            email=body.visitor.email,
            hmac=body.visitor.hmac,
        )
        if body.visitor
        else None
    )
    started = await widget.start_conversation(site_key, origin, visitor, body.locale)
    return StartConversationResponse(
        conversation_id=started.conversation_id,
        visitor_token=started.visitor_token,
        greeting=started.greeting,
    )


@router.delete(
    "/conversations/{conversation_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Forget a conversation",
    description=(
        "Every store forgets the conversation (asynchronously). Open streams close with "
        "code 4410; later requests for it answer 410. Repeating the request is harmless."
    ),
    responses=error_responses(401, 403, 422, 429, 503),
    dependencies=[VisitorRequestLimit],
)
async def delete_conversation(
    conversation_id: uuid.UUID, widget: Widget, visitor: VisitorOfDeleted
) -> Accepted:
    await widget.delete_conversation(visitor)
    return Accepted()
