"""Misspelt words of a question, mended towards the words of the site's own knowledge base.

Visitors type fast: "how do I cancfel my oorder". A sentence model splits an unknown word
into word pieces that mean nothing ("can", "##cf", "##el"), so the question's vector drifts
away from the passage that answers it. A word is mended only when all of this holds:

* neither the model's vocabulary nor the knowledge base knows it (a word either of them
  knows is taken as meant, however rare);
* it has at least ``MIN_LENGTH`` letters (short words have too many neighbours);
* it is not an inflection of a known word ("refunds", "shipped") nor a contraction typed
  without its apostrophe ("dont", "cant": mending "wont" to "want" changes the meaning);
* a word of the knowledge base is one edit away (a letter deleted, inserted, replaced, or
  two neighbours swapped); the most frequent such word wins.

Only the text the English model embeds is mended: keyword search still reads what the
visitor typed, and the multilingual route's questions are not in the knowledge base's
language to begin with. On the evaluation sets this lifts support-shop recall@1 by 1.3
points and StackFAQ's by 0.3 (see docs/quality.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MIN_LENGTH = 4

#: Words as the speller sees them: runs of ASCII letters (digits and accents split them).
#: The knowledge base's words are counted the same way (adapters/repository.py).
WORD = re.compile(r"[A-Za-z]+")

#: Contractions without their apostrophe and chat shorthand: meant as typed.
UNMENDED = frozenset(
    {
        "arent",
        "cant",
        "couldnt",
        "didnt",
        "doesnt",
        "dont",
        "hadnt",
        "hasnt",
        "havent",
        "isnt",
        "shouldnt",
        "thats",
        "theres",
        "wasnt",
        "werent",
        "whats",
        "wont",
        "wouldnt",
        "youre",
        "youve",
        "pls",
        "plz",
        "thx",
    }
)

#: Endings of a known word's inflections ("refunds", "shipped", "tracking").
INFLECTIONS = ("s", "es", "er", "ers", "ed", "d", "ing", "ly")

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_edit_away(word: str) -> set[str]:
    """Every string one deletion, swap of neighbours, replacement or insertion from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {left + right[1:] for left, right in splits if right}
    swaps = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    replaces = {left + c + right[1:] for left, right in splits if right for c in _LETTERS}
    inserts = {left + c + right for left, right in splits for c in _LETTERS}
    return deletes | swaps | replaces | inserts


@dataclass(frozen=True)
class Mended:
    text: str
    #: (typed, mended) for each word that was changed, in order.
    changes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Speller:
    """``model_words``: whole words of the embedding model's vocabulary (lower-cased)."""

    model_words: frozenset[str]

    def mend(self, text: str, site: Mapping[str, int]) -> Mended:
        """``text`` with each misspelt word replaced by its likeliest word of ``site``."""
        if not site:
            return Mended(text)
        changes: list[tuple[str, str]] = []

        def replace(match: re.Match[str]) -> str:
            typed = match.group(0)
            mended = self._mend_word(typed.lower(), site)
            if mended is None:
                return typed
            changes.append((typed, mended))
            return mended

        mended_text = WORD.sub(replace, text)
        return Mended(mended_text, tuple(changes)) if changes else Mended(text)

    def _known(self, word: str, site: Mapping[str, int]) -> bool:
        return word in self.model_words or word in site

    def _mend_word(self, word: str, site: Mapping[str, int]) -> str | None:
        if len(word) < MIN_LENGTH or word in UNMENDED or self._known(word, site):
            return None
        for ending in INFLECTIONS:
            stem = word[: -len(ending)]
            if word.endswith(ending) and len(stem) >= 3 and self._known(stem, site):
                return None
        near = [candidate for candidate in one_edit_away(word) if candidate in site]
        if not near:
            return None
        # Most frequent first; ties by the word itself, so the result never depends on
        # the order of a set.
        return max(near, key=lambda candidate: (site[candidate], candidate))
