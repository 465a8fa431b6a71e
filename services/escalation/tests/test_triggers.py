# ruff: noqa: RUF001 -- multilingual and look-alike text is what these tests feed the rules.
import typing
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from tandem_escalation.domain.triggers import (
    ConversationState,
    EscalationPolicy,
    PolicyOverrides,
    Reason,
    ScoredAnswer,
    VisitorMessage,
    detect_frustration,
    detect_human_request,
    detect_sensitive_topic,
    on_agent_joined,
    on_agent_left,
    on_answer_scored,
    on_human_requested,
    on_resolved,
    on_visitor_message,
)
from tandem_events import EscalationReason

pytestmark = pytest.mark.unit

POLICY = EscalationPolicy()


def new_state() -> ConversationState:
    return ConversationState(conversation_id=uuid.uuid4(), site_id="site-1")


def message(text: str, seq: int = 1, message_id: uuid.UUID | None = None) -> VisitorMessage:
    return VisitorMessage(
        message_id=message_id or uuid.uuid4(),
        seq=seq,
        text=text,
        locale=None,
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def answer(
    confidence: float, seq: int = 1, in_reply_to: uuid.UUID | None = None, question: str = "q?"
) -> ScoredAnswer:
    return ScoredAnswer(
        in_reply_to=in_reply_to or uuid.uuid4(),
        question_seq=seq,
        question=question,
        answer=f"an answer with confidence {confidence}",
        confidence=confidence,
        answered=confidence >= 0.5,
        language="en",
    )


def test_reasons_are_the_event_contracts_reasons() -> None:
    assert {r.value for r in Reason} == set(typing.get_args(EscalationReason))


# ---------------------------------------------------------------- (a) human requested

HUMAN_REQUESTS = [
    ("en", "speak to a human"),
    ("en", "I want to talk to a human"),
    ("en", "Can I speak with a real person?"),
    ("en", "talk to an agent please"),
    ("en", "transfer me to support"),
    ("en", "Is there a person I can talk to?"),
    ("en", "real person please"),
    ("en", "Why can't I talk to a human?!"),
    ("en", "I need to speak to somone"),
    ("es", "Quiero hablar con una persona"),
    ("es", "pásame con un agente"),
    ("fr", "Je veux parler à un humain"),
    ("fr", "mettez-moi en relation avec un conseiller"),
    ("de", "Ich möchte mit einem Menschen sprechen"),
    ("de", "Verbinden Sie mich bitte mit einem Mitarbeiter"),
    ("it", "Vorrei parlare con un operatore"),
    ("pt", "Quero falar com um atendente"),
    ("nl", "Kan ik met een medewerker spreken?"),
    ("sv", "Jag vill prata med en människa"),
    ("da", "Må jeg tale med et menneske?"),
    ("pl", "Chcę porozmawiać z konsultantem"),
    ("tr", "Müşteri temsilcisi ile görüşmek istiyorum"),
    ("ja", "オペレーターと話したいです"),
    ("zh", "我要转人工"),
    ("ar", "أريد التحدث مع موظف"),
]


@pytest.mark.parametrize(("language", "text"), HUMAN_REQUESTS)
def test_human_request_phrases(language: str, text: str) -> None:
    trigger = detect_human_request(text, POLICY)
    assert trigger is not None, text
    assert trigger.reason is Reason.HUMAN_REQUESTED
    assert trigger.language == language


@pytest.mark.parametrize(
    "text",
    [
        "I am a real person",
        "how do I contact support hours",
        "What are your support hours?",
        "I don't want to talk to a human, just answer",
        "je ne veux pas parler à un humain",
        "Ich möchte nicht mit einem Menschen sprechen",
        "No quiero hablar con una persona",
        "How many people work at your company?",
        "Can I speak English with you?",
        "Is the agent program open to new applicants?",
        "I need advice on choosing a plan",
        "I want to follow someone on twitter",
        "How do I add a contact from a person in CC?",
        "j'ai besoin de conseils pour choisir",
    ],
)
def test_not_human_requests(text: str) -> None:
    assert detect_human_request(text, POLICY) is None


def test_human_request_escalates_with_summary() -> None:
    outcome = on_visitor_message(new_state(), message("I want to talk to a human", seq=3), POLICY)
    assert outcome.escalation is not None
    assert outcome.escalation.reason is Reason.HUMAN_REQUESTED
    assert "talk to a human" in outcome.escalation.detail
    assert "I want to talk to a human" in outcome.escalation.summary
    assert outcome.state.escalated


def test_human_requested_button() -> None:
    outcome = on_human_requested(new_state(), POLICY)
    assert outcome.escalation is not None
    assert outcome.escalation.reason is Reason.HUMAN_REQUESTED


# ---------------------------------------------------------------- (b) low confidence


def test_three_low_confidence_answers_in_a_row_escalate() -> None:
    state = new_state()
    for seq in (1, 2):
        outcome = on_answer_scored(state, answer(0.3, seq=seq), POLICY)
        assert outcome.escalation is None
        state = outcome.state
    outcome = on_answer_scored(state, answer(0.3, seq=3), POLICY)
    assert outcome.escalation is not None
    assert outcome.escalation.reason is Reason.LOW_CONFIDENCE
    assert "3 AI answers in a row below 70%" in outcome.escalation.detail
    assert "30% confident" in outcome.escalation.summary


def test_a_confident_answer_resets_the_streak() -> None:
    state = new_state()
    for seq, confidence in enumerate([0.3, 0.3, 0.9, 0.3, 0.3], start=1):
        outcome = on_answer_scored(state, answer(confidence, seq=seq), POLICY)
        assert outcome.escalation is None
        state = outcome.state
    assert state.low_confidence_streak == 2


def test_threshold_is_strictly_below() -> None:
    state = new_state()
    for seq in (1, 2, 3):
        outcome = on_answer_scored(state, answer(0.70, seq=seq), POLICY)
        state = outcome.state
    assert outcome.escalation is None


def test_answer_before_message_is_merged_into_one_turn() -> None:
    message_id = uuid.uuid4()
    state = on_answer_scored(
        new_state(),
        answer(0.4, seq=1, in_reply_to=message_id, question="Where is my order"),
        POLICY,
    ).state
    state = on_visitor_message(state, message("Where is my order", 1, message_id), POLICY).state
    assert len(state.turns) == 1
    assert state.turns[0].confidence == 0.4


# ---------------------------------------------------------------- (c) repeated question


def test_the_same_question_three_times_escalates() -> None:
    state = new_state()
    texts = [
        "How do I reset my password?",
        "how do i reset my password",
        "How do I RESET my password??",
    ]
    outcomes = []
    for seq, text in enumerate(texts, start=1):
        outcome = on_visitor_message(state, message(text, seq=seq), POLICY)
        outcomes.append(outcome.escalation)
        state = outcome.state
    assert outcomes[:2] == [None, None]
    assert outcomes[2] is not None
    assert outcomes[2].reason is Reason.REPEATED_QUESTION
    assert "3 times" in outcomes[2].detail


def test_different_questions_do_not_count_as_repeats() -> None:
    state = new_state()
    texts = ["How do I reset my password?", "Where is my order?", "How do I reset my email?"]
    for seq, text in enumerate(texts, start=1):
        outcome = on_visitor_message(state, message(text, seq=seq), POLICY)
        assert outcome.escalation is None
        state = outcome.state


def test_short_messages_are_not_repeated_questions() -> None:
    state = new_state()
    for seq in (1, 2, 3, 4):
        outcome = on_visitor_message(state, message("ok", seq=seq), POLICY)
        assert outcome.escalation is None
        state = outcome.state


def test_repeated_question_uses_the_similarity_it_is_given() -> None:
    state = new_state()

    def everything_alike(first: str, second: str) -> float:
        return 1.0

    for seq, text in enumerate(["Where is my order", "Shipping to Spain?"], start=1):
        state = on_visitor_message(state, message(text, seq=seq), POLICY, everything_alike).state
    outcome = on_visitor_message(
        state, message("Opening hours today", seq=3), POLICY, everything_alike
    )
    assert outcome.escalation is not None
    assert outcome.escalation.reason is Reason.REPEATED_QUESTION


# ---------------------------------------------------------------- (d) frustration


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "this is useless"),
        ("en", "That doesn't help at all"),
        ("en", "terrible"),
        ("en", "you don't understand what I mean"),
        ("en", "I'm wasting my time here"),
        ("es", "esto no me ayuda"),
        ("es", "qué pérdida de tiempo"),
        ("fr", "ça ne m'aide pas"),
        ("fr", "vous ne comprenez rien"),
        ("de", "Das hilft mir nicht"),
        ("de", "völlig nutzlos"),
        ("it", "non mi aiuta per niente"),
        ("pt", "isso não ajuda"),
        ("nl", "dit is nutteloos"),
        ("sv", "det här hjälper inte"),
        ("da", "det hjælper ikke"),
        ("pl", "to nie pomaga"),
        ("tr", "hiç yardımcı olmuyor"),
        ("ja", "全然役に立たない"),
        ("zh", "你这个没用"),
        ("ar", "هذا غير مفيد"),
    ],
)
def test_frustration_phrases(language: str, text: str) -> None:
    trigger = detect_frustration(text, POLICY)
    assert trigger is not None, text
    assert trigger.language == language


@pytest.mark.parametrize(
    "text",
    [
        "That helped, thanks!",
        "Can you help me with my order?",
        "I don't need help anymore",
        "I don't understand how to change my address",
        "terribly sorry to bother you",
        "is this useful for beginners?",
        "je ne comprends pas comment faire",
    ],
)
def test_not_frustration(text: str) -> None:
    assert detect_frustration(text, POLICY) is None


# ---------------------------------------------------------------- (e) sensitive topics


@pytest.mark.parametrize(
    ("topic", "text"),
    [
        ("refund", "I want a refund"),
        ("refund", "can I get my money back?"),
        ("refund", "quiero un reembolso"),
        ("refund", "je demande un remboursement"),
        ("refund", "Ich möchte eine Rückerstattung"),
        ("refund", "我要退款"),
        ("refund", "返金してください"),
        ("billing_dispute", "I want to dispute a charge on my card"),
        ("billing_dispute", "you charged me twice"),
        ("billing_dispute", "I'm going to file a chargeback"),
        ("billing_dispute", "me cobraron dos veces"),
        ("billing_dispute", "contester un prélèvement"),
        ("billing_dispute", "Sie haben doppelt abgebucht"),
    ],
)
def test_sensitive_topics(topic: str, text: str) -> None:
    trigger = detect_sensitive_topic(text, POLICY)
    assert trigger is not None, text
    assert trigger.reason is Reason.SENSITIVE_TOPIC
    assert f"sensitive topic {topic}" in trigger.detail


@pytest.mark.parametrize(
    "text",
    [
        "What payment methods do you accept?",
        "I entered the wrong billing address",
        "how do I update my card",
        "I got an unknown error on the payment page",
        "where is my invoice?",
    ],
)
def test_not_sensitive(text: str) -> None:
    assert detect_sensitive_topic(text, POLICY) is None


def test_rule_priority_human_request_wins() -> None:
    outcome = on_visitor_message(
        new_state(), message("this is useless, I want a refund, let me talk to a human"), POLICY
    )
    assert outcome.escalation is not None
    assert outcome.escalation.reason is Reason.HUMAN_REQUESTED


# ---------------------------------------------------------------- one escalation at a time


def test_only_one_escalation_until_handed_back() -> None:
    state = on_visitor_message(new_state(), message("talk to a human", 1), POLICY).state
    again = on_visitor_message(state, message("this is useless", 2), POLICY)
    assert again.escalation is None
    assert on_human_requested(again.state, POLICY).escalation is None

    handed_back = on_agent_left(on_agent_joined(again.state), ai_resumes=True)
    assert not handed_back.escalated
    assert handed_back.low_confidence_streak == 0
    later = on_visitor_message(handed_back, message("this is useless", 3), POLICY)
    assert later.escalation is not None
    assert later.escalation.reason is Reason.FRUSTRATION


def test_no_escalation_while_an_agent_is_in_the_conversation() -> None:
    state = on_agent_joined(new_state())
    assert on_visitor_message(state, message("talk to a human"), POLICY).escalation is None
    for seq in (1, 2, 3):
        outcome = on_answer_scored(state, answer(0.1, seq=seq), POLICY)
        assert outcome.escalation is None
        state = outcome.state


def test_agent_leaving_without_handing_back_keeps_it_escalated() -> None:
    state = on_agent_left(on_agent_joined(new_state()), ai_resumes=False)
    assert state.escalated
    assert on_visitor_message(state, message("talk to a human"), POLICY).escalation is None


def test_resolution_allows_a_new_escalation() -> None:
    state = on_visitor_message(new_state(), message("talk to a human"), POLICY).state
    state = on_resolved(state)
    assert state.is_blank
    assert on_visitor_message(state, message("talk to a human", 2), POLICY).escalation is not None


# ---------------------------------------------------------------- per-site policy


def test_overrides_change_thresholds_and_disable_rules() -> None:
    policy = POLICY.with_overrides(
        PolicyOverrides(
            low_confidence_threshold=0.5,
            low_confidence_answers=1,
            disabled_reasons=[Reason.FRUSTRATION],
        )
    )
    assert on_answer_scored(new_state(), answer(0.55), policy).escalation is None
    assert on_answer_scored(new_state(), answer(0.45), policy).escalation is not None
    assert on_visitor_message(new_state(), message("this is useless"), policy).escalation is None
    assert POLICY.low_confidence_threshold == 0.70


def test_overrides_add_phrases_and_replace_topics() -> None:
    policy = POLICY.with_overrides(
        PolicyOverrides(
            extra_human_request_phrases=["call me back"],
            sensitive_topics={"legal": ["lawyer*", "sue"]},
        )
    )
    trigger = detect_human_request("please call me back", policy)
    assert trigger is not None
    assert trigger.language is None
    assert detect_human_request("talk to a human", policy) is not None
    assert detect_sensitive_topic("I will sue you", policy) is not None
    assert detect_sensitive_topic("I want a refund", policy) is None


def test_disabling_a_rule_lets_the_next_one_fire() -> None:
    policy = POLICY.with_overrides(PolicyOverrides(disabled_reasons=[Reason.HUMAN_REQUESTED]))
    outcome = on_visitor_message(new_state(), message("useless, give me a human"), policy)
    assert outcome.escalation is not None
    assert outcome.escalation.reason is Reason.FRUSTRATION


@pytest.mark.parametrize(
    "overrides",
    [
        {"low_confidence_threshold": 1.5},
        {"low_confidence_answers": 0},
        {"repeated_question_count": 1},
        {"disabled_reasons": ["manual"]},
        {"extra_human_request_phrases": ["quelqu'un ici"]},
        {"sensitive_topics": {"legal": []}},
        {"unknown_field": 1},
    ],
)
def test_invalid_overrides_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PolicyOverrides.model_validate(overrides)
