"""The hold policy's pure rules: what is held, and what each review or timeout releases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tandem_conversation.domain.hold import (
    DEFAULT_FALLBACK_TEXT,
    HoldPolicy,
    ReviewRejectedError,
    decide_ai_answer,
    release_on_review,
    release_on_timeout,
)
from tandem_conversation.domain.lifecycle import ConversationState

pytestmark = pytest.mark.unit

ACTIVE = ConversationState()
WITH_AGENT = ConversationState().on_agent_joined("a1", "Ana")
confidences = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(confidences)
def test_holding_is_off_without_a_threshold(confidence: float) -> None:
    assert decide_ai_answer(ACTIVE, HoldPolicy(), confidence) == "post"


@given(threshold=confidences, confidence=confidences)
def test_answers_below_the_threshold_are_held_and_the_rest_posted(
    threshold: float, confidence: float
) -> None:
    decision = decide_ai_answer(ACTIVE, HoldPolicy(below_confidence=threshold), confidence)
    assert decision == ("hold" if confidence < threshold else "post")


@given(threshold=st.none() | confidences, confidence=confidences)
def test_nothing_is_held_or_posted_while_an_agent_holds_the_conversation(
    threshold: float | None, confidence: float
) -> None:
    policy = HoldPolicy(below_confidence=threshold)
    assert decide_ai_answer(WITH_AGENT, policy, confidence) == "suppress_agent_active"


def test_the_hold_lasts_the_sites_seconds_and_falls_back_to_a_default_text() -> None:
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    policy = HoldPolicy(below_confidence=0.5, seconds=90)
    assert policy.hold_until(now) == now + timedelta(seconds=90)
    assert policy.fallback == DEFAULT_FALLBACK_TEXT
    assert HoldPolicy(fallback_text="Hang on!").fallback == "Hang on!"


def test_approving_sends_the_ai_answer_itself() -> None:
    release = release_on_review("approve", "held answer", "ignored text", "looks right")
    assert release.outcome == "approved"
    assert (release.text, release.author, release.as_held_answer) == ("held answer", "ai", True)
    assert release.reason == "looks right"


@pytest.mark.parametrize(("decision", "outcome"), [("edit", "edited"), ("replace", "replaced")])
def test_editing_or_replacing_sends_the_agents_text_as_the_agent(
    decision: str, outcome: str
) -> None:
    release = release_on_review(decision, "held answer", "  better answer ", "wrong price")  # type: ignore[arg-type]
    assert release.outcome == outcome
    assert (release.text, release.author, release.as_held_answer) == (
        "better answer",
        "agent",
        False,
    )


@pytest.mark.parametrize("decision", ["edit", "replace"])
@pytest.mark.parametrize("text", [None, "", "   "])
def test_editing_without_text_is_refused(decision: str, text: str | None) -> None:
    with pytest.raises(ReviewRejectedError):
        release_on_review(decision, "held answer", text)  # type: ignore[arg-type]


def test_discarding_posts_nothing() -> None:
    release = release_on_review("discard", "held answer", None, "off topic")
    assert release.outcome == "discarded" and release.text is None


def test_a_timeout_sends_the_answer_or_the_fallback() -> None:
    sent = release_on_timeout("send", "held answer", "fallback", ACTIVE)
    assert (sent.outcome, sent.text, sent.author, sent.as_held_answer) == (
        "timeout_sent",
        "held answer",
        "ai",
        True,
    )
    fallback = release_on_timeout("fallback", "held answer", "fallback", ACTIVE)
    assert (fallback.outcome, fallback.text, fallback.author) == (
        "timeout_fallback",
        "fallback",
        "system",
    )


@pytest.mark.parametrize("action", ["send", "fallback"])
def test_a_timeout_after_an_agent_took_over_sends_nothing(action: str) -> None:
    release = release_on_timeout(action, "held answer", "fallback", WITH_AGENT)  # type: ignore[arg-type]
    assert release.outcome == "discarded" and release.text is None
    transferred = WITH_AGENT.on_transferred()  # still with humans, nobody joined yet
    assert release_on_timeout(action, "x", "y", transferred).text is None  # type: ignore[arg-type]
