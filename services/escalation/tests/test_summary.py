import uuid

import pytest
from tandem_escalation.domain.summary import MAX_SUMMARY_CHARS, build_summary, snippet
from tandem_escalation.domain.triggers import Turn

pytestmark = pytest.mark.unit


def turn(
    seq: int, question: str, answer: str | None = None, confidence: float | None = None
) -> Turn:
    return Turn(
        message_id=uuid.uuid4(),
        seq=seq,
        question=question,
        normalised=question.lower(),
        answer=answer,
        confidence=confidence,
        answered=None if confidence is None else confidence >= 0.5,
    )


def test_summary_lists_questions_and_answers_with_confidence() -> None:
    summary = build_summary(
        [
            turn(1, "Where is my order?", "It ships in 3 days.", 0.82),
            turn(3, "It has been 10 days!", "Sorry, I do not know.", 0.21),
            turn(5, "talk to a human"),
        ],
        "human_requested",
        "the visitor asked for a human",
        "en",
    )
    lines = summary.splitlines()
    assert lines[0].startswith("Escalated: the visitor asked for a human")
    assert "Language: en" in lines
    assert "Visitor (#1): Where is my order?" in summary
    assert "AI (82% confident): It ships in 3 days." in summary
    assert "AI (21% confident, fallback reply): Sorry, I do not know." in summary
    assert summary.index("#1") < summary.index("#3") < summary.index("#5")
    assert "AI: no answer yet" in summary


def test_summary_keeps_the_latest_turns_and_fits_the_event() -> None:
    turns = [turn(i, "q" * 4000, "a" * 4000, 0.5) for i in range(1, 12)]
    summary = build_summary(turns, "low_confidence", "d" * 600, None)
    assert len(summary) <= MAX_SUMMARY_CHARS
    assert "#11" in summary
    assert "#1)" not in summary


def test_summary_without_turns() -> None:
    summary = build_summary([], "human_requested", "button", None)
    assert "No questions recorded yet." in summary


def test_snippet_cuts_at_a_word_boundary() -> None:
    assert snippet("short  text\nhere", 50) == "short text here"
    cut = snippet("alpha beta gamma delta epsilon", 17)
    assert cut == "alpha beta gamma…"
    assert len(cut) <= 17
