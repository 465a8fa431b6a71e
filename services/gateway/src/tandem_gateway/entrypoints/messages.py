"""A conversation's messages: send one, read those after a seq."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from .deps import Visitor, VisitorRequestLimit, Widget
from .schemas import MessageAccepted, MessagesResponse, SendMessageRequest, error_responses

router = APIRouter(prefix="/v1/widget", tags=["widget: messages"])


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageAccepted,
    summary="Send a visitor message",
    description=(
        "Answers once the message is durable in Kafka. Resending the same "
        "`client_message_id` returns the same `message_id` and `seq` and creates nothing new."
    ),
    responses=error_responses(401, 403, 409, 410, 413, 422, 429, 503),
    dependencies=[VisitorRequestLimit],
)
async def send_message(
    conversation_id: uuid.UUID, body: SendMessageRequest, widget: Widget, visitor: Visitor
) -> MessageAccepted:
    accepted = await widget.send_message(visitor, body.text, body.client_message_id)
    return MessageAccepted(message_id=accepted.message_id, seq=accepted.seq)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=MessagesResponse,
    response_model_exclude_none=True,
    summary="Read stored messages after a seq",
    description=(
        "Messages with `seq > after_seq` in order, at most `limit`; page on with the last "
        "`seq` received. Live updates come from the websocket stream."
    ),
    responses=error_responses(401, 403, 410, 422, 429, 503),
    dependencies=[VisitorRequestLimit],
)
async def read_messages(
    conversation_id: uuid.UUID,
    widget: Widget,
    visitor: Visitor,
    after_seq: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
) -> MessagesResponse:
    return MessagesResponse(messages=await widget.read_messages(visitor, after_seq, limit))
