"""Events the gateway publishes on behalf of visitors (topic ``tandem.visitor.events``)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .envelope import Event
from .topics import VISITOR_EVENTS

MAX_MESSAGE_CHARS = 4000


class ConversationStarted(Event):
    topic = VISITOR_EVENTS.name
    event_type: Literal["ConversationStarted"] = "ConversationStarted"
    visitor_id: str | None = Field(default=None, max_length=128)
    visitor_name: str | None = Field(default=None, max_length=200)
    visitor_email: str | None = Field(default=None, max_length=320)
    identity_verified: bool = False
    locale: str | None = Field(default=None, max_length=16)
    # The greeting the visitor was shown, stored as the conversation's first message.
    greeting_message_id: uuid.UUID
    greeting_seq: int = Field(ge=1)
    greeting_text: str = Field(max_length=MAX_MESSAGE_CHARS)


class MessageReceived(Event):
    topic = VISITOR_EVENTS.name
    event_type: Literal["MessageReceived"] = "MessageReceived"
    message_id: uuid.UUID
    client_message_id: str = Field(min_length=1, max_length=128)
    seq: int = Field(ge=1)
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    locale: str | None = Field(default=None, max_length=16)


class ConversationRated(Event):
    topic = VISITOR_EVENTS.name
    event_type: Literal["ConversationRated"] = "ConversationRated"
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class HumanRequested(Event):
    """The visitor pressed the widget's "talk to a person" button."""

    topic = VISITOR_EVENTS.name
    event_type: Literal["HumanRequested"] = "HumanRequested"


class ConversationDeletionRequested(Event):
    """The visitor (or an owner) asked for the conversation to be forgotten everywhere."""

    topic = VISITOR_EVENTS.name
    event_type: Literal["ConversationDeletionRequested"] = "ConversationDeletionRequested"
    requested_by: Literal["visitor", "owner"] = "visitor"
