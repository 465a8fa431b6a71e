"""A conversation's rating by its visitor."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from .deps import Visitor, VisitorRequestLimit, Widget
from .schemas import RatingRequest, error_responses

router = APIRouter(prefix="/v1/widget", tags=["widget: rating"])


@router.post(
    "/conversations/{conversation_id}/rating",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Rate the conversation (1 to 5)",
    responses=error_responses(401, 403, 410, 413, 422, 429, 503),
    dependencies=[VisitorRequestLimit],
)
async def rate_conversation(
    conversation_id: uuid.UUID, body: RatingRequest, widget: Widget, visitor: Visitor
) -> Response:
    await widget.rate(visitor, body.score, body.comment or None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
