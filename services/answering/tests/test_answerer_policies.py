"""The Answerer asks the site's policies: its threshold, its fallback text, and its
curated answers, which win over retrieval when they match well enough."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pytest
from tandem_answering.adapters.embedder import BatchingEncoder
from tandem_answering.adapters.language import LanguageDetector
from tandem_answering.adapters.weaviate_store import RetrievedChunk
from tandem_answering.domain.answer import ENGLISH_ROUTE, FEATURE_NAMES, NOISE_FLOOR
from tandem_answering.domain.calibration import Calibration
from tandem_answering.domain.curated import CuratedAnswer, CuratedContent, CuratedMatch
from tandem_answering.service_layer.answering import Answerer, AnswerPolicy, Route

pytestmark = pytest.mark.component

REFUNDS = ("Refund policy", "Refunds are paid back to your card within five days.")
DIMENSION = 64


class WordEncoder:
    """Hashes words into a unit vector (no model): texts sharing words score high."""

    def __init__(self, dimension: int = DIMENSION, version: str = "words") -> None:
        self.dimension = dimension
        self.version = version

    def encode(self, texts: list[str], *, query: bool = True) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace("?", " ").replace(".", " ").split():
                slot = int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dimension
                out[row, slot] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class OneDocumentKnowledge:
    def __init__(self, title: str, text: str) -> None:
        vectors = WordEncoder().encode([text, title])
        self.chunk = RetrievedChunk(
            chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, title)),
            document_id="doc-0",
            title=title,
            url="https://help.example/0",
            heading_path=(),
            text=text,
            body_vector=vectors[0],
            title_vector=vectors[1],
            keyword_hit=True,
        )

    async def search(self, site_id, question, vector, *, limit=8, alpha=0.5, route="english"):  # type: ignore[no-untyped-def]
        return [self.chunk]


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
    return Answerer(
        english=Route(
            ENGLISH_ROUTE,
            encoder,
            Calibration(
                "t", "bag-of-words", FEATURE_NAMES, (10.0, *[0.0] * (len(FEATURE_NAMES) - 1)), -5.0
            ),
            NOISE_FLOOR,
        ),
        store=OneDocumentKnowledge(*REFUNDS),
        language=LanguageDetector(),
        policy=AnswerPolicy(),
        threshold_for=policies.threshold,
        fallback_for=policies.fallback_text,
        curated=policies,
    )


async def test_a_curated_answer_wins_over_retrieval() -> None:
    policies = Policies(match=curated_match(0.93))
    encoder = BatchingEncoder(WordEncoder(), max_wait=0.0)
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
    encoder = BatchingEncoder(WordEncoder(), max_wait=0.0)
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
    encoder = BatchingEncoder(WordEncoder(), max_wait=0.0)
    try:
        result = await answerer(policies, encoder).answer("acme", "Do you sell gift cards?")
    finally:
        await encoder.aclose()
    assert not result.answered
    assert result.text == "Our team answers within the hour."
    assert result.sources == []
