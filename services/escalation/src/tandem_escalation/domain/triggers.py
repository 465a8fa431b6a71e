"""When the AI should hand a conversation to a human: the escalation rules.

Pure functions over a per-conversation ``ConversationState``; the handlers load the state,
call one ``on_*`` function per event and persist what it returns. The rules, each with its
defaults in ``EscalationPolicy`` (overridable per site through ``PolicyOverrides``):

* ``human_requested`` — the widget's "talk to a person" button, or a message asking for a
  human in one of 14 languages (``lexicon.HUMAN_REQUEST``), unless declined ("I don't
  want to talk to a human");
* ``sensitive_topic`` — a message about a topic the site wants humans to handle (default:
  refunds and billing disputes);
* ``frustration`` — a message complaining about the conversation ("this is useless");
* ``repeated_question`` — the same question asked ``repeated_question_count`` times
  (default 3), "the same" meaning similarity ≥ ``repeated_question_similarity`` (0.8);
* ``low_confidence`` — ``low_confidence_answers`` (3) AI answers in a row below
  ``low_confidence_threshold`` (0.70).

At most one escalation is raised until the conversation is handed back to the AI or
resolved; while an agent is in the conversation nothing is raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import lexicon
from .classifiers import MessageScores, score_message
from .phrases import PhraseSet, PhraseSyntaxError, compile_phrases
from .similarity import QuestionSimilarity, TokenJaccard, token_count
from .summary import build_summary, snippet
from .text import normalise

#: Longest question or answer kept per turn (the summary shortens further).
TURN_TEXT_CHARS = 600


class Reason(StrEnum):
    HUMAN_REQUESTED = "human_requested"
    SENSITIVE_TOPIC = "sensitive_topic"
    FRUSTRATION = "frustration"
    REPEATED_QUESTION = "repeated_question"
    LOW_CONFIDENCE = "low_confidence"
    MANUAL = "manual"


@cache
def default_human_request_phrases() -> PhraseSet:
    return PhraseSet.of(
        lexicon.HUMAN_REQUEST,
        negation_words=lexicon.NEGATION_WORDS,
        volition_words=lexicon.VOLITION_WORDS,
    )


@cache
def default_frustration_phrases() -> PhraseSet:
    return PhraseSet.of(lexicon.FRUSTRATION)


@cache
def _default_topic(topic: str) -> PhraseSet:
    return PhraseSet.of(lexicon.SENSITIVE_TOPICS[topic])


def default_sensitive_topics() -> dict[str, PhraseSet]:
    return {topic: _default_topic(topic) for topic in lexicon.SENSITIVE_TOPICS}


@dataclass(frozen=True)
class EscalationPolicy:
    """The rules' settings for one site; the defaults apply to every site without overrides."""

    low_confidence_threshold: float = 0.70
    low_confidence_answers: int = 3
    repeated_question_count: int = 3
    repeated_question_similarity: float = 0.8
    # Shorter messages ("ok", "hello?") are never counted as a repeated question.
    repeated_question_min_tokens: int = 2
    # Turns kept per conversation: the repeated-question window and the summary's source.
    remembered_turns: int = 10
    disabled_reasons: frozenset[Reason] = frozenset()
    human_request_phrases: PhraseSet = field(default_factory=default_human_request_phrases)
    frustration_phrases: PhraseSet = field(default_factory=default_frustration_phrases)
    sensitive_topics: Mapping[str, PhraseSet] = field(default_factory=default_sensitive_topics)

    def enabled(self, reason: Reason) -> bool:
        return reason not in self.disabled_reasons

    def with_overrides(self, overrides: PolicyOverrides) -> EscalationPolicy:
        changes: dict[str, object] = {
            name: value
            for name in (
                "low_confidence_threshold",
                "low_confidence_answers",
                "repeated_question_count",
                "repeated_question_similarity",
            )
            if (value := getattr(overrides, name)) is not None
        }
        if overrides.disabled_reasons:
            changes["disabled_reasons"] = frozenset(overrides.disabled_reasons)
        if overrides.extra_human_request_phrases:
            changes["human_request_phrases"] = self.human_request_phrases.extended(
                {"site": overrides.extra_human_request_phrases}
            )
        if overrides.extra_frustration_phrases:
            changes["frustration_phrases"] = self.frustration_phrases.extended(
                {"site": overrides.extra_frustration_phrases}
            )
        if overrides.sensitive_topics is not None:
            changes["sensitive_topics"] = {
                topic: PhraseSet.of({"site": phrases})
                for topic, phrases in overrides.sensitive_topics.items()
            }
        return replace(self, **changes)  # type: ignore[arg-type]


_PhraseList = list[str]


class PolicyOverrides(BaseModel):
    """A site's changes to the default policy, as stored and as sent by the console.

    Absent fields keep the default. ``sensitive_topics``, when given, replaces the default
    topics (``{}`` leaves none); the ``extra_*`` phrase lists add to the defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    low_confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    low_confidence_answers: int | None = Field(default=None, ge=1, le=50)
    repeated_question_count: int | None = Field(default=None, ge=2, le=50)
    repeated_question_similarity: float | None = Field(default=None, gt=0.0, le=1.0)
    disabled_reasons: list[Reason] = Field(default_factory=list)
    extra_human_request_phrases: _PhraseList = Field(default_factory=list, max_length=200)
    extra_frustration_phrases: _PhraseList = Field(default_factory=list, max_length=200)
    sensitive_topics: dict[str, _PhraseList] | None = Field(default=None, max_length=50)

    @field_validator("disabled_reasons")
    @classmethod
    def _rules_only(cls, reasons: list[Reason]) -> list[Reason]:
        if Reason.MANUAL in reasons:
            raise ValueError("manual escalation is a person's decision, not a rule to disable")
        return reasons

    @field_validator("extra_human_request_phrases", "extra_frustration_phrases")
    @classmethod
    def _phrases_compile(cls, phrases: _PhraseList) -> _PhraseList:
        _check_phrases(phrases)
        return phrases

    @field_validator("sensitive_topics")
    @classmethod
    def _topics_compile(
        cls, topics: dict[str, _PhraseList] | None
    ) -> dict[str, _PhraseList] | None:
        for topic, phrases in (topics or {}).items():
            if not topic.strip() or len(topic) > 64:
                raise ValueError("a topic name must have 1 to 64 characters")
            if not phrases:
                raise ValueError(f"topic {topic!r} has no phrases")
            _check_phrases(phrases)
        return topics


def _check_phrases(phrases: _PhraseList) -> None:
    for phrase in phrases:
        if len(phrase) > 300:
            raise ValueError("a phrase may have at most 300 characters")
        try:
            compile_phrases({"site": [phrase]})
        except PhraseSyntaxError as exc:
            raise ValueError(str(exc)) from exc


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class Turn:
    """One visitor question and, once scored, the AI's answer to it."""

    message_id: uuid.UUID
    seq: int | None
    question: str
    normalised: str
    asked_at: datetime | None = None
    answer: str | None = None
    confidence: float | None = None
    answered: bool | None = None
    language: str | None = None


@dataclass(frozen=True)
class ConversationState:
    conversation_id: uuid.UUID
    site_id: str
    turns: tuple[Turn, ...] = ()
    low_confidence_streak: int = 0
    escalated: bool = False
    escalation_reason: Reason | None = None
    # An agent has joined: the conversation is theirs until handed back.
    human_engaged: bool = False
    language: str | None = None

    @property
    def may_escalate(self) -> bool:
        return not self.escalated and not self.human_engaged

    @property
    def is_blank(self) -> bool:
        """Nothing worth storing: the same as a conversation never seen (after a resolution)."""
        return (
            not self.turns
            and not self.escalated
            and not self.human_engaged
            and self.low_confidence_streak == 0
        )


@dataclass(frozen=True)
class VisitorMessage:
    message_id: uuid.UUID
    seq: int
    text: str
    locale: str | None
    sent_at: datetime


@dataclass(frozen=True)
class ScoredAnswer:
    in_reply_to: uuid.UUID
    question_seq: int
    question: str
    answer: str
    confidence: float
    answered: bool
    language: str | None


@dataclass(frozen=True)
class Trigger:
    """A rule fired: why, in a sentence, and in which language when the rule knows it."""

    reason: Reason
    detail: str
    language: str | None = None


@dataclass(frozen=True)
class Escalation:
    reason: Reason
    detail: str
    summary: str
    language: str | None


@dataclass(frozen=True)
class Outcome:
    state: ConversationState
    escalation: Escalation | None = None


# ---------------------------------------------------------------------------- rules


def lexicon_scores(text: str, policy: EscalationPolicy) -> MessageScores:
    """The classifiers' scores from the phrase lexicon alone (no embedding)."""
    return score_message(
        text,
        human_request_phrases=policy.human_request_phrases,
        complaint_phrases=policy.frustration_phrases,
    )


def detect_human_request(
    text: str, policy: EscalationPolicy, scores: MessageScores | None = None
) -> Trigger | None:
    scores = scores or lexicon_scores(text, policy)
    if not scores.asks_for_human:
        return None
    match = scores.human_request_match
    if match is None:
        return Trigger(
            Reason.HUMAN_REQUESTED,
            f'the visitor asked for a human ("{snippet(text, 120)}", '
            f"score {scores.human_request:.2f})",
        )
    return Trigger(
        Reason.HUMAN_REQUESTED,
        f'the visitor asked for a human ("{match.text[:120]}", {match.language})',
        _language_tag(match.language),
    )


def detect_sensitive_topic(text: str, policy: EscalationPolicy) -> Trigger | None:
    for topic, phrases in policy.sensitive_topics.items():
        match = phrases.find(text)
        if match is not None:
            return Trigger(
                Reason.SENSITIVE_TOPIC,
                f'sensitive topic {topic} ("{match.text[:120]}", {match.language})',
                _language_tag(match.language),
            )
    return None


def detect_frustration(
    text: str, policy: EscalationPolicy, scores: MessageScores | None = None
) -> Trigger | None:
    scores = scores or lexicon_scores(text, policy)
    if not scores.complains:
        return None
    match = scores.complaint_match
    if match is None:
        return Trigger(
            Reason.FRUSTRATION,
            f'the visitor sounds frustrated ("{snippet(text, 120)}", score {scores.complaint:.2f})',
        )
    return Trigger(
        Reason.FRUSTRATION,
        f'the visitor sounds frustrated ("{match.text[:120]}", {match.language})',
        _language_tag(match.language),
    )


def detect_repeated_question(
    turns: tuple[Turn, ...],
    latest: Turn,
    policy: EscalationPolicy,
    similarity: QuestionSimilarity,
) -> Trigger | None:
    """The latest question and enough earlier ones are the same question."""
    if token_count(latest.normalised) < policy.repeated_question_min_tokens:
        return None
    times = 1 + sum(
        1
        for turn in turns
        if turn.message_id != latest.message_id
        and similarity(turn.normalised, latest.normalised) >= policy.repeated_question_similarity
    )
    if times < policy.repeated_question_count:
        return None
    return Trigger(
        Reason.REPEATED_QUESTION,
        f'the visitor asked the same question {times} times ("{latest.question[:120]}")',
    )


def detect_low_confidence(state: ConversationState, policy: EscalationPolicy) -> Trigger | None:
    if state.low_confidence_streak < policy.low_confidence_answers:
        return None
    recent = [t.confidence for t in state.turns if t.confidence is not None]
    shown = ", ".join(f"{c:.0%}" for c in recent[-policy.low_confidence_answers :])
    return Trigger(
        Reason.LOW_CONFIDENCE,
        f"{state.low_confidence_streak} AI answers in a row below "
        f"{policy.low_confidence_threshold:.0%} confidence ({shown})",
    )


# ---------------------------------------------------------------------------- events


def on_visitor_message(
    state: ConversationState,
    message: VisitorMessage,
    policy: EscalationPolicy,
    similarity: QuestionSimilarity | None = None,
    scores: MessageScores | None = None,
) -> Outcome:
    """A visitor message: the rules in priority order (asking for a person, a sensitive
    topic, frustration, the same question again). ``scores`` are the message classifiers'
    (with the embedding); without them the lexicon alone decides."""
    turn = Turn(
        message_id=message.message_id,
        seq=message.seq,
        question=message.text[:TURN_TEXT_CHARS],
        normalised=normalise(message.text),
        asked_at=message.sent_at,
    )
    previous = state.turns
    state = _remember(state, turn, policy)
    if message.locale and state.language is None:
        state = replace(state, language=message.locale)
    checks = (
        (Reason.HUMAN_REQUESTED, lambda: detect_human_request(message.text, policy, scores)),
        (Reason.SENSITIVE_TOPIC, lambda: detect_sensitive_topic(message.text, policy)),
        (Reason.FRUSTRATION, lambda: detect_frustration(message.text, policy, scores)),
        (
            Reason.REPEATED_QUESTION,
            lambda: detect_repeated_question(previous, turn, policy, similarity or TokenJaccard()),
        ),
    )
    if not state.may_escalate:
        return Outcome(state)
    for reason, check in checks:
        if policy.enabled(reason) and (trigger := check()) is not None:
            return _escalate(state, trigger)
    return Outcome(state)


def on_human_requested(state: ConversationState, policy: EscalationPolicy) -> Outcome:
    """The widget's "talk to a person" button."""
    if not state.may_escalate or not policy.enabled(Reason.HUMAN_REQUESTED):
        return Outcome(state)
    return _escalate(
        state, Trigger(Reason.HUMAN_REQUESTED, "the visitor pressed the talk-to-a-person button")
    )


def on_manual_escalation(
    state: ConversationState, requested_by: str, reason: str | None
) -> Outcome:
    """An agent or admin escalated by hand: always raised (it is a person's decision),
    even when the conversation is already escalated or an agent is in it."""
    because = f": {reason}" if reason else ""
    return _escalate(state, Trigger(Reason.MANUAL, f"escalated by {requested_by[:80]}{because}"))


def on_answer_scored(
    state: ConversationState, answer: ScoredAnswer, policy: EscalationPolicy
) -> Outcome:
    low = answer.confidence < policy.low_confidence_threshold
    existing = next((t for t in state.turns if t.message_id == answer.in_reply_to), None)
    base = existing or Turn(
        message_id=answer.in_reply_to,
        seq=answer.question_seq,
        question=answer.question[:TURN_TEXT_CHARS],
        normalised=normalise(answer.question),
    )
    turn = replace(
        base,
        answer=answer.answer[:TURN_TEXT_CHARS],
        confidence=answer.confidence,
        answered=answer.answered,
        language=answer.language,
    )
    state = _remember(state, turn, policy)
    state = replace(
        state,
        low_confidence_streak=state.low_confidence_streak + 1 if low else 0,
        language=answer.language or state.language,
    )
    if not state.may_escalate or not policy.enabled(Reason.LOW_CONFIDENCE):
        return Outcome(state)
    trigger = detect_low_confidence(state, policy)
    return _escalate(state, trigger) if trigger else Outcome(state)


def on_agent_joined(state: ConversationState) -> ConversationState:
    return replace(state, human_engaged=True)


def on_agent_left(state: ConversationState, *, ai_resumes: bool) -> ConversationState:
    """Handing back to the AI starts afresh; an agent leaving without handing back (a
    transfer, say) keeps the conversation escalated."""
    if ai_resumes:
        return _fresh_start(state)
    return replace(state, human_engaged=False, escalated=True)


def on_resolved(state: ConversationState) -> ConversationState:
    return _fresh_start(state)


# ---------------------------------------------------------------------------- helpers


def _fresh_start(state: ConversationState) -> ConversationState:
    return replace(
        state,
        turns=(),
        low_confidence_streak=0,
        escalated=False,
        escalation_reason=None,
        human_engaged=False,
    )


def _remember(state: ConversationState, turn: Turn, policy: EscalationPolicy) -> ConversationState:
    """Add or update ``turn`` (by message id), keeping the latest ``remembered_turns``."""
    turns = [t for t in state.turns if t.message_id != turn.message_id]
    existing = next((t for t in state.turns if t.message_id == turn.message_id), None)
    if existing is not None and turn.answer is None:
        # The answer was scored before the message arrived here: keep the answer.
        turn = replace(
            turn,
            answer=existing.answer,
            confidence=existing.confidence,
            answered=existing.answered,
            language=existing.language,
        )
    turns.append(turn)
    turns.sort(key=lambda t: (t.seq is None, t.seq or 0))
    return replace(state, turns=tuple(turns[-policy.remembered_turns :]))


def _escalate(state: ConversationState, trigger: Trigger) -> Outcome:
    state = replace(state, escalated=True, escalation_reason=trigger.reason)
    language = trigger.language or state.language
    return Outcome(
        state,
        Escalation(
            reason=trigger.reason,
            detail=trigger.detail[:500],
            summary=build_summary(state.turns, trigger.reason.value, trigger.detail, language),
            language=language,
        ),
    )


def _language_tag(language: str) -> str | None:
    """Languages of the built-in lexicon are BCP 47 tags; site phrases say nothing."""
    return None if language == "site" else language
