"""Who an agent is, and what an agent may do to a conversation.

Every rule is checked against the signed-in agent's own site first: an agent never sees
or touches another site's conversations (the caller answers "not found", so ids of other
tenants cannot even be confirmed). Within the site:

* anyone may watch, add an internal note, or escalate by hand;
* an agent joins a conversation nobody else holds; owners and admins may take over one
  another agent holds;
* only the agent who joined (holds) the conversation replies, types, leaves — the AI is
  paused while a human speaks, so nobody talks without holding it;
* resolving and transferring: the holder, or an owner/admin;
* reviewing a held AI reply and correcting a sent one: the holder, any agent while nobody
  holds the conversation (the AI has it), or an owner/admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["owner", "admin", "agent"]
ROLES: tuple[Role, ...] = ("owner", "admin", "agent")

Action = Literal[
    "watch",
    "note",
    "escalate",
    "join",
    "reply",
    "typing",
    "leave",
    "resolve",
    "transfer",
    "review",
    "correct",
]


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    agent_id: str
    site_id: str
    name: str
    role: Role
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def manages(self) -> bool:
        """Owners and admins may act on conversations that are not theirs."""
        return self.role in ("owner", "admin")


@dataclass(frozen=True, slots=True)
class ConversationAccess:
    """What the rules need to know about a conversation."""

    site_id: str
    holder_id: str | None  # the agent who joined and holds it, if any
    status: str = "active"


class ActionRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotThisSite(ActionRefused):
    """The conversation belongs to another site (report it as unknown)."""


def check_action(actor: AgentIdentity, action: Action, conversation: ConversationAccess) -> None:
    """Raise ``ActionRefused`` unless ``actor`` may do ``action`` to ``conversation``."""
    if conversation.site_id != actor.site_id:
        raise NotThisSite("unknown conversation")
    holder = conversation.holder_id
    mine = holder == actor.agent_id
    match action:
        case "watch" | "note" | "escalate":
            return
        case "join":
            if holder is None or mine or actor.manages:
                return
            raise ActionRefused("another agent holds this conversation; ask an admin to take over")
        case "reply" | "typing" | "leave":
            if mine:
                return
            raise ActionRefused("join the conversation first")
        case "resolve" | "transfer":
            if mine or actor.manages:
                return
            raise ActionRefused("only the agent who joined, or an admin, may do this")
        case "review" | "correct":
            if mine or holder is None or actor.manages:
                return
            raise ActionRefused("another agent holds this conversation")
    raise ActionRefused(f"unknown action {action!r}")


def ai_resumes_after_leave(site_default: bool, requested: bool | None) -> bool:
    """Whether the AI takes over again when an agent leaves: the agent's explicit choice,
    else the site's policy."""
    return site_default if requested is None else requested
