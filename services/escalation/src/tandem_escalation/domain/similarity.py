"""How alike two visitor questions are, for the repeated-question rule.

The rule depends only on ``QuestionSimilarity``: today a token-set Jaccard index on
normalised text; a semantic (embedding) comparison can replace it without touching the rule.
"""

from __future__ import annotations

from typing import Protocol

from .text import similarity_tokens


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


def token_count(normalised: str) -> int:
    return len(similarity_tokens(normalised))
