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
    AgentAssigned,
    AgentJoined,
    AgentLeft,
    AgentPresenceChanged,
    Author,
    ConversationDeleted,
    ConversationResolved,
    ConversationStatusChanged,
    ConversationTransferred,
    EscalationQueued,
    EscalationRaised,
    Event,
    HeldReplyReleased,
    NoteAdded,
    ReplyHeld,
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
    """What to push for one event: a frame (or close order) for the conversation's sockets
    (the visitor's), and one for the site's agent consoles.

    ``frame=None``: the visitor sees nothing (notes, held replies, assignments). The
    console frame defaults to the visitor's frame tagged with the conversation id;
    ``to_console=False`` keeps it off the consoles (an agent's own typing indicator).
    """

    conversation_id: uuid.UUID
    site_id: str
    frame: dict[str, Any] | None
    forget_conversation: bool = False
    console_frame: dict[str, Any] | None = None
    to_console: bool = True

    def for_console(self) -> dict[str, Any] | None:
        if not self.to_console:
            return None
        if self.console_frame is not None:
            return self.console_frame
        if self.frame is None or is_close_order(self.frame):
            return None
        return {**self.frame, "conversation_id": str(self.conversation_id)}


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


def _console(event: Event, frame_type: str, **fields: Any) -> dict[str, Any]:
    """A console frame: always names its conversation; ``None`` fields are left out."""
    body = {k: v for k, v in fields.items() if v is not None}
    return {"type": frame_type, "conversation_id": str(event.conversation_id), **body}


def _agent(agent_id: str, name: str) -> dict[str, str]:
    return {"id": agent_id, "name": name}


def _console_only(event: Event, frame: dict[str, Any]) -> LiveUpdate:
    return LiveUpdate(
        conversation_id=event.conversation_id,
        site_id=event.site_id,
        frame=None,
        console_frame=frame,
    )


def live_update_for(event: Event) -> LiveUpdate | None:
    """The frames sockets should see for ``event``, or None when nobody is shown anything.

    Visitors see messages, status, and hand-off states with the agent's *name* only;
    consoles additionally see escalations with their summary, queue positions,
    assignments, held replies, notes and presence, with agent ids.
    """
    frame: Frame
    console: dict[str, Any] | None = None
    match event:
        case ReplyPosted():
            frame = message_frame_for(event)
        case ConversationStatusChanged():
            frame = StatusFrame(status=event.status)
            console = _console(
                event,
                "status",
                status=event.status,
                previous_status=event.previous_status,
                reason=event.reason,
            )
        case EscalationRaised():
            frame = HandoffFrame(state="requested")
            console = _console(
                event,
                "escalation",
                reason=event.reason,
                detail=event.detail,
                summary=event.summary,
                language=event.language,
                occurred_at=format_timestamp(event.occurred_at),
            )
        case AgentJoined():
            frame = HandoffFrame(state="agent_joined", agent=AgentRef(name=event.agent_name))
            console = _console(
                event,
                "handoff",
                state="agent_joined",
                agent=_agent(event.agent_id, event.agent_name),
            )
        case AgentLeft():
            frame = HandoffFrame(state="agent_left", agent=AgentRef(name=event.agent_name))
            console = _console(
                event,
                "handoff",
                state="agent_left",
                agent=_agent(event.agent_id, event.agent_name),
                ai_resumes=event.ai_resumes,
            )
        case ConversationTransferred():
            # For the visitor the conversation is back to waiting for a person.
            frame = HandoffFrame(state="requested")
            console = _console(
                event,
                "transfer",
                from_agent=_agent(event.from_agent_id, event.from_agent_name),
                to_agent_id=event.to_agent_id,
                to_skill=event.to_skill,
                note=event.note,
            )
        case AgentAssigned():
            return _console_only(
                event,
                _console(
                    event,
                    "assignment",
                    agent=_agent(event.agent_id, event.agent_name),
                    assignment=event.assignment,
                    previous_agent_id=event.previous_agent_id,
                    matched_skill=event.matched_skill,
                ),
            )
        case EscalationQueued():
            return _console_only(
                event,
                _console(
                    event,
                    "queue",
                    position=event.position,
                    queue_length=event.queue_length,
                    estimated_wait_seconds=event.estimated_wait_seconds,
                    required_skill=event.required_skill,
                    language=event.language,
                    priority=event.priority,
                    within_business_hours=event.within_business_hours,
                ),
            )
        case ReplyHeld():
            return _console_only(
                event,
                _console(
                    event,
                    "held_reply",
                    message_id=str(event.message_id),
                    in_reply_to=str(event.in_reply_to),
                    text=event.text,
                    confidence=event.confidence,
                    sources=[{"title": s.title, "url": s.url} for s in event.sources],
                    language=event.language,
                    hold_until=format_timestamp(event.hold_until),
                    on_timeout=event.on_timeout,
                ),
            )
        case HeldReplyReleased():
            return _console_only(
                event,
                _console(
                    event,
                    "held_reply_released",
                    message_id=str(event.message_id),
                    outcome=event.outcome,
                    agent_id=event.agent_id,
                    reason=event.reason,
                    posted_message_id=(
                        str(event.posted_message_id) if event.posted_message_id else None
                    ),
                ),
            )
        case NoteAdded():
            # Internal: never on the conversation's own channel, which the visitor reads.
            return _console_only(
                event,
                _console(
                    event,
                    "note",
                    note_id=str(event.note_id),
                    agent=_agent(event.agent_id, event.agent_name),
                    text=event.text,
                    created_at=format_timestamp(event.occurred_at),
                ),
            )
        case ConversationResolved():
            return _console_only(
                event,
                _console(
                    event,
                    "resolved",
                    resolved_by=event.resolved_by,
                    duration_seconds=event.duration_seconds,
                ),
            )
        case AgentPresenceChanged():
            return _console_only(
                event,
                {
                    "type": "presence",
                    "agent": _agent(event.agent_id, event.agent_name),
                    "status": event.status,
                    "max_concurrent": event.max_concurrent,
                },
            )
        case ConversationDeleted():
            return LiveUpdate(
                conversation_id=event.conversation_id,
                site_id=event.site_id,
                frame=close_order(CLOSE_CONVERSATION_DELETED, "conversation deleted"),
                forget_conversation=True,
                console_frame=_console(event, "deleted"),
            )
        case _:
            return None
    return LiveUpdate(
        conversation_id=event.conversation_id,
        site_id=event.site_id,
        frame=frame_json(frame),
        console_frame=console,
    )


#: Console frames that concern one conversation in detail: a socket receives them only
#: for conversations it watches. Everything else (escalations, queue, assignments, status,
#: held replies, hand-offs, presence) reaches every console of the site.
WATCHED_ONLY_FRAMES = frozenset({"message", "note"})


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
