"""Events of the escalation service (topic ``tandem.escalation.events``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .envelope import Event
from .topics import ESCALATION_EVENTS

EscalationReason = Literal[
    "low_confidence",
    "repeated_question",
    "frustration",
    "human_requested",
    "sensitive_topic",
    "manual",
]


class EscalationRaised(Event):
    topic = ESCALATION_EVENTS.name
    event_type: Literal["EscalationRaised"] = "EscalationRaised"
    reason: EscalationReason
    detail: str = Field(max_length=500)
    summary: str = Field(
        max_length=4000, description="what was asked and answered, so an agent need not read it all"
    )
    language: str | None = None


class AgentAssigned(Event):
    topic = ESCALATION_EVENTS.name
    event_type: Literal["AgentAssigned"] = "AgentAssigned"
    agent_id: str
    agent_name: str
    assignment: Literal["routed", "transfer", "reassigned"] = "routed"
    previous_agent_id: str | None = None
    matched_skill: str | None = None


class EscalationQueued(Event):
    """No agent could take the conversation yet: where it stands and an honest wait estimate."""

    topic = ESCALATION_EVENTS.name
    event_type: Literal["EscalationQueued"] = "EscalationQueued"
    position: int = Field(ge=1)
    queue_length: int = Field(ge=1)
    estimated_wait_seconds: float | None = Field(
        default=None, ge=0.0, description="None when no agent is available at all"
    )
    required_skill: str | None = None
    language: str | None = None
    priority: Literal["normal", "vip"] = "normal"
    within_business_hours: bool = True
    offline_message: str | None = None
