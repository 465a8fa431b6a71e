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
