"""Request and response bodies of the public widget API (API.md)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from tandem_events import MAX_MESSAGE_CHARS

from ..domain.frames import MessageFrame

# Unknown fields are ignored rather than refused, so newer widgets keep working with an
# older gateway; every known field is checked.
_LENIENT = ConfigDict(extra="ignore")

# C0 controls but tab, newline and carriage return, and DEL. PostgreSQL text cannot hold
# NUL at all: accepting one here would fail in the conversation service, not here.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


#: Free text from a client: no control characters besides tab and line breaks. Put
#: after any ``StringConstraints``, so length is checked by pydantic's own str schema.
NoControlCharacters = AfterValidator(_no_control_characters)

LocaleTag = Annotated[
    str,
    StringConstraints(max_length=16, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"),
]


class VisitorIn(BaseModel):
    model_config = _LENIENT

    id: (
        Annotated[str, StringConstraints(min_length=1, max_length=128), NoControlCharacters] | None
    ) = None
    name: Annotated[str, StringConstraints(max_length=200), NoControlCharacters] | None = None
    email: Annotated[str, StringConstraints(max_length=320), NoControlCharacters] | None = None
    hmac: (
        Annotated[str, StringConstraints(min_length=1, max_length=128), NoControlCharacters] | None
    ) = Field(
        default=None,
        description="hex HMAC-SHA256 of `id` keyed with the site's identity secret",
    )


class StartConversationRequest(BaseModel):
    model_config = _LENIENT

    visitor: VisitorIn | None = None
    locale: LocaleTag | None = Field(default=None, description="BCP 47 tag, e.g. `fr` or `pt-BR`")


class StartConversationResponse(BaseModel):
    conversation_id: uuid.UUID
    visitor_token: str = Field(description="opaque bearer token for this conversation only")
    greeting: MessageFrame


class SendMessageRequest(BaseModel):
    model_config = _LENIENT

    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS),
        NoControlCharacters,
    ] = Field(
        description=f"1 to {MAX_MESSAGE_CHARS} characters once surrounding spaces are removed"
    )
    client_message_id: Annotated[
        str, StringConstraints(min_length=1, max_length=128), NoControlCharacters
    ] = Field(description="chosen by the client; resending it returns the first result")


class MessageAccepted(BaseModel):
    message_id: uuid.UUID
    seq: int


class MessagesResponse(BaseModel):
    messages: list[MessageFrame]


class RatingRequest(BaseModel):
    model_config = _LENIENT

    score: int = Field(ge=1, le=5)
    comment: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, max_length=2000), NoControlCharacters
        ]
        | None
    ) = None


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable", examples=["invalid_site_key"])
    message: str = Field(description="for humans")


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses a route can answer."""
    descriptions = {
        401: "Missing or invalid credentials",
        403: "Not allowed (origin, another conversation's token, or the agent's role)",
        404: "Not found",
        409: "The same client_message_id is still being accepted",
        410: "The conversation was deleted",
        413: "Request body too large",
        422: "Malformed or invalid input",
        429: "Too many requests (a rate limit); retry after `Retry-After` seconds",
        503: "A dependency is unavailable; retry",
    }
    return {
        status: {"model": ErrorResponse, "description": descriptions[status]} for status in statuses
    }
