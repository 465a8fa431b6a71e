"""The conversation lifecycle as an explicit state machine, and who may speak when.

Pure rules: no I/O. The service layer asks these functions what to do and persists the answer.

Three things are tracked besides the status:

* the **assignee** — the agent routing picked (``AgentAssigned``) or who joined. Being
  assigned does not silence the AI: the visitor keeps getting answers until a human is
  actually there.
* whether that agent has **joined** (``AgentJoined``): from then on the agent *holds* the
  conversation and the AI is paused.
* whether the AI is **paused**. A join pauses it; only the holding agent's hand-back
  (``AgentLeft`` with ``ai_resumes``) resumes it. A transfer keeps it paused: the
  conversation stays with humans while it waits for the next agent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Status = Literal["active", "pending", "flagged", "resolved", "error"]

STATUSES: tuple[Status, ...] = ("active", "pending", "flagged", "resolved", "error")

# Which status changes are legal. "pending" = waiting for a human; "flagged" = an AI reply
# is held for an agent's review (or someone marked it); "error" = something failed that a
# person must look at.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    "active": frozenset({"pending", "flagged", "resolved", "error"}),
    "pending": frozenset({"active", "flagged", "resolved", "error"}),
    "flagged": frozenset({"active", "pending", "resolved", "error"}),
    "resolved": frozenset({"active"}),  # a new visitor message (or an agent joining) reopens it
    "error": frozenset({"active", "pending", "resolved"}),
}

Assignment = Literal["routed", "transfer", "reassigned"]


class IllegalTransitionError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ConversationState:
    status: Status = "active"
    assigned_agent_id: str | None = None
    assigned_agent_name: str | None = None
    agent_joined: bool = False
    ai_paused: bool = False
    # A human is owed: escalated, transferred or left without a hand-back, and nobody joined.
    waiting_for_agent: bool = False

    @property
    def holder(self) -> str | None:
        """The agent who joined and holds the conversation, if any."""
        return self.assigned_agent_id if self.agent_joined else None

    def transition(self, to: Status) -> ConversationState:
        if to == self.status:
            return self
        if to not in TRANSITIONS[self.status]:
            raise IllegalTransitionError(f"cannot go from {self.status} to {to}")
        return replace(self, status=to)

    def _towards(self, to: Status) -> ConversationState:
        """``transition`` where legal, else unchanged (facts are never refused, only ignored)."""
        if to == self.status or to in TRANSITIONS[self.status]:
            return replace(self, status=to)
        return self

    # --- reactions to facts -------------------------------------------------------------

    def on_visitor_message(self) -> ConversationState:
        """A visitor writing into a resolved conversation reopens it: with the agent who
        still holds it, with the AI, or — when it was left with humans and nobody holds
        it — waiting for the next agent."""
        if self.status != "resolved":
            return self
        reopened = self.transition("active")
        if reopened.ai_paused and not reopened.agent_joined:
            return replace(reopened.transition("pending"), waiting_for_agent=True)
        return reopened

    def on_escalation(self) -> ConversationState:
        if self.agent_joined or self.status == "resolved":
            return self
        return replace(self._towards("pending"), waiting_for_agent=True)

    def on_agent_assigned(self, agent_id: str, agent_name: str) -> ConversationState:
        """Routing picked an agent. The AI keeps answering until the agent joins."""
        if self.agent_joined and self.assigned_agent_id == agent_id:
            return self
        return replace(
            self,
            assigned_agent_id=agent_id,
            assigned_agent_name=agent_name,
            # Someone else held it (a reassignment away from an absent agent): they no
            # longer do; the new assignee has yet to join.
            agent_joined=False,
            waiting_for_agent=self.status != "resolved",
        )

    def on_agent_joined(self, agent_id: str, agent_name: str) -> ConversationState:
        # From here on the AI stays silent until the agent hands the conversation back.
        return replace(
            self._towards("active"),
            assigned_agent_id=agent_id,
            assigned_agent_name=agent_name,
            agent_joined=True,
            ai_paused=True,
            waiting_for_agent=False,
        )

    def on_agent_left(self, agent_id: str, ai_resumes: bool) -> ConversationState:
        if self.assigned_agent_id != agent_id:
            # Only the agent holding (or assigned) the conversation can hand it back; a
            # leave from anyone else (stale, or after a transfer) changes nothing.
            return self
        if not self.agent_joined and not self.ai_paused:
            # Assigned but never joined, with the AI still answering: declining the
            # assignment leaves the conversation waiting for someone else.
            return replace(self, assigned_agent_id=None, assigned_agent_name=None)
        left = replace(
            self,
            assigned_agent_id=None,
            assigned_agent_name=None,
            agent_joined=False,
            ai_paused=not ai_resumes,
        )
        if ai_resumes:
            moved = left._towards("active") if left.status == "pending" else left
            return replace(moved, waiting_for_agent=False)
        # Kept with humans but nobody holds it: it waits for the next agent.
        if left.status == "resolved":
            return left
        return replace(left._towards("pending"), waiting_for_agent=True)

    def on_transferred(self) -> ConversationState:
        """The conversation goes to another agent (or back to the queue for a skill): the
        old agent no longer holds it, the AI stays as it was (paused if a human had it),
        and it waits for the next agent (unless it is resolved already)."""
        unassigned = replace(
            self, assigned_agent_id=None, assigned_agent_name=None, agent_joined=False
        )
        if self.status == "resolved":
            return unassigned
        return replace(unassigned._towards("pending"), waiting_for_agent=True)

    def on_reply_held(self) -> ConversationState:
        """An AI reply waits for review: flag an active conversation so agents see it."""
        return self._towards("flagged") if self.status == "active" else self

    def on_holds_cleared(self) -> ConversationState:
        """The last held reply was released."""
        return self._towards("active") if self.status == "flagged" else self

    def on_resolved(self) -> ConversationState:
        # Resolution is not a hand-back: an agent holding the conversation still holds it
        # if the visitor writes again.
        return replace(self.transition("resolved"), waiting_for_agent=False)


AiReplyDecision = Literal["post", "suppress_agent_active"]


def decide_ai_reply(state: ConversationState) -> AiReplyDecision:
    """May an AI answer be shown? Never while a human has the conversation."""
    if state.ai_paused or state.agent_joined:
        return "suppress_agent_active"
    return "post"
