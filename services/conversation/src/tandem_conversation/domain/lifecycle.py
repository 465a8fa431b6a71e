"""The conversation lifecycle as an explicit state machine, and who may speak when.

Pure rules: no I/O. The service layer asks these functions what to do and persists the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Status = Literal["active", "pending", "flagged", "resolved", "error"]

STATUSES: tuple[Status, ...] = ("active", "pending", "flagged", "resolved", "error")

# Which status changes are legal. "pending" = waiting for a human; "flagged" = an agent or a
# quality rule marked it for review; "error" = something failed that a person must look at.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    "active": frozenset({"pending", "flagged", "resolved", "error"}),
    "pending": frozenset({"active", "flagged", "resolved", "error"}),
    "flagged": frozenset({"active", "pending", "resolved", "error"}),
    "resolved": frozenset({"active"}),  # a new visitor message reopens it
    "error": frozenset({"active", "pending", "resolved"}),
}


class IllegalTransitionError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ConversationState:
    status: Status = "active"
    assigned_agent_id: str | None = None
    assigned_agent_name: str | None = None
    ai_paused: bool = False

    def transition(self, to: Status) -> ConversationState:
        if to == self.status:
            return self
        if to not in TRANSITIONS[self.status]:
            raise IllegalTransitionError(f"cannot go from {self.status} to {to}")
        return replace(self, status=to)

    # --- reactions to facts -------------------------------------------------------------

    def on_visitor_message(self) -> ConversationState:
        """A visitor writing into a resolved conversation reopens it."""
        return self.transition("active") if self.status == "resolved" else self

    def on_escalation(self) -> ConversationState:
        if self.assigned_agent_id is not None or self.status in ("pending", "resolved"):
            return self
        return self.transition("pending")

    def on_agent_joined(self, agent_id: str, agent_name: str) -> ConversationState:
        # From here on the AI stays silent until the agent hands the conversation back.
        moved = self if self.status == "active" else self.transition("active")
        return replace(
            moved, assigned_agent_id=agent_id, assigned_agent_name=agent_name, ai_paused=True
        )

    def on_agent_left(self, agent_id: str, ai_resumes: bool) -> ConversationState:
        if self.assigned_agent_id != agent_id:
            # Only the agent holding the conversation can hand it back; a leave from anyone
            # else (stale, or after a transfer) changes nothing.
            return self
        return replace(
            self, assigned_agent_id=None, assigned_agent_name=None, ai_paused=not ai_resumes
        )

    def on_resolved(self) -> ConversationState:
        return self.transition("resolved")


AiReplyDecision = Literal["post", "suppress_agent_active"]


def decide_ai_reply(state: ConversationState) -> AiReplyDecision:
    """May an AI answer be shown? Never while a human agent has the conversation."""
    if state.ai_paused or state.assigned_agent_id is not None:
        return "suppress_agent_active"
    return "post"
