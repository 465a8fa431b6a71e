"""Message classifiers with a score: does the visitor ask for a person (``human_request``),
do they complain (``complaint``)?

Each combines two signals:

* the phrase lexicon (``lexicon.HUMAN_REQUEST``, ``lexicon.FRUSTRATION``, plus the site's
  extra phrases): precise, readable, 14 languages;
* the message's embedding compared with prototype messages (``prototypes``): the margin
  by which it is closer to the class's nearest prototypes than to ordinary support
  requests (and, for a request for a person, than to complaints), squashed to [0, 1]. It catches wordings and languages the lexicon lacks.

``human_request = 1 - (1 - lexicon)(1 - embedding)`` (a noisy-or), and the same for
``complaint``, so either signal alone can carry a message over the line and the embedding
still orders messages the lexicon matched (the complaint score is a ranking too). On the
embedding alone a message counts only when it is also near the class's prototypes (see
``HUMAN_REQUEST_FLOOR``): off-topic messages are far from every prototype and their
margins are noise. A declined request ("I don't want to talk to a human") gets nothing
from the embedding.
Without embeddings (the model failed to load) the scores are the lexicon's alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .phrases import PhraseMatch, PhraseSet
from .text import clauses

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

#: What a lexicon match alone is worth.
LEXICON_HUMAN_REQUEST = 0.97
LEXICON_COMPLAINT = 0.75
#: The embedding margin (class similarity minus ordinary-request similarity, cosine) at
#: which the embedding signal is 0.5, and how steeply it rises around that point.
#: Chosen on the hand-written examples in the unit tests (test_classifiers.py).
HUMAN_REQUEST_MARGIN = 0.005
COMPLAINT_MARGIN = 0.015
STEEPNESS = 80.0
#: To count on the embedding alone, a message must also be *near* the class, not merely
#: less far from it than from ordinary requests: messages about something else entirely
#: (set an alarm, trivia) are far from every prototype and their margins are noise. The
#: least similarity to the class's nearest prototypes for that.
HUMAN_REQUEST_FLOOR = 0.86
COMPLAINT_FLOOR = 0.875
#: Prototypes averaged per class: the nearest few, so one lucky prototype does not decide.
NEAREST = 2

#: Score from which a message counts as the class (the escalation rules and the eval).
HUMAN_REQUEST_THRESHOLD = 0.5
COMPLAINT_THRESHOLD = 0.5


@dataclass(frozen=True)
class PrototypeBank:
    """Embeddings of ``prototypes``: one row per sentence, L2-normalised."""

    human_request: Matrix
    complaint: Matrix
    other: Matrix


@dataclass(frozen=True)
class MessageScores:
    """The scores (rankings in [0, 1]) and what the rules decide from them: a class when
    its score passes the threshold and either the lexicon matched or the message is near
    the class's prototypes."""

    human_request: float
    complaint: float
    human_request_match: PhraseMatch | None = None
    complaint_match: PhraseMatch | None = None
    declined: bool = False
    near_human_request: bool = False
    near_complaint: bool = False

    @property
    def asks_for_human(self) -> bool:
        return self.human_request >= HUMAN_REQUEST_THRESHOLD and (
            self.human_request_match is not None or self.near_human_request
        )

    @property
    def complains(self) -> bool:
        return self.complaint >= COMPLAINT_THRESHOLD and (
            self.complaint_match is not None or self.near_complaint
        )


@dataclass(frozen=True)
class EmbeddingSignal:
    human_request: float
    complaint: float
    near_human_request: bool
    near_complaint: bool


def _nearest(similarities: npt.NDArray[np.float32]) -> float:
    k = min(NEAREST, similarities.shape[0])
    return float(np.sort(similarities)[-k:].mean())


def _squash(margin: float, midpoint: float) -> float:
    return 1.0 / (1.0 + math.exp(-STEEPNESS * (margin - midpoint)))


def embedding_scores(vector: Vector, bank: PrototypeBank) -> EmbeddingSignal:
    """The embedding's side of both classifiers."""
    other = _nearest(bank.other @ vector)
    complaint_similarity = _nearest(bank.complaint @ vector)
    human_similarity = _nearest(bank.human_request @ vector)
    # A request for a person must look more like one than like a complaint too: an angry
    # message mentions people ("nobody helps me") without asking for one.
    return EmbeddingSignal(
        human_request=_squash(
            human_similarity - max(other, complaint_similarity), HUMAN_REQUEST_MARGIN
        ),
        complaint=_squash(complaint_similarity - other, COMPLAINT_MARGIN),
        near_human_request=human_similarity >= HUMAN_REQUEST_FLOOR,
        near_complaint=complaint_similarity >= COMPLAINT_FLOOR,
    )


def _noisy_or(*signals: float) -> float:
    remaining = 1.0
    for signal in signals:
        remaining *= 1.0 - signal
    return round(1.0 - remaining, 4)


def declines_human(text: str, human_request_phrases: PhraseSet) -> bool:
    """A clause with a negation and a volition word ("I don't want an agent"): the
    embedding cannot tell that from a request, so such messages are left to the lexicon."""
    for clause in clauses(text):
        words = set(clause.split())
        if words & human_request_phrases.negation_words and (
            words & human_request_phrases.volition_words
        ):
            return True
    return False


def score_message(
    text: str,
    *,
    human_request_phrases: PhraseSet,
    complaint_phrases: PhraseSet,
    vector: Vector | None = None,
    bank: PrototypeBank | None = None,
) -> MessageScores:
    human_match = human_request_phrases.find(text)
    complaint_match = complaint_phrases.find(text)
    signal = EmbeddingSignal(0.0, 0.0, False, False)
    if vector is not None and bank is not None:
        signal = embedding_scores(vector, bank)
    declined = human_match is None and declines_human(text, human_request_phrases)
    human_embedding = 0.0 if declined else signal.human_request
    return MessageScores(
        human_request=_noisy_or(LEXICON_HUMAN_REQUEST if human_match else 0.0, human_embedding),
        complaint=_noisy_or(LEXICON_COMPLAINT if complaint_match else 0.0, signal.complaint),
        human_request_match=human_match,
        complaint_match=complaint_match,
        declined=declined,
        near_human_request=signal.near_human_request and not declined,
        near_complaint=signal.near_complaint,
    )
