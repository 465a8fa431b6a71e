"""The conversation service's AsyncAPI document, generated from its faststream subscribers."""

from __future__ import annotations

from faststream.specification import AsyncAPI
from tandem_events import (
    ConversationDeleted,
    ConversationResolved,
    ConversationStatusChanged,
    HeldReplyReleased,
    ReplyHeld,
    ReplyPosted,
)
from tandem_events.topics import CONVERSATION_EVENTS

from .app import build_broker
from .entrypoints import consumers
from .handlers import Deps
from .settings import ConversationSettings


def build_asyncapi() -> str:
    settings = ConversationSettings()
    broker, _ = build_broker(settings)
    consumers.register(broker, settings, Deps())
    # Published through the outbox relay, declared here so the document shows them.
    broker.publisher(
        CONVERSATION_EVENTS.name,
        title="conversation.events",
        description=CONVERSATION_EVENTS.description,
        schema=ReplyPosted
        | ConversationStatusChanged
        | ConversationResolved
        | ConversationDeleted
        | ReplyHeld
        | HeldReplyReleased,
    )
    spec = AsyncAPI(
        broker,
        title="Tandem conversation service",
        version="0.1.0",
        description="Consumes visitor, answer, escalation and agent events; publishes conversation facts.",
    )
    return spec.to_specification().to_json()
