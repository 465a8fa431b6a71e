"""Which route answers: a sure language picks one, an unsure one asks both and keeps the
more confident answer (each route's confidence is calibrated, so they compare)."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from tandem_answering.adapters.embedder import BatchingEncoder
from tandem_answering.adapters.language import LanguageDetector
from tandem_answering.adapters.weaviate_store import RetrievedChunk
from tandem_answering.domain.answer import (
    ENGLISH_ROUTE,
    FEATURE_NAMES,
    MULTILINGUAL_ROUTE,
    NOISE_FLOOR,
)
from tandem_answering.domain.calibration import Calibration
from tandem_answering.service_layer.answering import Answerer, AnswerPolicy, Route, fixed_threshold

from .test_answerer_policies import WordEncoder

pytestmark = pytest.mark.component

SERBIAN = "postavi alarm za 7"  # no language reaches 0.5 and English is all but ruled out


class RouteKnowledge:
    """Each route finds the same document, but only the multilingual one finds it well:
    what happens when a question is in a language MiniLM cannot read."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    async def search(self, site_id, question, vector, *, limit=8, alpha=0.5, route="english"):  # type: ignore[no-untyped-def]
        self.searched.append(route)
        strong = route == MULTILINGUAL_ROUTE
        unit = np.asarray(vector, dtype=np.float32)
        # Cosine 0.9 with the question on the multilingual route, 0.3 on the English one.
        along = 0.9 if strong else 0.3
        noise = np.roll(unit, 1)
        noise = noise - float(noise @ unit) * unit
        noise /= np.linalg.norm(noise) or 1.0
        doc_vector = (along * unit + np.sqrt(1 - along**2) * noise).astype(np.float32)
        return [
            RetrievedChunk(
                chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, route)),
                document_id="alarms",
                title="Alarms",
                url=None,
                heading_path=(),
                text="Set, change or cancel an alarm from the Alarms page.",
                body_vector=doc_vector,
                title_vector=doc_vector,
                keyword_hit=False,
                language="en",
            )
        ]


def route(name: str, encoder: BatchingEncoder) -> Route:
    # Confidence rises with the top score alone, the same way on both routes.
    coefficients = (12.0, *[0.0] * (len(FEATURE_NAMES) - 1))
    return Route(
        name, encoder, Calibration(name, "words", FEATURE_NAMES, coefficients, -6.0), NOISE_FLOOR
    )


def two_route_answerer(
    english: BatchingEncoder,
    multilingual: BatchingEncoder,
    knowledge: RouteKnowledge,
    **options: Any,
) -> Answerer:
    """Both routes over ``knowledge``, threshold 0.5; ``options`` go to the Answerer."""
    return Answerer(
        english=route(ENGLISH_ROUTE, english),
        multilingual=route(MULTILINGUAL_ROUTE, multilingual),
        store=knowledge,
        language=LanguageDetector(),
        policy=AnswerPolicy(),
        threshold_for=fixed_threshold(0.5),
        **options,
    )


async def answer(question: str, *, locale: str | None = None) -> tuple[object, list[str]]:
    english = BatchingEncoder(WordEncoder(), max_wait=0.0)
    multilingual = BatchingEncoder(WordEncoder(), max_wait=0.0, name="multilingual")
    knowledge = RouteKnowledge()
    answerer = two_route_answerer(english, multilingual, knowledge)
    try:
        result = await answerer.answer("acme", question, locale=locale)
    finally:
        await english.aclose()
        await multilingual.aclose()
    return result, knowledge.searched


async def test_an_unsure_language_asks_both_routes_and_keeps_the_more_confident() -> None:
    result, searched = await answer(SERBIAN)
    assert sorted(searched) == [ENGLISH_ROUTE, MULTILINGUAL_ROUTE]
    assert result.route == MULTILINGUAL_ROUTE  # type: ignore[attr-defined]
    assert result.answered  # type: ignore[attr-defined]
    assert result.raw_scores["language_unsure"] == 1.0  # type: ignore[attr-defined]
    assert result.calibration_version == MULTILINGUAL_ROUTE  # type: ignore[attr-defined]


async def test_a_sure_language_asks_one_route() -> None:
    result, searched = await answer("Where can I change the time of my alarm?")
    assert searched == [ENGLISH_ROUTE]
    assert result.raw_scores["language_unsure"] == 0.0  # type: ignore[attr-defined]


async def test_the_visitors_locale_makes_an_unsure_text_sure() -> None:
    result, searched = await answer(SERBIAN, locale="en-GB")
    assert searched == [ENGLISH_ROUTE]
    assert result.route == ENGLISH_ROUTE  # type: ignore[attr-defined]
    assert not result.answered  # type: ignore[attr-defined]
