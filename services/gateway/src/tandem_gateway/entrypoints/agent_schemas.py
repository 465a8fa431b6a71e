"""Request and response bodies of the agent console API (``/v1/agent``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..domain.agent_commands import AgentStatus, MessageText, Reason, ReviewDecision, Skill
from ..domain.agents import AgentIdentity, Role
from ..service_layer.agent_auth import AgentSession

_STRICT = ConfigDict(extra="forbid")


class LoginRequest(BaseModel):
    model_config = _STRICT

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class RefreshRequest(BaseModel):
    model_config = _STRICT

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LogoutRequest(BaseModel):
    model_config = _STRICT

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class AgentOut(BaseModel):
    agent_id: str
    site_id: str
    name: str
    role: Role
    skills: list[str]
    languages: list[str]

    @classmethod
    def of(cls, identity: AgentIdentity) -> AgentOut:
        return cls(
            agent_id=identity.agent_id,
            site_id=identity.site_id,
            name=identity.name,
            role=identity.role,
            skills=list(identity.skills),
            languages=list(identity.languages),
        )


class SessionOut(BaseModel):
    access_token: str = Field(description="JWT (HS256); send as `Authorization: Bearer ...`")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int = Field(description="seconds the access token stays valid")
    refresh_token: str = Field(
        description="opaque; exchange at `/v1/agent/refresh` for a new pair (each works once)"
    )
    refresh_expires_in: int
    agent: AgentOut

    @classmethod
    def of(cls, session: AgentSession, now: int) -> SessionOut:
        return cls(
            access_token=session.access_token,
            expires_in=max(0, session.access_claims.expires_at - now),
            refresh_token=session.refresh_token,
            refresh_expires_in=session.refresh_expires_in,
            agent=AgentOut.of(session.identity),
        )


class ConversationList(BaseModel):
    model_config = ConfigDict(extra="allow")

    conversations: list[dict[str, Any]] = Field(
        description="status, assigned agent, last confidence, duration, waiting time, language"
    )


class AgentView(BaseModel):
    model_config = ConfigDict(extra="allow")

    conversation: dict[str, Any]
    messages: list[dict[str, Any]] = Field(
        description="every message with per-message confidence, and held replies with their state"
    )
    held_replies: list[dict[str, Any]]
    notes: list[dict[str, Any]]


class CommandAccepted(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["accepted"] = "accepted"
    command: str


# -- command bodies (the conversation comes from the path) --------------------------------


class _Body(BaseModel):
    model_config = _STRICT

    ref: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="a repeated ref publishes nothing new"
    )


class LeaveBody(_Body):
    hand_back: bool | None = Field(
        default=None, description="hand back to the AI; omitted: the site's policy decides"
    )


class ReplyBody(_Body):
    text: MessageText
    client_message_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class ReviewBody(_Body):
    decision: ReviewDecision
    text: MessageText | None = Field(default=None, description="required to edit or replace")
    reason: Reason | None = None


class NoteBody(_Body):
    text: MessageText


class CorrectBody(_Body):
    message_id: uuid.UUID
    text: MessageText
    reason: Reason | None = None


class EscalateBody(_Body):
    reason: Reason | None = None
    skill: Skill | None = None


class TransferBody(_Body):
    to_agent_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    to_skill: Skill | None = None
    note: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
        | None
    ) = None


class PresenceBody(_Body):
    status: AgentStatus
    max_concurrent: int | None = Field(default=None, ge=0, le=100)
