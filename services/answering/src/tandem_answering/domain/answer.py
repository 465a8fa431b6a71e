"""Answer rules: ranking retrieved chunks, confidence features, the answer text, the decision.

Everything here is pure: the adapters retrieve candidates and embed text, these functions
decide. The numbers they work on are cosine similarities of normalised MiniLM embeddings,
which is why thresholds such as ``related_within`` are absolute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .text import content_terms

#: What the visitor reads when the AI is not confident enough (sites can set their own).
DEFAULT_FALLBACK = (
    "I'm not sure I have the right answer to that. Would you like me to connect you with a person?"
)

#: Cosine that an unrelated question typically reaches anyway with MiniLM: the median best
#: match of StackFAQ questions against the (unrelated) support-shop knowledge base is 0.20.
#: The margin is measured above this floor as well as above the runner-up, so in a tiny
#: knowledge base (no real runner-up) a weak match cannot look decisive.
NOISE_FLOOR = 0.2
#: The same median for multilingual-e5-small, whose cosines all sit high (p10-p90 of that
#: unrelated best match: 0.815-0.852).
MULTILINGUAL_NOISE_FLOOR = 0.83

ENGLISH_ROUTE = "english"
MULTILINGUAL_ROUTE = "multilingual"


def route_for(language: str) -> str:
    """English questions go to the English model, which retrieves English best; every other
    language to the multilingual one, the only one that finds an English passage for a
    German question (or a German passage for it)."""
    return ENGLISH_ROUTE if language == "en" else MULTILINGUAL_ROUTE


#: Names of the confidence features, in the order ``Features.as_dict`` gives them.
FEATURE_NAMES: tuple[str, ...] = (
    "top_score",
    "margin",
    "keyword_hit",
    "lexical_overlap",
    "title_body_agreement",
    "spread",
    "pack_margin",
    "same_language",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One retrieved chunk with what the reranking step measured about it."""

    chunk_id: str
    document_id: str
    title: str
    url: str | None
    heading_path: tuple[str, ...]
    text: str
    body_score: float  # cosine(question, chunk body)
    title_score: float  # cosine(question, document title + heading)
    keyword_hit: bool = False  # the keyword (BM25) search found this chunk
    language: str = ""  # the chunk's document's, detected at ingestion ("" if unknown)

    @property
    def score(self) -> float:
        """Relevance used for ranking: the better of the two views of the chunk.

        A question can match how a section is *named* (FAQ titles phrased as questions) or
        what it *says*; the max keeps both without one diluting the other.
        """
        return max(self.body_score, self.title_score)


@dataclass(frozen=True, slots=True)
class Features:
    top_score: float
    margin: float
    keyword_hit: float
    lexical_overlap: float
    title_body_agreement: float
    spread: float = 0.0
    pack_margin: float = 0.0
    same_language: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in FEATURE_NAMES}


NO_CANDIDATE_FEATURES = Features(
    top_score=0.0,
    margin=0.0,
    keyword_hit=0.0,
    lexical_overlap=0.0,
    title_body_agreement=0.0,
    spread=0.0,
    pack_margin=0.0,
    same_language=0.0,
)

#: ``spread`` compares the best document with the one ranked here.
SPREAD_RANK = 5


def rank(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Best first; ties broken by chunk id so the order never depends on retrieval order."""
    return sorted(candidates, key=lambda c: (-c.score, c.chunk_id))


def best_per_document(ranked: Sequence[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    out: list[Candidate] = []
    for candidate in ranked:
        if candidate.document_id not in seen:
            seen.add(candidate.document_id)
            out.append(candidate)
    return out


def lexical_overlap(question: str, candidate: Candidate) -> float:
    """Share of the question's content words that the chunk (title, headings, text) contains."""
    asked = content_terms(question)
    if not asked:
        return 0.0
    present = content_terms(" ".join((candidate.title, *candidate.heading_path, candidate.text)))
    return len(asked & present) / len(asked)


def compute_features(
    question: str,
    ranked: Sequence[Candidate],
    *,
    noise_floor: float = NOISE_FLOOR,
    language: str | None = None,
) -> Features:
    """Confidence features of the best candidate in ``ranked`` (best first).

    ``margin`` is how far the best candidate stands above the best one of another document
    (or the noise floor, whichever is higher); ``title_body_agreement`` is 1 when the best
    match by body and the best match by title are the same document; ``spread`` is how far
    it stands above the fifth document (the floor if there is none): a crowd of near-equal competitors
    makes the top one less certain than a single runner-up says (it halved the per-set ECE
    of the multilingual route, whose cosines bunch together); ``pack_margin`` is how far it
    stands above the mean of the next four documents, the shape of that crowd.
    ``same_language`` is 1 when the question (``language``, as detected) and the best
    chunk's document are in the same language, or either is unknown: across languages,
    shared words (``lexical_overlap``, ``keyword_hit``) are absent even from right answers,
    and without this feature the calibration read that as doubt (xSID: ECE 0.097 -> 0.03
    in 5-fold cross-validation).
    """
    if not ranked:
        return NO_CANDIDATE_FEATURES
    top = ranked[0]
    runner_up = next((c for c in ranked[1:] if c.document_id != top.document_id), None)
    best_by_body = max(ranked, key=lambda c: (c.body_score, c.chunk_id))
    best_by_title = max(ranked, key=lambda c: (c.title_score, c.chunk_id))
    baseline = max(runner_up.score if runner_up else noise_floor, noise_floor)
    documents = best_per_document(ranked)
    # Scores of documents 2-5 as they are (clamping them at the noise floor erased the
    # multilingual route's signal: its cosines sit around the floor), the floor standing
    # in only for documents a small knowledge base does not have.
    pack = [d.score for d in documents[1:SPREAD_RANK]]
    pack += [noise_floor] * (SPREAD_RANK - 1 - len(pack))
    same_language = not language or not top.language or language == top.language
    return Features(
        top_score=top.score,
        margin=top.score - baseline,
        keyword_hit=1.0 if top.keyword_hit else 0.0,
        lexical_overlap=lexical_overlap(question, top),
        title_body_agreement=1.0 if best_by_body.document_id == best_by_title.document_id else 0.0,
        spread=top.score - pack[-1],
        pack_margin=top.score - sum(pack) / len(pack),
        same_language=1.0 if same_language else 0.0,
    )


def select_sentences(
    sentences: Sequence[str],
    scores: Sequence[float],
    *,
    max_sentences: int = 3,
    max_chars: int = 600,
    keep_within: float = 0.15,
) -> str:
    """The most relevant 1..``max_sentences`` sentences, in their original order.

    The best sentence is always kept (cut at a word if it alone is too long); the next best
    join it while they score within ``keep_within`` of it and the text stays within
    ``max_chars``.
    """
    if len(sentences) != len(scores):
        raise ValueError("one score per sentence")
    if not sentences:
        return ""
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    best = order[0]
    if len(sentences[best]) > max_chars:
        return truncate(sentences[best], max_chars)
    chosen = [best]
    size = len(sentences[best])
    for index in order[1:]:
        if len(chosen) >= max_sentences or scores[index] < scores[best] - keep_within:
            break
        extra = len(sentences[index]) + 1
        if size + extra > max_chars:
            continue
        chosen.append(index)
        size += extra
    return " ".join(sentences[i] for i in sorted(chosen))


def truncate(text: str, max_chars: int) -> str:
    """Cut at a word boundary and mark the cut with an ellipsis."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def related_sources(
    ranked: Sequence[Candidate], *, max_sources: int = 3, related_within: float = 0.1
) -> list[Candidate]:
    """The answer's chunk first, then other documents that scored nearly as well."""
    per_document = best_per_document(ranked)
    if not per_document:
        return []
    top = per_document[0].score
    return [c for c in per_document[:max_sources] if c.score >= top - related_within]


@dataclass(frozen=True, slots=True)
class Decision:
    answered: bool
    confidence: float
    threshold: float
    reasons: tuple[str, ...] = field(default=())


def decide(confidence: float, threshold: float, *, has_candidate: bool) -> Decision:
    """Answer only when there is something to answer from and the confidence clears the bar."""
    if not has_candidate:
        return Decision(False, confidence, threshold, ("no_candidate",))
    if confidence < threshold:
        return Decision(False, confidence, threshold, ("below_threshold",))
    return Decision(True, confidence, threshold)
