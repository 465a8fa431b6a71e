"""Identities of the messages the gateway accepts.

A visitor message's id is derived from the conversation and the client's own id for it,
so a resend (same ``client_message_id``) names the same message everywhere, even if the
gateway's idempotency record was lost.
"""

from __future__ import annotations

import uuid

from tandem_events import deterministic_event_id


def visitor_message_id(conversation_id: uuid.UUID, client_message_id: str) -> uuid.UUID:
    return uuid.uuid5(conversation_id, client_message_id)


def message_received_event_id(conversation_id: uuid.UUID, client_message_id: str) -> uuid.UUID:
    """Every publish attempt of one visitor message carries the same event id, so the
    consumers' inboxes absorb an attempt that reached Kafka after the client saw a 503."""
    return deterministic_event_id("MessageReceived", conversation_id, client_message_id)


def greeting_message_id(conversation_id: uuid.UUID) -> uuid.UUID:
    # Not uuid5(conversation_id, ...): a client could choose any client_message_id.
    return deterministic_event_id("greeting", conversation_id)
