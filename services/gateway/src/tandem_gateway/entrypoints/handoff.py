"""The widget's "talk to a person" button."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from .deps import Visitor, VisitorRequestLimit, Widget
from .schemas import Accepted, error_responses

router = APIRouter(prefix="/v1/widget", tags=["widget: handoff"])


@router.post(
    "/conversations/{conversation_id}/handoff",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Ask for a human agent",
    description=(
        "The escalation service routes the conversation to an agent; the stream then shows "
        "`handoff` frames (`requested`, `agent_joined`, `agent_left`)."
    ),
    responses=error_responses(401, 403, 410, 422, 429, 503),
    dependencies=[VisitorRequestLimit],
)
async def request_human(conversation_id: uuid.UUID, widget: Widget, visitor: Visitor) -> Accepted:
    await widget.request_human(visitor)
    return Accepted()
