"""The hold policy: an AI answer below a site's confidence threshold waits for an agent.

While held, the answer is invisible to the visitor (no ``seq``, no ReplyPosted). An agent
approves it (sent as the AI's answer), edits or replaces it (sent as the agent's message),
or discards it. If nobody decides in time, the site's timeout action sends it as it is or
sends the site's fallback text instead. Pure rules: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .lifecycle import ConversationState, decide_ai_reply

TimeoutAction = Literal["send", "fallback"]
ReviewDecision = Literal["approve", "edit", "replace", "discard"]
ReleaseOutcome = Literal[
    "approved", "edited", "replaced", "discarded", "timeout_sent", "timeout_fallback"
]
PostedAuthor = Literal["ai", "agent", "system"]

DEFAULT_HOLD_SECONDS = 60
MIN_HOLD_SECONDS = 5
MAX_HOLD_SECONDS = 3600
DEFAULT_FALLBACK_TEXT = (
    "Thanks for your patience. A member of our team will get back to you here shortly."
)


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """A site's hold settings. ``below_confidence=None`` turns holding off."""

    below_confidence: float | None = None
    seconds: int = DEFAULT_HOLD_SECONDS
    timeout_action: TimeoutAction = "send"
    fallback_text: str | None = None

    def holds(self, confidence: float) -> bool:
        return self.below_confidence is not None and confidence < self.below_confidence

    def hold_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.seconds)

    @property
    def fallback(self) -> str:
        return self.fallback_text or DEFAULT_FALLBACK_TEXT


AnswerDecision = Literal["post", "hold", "suppress_agent_active"]


def decide_ai_answer(
    state: ConversationState, policy: HoldPolicy, confidence: float
) -> AnswerDecision:
    """What happens to a fresh AI answer: never shown while a human has the conversation,
    held for review below the site's threshold, posted otherwise."""
    if decide_ai_reply(state) != "post":
        return "suppress_agent_active"
    return "hold" if policy.holds(confidence) else "post"


@dataclass(frozen=True, slots=True)
class Release:
    """What becomes of a held answer. ``text=None``: nothing is posted."""

    outcome: ReleaseOutcome
    text: str | None = None
    author: PostedAuthor | None = None
    # Posted as the held AI answer itself (its id, confidence and sources), not as a new message.
    as_held_answer: bool = False
    reason: str | None = None


class ReviewRejectedError(ValueError):
    """The review cannot be applied (an edit or replacement without text)."""


def release_on_review(
    decision: ReviewDecision, held_text: str, text: str | None, reason: str | None = None
) -> Release:
    match decision:
        case "approve":
            return Release("approved", held_text, "ai", as_held_answer=True, reason=reason)
        case "edit" | "replace":
            if text is None or not text.strip():
                raise ReviewRejectedError(f"{decision} needs the text to send")
            outcome: ReleaseOutcome = "edited" if decision == "edit" else "replaced"
            return Release(outcome, text.strip(), "agent", reason=reason)
        case "discard":
            return Release("discarded", reason=reason)
    raise ReviewRejectedError(f"unknown decision {decision!r}")


def release_on_timeout(
    on_timeout: TimeoutAction, held_text: str, fallback_text: str, state: ConversationState
) -> Release:
    """Nobody reviewed the answer in time."""
    if decide_ai_reply(state) != "post":
        # A human took the conversation meanwhile: the AI must not speak over them.
        return Release("discarded", reason="an agent took over before the hold expired")
    if on_timeout == "fallback":
        return Release(
            "timeout_fallback", fallback_text, "system", reason="not reviewed in time: fallback"
        )
    return Release(
        "timeout_sent", held_text, "ai", as_held_answer=True, reason="not reviewed in time"
    )
