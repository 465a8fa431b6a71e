"""What the use cases need from the outside world; adapters implement these."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tandem_events import Event

from ..domain.frames import LiveUpdate, MessageFrame
from ..domain.sites import Site


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """The idempotency record of one visitor message.

    ``published`` is False while (or after a failed attempt at) publishing: a resend then
    publishes again with the same seq, time and event id instead of taking new ones.
    """

    message_id: uuid.UUID
    seq: int
    occurred_at: datetime
    published: bool


class SiteDirectory(Protocol):
    async def by_key(self, public_key: str) -> Site | None: ...

    async def by_id(self, site_id: str) -> Site | None: ...


class ConversationHistory(Protocol):
    async def messages_after(
        self, conversation_id: uuid.UUID, after_seq: int, limit: int
    ) -> list[MessageFrame] | None:
        """Stored messages with ``seq > after_seq`` in order; None for an unknown conversation."""
        ...


class EventSink(Protocol):
    async def publish(self, event: Event) -> None:
        """Return once Kafka acknowledged ``event``; raise ``Unavailable`` otherwise."""
        ...


class SequenceSource(Protocol):
    async def next(self, conversation_id: uuid.UUID) -> int: ...


class MessageLock(Protocol):
    async def release(self) -> None: ...


class IdempotencyStore(Protocol):
    async def get(
        self, conversation_id: uuid.UUID, client_message_id: str
    ) -> AcceptedMessage | None: ...

    async def put(
        self, conversation_id: uuid.UUID, client_message_id: str, record: AcceptedMessage
    ) -> None: ...

    async def try_lock(
        self, conversation_id: uuid.UUID, client_message_id: str, ttl_seconds: float
    ) -> MessageLock | None:
        """A lock on one (conversation, client message), or None while someone holds it."""
        ...


class ConversationFlags(Protocol):
    async def is_deleted(self, conversation_id: uuid.UUID) -> bool: ...

    async def mark_deleted(self, conversation_id: uuid.UUID) -> None: ...

    async def forget(self, conversation_id: uuid.UUID) -> None:
        """Delete every key the gateway holds for the conversation (but the deleted mark)."""
        ...


class LiveFanout(Protocol):
    async def publish(self, update: LiveUpdate) -> None: ...
