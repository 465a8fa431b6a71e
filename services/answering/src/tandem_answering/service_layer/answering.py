"""The answer use case: question in, scored answer out.

``score`` is retrieval + reranking + calibrated confidence (what calibration and evaluation
need); ``answer`` adds the decision and the answer text. ``answer_scored`` turns a result
into the ``AnswerScored`` event for a ``MessageReceived``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from tandem_events import AnswerScored, MessageReceived, Source, deterministic_event_id
from tandem_events.visitor import MAX_MESSAGE_CHARS

from ..adapters.embedder import BatchingEncoder, Vectors, cosine
from ..adapters.language import LanguageDetector
from ..adapters.weaviate_store import KnowledgeStoreUnavailable, RetrievedChunk
from ..domain.answer import (
    DEFAULT_FALLBACK,
    NO_CANDIDATE_FEATURES,
    Candidate,
    Decision,
    Features,
    compute_features,
    decide,
    rank,
    related_sources,
    select_sentences,
    truncate,
)
from ..domain.calibration import Calibration
from ..domain.text import split_sentences
from ..metrics import ANSWER_SECONDS, ANSWERS, CONFIDENCE, RETRIEVAL_FAILURES

log = logging.getLogger(__name__)


class KnowledgeSearch(Protocol):
    async def search(
        self,
        site_id: str,
        question: str,
        vector: Sequence[float] | Vectors,
        *,
        limit: int = 8,
        alpha: float = 0.5,
    ) -> list[RetrievedChunk]: ...


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    limit: int = 8
    alpha: float = 0.5
    max_chars: int = 600
    max_sentences: int = 3
    fallback_text: str = DEFAULT_FALLBACK


@dataclass(frozen=True, slots=True)
class Scored:
    question: str
    question_vector: Vectors
    ranked: list[Candidate]
    features: Features
    confidence: float


@dataclass(frozen=True, slots=True)
class AnswerResult:
    question: str
    text: str
    decision: Decision
    sources: list[Candidate]
    language: str
    features: Features
    latency_ms: float
    best: Candidate | None = None
    raw_scores: dict[str, float] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.decision.answered

    @property
    def confidence(self) -> float:
        return self.decision.confidence


#: Where the threshold of a site comes from: settings today, per-site settings later.
ThresholdFor = Callable[[str], Awaitable[float]]


def fixed_threshold(value: float) -> ThresholdFor:
    async def threshold(site_id: str) -> float:
        return value

    return threshold


class Answerer:
    def __init__(
        self,
        *,
        encoder: BatchingEncoder,
        store: KnowledgeSearch,
        calibration: Calibration,
        language: LanguageDetector,
        model_version: str,
        policy: AnswerPolicy,
        threshold_for: ThresholdFor,
        sentence_cache_size: int = 2048,
    ) -> None:
        self.encoder = encoder
        self.store = store
        self.calibration = calibration
        self.language = language
        self.model_version = model_version
        self.policy = policy
        self.threshold_for = threshold_for
        # Sentence vectors of recently answered chunks. Chunk ids derive from the content,
        # so an entry can never be stale; popular chunks then cost no model call to trim.
        self._sentences: OrderedDict[str, tuple[list[str], Vectors]] = OrderedDict()
        self.sentence_cache_size = sentence_cache_size

    async def score(self, site_id: str, question: str) -> Scored:
        vector = await self.encoder.encode_one(question)
        retrieved = await self.store.search(
            site_id, question, vector, limit=self.policy.limit, alpha=self.policy.alpha
        )
        ranked = rank([_candidate(chunk, vector) for chunk in retrieved])
        features = compute_features(question, ranked)
        # Nothing retrieved (empty knowledge base): nothing to be confident about.
        confidence = self.calibration.confidence(features.as_dict()) if ranked else 0.0
        return Scored(question, vector, ranked, features, confidence)

    async def answer(
        self, site_id: str, question: str, *, locale: str | None = None
    ) -> AnswerResult:
        """Score ``question`` and decide; the visitor gets the fallback (and so the offer of
        a person) rather than silence when the knowledge store is down."""
        started = time.perf_counter()
        language_task = asyncio.create_task(
            asyncio.to_thread(self.language.detect, question, hint=locale)
        )
        unavailable = False
        try:
            threshold = await self.threshold_for(site_id)
            try:
                scored = await self.score(site_id, question)
            except KnowledgeStoreUnavailable as exc:
                unavailable = True
                RETRIEVAL_FAILURES.inc()
                log.warning(
                    "knowledge store unavailable, answering with the fallback",
                    extra={"fields": {"site_id": site_id, "error": str(exc)}},
                )
                scored = Scored(
                    question, np.zeros(0, dtype=np.float32), [], NO_CANDIDATE_FEATURES, 0.0
                )
        except BaseException:
            language_task.cancel()
            raise
        language = await language_task
        decision = decide(scored.confidence, threshold, has_candidate=bool(scored.ranked))
        if unavailable:
            decision = Decision(False, 0.0, threshold, ("retrieval_unavailable",))
        best = scored.ranked[0] if scored.ranked else None
        if decision.answered and best is not None:
            text = await self.compose(best, scored.question_vector)
            sources = related_sources(scored.ranked)
        else:
            text, sources = self.policy.fallback_text, []
        latency = time.perf_counter() - started
        ANSWER_SECONDS.observe(latency)
        ANSWERS.labels("true" if decision.answered else "false").inc()
        CONFIDENCE.observe(decision.confidence)
        raw_scores = {
            **scored.features.as_dict(),
            "body_score": best.body_score if best else 0.0,
            "title_score": best.title_score if best else 0.0,
            "candidates": float(len(scored.ranked)),
            "threshold": threshold,
            "retrieval_unavailable": 1.0 if unavailable else 0.0,
        }
        return AnswerResult(
            question=question,
            text=text,
            decision=decision,
            sources=sources,
            language=language,
            features=scored.features,
            latency_ms=latency * 1000,
            best=best,
            raw_scores=raw_scores,
        )

    async def compose(self, best: Candidate, question_vector: Vectors) -> str:
        """The best chunk, cut down to its most relevant sentences when it is too long.

        A chunk that already fits is returned whole: it is one section, and cutting it
        would only lose context (and cost a model call).
        """
        text = best.text.strip()
        if len(text) <= self.policy.max_chars:
            return text
        cached = self._sentences.get(best.chunk_id)
        if cached is None:
            sentences = split_sentences(text)
            if len(sentences) <= 1:
                return truncate(text, self.policy.max_chars)
            cached = (sentences, await self.encoder.encode(sentences))
            self._sentences[best.chunk_id] = cached
            while len(self._sentences) > self.sentence_cache_size:
                self._sentences.popitem(last=False)
        else:
            self._sentences.move_to_end(best.chunk_id)
        sentences, vectors = cached
        scores = cosine(vectors, question_vector).tolist()
        return select_sentences(
            sentences,
            scores,
            max_sentences=self.policy.max_sentences,
            max_chars=self.policy.max_chars,
        )


def _candidate(chunk: RetrievedChunk, question_vector: Vectors) -> Candidate:
    return Candidate(
        chunk_id=chunk.chunk_id,
        document_id=chunk.document_id,
        title=chunk.title,
        url=chunk.url,
        heading_path=chunk.heading_path,
        text=chunk.text,
        body_score=float(np.dot(chunk.body_vector, question_vector)),
        title_score=float(np.dot(chunk.title_vector, question_vector)),
        keyword_hit=chunk.keyword_hit,
    )


def answer_scored(
    message: MessageReceived, result: AnswerResult, *, model_version: str, calibration_version: str
) -> AnswerScored:
    """The event for ``result``; its id derives from the message so a redelivered message
    produces the same event and downstream inboxes drop the repeat."""
    return AnswerScored(
        **message.caused(event_id=deterministic_event_id("AnswerScored", message.message_id)),
        in_reply_to=message.message_id,
        question_seq=message.seq,
        question=message.text,
        answer=truncate(result.text, MAX_MESSAGE_CHARS),
        confidence=min(1.0, max(0.0, result.confidence)),
        answered=result.answered,
        sources=tuple(
            Source(
                title=c.title,
                url=c.url,
                document_id=c.document_id,
                chunk_id=c.chunk_id,
                score=round(c.score, 4),
            )
            for c in result.sources
        ),
        language=result.language[:16],
        raw_scores={k: round(float(v), 6) for k, v in result.raw_scores.items()},
        model_version=model_version,
        calibration_version=calibration_version,
        latency_ms=round(result.latency_ms, 3),
    )
