"""The Answerer asks the site's policies: its threshold, its fallback text, and its
curated answers, which win over retrieval when they match well enough."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from tandem_answering.adapters.embedder import BatchingEncoder
from tandem_answering.adapters.language import LanguageDetector
from tandem_answering.domain.answer import ENGLISH_ROUTE, FEATURE_NAMES, NOISE_FLOOR
from tandem_answering.domain.calibration import Calibration
from tandem_answering.domain.curated import CuratedAnswer, CuratedContent, CuratedMatch
from tandem_answering.service_layer.answering import Answerer, AnswerPolicy, Route

from .test_consumer import BagOfWordsEncoder, InMemoryKnowledge

pytestmark = pytest.mark.component

REFUNDS = ("Refund policy", "Refunds are paid back to your card within five days.")


@dataclass
class Policies:
    threshold_value: float = 0.5
    fallback: str = "Ask our team."
    match: CuratedMatch | None = None
    asked: list[str] = field(default_factory=list)

    async def threshold(self, site_id: str) -> float:
        return self.threshold_value

    async def fallback_text(self, site_id: str) -> str:
        return self.fallback

    async def match_curated(self, site_id, question, question_vector, *, vector_model_version=None):  # type: ignore[no-untyped-def]
        self.asked.append(question)
        return self.match


def curated_match(similarity: float) -> CuratedMatch:
    now = datetime.now(UTC)
    entry = CuratedAnswer(
        site_id="acme",
        curated_id="c0ffee",
        content=CuratedContent(
            question="Do you ship to Mars?",
            answer="Not yet, but we are working on it.",
            title="Shipping to Mars",
            url="https://help.example/mars",
        ),
        created_at=now,
        updated_at=now,
    )
    return CuratedMatch(
        entry=entry,
        similarity=similarity,
        phrasing="Do you ship to Mars?",
        exact=False,
        runner_up=0.1,
    )


def answerer(policies: Policies, encoder: BatchingEncoder) -> Answerer:
    model = BagOfWordsEncoder()
    return Answerer(
        english=Route(
            ENGLISH_ROUTE,
            encoder,
            Calibration("t", "bag-of-words", FEATURE_NAMES, (10.0, 0, 0, 0, 0, 0), -5.0),
            NOISE_FLOOR,
        ),
        store=InMemoryKnowledge(model, {"acme": [REFUNDS]}),
        language=LanguageDetector(),
        policy=AnswerPolicy(),
        threshold_for=policies.threshold,
        fallback_for=policies.fallback_text,
        curated=policies,
    )


async def test_a_curated_answer_wins_over_retrieval() -> None:
    policies = Policies(match=curated_match(0.93))
    encoder = BatchingEncoder(BagOfWordsEncoder(), max_wait=0.0)
    try:
        result = await answerer(policies, encoder).answer("acme", "Can you ship to Mars?")
    finally:
        await encoder.aclose()
    assert result.answered
    assert result.text == "Not yet, but we are working on it."
    assert result.confidence == pytest.approx(0.93)
    assert result.decision.reasons == ("curated",)
    assert [(s.title, s.url, s.document_id) for s in result.sources] == [
        ("Shipping to Mars", "https://help.example/mars", "curated:c0ffee")
    ]
    assert result.raw_scores["curated_similarity"] == pytest.approx(0.93)
    assert policies.asked == ["Can you ship to Mars?"]


async def test_a_curated_match_below_the_sites_threshold_gives_way_to_retrieval() -> None:
    policies = Policies(threshold_value=0.95, match=curated_match(0.9))
    encoder = BatchingEncoder(BagOfWordsEncoder(), max_wait=0.0)
    try:
        result = await answerer(policies, encoder).answer(
            "acme", "When are refunds paid back to my card?"
        )
    finally:
        await encoder.aclose()
    assert result.decision.reasons != ("curated",)
    assert result.decision.threshold == 0.95


async def test_the_sites_fallback_text_is_used_below_its_threshold() -> None:
    policies = Policies(threshold_value=0.999, fallback="Our team answers within the hour.")
    encoder = BatchingEncoder(BagOfWordsEncoder(), max_wait=0.0)
    try:
        result = await answerer(policies, encoder).answer("acme", "Do you sell gift cards?")
    finally:
        await encoder.aclose()
    assert not result.answered
    assert result.text == "Our team answers within the hour."
    assert result.sources == []
