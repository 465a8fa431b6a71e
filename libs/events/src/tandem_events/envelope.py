"""The envelope every Tandem event carries.

Events are facts in the past tense. They are frozen so a handler can never mutate what it
received, and keyed on the wire by ``conversation_id`` so one conversation's events keep
their order within a topic.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of all events. Subclasses set ``event_type`` as a ``Literal`` and ``schema_version``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Topic the event belongs to; set by each subclass, never serialised.
    topic: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utc_now)
    site_id: str = Field(min_length=1, max_length=64)
    conversation_id: uuid.UUID
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None

    @property
    def key(self) -> bytes:
        """Kafka key: the conversation, so per-conversation order holds within a topic."""
        return str(self.conversation_id).encode()

    def caused(self, **envelope: Any) -> dict[str, Any]:
        """Envelope fields for an event caused by this one (same site, conversation, correlation)."""
        return {
            "site_id": self.site_id,
            "conversation_id": self.conversation_id,
            "correlation_id": self.correlation_id or self.event_id,
            "causation_id": self.event_id,
            **envelope,
        }


def deterministic_event_id(*parts: object) -> uuid.UUID:
    """An event id derived from what caused it.

    A consumer that is redelivered its input and publishes again produces the same id, so
    the next consumer's inbox recognises the duplicate.
    """
    return uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts))


_NAMESPACE = uuid.UUID("6f1c9a8e-3f4b-4d8e-9a51-7d2f0c1b5e10")
