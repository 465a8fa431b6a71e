"""How alike two visitor questions are, for the repeated-question rule.

The rule depends only on ``QuestionSimilarity`` (a score in [0, 1] for two normalised
questions, compared with the policy's ``repeated_question_similarity``, default 0.8):

* ``SemanticSimilarity``: cosine of the questions' multilingual-e5 embeddings, so "how do I
  reset my password?" and "I forgot my password, how can I change it?" are the same
  question, in any language. e5's cosines crowd into [0.8, 1], so the cosine is mapped
  piecewise-linearly onto the policy's scale: ``COSINE_FLOOR`` → 0, ``COSINE_AT_DEFAULT``
  → 0.8 (the default threshold), 1 → 1. A question without an embedding is compared with
  the fallback.
* ``TokenJaccard``: shared tokens over all tokens; the fallback when the model is not
  loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .text import similarity_tokens

Vector = npt.NDArray[np.float32]

#: Cosines at or below this are unrelated questions (score 0).
COSINE_FLOOR = 0.85
#: The cosine that scores 0.8, the default threshold. Tuned on the hand-written paraphrase
#: and different-question pairs in the unit tests (test_similarity.py). The small model
#: cannot fully separate rewordings from *different questions about the same thing*
#: ("how much is the pro plan?" / "what does the pro plan include?" reach 0.94), so the
#: point favours precision: an unneeded escalation of a conversation going well costs more
#: than a missed heavy rewording, which the low-confidence and frustration rules also see.
COSINE_AT_DEFAULT = 0.93
DEFAULT_THRESHOLD = 0.8


class QuestionSimilarity(Protocol):
    def __call__(self, first: str, second: str) -> float:
        """Similarity in [0, 1] of two *normalised* questions."""
        ...


class TokenJaccard:
    """Shared tokens over all tokens (words; character bigrams for Chinese and Japanese)."""

    def __call__(self, first: str, second: str) -> float:
        a, b = similarity_tokens(first), similarity_tokens(second)
        if not a or not b:
            return 0.0
        return len(a & b) / len(a | b)


def calibrated_cosine(cosine: float) -> float:
    """e5 cosine → the policy's similarity scale (monotonic, [0, 1])."""
    if cosine <= COSINE_FLOOR:
        return 0.0
    if cosine >= 1.0:
        return 1.0
    if cosine <= COSINE_AT_DEFAULT:
        return DEFAULT_THRESHOLD * (cosine - COSINE_FLOOR) / (COSINE_AT_DEFAULT - COSINE_FLOOR)
    return DEFAULT_THRESHOLD + (1 - DEFAULT_THRESHOLD) * (cosine - COSINE_AT_DEFAULT) / (
        1 - COSINE_AT_DEFAULT
    )


class SemanticSimilarity:
    """Embedding similarity for the questions that have embeddings (by normalised text)."""

    def __init__(
        self,
        vectors: Mapping[str, Vector],
        fallback: QuestionSimilarity | None = None,
    ) -> None:
        self.vectors = vectors
        self.fallback = fallback or TokenJaccard()

    def __call__(self, first: str, second: str) -> float:
        a, b = self.vectors.get(first), self.vectors.get(second)
        if a is None or b is None:
            return self.fallback(first, second)
        if first == second:
            return 1.0
        return round(calibrated_cosine(float(np.dot(a, b))), 4)


def token_count(normalised: str) -> int:
    return len(similarity_tokens(normalised))
