"""Live frames of the widget API (API.md) and how events become frames.

Frames reach sockets through Redis pub/sub, never straight from Kafka: any replica's
consumer turns an event into a frame and every replica holding a socket for that
conversation forwards it. Message frames carry ``seq``, which is what lets a socket merge
the stored history with the live stream without gaps or duplicates (``DeliveredMessages``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer
from tandem_events import (
    AgentJoined,
    AgentLeft,
    Author,
    ConversationDeleted,
    ConversationStatusChanged,
    EscalationRaised,
    Event,
    ReplyPosted,
    Status,
)

#: Websocket close codes (4000-4999 are the application's). Clients reconnect after any
#: other code; after these they must not.
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_CONVERSATION_DELETED = 4410


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as the conversation service writes it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SourceLink(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    url: str | None = None


class AgentRef(BaseModel):
    name: str


class MessageFrame(BaseModel):
    """One stored message. ``confidence``, ``sources`` and ``language`` only on AI answers."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["message"] = "message"
    seq: int = Field(ge=1)
    message_id: uuid.UUID
    author: Author
    author_name: str | None = None
    text: str
    created_at: datetime
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    sources: list[SourceLink] | None = None
    language: str | None = None

    @field_serializer("created_at")
    def _utc_z(self, value: datetime) -> str:
        return format_timestamp(value)


class StatusFrame(BaseModel):
    type: Literal["status"] = "status"
    status: Status


class TypingFrame(BaseModel):
    type: Literal["typing"] = "typing"
    author: Literal["agent", "ai"]


class HandoffFrame(BaseModel):
    type: Literal["handoff"] = "handoff"
    state: Literal["requested", "agent_joined", "agent_left"]
    agent: AgentRef | None = None


Frame = MessageFrame | StatusFrame | TypingFrame | HandoffFrame


def frame_json(frame: Frame) -> dict[str, Any]:
    return frame.model_dump(mode="json", exclude_none=True)


def close_order(code: int, reason: str) -> dict[str, Any]:
    """An internal control frame: every socket of the conversation closes with ``code``.
    Never forwarded to clients."""
    return {"type": "control", "action": "close", "code": code, "reason": reason}


def is_close_order(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "control" and frame.get("action") == "close"


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """What to push for one event: a frame (or close order) for one conversation's sockets."""

    conversation_id: uuid.UUID
    site_id: str
    frame: dict[str, Any]
    forget_conversation: bool = False


def message_frame_for(event: ReplyPosted) -> MessageFrame:
    is_ai = event.author == "ai"
    return MessageFrame(
        seq=event.seq,
        message_id=event.message_id,
        author=event.author,
        author_name=event.author_name,
        text=event.text,
        created_at=event.created_at,
        confidence=event.confidence if is_ai else None,
        sources=[SourceLink(title=s.title, url=s.url) for s in event.sources] if is_ai else None,
        language=event.language if is_ai else None,
    )


def live_update_for(event: Event) -> LiveUpdate | None:
    """The frame a socket should see for ``event``, or None when it shows nothing."""
    frame: Frame
    match event:
        case ReplyPosted():
            frame = message_frame_for(event)
        case ConversationStatusChanged():
            frame = StatusFrame(status=event.status)
        case EscalationRaised():
            frame = HandoffFrame(state="requested")
        case AgentJoined():
            frame = HandoffFrame(state="agent_joined", agent=AgentRef(name=event.agent_name))
        case AgentLeft():
            frame = HandoffFrame(state="agent_left", agent=AgentRef(name=event.agent_name))
        case ConversationDeleted():
            return LiveUpdate(
                conversation_id=event.conversation_id,
                site_id=event.site_id,
                frame=close_order(CLOSE_CONVERSATION_DELETED, "conversation deleted"),
                forget_conversation=True,
            )
        case _:
            return None
    return LiveUpdate(
        conversation_id=event.conversation_id, site_id=event.site_id, frame=frame_json(frame)
    )


class DeliveredMessages:
    """Which message ``seq``s a socket has already delivered (or the client already had).

    Stored history and live frames overlap while a socket starts, and Kafka redelivery can
    repeat a frame; each ``seq`` is delivered once. A set rather than a high-water mark, so
    a message that arrives after a later one (different topics, different writers) is
    still delivered. Contiguous ``seq``s fold into the floor to keep the set small.
    """

    def __init__(self, after_seq: int) -> None:
        self._floor = max(0, after_seq)
        self._above_floor: set[int] = set()

    @property
    def highest(self) -> int:
        return max(self._above_floor, default=self._floor)

    def admit(self, seq: int) -> bool:
        """True the first time ``seq`` is offered (and it is above ``after_seq``)."""
        if seq <= self._floor or seq in self._above_floor:
            return False
        self._above_floor.add(seq)
        while self._floor + 1 in self._above_floor:
            self._floor += 1
            self._above_floor.discard(self._floor)
        return True
