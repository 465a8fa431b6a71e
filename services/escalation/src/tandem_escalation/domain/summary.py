"""The summary an agent reads when a conversation is escalated, so they need not read it all.

Plain text, newest questions last, each with the AI's answer and its confidence; it always
fits ``EscalationRaised.summary`` (4,000 characters) by dropping the oldest turns first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .triggers import Turn

MAX_SUMMARY_CHARS = 4000
QUESTION_CHARS = 280
ANSWER_CHARS = 360
SUMMARY_TURNS = 5

_REASONS = {
    "human_requested": "the visitor asked for a human",
    "sensitive_topic": "sensitive topic",
    "frustration": "the visitor is frustrated",
    "repeated_question": "the visitor keeps asking the same question",
    "low_confidence": "the AI is not confident in its answers",
    "manual": "escalated by an agent",
}


def snippet(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if flat[limit - 1] != " " and " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def _turn_lines(turn: Turn) -> list[str]:
    label = f"#{turn.seq}" if turn.seq is not None else "?"
    lines = [f"Visitor ({label}): {snippet(turn.question, QUESTION_CHARS)}"]
    if turn.answer is None or turn.confidence is None:
        lines.append("  AI: no answer yet")
    else:
        kind = "" if turn.answered in (True, None) else ", fallback reply"
        lines.append(
            f"  AI ({turn.confidence:.0%} confident{kind}): {snippet(turn.answer, ANSWER_CHARS)}"
        )
    return lines


def build_summary(
    turns: Sequence[Turn],
    reason: str,
    detail: str,
    language: str | None,
    *,
    max_chars: int = MAX_SUMMARY_CHARS,
) -> str:
    header = [f"Escalated: {_REASONS.get(reason, reason)} — {snippet(detail, 400)}"]
    if language:
        header.append(f"Language: {language}")
    recent = list(turns)[-SUMMARY_TURNS:]
    while True:
        body: list[str] = []
        if recent:
            body.append(f"Last {len(recent)} question(s), oldest first:")
            for turn in recent:
                body.extend(_turn_lines(turn))
        else:
            body.append("No questions recorded yet.")
        text = "\n".join(header + body)
        if len(text) <= max_chars or len(recent) <= 1:
            return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
        recent = recent[1:]
