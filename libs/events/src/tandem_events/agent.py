"""Events of human agents, published by the gateway from console actions (topic ``tandem.agent.events``)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .envelope import Event
from .topics import AGENT_EVENTS
from .visitor import MAX_MESSAGE_CHARS


class AgentJoined(Event):
    """From now on the AI must not reply in this conversation until the agent hands it back."""

    topic = AGENT_EVENTS.name
    event_type: Literal["AgentJoined"] = "AgentJoined"
    agent_id: str
    agent_name: str


class AgentLeft(Event):
    topic = AGENT_EVENTS.name
    event_type: Literal["AgentLeft"] = "AgentLeft"
    agent_id: str
    agent_name: str
    ai_resumes: bool = Field(description="whether the agent handed the conversation back to the AI")


class AgentReplied(Event):
    topic = AGENT_EVENTS.name
    event_type: Literal["AgentReplied"] = "AgentReplied"
    agent_id: str
    agent_name: str
    message_id: uuid.UUID
    seq: int = Field(ge=1)
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class NoteAdded(Event):
    """An internal note on a conversation: for agents only, never shown to the visitor."""

    topic = AGENT_EVENTS.name
    event_type: Literal["NoteAdded"] = "NoteAdded"
    agent_id: str
    agent_name: str
    note_id: uuid.UUID
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


HeldReplyDecision = Literal["approve", "edit", "replace", "discard"]


class HeldReplyReviewed(Event):
    """An agent decided what happens to an AI reply held for review."""

    topic = AGENT_EVENTS.name
    event_type: Literal["HeldReplyReviewed"] = "HeldReplyReviewed"
    agent_id: str
    agent_name: str
    held_message_id: uuid.UUID
    decision: HeldReplyDecision
    text: str | None = Field(
        default=None, max_length=MAX_MESSAGE_CHARS, description="the edited or replacing text"
    )
    reason: str | None = Field(default=None, max_length=500)


class ReplyCorrected(Event):
    """An agent corrected a reply the visitor already saw; the correction is a new message."""

    topic = AGENT_EVENTS.name
    event_type: Literal["ReplyCorrected"] = "ReplyCorrected"
    agent_id: str
    agent_name: str
    corrected_message_id: uuid.UUID
    correction_message_id: uuid.UUID
    seq: int = Field(ge=1)
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    reason: str | None = Field(default=None, max_length=500)


class ConversationTransferred(Event):
    """An agent handed the conversation to another agent, or back to the queue for a skill."""

    topic = AGENT_EVENTS.name
    event_type: Literal["ConversationTransferred"] = "ConversationTransferred"
    from_agent_id: str
    from_agent_name: str
    to_agent_id: str | None = None
    to_skill: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class EscalationRequested(Event):
    """An agent or admin escalated by hand (the escalation service raises it as ``manual``)."""

    topic = AGENT_EVENTS.name
    event_type: Literal["EscalationRequested"] = "EscalationRequested"
    requested_by_id: str
    requested_by_name: str
    reason: str | None = Field(default=None, max_length=500)
    skill: str | None = Field(default=None, max_length=64)


class ResolutionRequested(Event):
    """Someone marked the conversation resolved; the conversation service decides and records it."""

    topic = AGENT_EVENTS.name
    event_type: Literal["ResolutionRequested"] = "ResolutionRequested"
    requested_by: Literal["agent", "visitor", "system"]
    agent_id: str | None = None
    agent_name: str | None = None


AgentStatus = Literal["available", "busy", "away", "offline"]


class AgentPresenceChanged(Event):
    """An agent's availability and capacity. Not about one conversation: ``conversation_id`` is
    the nil UUID and the Kafka key is the agent, so one agent's changes stay in order."""

    topic = AGENT_EVENTS.name
    event_type: Literal["AgentPresenceChanged"] = "AgentPresenceChanged"
    agent_id: str
    agent_name: str
    status: AgentStatus
    max_concurrent: int = Field(default=3, ge=0, le=100)
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def key(self) -> bytes:
        return f"{self.site_id}:{self.agent_id}".encode()
