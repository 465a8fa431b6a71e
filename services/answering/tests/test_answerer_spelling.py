"""The Answerer mends misspelt words only in what the English model embeds: keyword search
and the multilingual route read the question as the visitor typed it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from tandem_answering.adapters.embedder import BatchingEncoder
from tandem_answering.domain.answer import MULTILINGUAL_ROUTE
from tandem_answering.domain.spelling import Speller

from .test_answerer_language_routes import RouteKnowledge, two_route_answerer
from .test_answerer_policies import WordEncoder

pytestmark = pytest.mark.component

MODEL_WORDS = frozenset({"how", "do", "i", "my", "wie", "kann", "ich", "meine"})
SITE_WORDS = {"cancel": 4, "order": 9, "bestellung": 2}


class RecordingEncoder(WordEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts: list[str], *, query: bool = True) -> np.ndarray:
        self.seen.extend(texts)
        return super().encode(texts, query=query)


class RecordingKnowledge(RouteKnowledge):
    def __init__(self) -> None:
        super().__init__()
        self.questions: list[str] = []

    async def search(self, site_id, question, vector, *, limit=8, alpha=0.5, route="english"):  # type: ignore[no-untyped-def]
        self.questions.append(question)
        return await super().search(site_id, question, vector, limit=limit, route=route)


async def ask(
    question: str, *, speller: Speller | None = None, locale: str | None = None
) -> tuple[object, RecordingEncoder, RecordingEncoder, RecordingKnowledge, list[str]]:
    english_model, multilingual_model = RecordingEncoder(), RecordingEncoder()
    english = BatchingEncoder(english_model, max_wait=0.0)
    multilingual = BatchingEncoder(multilingual_model, max_wait=0.0, name="multilingual")
    knowledge = RecordingKnowledge()
    asked_for_words: list[str] = []

    async def words_for(site_id: str) -> Mapping[str, int]:
        asked_for_words.append(site_id)
        return SITE_WORDS

    answerer = two_route_answerer(
        english, multilingual, knowledge, speller=speller, words_for=words_for
    )
    try:
        result = await answerer.answer("acme", question, locale=locale)
    finally:
        await english.aclose()
        await multilingual.aclose()
    return result, english_model, multilingual_model, knowledge, asked_for_words


async def test_the_english_model_reads_the_mended_question_keyword_search_the_typed_one() -> None:
    typed = "How do I cancfel my oorder 73220134?"
    result, english, multilingual, knowledge, _ = await ask(
        typed, speller=Speller(MODEL_WORDS), locale="en"
    )
    assert english.seen == ["How do I cancel my order ?"]
    assert multilingual.seen == []
    assert knowledge.questions == [typed]
    assert result.raw_scores["mended_words"] == 2.0  # type: ignore[attr-defined]


async def test_without_a_speller_nothing_is_mended() -> None:
    result, english, _, _, asked_for_words = await ask("How do I cancfel my oorder?", locale="en")
    assert english.seen == ["How do I cancfel my oorder?"]
    assert asked_for_words == []
    assert result.raw_scores["mended_words"] == 0.0  # type: ignore[attr-defined]


async def test_a_question_for_the_multilingual_route_is_not_mended() -> None:
    typed = "Wie kann ich meine Bestelung stornieren?"
    result, english, multilingual, _, asked_for_words = await ask(
        typed, speller=Speller(MODEL_WORDS)
    )
    assert result.route == MULTILINGUAL_ROUTE  # type: ignore[attr-defined]
    assert multilingual.seen == [typed]
    assert english.seen == []
    assert asked_for_words == []  # the site's words are not even read
