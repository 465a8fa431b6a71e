from __future__ import annotations

import pytest
from tandem_answering.domain.answer import (
    FEATURE_NAMES,
    NO_CANDIDATE_FEATURES,
    NOISE_FLOOR,
    Candidate,
    compute_features,
    decide,
    lexical_overlap,
    rank,
    related_sources,
    select_sentences,
    truncate,
)

pytestmark = pytest.mark.unit


def candidate(
    chunk: str,
    document: str,
    body: float,
    title: float,
    *,
    keyword: bool = False,
    text: str = "",
    title_text: str = "Doc",
    language: str = "",
) -> Candidate:
    return Candidate(
        chunk_id=chunk,
        document_id=document,
        title=title_text,
        url=None,
        heading_path=(),
        text=text,
        body_score=body,
        title_score=title,
        keyword_hit=keyword,
        language=language,
    )


def test_rank_uses_the_better_of_body_and_title() -> None:
    a = candidate("a", "d1", body=0.4, title=0.9)
    b = candidate("b", "d2", body=0.8, title=0.1)
    c = candidate("c", "d3", body=0.5, title=0.5)
    assert [x.chunk_id for x in rank([c, b, a])] == ["a", "b", "c"]


def test_rank_breaks_ties_by_chunk_id() -> None:
    assert [
        x.chunk_id for x in rank([candidate("z", "d", 0.5, 0), candidate("y", "e", 0.5, 0)])
    ] == ["y", "z"]


def test_features_of_a_clear_winner() -> None:
    ranked = rank(
        [
            candidate(
                "a1", "d1", body=0.7, title=0.9, keyword=True, text="cancel an order in settings"
            ),
            candidate("a2", "d1", body=0.85, title=0.2),  # same document: not the runner-up
            candidate("b1", "d2", body=0.5, title=0.4),
        ]
    )
    features = compute_features("How do I cancel my order?", ranked)
    assert features.top_score == pytest.approx(0.9)
    assert features.margin == pytest.approx(0.4)
    assert features.keyword_hit == 1.0
    assert features.lexical_overlap == 1.0
    assert features.title_body_agreement == 1.0  # best body (a2) and best title (a1) are both d1
    assert list(features.as_dict()) == list(FEATURE_NAMES)


def test_disagreement_and_single_document() -> None:
    ranked = rank(
        [candidate("a", "d1", body=0.2, title=0.8), candidate("b", "d2", body=0.6, title=0.1)]
    )
    assert compute_features("q", ranked).title_body_agreement == 0.0
    # Without a runner-up (or above a weak one) the margin is measured from the noise floor.
    alone = compute_features("q", [candidate("a", "d1", body=0.3, title=0.6)])
    assert alone.margin == pytest.approx(0.6 - NOISE_FLOOR)
    weak = compute_features(
        "q", rank([candidate("a", "d1", 0.25, 0), candidate("b", "d2", 0.01, 0)])
    )
    assert weak.margin == pytest.approx(0.25 - NOISE_FLOOR)


def test_pack_margin_is_the_lead_over_the_next_four_documents() -> None:
    ranked = rank(
        [
            candidate("a", "d1", body=0.9, title=0.0),
            candidate("a2", "d1", body=0.85, title=0.0),  # same document: not in the pack
            candidate("b", "d2", body=0.8, title=0.0),
            candidate("c", "d3", body=0.7, title=0.0),
            candidate("d", "d4", body=0.6, title=0.0),
            candidate("e", "d5", body=0.5, title=0.0),
            candidate("f", "d6", body=0.4, title=0.0),  # sixth document: beyond the pack
        ]
    )
    features = compute_features("q", ranked)
    assert features.pack_margin == pytest.approx(0.9 - (0.8 + 0.7 + 0.6 + 0.5) / 4)
    assert features.spread == pytest.approx(0.9 - 0.5)
    # Fewer than five documents: the missing places count at the noise floor.
    two = compute_features("q", rank([candidate("a", "d1", 0.9, 0), candidate("b", "d2", 0.8, 0)]))
    assert two.pack_margin == pytest.approx(0.9 - (0.8 + 3 * NOISE_FLOOR) / 4)


def test_same_language_compares_the_question_with_the_best_document() -> None:
    ranked = rank([candidate("a", "d1", 0.9, 0, language="en"), candidate("b", "d2", 0.5, 0)])
    assert compute_features("q", ranked, language="en").same_language == 1.0
    assert compute_features("q", ranked, language="de").same_language == 0.0
    # Unknown on either side is not evidence of a mismatch.
    assert compute_features("q", ranked).same_language == 1.0
    unknown = rank([candidate("a", "d1", 0.9, 0, language="")])
    assert compute_features("q", unknown, language="de").same_language == 1.0


def test_no_candidates_give_zero_features() -> None:
    assert compute_features("anything", []) == NO_CANDIDATE_FEATURES


def test_lexical_overlap_is_a_share_of_question_terms() -> None:
    c = candidate(
        "a", "d", 0, 0, text="Refunds are sent within 5 days.", title_text="Refund policy"
    )
    assert lexical_overlap("When will my refund be sent?", c) == pytest.approx(2 / 2)
    assert lexical_overlap("Where is my parcel?", c) == 0.0
    assert lexical_overlap("the and of", c) == 0.0


def test_select_sentences_keeps_the_best_in_original_order() -> None:
    sentences = ["Intro.", "Best answer here.", "Filler.", "Second best."]
    scores = [0.1, 0.9, 0.2, 0.8]
    assert select_sentences(sentences, scores) == "Best answer here. Second best."


def test_select_sentences_drops_weak_company_and_respects_length() -> None:
    sentences = ["A" * 50 + ".", "B" * 50 + ".", "C" * 50 + "."]
    assert (
        select_sentences(sentences, [0.9, 0.5, 0.88], keep_within=0.15)
        == sentences[0] + " " + sentences[2]
    )
    assert (
        select_sentences(sentences, [0.9, 0.89, 0.88], max_chars=110)
        == sentences[0] + " " + sentences[1]
    )
    assert select_sentences(sentences, [0.9, 0.89, 0.88], max_sentences=1) == sentences[0]


def test_select_sentences_truncates_one_huge_sentence() -> None:
    text = select_sentences(["word " * 200], [1.0], max_chars=100)
    assert len(text) <= 100
    assert text.endswith("…")


def test_select_sentences_validates_input() -> None:
    assert select_sentences([], []) == ""
    with pytest.raises(ValueError, match="one score per sentence"):
        select_sentences(["a"], [])


def test_truncate_at_word_boundary() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("one two three four", 12) == "one two…"


def test_related_sources_dedupe_documents_and_keep_close_ones() -> None:
    ranked = rank(
        [
            candidate("a1", "d1", 0.9, 0),
            candidate("a2", "d1", 0.88, 0),
            candidate("b1", "d2", 0.85, 0),
            candidate("c1", "d3", 0.5, 0),
        ]
    )
    assert [c.chunk_id for c in related_sources(ranked)] == ["a1", "b1"]
    assert related_sources([]) == []


def test_decide() -> None:
    assert decide(0.7, 0.5, has_candidate=True).answered
    below = decide(0.4, 0.5, has_candidate=True)
    assert not below.answered
    assert below.reasons == ("below_threshold",)
    assert decide(0.99, 0.5, has_candidate=False).reasons == ("no_candidate",)
