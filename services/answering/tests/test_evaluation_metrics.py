"""The figures ``make eval`` prints: recall@k, MRR, AUROC, ECE inputs, error cut."""

from __future__ import annotations

import pytest
from tandem_answering.domain.evaluation import (
    Judged,
    auroc,
    confidence_metrics,
    error_cut,
    reliability_bins,
    retrieval_metrics,
)
from tandem_answering.domain.text import text_for_embedding

pytestmark = pytest.mark.unit


def judged(answers: set[str], ranking: tuple[str, ...], confidence: float = 0.5) -> Judged:
    return Judged(frozenset(answers), ranking, confidence, answered=confidence >= 0.5)


def test_retrieval_metrics_count_only_in_scope_questions() -> None:
    rows = [
        judged({"a"}, ("a", "b")),  # rank 1
        judged({"b"}, ("a", "c", "d", "e", "b")),  # rank 5
        judged({"z"}, ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "z")),  # rank 11
        judged(set(), ("a",)),  # out of scope: not counted
    ]
    metrics = retrieval_metrics(rows)
    assert metrics["recall_at_1"] == pytest.approx(1 / 3)
    assert metrics["recall_at_5"] == pytest.approx(2 / 3)
    assert metrics["mrr_at_10"] == pytest.approx((1 + 1 / 5 + 0) / 3)


def test_auroc_matches_pairwise_definition_with_ties() -> None:
    scores = [0.9, 0.8, 0.8, 0.1, 0.8]
    positives = [True, True, False, False, True]
    pairs = [
        (1.0 if p > n else 0.5 if p == n else 0.0)
        for p, pp in zip(scores, positives, strict=True)
        if pp
        for n, nn in zip(scores, positives, strict=True)
        if not nn
    ]
    assert auroc(scores, positives) == pytest.approx(sum(pairs) / len(pairs))
    assert auroc([0.1, 0.2], [True, True]) is None


def test_confidence_metrics_treat_out_of_scope_answers_as_wrong() -> None:
    rows = [
        judged({"a"}, ("a",), 0.9),  # answered, right
        judged({"a"}, ("b",), 0.6),  # answered, wrong
        judged(set(), ("a",), 0.7),  # answered out of scope: wrong
        judged(set(), ("a",), 0.1),  # fallback
    ]
    metrics = confidence_metrics(rows)
    assert metrics["answered_rate"] == pytest.approx(0.75)
    assert metrics["answered_accuracy"] == pytest.approx(1 / 3)
    assert metrics["auroc_out_of_scope"] == pytest.approx(0.75)


def test_reliability_bins_put_each_answer_in_one_bin() -> None:
    bins = reliability_bins([0.05, 0.15, 0.95, 1.0], [False, True, True, True], bins=10)
    assert [b["count"] for b in bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins[9]["accuracy"] == 1.0
    assert bins[9]["confidence"] == pytest.approx(0.975)


def test_error_cut() -> None:
    assert error_cut(0.95, 0.90) == pytest.approx(0.5)
    assert error_cut(0.9, 0.9) == pytest.approx(0.0)
    assert error_cut(0.5, 1.0) is None


@pytest.mark.parametrize(
    ("question", "embedded"),
    [
        ("I can't pay for purchase 732201349959", "I can't pay for purchase"),
        ("call 555-123-4567 now", "call now"),
        ("order 12 is late", "order 12 is late"),  # short numbers carry meaning
        ("E1234 error", "E1234 error"),  # codes stay
        ("123456", "123456"),  # nothing else left: keep the question
    ],
)
def test_long_numbers_are_not_embedded(question: str, embedded: str) -> None:
    assert text_for_embedding(question) == embedded
