"""Curated answers: validation, normalisation and the match rules (pure, no model).

Vectors here are hand-made unit vectors whose cosines are known exactly, so each test says
which similarity it exercises.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from tandem_answering.domain.curated import (
    CONFIDENCE_CAP,
    CURATED_ID,
    DEFAULT_MATCH_MARGIN,
    DEFAULT_MATCH_THRESHOLD,
    MAX_ALTERNATIVES,
    MAX_ANSWER_CHARS,
    MAX_QUESTION_CHARS,
    CuratedAnswer,
    CuratedContent,
    CuratedEntry,
    CuratedIndex,
    CuratedMatch,
    InvalidCuratedAnswer,
    match_curated,
    normalise_question,
)
from tandem_answering.domain.site_settings import InvalidSiteSettings, SiteAnsweringSettings
from tandem_answering.service_layer.site_policy import new_curated_id
from tandem_events.visitor import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 20, tzinfo=UTC)
DIM = 4


def unit_at(cosine: float, axis: int = 0, towards: int = 1) -> np.ndarray:
    """A unit vector whose cosine with the basis vector ``axis`` is ``cosine``."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[axis] = cosine
    vector[towards] = math.sqrt(max(0.0, 1 - cosine * cosine))
    return vector


def basis(axis: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[axis] = 1.0
    return vector


def entry(
    curated_id: str, question: str, *vectors: np.ndarray, alternatives: tuple[str, ...] = ()
) -> CuratedEntry:
    content = CuratedContent(
        question=question, answer=f"answer of {curated_id}", alternatives=alternatives
    )
    answer = CuratedAnswer("acme", curated_id, content, NOW, NOW)
    return CuratedEntry(answer, np.vstack(vectors).astype(np.float32))


# -- normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I reset my PASSWORD?", "how do i reset my password"),
        ("  how   do I reset my password ?! ", "How do I reset my password."),
        ("Don\u2019t you ship abroad?", "don't you ship abroad"),
        # Full-width letters and question mark, as typed with a CJK input method.
        ("\uff37\uff48\uff41\uff54 \uff49\uff53 \uff54\uff48\uff49\uff53\uff1f", "what is this"),
        ("STRASSE", "straße"),
        ("\u914d\u9001\u306b\u306f\u4f55\u65e5\uff1f", "\u914d\u9001\u306b\u306f\u4f55\u65e5"),
    ],
)
def test_the_same_words_normalise_alike(a: str, b: str) -> None:
    assert normalise_question(a) == normalise_question(b)


def test_different_words_stay_different() -> None:
    assert normalise_question("How do I cancel my order?") != normalise_question(
        "How do I cancel my subscription?"
    )


# -- validation ---------------------------------------------------------------------------


def test_content_is_trimmed_and_repeated_phrasings_dropped() -> None:
    content = CuratedContent(
        question="  When are you open? ",
        answer="  Nine to five, Monday to Friday.\n",
        alternatives=("What are your opening hours?", "when are you OPEN", " Opening hours? "),
        title=" Opening hours ",
        url=" https://shop.example/hours ",
    )
    assert content.question == "When are you open?"
    assert content.answer == "Nine to five, Monday to Friday."
    assert content.alternatives == ("What are your opening hours?", "Opening hours?")
    assert content.title == "Opening hours"
    assert content.url == "https://shop.example/hours"
    assert content.phrasings[0] == "When are you open?"


def test_blank_title_and_url_mean_none() -> None:
    content = CuratedContent(question="Q?", answer="A.", title="  ", url="")
    assert content.title is None and content.url is None


@pytest.mark.parametrize(
    "fields",
    [
        {"question": ""},
        {"question": "   "},
        {"question": "?!"},
        {"question": "x" * (MAX_QUESTION_CHARS + 1)},
        {"question": "two\nlines"},
        {"question": "nul\x00byte"},
        {"question": "lone \ud800 surrogate"},
        {"answer": " \n "},
        {"answer": "x" * (MAX_ANSWER_CHARS + 1)},
        {"answer": "bell\x07"},
        {"alternatives": ("ok", "")},
        {"alternatives": tuple(f"phrasing {i}" for i in range(MAX_ALTERNATIVES + 1))},
        {"title": "a\ttitle"},
        {"title": "x" * 301},
        {"url": "javascript:alert(1)"},
        {"url": "https://"},
        {"url": "https://shop.example/a b"},
        {"url": "ftp://shop.example/x"},
        {"url": "https://shop.example/" + "x" * 2000},
    ],
)
def test_bad_content_is_refused(fields: dict[str, object]) -> None:
    values: dict[str, object] = {"question": "When are you open?", "answer": "9 to 5."}
    values.update(fields)
    with pytest.raises(InvalidCuratedAnswer):
        CuratedContent(**values)  # type: ignore[arg-type]


def test_the_answer_fits_in_one_message() -> None:
    assert MAX_ANSWER_CHARS <= MAX_MESSAGE_CHARS


def test_ids_are_random_and_match_their_pattern() -> None:
    ids = {new_curated_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(CURATED_ID.match(i) for i in ids)
    assert not CURATED_ID.match("ca_short") and not CURATED_ID.match("../" + "a" * 22)


def test_an_entry_needs_one_vector_per_phrasing() -> None:
    with pytest.raises(ValueError, match="one vector per phrasing"):
        entry("e1", "When are you open?", basis(0), basis(1))


# -- matching ---------------------------------------------------------------------------


def test_an_exact_phrasing_wins_whatever_the_vectors() -> None:
    hours = entry("hours", "When are you open?", basis(0), alternatives=())
    ship = entry("ship", "Do you ship abroad?", basis(1))
    # The vector points at "ship": the words still say "hours".
    found = match_curated(normalise_question("when are you OPEN"), basis(1), [hours, ship])
    assert found is not None
    assert found.entry.curated_id == "hours" and found.exact
    assert found.similarity == 1.0 and found.phrasing == "When are you open?"
    assert found.runner_up == pytest.approx(1.0)  # "ship" scored 1 on the vector


def test_an_alternative_phrasing_matches_exactly_too() -> None:
    hours = entry(
        "hours", "When are you open?", basis(0), basis(2), alternatives=("Opening hours",)
    )
    found = match_curated("opening hours", None, [hours])
    assert found is not None and found.exact and found.phrasing == "Opening hours"


def test_without_a_vector_only_exact_matches_count() -> None:
    hours = entry("hours", "When are you open?", basis(0))
    assert match_curated("what are your opening hours", None, [hours]) is None
    empty = np.zeros(0, dtype=np.float32)
    assert match_curated("what are your opening hours", empty, [hours]) is None


def test_a_close_enough_question_matches_its_closest_phrasing() -> None:
    hours = entry(
        "hours", "When are you open?", basis(0), basis(2), alternatives=("Opening hours",)
    )
    found = match_curated("are you open on monday", unit_at(0.9, axis=2, towards=3), [hours])
    assert found is not None and not found.exact
    assert found.similarity == pytest.approx(0.9, abs=1e-6)
    assert found.phrasing == "Opening hours"
    assert found.runner_up == 0.0
    assert found.confidence == pytest.approx(0.9, abs=1e-6)


@pytest.mark.parametrize(
    ("cosine", "matches"),
    [
        (DEFAULT_MATCH_THRESHOLD + 0.001, True),
        (DEFAULT_MATCH_THRESHOLD - 0.001, False),
        (0.5, False),
        (-0.9, False),
    ],
)
def test_the_threshold(cosine: float, matches: bool) -> None:
    hours = entry("hours", "When are you open?", basis(0))
    found = match_curated("something else", unit_at(cosine), [hours])
    assert (found is not None) is matches


def test_the_threshold_is_a_parameter() -> None:
    hours = entry("hours", "When are you open?", basis(0))
    assert match_curated("x", unit_at(0.7), [hours]) is None
    assert match_curated("x", unit_at(0.7), [hours], threshold=0.65) is not None


def test_two_entries_that_both_fit_are_ambiguous_and_neither_wins() -> None:
    # Two pinned questions 0.97 apart; the visitor asks the first one's words in other
    # words (cos 0.99 to it, about 0.96 to the other): both clear the threshold, 0.03 apart.
    a = entry("a", "Cancel my order", basis(0))
    b = entry("b", "Cancel my subscription", unit_at(0.97, 0, 1))
    question = unit_at(0.99, 0, 2)
    scores = [e.similarity(question) for e in (a, b)]
    assert all(s is not None and s > DEFAULT_MATCH_THRESHOLD for s in scores)
    assert scores[0] - scores[1] < DEFAULT_MATCH_MARGIN  # type: ignore[operator]
    assert match_curated("cancel", question, [a, b]) is None


def test_a_clear_winner_keeps_its_margin_over_the_runner_up() -> None:
    a = entry("a", "Cancel my order", basis(0))
    b = entry("b", "Cancel my subscription", basis(1))
    question = unit_at(0.95, axis=0, towards=1)  # cos 0.95 to a, 0.31 to b
    found = match_curated("cancel it", question, [a, b])
    assert found is not None and found.entry.curated_id == "a"
    assert found.runner_up == pytest.approx(math.sqrt(1 - 0.95**2), abs=1e-6)
    assert found.margin > DEFAULT_MATCH_MARGIN


def test_margin_just_below_the_minimum_is_refused() -> None:
    a = entry("a", "A", basis(0))
    b = entry("b", "B", unit_at(0.97, 0, 1))
    # cos to a = 0.9; to b = 0.97 * 0.9 + 0.243 * y = 0.87: 0.03 apart.
    y = (0.87 - 0.97 * 0.9) / math.sqrt(1 - 0.97**2)
    question = np.array([0.9, y, math.sqrt(1 - 0.81 - y * y), 0.0], dtype=np.float32)
    assert [e.similarity(question) for e in (a, b)] == pytest.approx([0.9, 0.87], abs=1e-5)
    assert match_curated("q", question, [a, b]) is None
    assert match_curated("q", question, [a, b], margin=0.02) is not None


def test_the_phrasings_of_one_entry_never_compete_with_each_other() -> None:
    hours = entry(
        "hours", "When are you open?", basis(0), basis(0), alternatives=("Opening hours",)
    )
    found = match_curated("open?", unit_at(0.9), [hours])
    assert found is not None and found.runner_up == 0.0


def test_vectors_of_another_size_are_ignored_not_compared() -> None:
    hours = entry("hours", "When are you open?", basis(0))
    other_model = np.ones(8, dtype=np.float32) / math.sqrt(8)
    assert hours.similarity(other_model) is None
    assert match_curated("something", other_model, [hours]) is None
    assert match_curated("when are you open", other_model, [hours]) is not None
    text_only = CuratedEntry(hours.answer, np.zeros((1, 0), dtype=np.float32))
    assert match_curated("something", basis(0), [text_only]) is None
    assert match_curated("when are you open", basis(0), [text_only]) is not None


def test_no_entries_no_match() -> None:
    assert match_curated("anything", basis(0), []) is None


def test_ties_are_broken_by_entry_order() -> None:
    a = entry("a", "Same words", basis(0))
    b = entry("b", "Other words", basis(1), basis(2), alternatives=("same words!",))
    found = match_curated("same words", None, [a, b])
    assert found is not None and found.entry.curated_id == "a"


# -- confidence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("similarity", "confidence"),
    [(1.0, CONFIDENCE_CAP), (0.995, CONFIDENCE_CAP), (0.9, 0.9), (0.86, 0.86), (-0.2, 0.0)],
)
def test_confidence_is_the_similarity_capped(similarity: float, confidence: float) -> None:
    answer = entry("a", "Q", basis(0)).answer
    match = CuratedMatch(answer, similarity, "Q", exact=False, runner_up=0.0)
    assert match.confidence == pytest.approx(confidence)
    assert 0.0 <= match.confidence < 1.0


def test_an_exact_match_is_never_reported_as_certain() -> None:
    found = match_curated("q", None, [entry("a", "Q", basis(0))])
    assert found is not None and found.confidence == CONFIDENCE_CAP < 1.0
    assert found.raw_scores == {
        "curated_similarity": 1.0,
        "curated_margin": 1.0,
        "curated_exact": 1.0,
    }


def test_a_curated_source_is_named_apart_from_documents() -> None:
    answer = entry("ca_x", "When are you open?", basis(0)).answer
    assert answer.source_title == "When are you open?"
    assert answer.document_id == "curated:ca_x"
    titled = CuratedAnswer(
        "acme", "ca_y", CuratedContent(question="Q", answer="A", title="Hours"), NOW, NOW
    )
    assert titled.source_title == "Hours"
    assert titled.to_json()["title"] == "Hours"


# -- a site's answering settings ----------------------------------------------------------


def test_settings_default_to_the_service() -> None:
    settings = SiteAnsweringSettings()
    assert settings.threshold_or(0.5) == 0.5 and settings.fallback_or("dflt") == "dflt"
    own = SiteAnsweringSettings(answer_threshold=0, fallback_text="  Ask a person.  ")
    assert own.threshold_or(0.5) == 0.0 and own.fallback_or("dflt") == "Ask a person."


@pytest.mark.parametrize(
    "fields",
    [
        {"answer_threshold": -0.01},
        {"answer_threshold": 1.01},
        {"answer_threshold": float("nan")},
        {"answer_threshold": float("inf")},
        {"answer_threshold": True},
        {"answer_threshold": "0.5"},
        {"fallback_text": ""},
        {"fallback_text": "  "},
        {"fallback_text": "x" * 1001},
        {"fallback_text": "nul\x00"},
    ],
)
def test_bad_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidSiteSettings):
        SiteAnsweringSettings(**fields)  # type: ignore[arg-type]


# -- the index a site's entries are matched through --------------------------------------


def random_entries(count: int, phrasings: int, dimension: int, seed: int = 0) -> list[CuratedEntry]:
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(count):
        vectors = rng.normal(size=(phrasings, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        content = CuratedContent(
            question=f"Question {i}",
            answer="A",
            alternatives=tuple(f"phrasing {i} {j}" for j in range(phrasings - 1)),
        )
        entries.append(CuratedEntry(CuratedAnswer("acme", f"e{i}", content, NOW, NOW), vectors))
    return entries


def test_the_index_scores_each_entry_by_its_closest_phrasing() -> None:
    entries = random_entries(50, 4, 16)
    index = CuratedIndex.build(entries)
    rng = np.random.default_rng(1)
    for _ in range(20):
        question = rng.normal(size=16).astype(np.float32)
        question /= np.linalg.norm(question)
        best, _ = index.best_per_entry(question)
        expected = [e.similarity(question) for e in entries]
        np.testing.assert_allclose(best, np.array(expected, dtype=np.float64), atol=1e-6)


def test_the_index_names_the_phrasing_that_matched() -> None:
    entries = random_entries(30, 5, 16)
    index = CuratedIndex.build(entries)
    target = entries[17].vectors[3]  # "phrasing 17 2"
    found = match_curated("not the same words", target, index)
    assert found is not None and found.entry.curated_id == "e17"
    assert found.phrasing == "phrasing 17 2" and found.similarity == pytest.approx(1.0, abs=1e-6)


def test_the_index_leaves_entries_of_another_size_to_exact_matching() -> None:
    same = entry("same", "When are you open?", basis(0))
    other_model = CuratedEntry(
        entry("other", "Do you ship abroad?", basis(1)).answer, np.ones((1, 8), dtype=np.float32)
    )
    text_only = CuratedEntry(
        entry("text", "Gift cards?", basis(2)).answer, np.zeros((1, 0), dtype=np.float32)
    )
    index = CuratedIndex.build([text_only, same, other_model])
    best, _ = index.best_per_entry(basis(0))
    assert list(best) == [-np.inf, pytest.approx(1.0), -np.inf]
    assert match_curated("open", basis(0), index).entry.curated_id == "same"  # type: ignore[union-attr]
    for words, winner in (("gift cards", "text"), ("do you ship abroad", "other")):
        found = match_curated(words, basis(0), index)
        assert found is not None and found.exact and found.entry.curated_id == winner
        assert found.runner_up == pytest.approx(1.0)  # "same" scored 1 on the vector


def test_an_empty_index_matches_nothing() -> None:
    index = CuratedIndex.build([])
    assert len(index) == 0
    assert match_curated("anything", basis(0), index) is None
