"""Events of the conversation service (topic ``tandem.conversation.events``), sent through its outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from .answering import Source
from .envelope import Event
from .topics import CONVERSATION_EVENTS
from .visitor import MAX_MESSAGE_CHARS

Author = Literal["visitor", "ai", "agent", "system"]
Status = Literal["active", "pending", "flagged", "resolved", "error"]


class ReplyPosted(Event):
    """A message was stored in the conversation and may be shown to the visitor."""

    topic = CONVERSATION_EVENTS.name
    event_type: Literal["ReplyPosted"] = "ReplyPosted"
    message_id: uuid.UUID
    seq: int = Field(ge=1)
    author: Author
    author_name: str | None = None
    text: str = Field(max_length=MAX_MESSAGE_CHARS)
    created_at: datetime
    in_reply_to: uuid.UUID | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    sources: tuple[Source, ...] = ()
    language: str | None = None


class ConversationStatusChanged(Event):
    topic = CONVERSATION_EVENTS.name
    event_type: Literal["ConversationStatusChanged"] = "ConversationStatusChanged"
    previous_status: Status | None
    status: Status
    reason: str | None = None


class ConversationResolved(Event):
    topic = CONVERSATION_EVENTS.name
    event_type: Literal["ConversationResolved"] = "ConversationResolved"
    resolved_by: Literal["ai", "agent", "visitor", "system"]
    duration_seconds: float = Field(ge=0.0)


class ConversationDeleted(Event):
    """The conversation service forgot the conversation; every other store must forget it too."""

    topic = CONVERSATION_EVENTS.name
    event_type: Literal["ConversationDeleted"] = "ConversationDeleted"
    requested_by: Literal["visitor", "owner"]


class ReplyHeld(Event):
    """An AI reply below the site's hold threshold waits for an agent (never shown meanwhile)."""

    topic = CONVERSATION_EVENTS.name
    event_type: Literal["ReplyHeld"] = "ReplyHeld"
    message_id: uuid.UUID
    in_reply_to: uuid.UUID
    text: str = Field(max_length=MAX_MESSAGE_CHARS)
    confidence: float = Field(ge=0.0, le=1.0)
    sources: tuple[Source, ...] = ()
    language: str | None = None
    hold_until: datetime
    on_timeout: Literal["send", "fallback"]


class HeldReplyReleased(Event):
    """What became of a held reply: sent as is, edited, replaced, the fallback, or discarded.
    Each outcome other than ``approved``/``timeout_sent`` is an override, with its reason."""

    topic = CONVERSATION_EVENTS.name
    event_type: Literal["HeldReplyReleased"] = "HeldReplyReleased"
    message_id: uuid.UUID
    outcome: Literal[
        "approved", "edited", "replaced", "discarded", "timeout_sent", "timeout_fallback"
    ]
    agent_id: str | None = None
    reason: str | None = None
    posted_message_id: uuid.UUID | None = Field(
        default=None, description="the message the visitor saw instead, if any"
    )
