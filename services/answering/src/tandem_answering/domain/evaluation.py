"""Retrieval and confidence metrics of ``make eval`` (pure: rankings and numbers in).

A question is *in scope* when it names at least one right document; the answer is right
when the top-ranked document is one of them. Out-of-scope questions are never right: the
right behaviour for them is a low confidence and the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .calibration import expected_calibration_error


@dataclass(frozen=True, slots=True)
class Judged:
    """One question as the pipeline handled it."""

    answer_ids: frozenset[str]
    ranking: tuple[str, ...]  # document ids, best first, each once
    confidence: float
    answered: bool
    language: str = "en"

    @property
    def in_scope(self) -> bool:
        return bool(self.answer_ids)

    @property
    def right(self) -> bool:
        return bool(self.ranking) and self.ranking[0] in self.answer_ids

    def hit_at(self, k: int) -> bool:
        return any(doc in self.answer_ids for doc in self.ranking[:k])

    def reciprocal_rank(self, k: int = 10) -> float:
        for position, doc in enumerate(self.ranking[:k], start=1):
            if doc in self.answer_ids:
                return 1.0 / position
        return 0.0


def retrieval_metrics(judged: Sequence[Judged]) -> dict[str, float]:
    """recall@1, recall@5 and MRR@10 over the in-scope questions."""
    in_scope = [j for j in judged if j.in_scope]
    if not in_scope:
        return {"recall_at_1": 0.0, "recall_at_5": 0.0, "mrr_at_10": 0.0}
    return {
        "recall_at_1": float(np.mean([j.hit_at(1) for j in in_scope])),
        "recall_at_5": float(np.mean([j.hit_at(5) for j in in_scope])),
        "mrr_at_10": float(np.mean([j.reciprocal_rank(10) for j in in_scope])),
    }


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half);
    None when one class is missing."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    # Mann-Whitney U from average ranks (ties share their rank).
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_scores = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def confidence_metrics(judged: Sequence[Judged]) -> dict[str, float | None]:
    """Calibration (ECE against "the top document is right"), out-of-scope detection
    (AUROC of confidence, in scope = positive) and what the threshold lets through."""
    confidence = [j.confidence for j in judged]
    right = [j.right for j in judged]
    answered = [j for j in judged if j.answered]
    return {
        "ece": expected_calibration_error(confidence, [float(r) for r in right]),
        "auroc_out_of_scope": auroc(confidence, [j.in_scope for j in judged]),
        "answered_accuracy": (float(np.mean([j.right for j in answered])) if answered else None),
        "answered_rate": float(len(answered) / len(judged)) if judged else 0.0,
    }


def reliability_bins(
    confidence: Sequence[float], right: Sequence[bool], *, bins: int = 10
) -> list[dict[str, float]]:
    """Per equal-width bin: its range, how many answers fell in it, their mean confidence
    and their accuracy (the data of a reliability diagram)."""
    p = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(right, dtype=np.float64)
    index = np.clip(np.ceil(p * bins).astype(int) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        out.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "count": count,
                "confidence": float(p[members].mean()) if count else 0.0,
                "accuracy": float(y[members].mean()) if count else 0.0,
            }
        )
    return out


def percentile_ms(latencies_seconds: Sequence[float], q: float) -> float:
    if not latencies_seconds:
        return 0.0
    return float(np.percentile(np.asarray(latencies_seconds) * 1000.0, q))


def error_cut(ours: float, baseline: float) -> float | None:
    """How much of the baseline's recall@1 error we remove (0.3 = 30 % fewer misses)."""
    baseline_error = 1.0 - baseline
    if baseline_error <= 0:
        return None
    return (baseline_error - (1.0 - ours)) / baseline_error
