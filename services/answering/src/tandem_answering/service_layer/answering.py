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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from tandem_events import AnswerScored, MessageReceived, Source, deterministic_event_id
from tandem_events.visitor import MAX_MESSAGE_CHARS

from ..adapters.embedder import BatchingEncoder, Vectors, cosine
from ..adapters.language import LanguageDetector
from ..adapters.weaviate_store import KnowledgeStoreUnavailable, RetrievedChunk
from ..domain.answer import (
    DEFAULT_FALLBACK,
    ENGLISH_ROUTE,
    MULTILINGUAL_ROUTE,
    NO_CANDIDATE_FEATURES,
    Candidate,
    Decision,
    Features,
    compute_features,
    decide,
    rank,
    related_sources,
    route_for,
    select_sentences,
    truncate,
)
from ..domain.calibration import Calibration
from ..domain.spelling import Mended, Speller
from ..domain.text import split_sentences, text_for_embedding
from ..metrics import ANSWER_SECONDS, ANSWERS, CONFIDENCE, RETRIEVAL_FAILURES

log = logging.getLogger(__name__)


#: Messages up to this long have their language identified on the event loop: that takes
#: under 0.12 ms of CPU, less than handing the call to a thread and back (0.13 ms).
INLINE_LANGUAGE_CHARS = 1000


class KnowledgeSearch(Protocol):
    async def search(
        self,
        site_id: str,
        question: str,
        vector: Sequence[float] | Vectors,
        *,
        limit: int = 8,
        alpha: float = 0.5,
        route: str = ENGLISH_ROUTE,
    ) -> list[RetrievedChunk]: ...


class CuratedLookup(Protocol):
    """The site's curated answers (``service_layer.site_policy.SitePolicies``)."""

    async def match_curated(
        self,
        site_id: str,
        question: str,
        question_vector: Vectors | None,
        *,
        vector_model_version: str | None = None,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class Route:
    """One way to answer: the model that embeds the question (and the passages it is
    compared with), the calibration fitted for that model's scores, and the cosine an
    unrelated text reaches anyway with it."""

    name: str
    encoder: BatchingEncoder
    calibration: Calibration
    noise_floor: float

    @property
    def model_version(self) -> str:
        return self.encoder.version


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
    route: str = ENGLISH_ROUTE


@dataclass(frozen=True, slots=True)
class AnswerResult:
    question: str
    text: str
    decision: Decision
    sources: list[Candidate]
    language: str
    features: Features
    latency_ms: float
    route: str = ENGLISH_ROUTE
    model_version: str = ""
    calibration_version: str = ""
    best: Candidate | None = None
    raw_scores: dict[str, float] = field(default_factory=dict)
    # Every retrieved candidate, best first (what evaluation ranks documents by).
    ranked: list[Candidate] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.decision.answered

    @property
    def confidence(self) -> float:
        return self.decision.confidence


#: Where a site's threshold and fallback text come from (its own settings, else the
#: service's defaults: ``SitePolicies.threshold`` / ``.fallback_text``).
ThresholdFor = Callable[[str], Awaitable[float]]
FallbackFor = Callable[[str], Awaitable[str]]
#: A site's word counts, which the speller mends English questions towards
#: (``service_layer.vocabulary.SiteVocabularies.words``).
WordsFor = Callable[[str], Awaitable[Mapping[str, int]]]


def fixed_threshold(value: float) -> ThresholdFor:
    async def threshold(site_id: str) -> float:
        return value

    return threshold


class Answerer:
    """Question in, decision and answer out.

    The question's language picks the route (``domain.answer.route_for``): English
    questions are embedded and scored with MiniLM, all others with the multilingual model,
    each against its own named vector and with its own calibration. Without a
    multilingual route everything goes the English way. With a ``speller`` and the site's
    words (``words_for``), misspelt words of the text the English model embeds are mended
    first (domain/spelling.py).
    """

    def __init__(
        self,
        *,
        english: Route,
        multilingual: Route | None = None,
        store: KnowledgeSearch,
        language: LanguageDetector,
        policy: AnswerPolicy,
        threshold_for: ThresholdFor,
        fallback_for: FallbackFor | None = None,
        curated: CuratedLookup | None = None,
        speller: Speller | None = None,
        words_for: WordsFor | None = None,
        sentence_cache_size: int = 2048,
    ) -> None:
        self.routes = {english.name: english}
        if multilingual is not None:
            self.routes[multilingual.name] = multilingual
        self.english = english
        self.store = store
        self.language = language
        self.policy = policy
        self.threshold_for = threshold_for
        self.fallback_for = fallback_for
        self.curated = curated
        self.speller = speller
        self.words_for = words_for
        # Sentence vectors of recently answered chunks, per route. Chunk ids derive from the
        # content, so an entry can never be stale; popular chunks then cost no model call.
        self._sentences: OrderedDict[tuple[str, str], tuple[list[str], Vectors]] = OrderedDict()
        # Encodings under way: concurrent answers citing the same chunk share one model call
        # instead of each encoding its sentences again.
        self._encoding: dict[tuple[str, str], asyncio.Future[tuple[list[str], Vectors]]] = {}
        self.sentence_cache_size = sentence_cache_size

    def route(self, name: str) -> Route:
        return self.routes.get(name, self.english)

    async def score(
        self,
        site_id: str,
        question: str,
        *,
        route: str = ENGLISH_ROUTE,
        vector: Vectors | None = None,
        language: str | None = None,
    ) -> Scored:
        """Retrieve, rerank and calibrate; ``vector`` is the question's vector by the
        route's model when the caller already has it, ``language`` the question's."""
        chosen = self.route(route)
        if vector is None:
            embedding = text_for_embedding(question)
            if chosen is self.english:
                embedding = (await self._mend(site_id, embedding)).text
            vector = await chosen.encoder.encode_one(embedding)
        retrieved = await self.store.search(
            site_id,
            question,
            vector,
            limit=self.policy.limit,
            alpha=self.policy.alpha,
            route=chosen.name,
        )
        ranked = rank([_candidate(chunk, vector) for chunk in retrieved])
        features = compute_features(
            question, ranked, noise_floor=chosen.noise_floor, language=language
        )
        # Nothing retrieved (empty knowledge base): nothing to be confident about.
        confidence = chosen.calibration.confidence(features.as_dict()) if ranked else 0.0
        return Scored(question, vector, ranked, features, confidence, chosen.name)

    async def answer(
        self, site_id: str, question: str, *, locale: str | None = None
    ) -> AnswerResult:
        """Score ``question`` and decide; the visitor gets the fallback (and so the offer of
        a person) rather than silence when the knowledge store is down."""
        started = time.perf_counter()
        if len(question) <= INLINE_LANGUAGE_CHARS:
            language, sure = self.language.identify(question, hint=locale)
        else:
            language, sure = await asyncio.to_thread(self.language.identify, question, hint=locale)
        threshold = await self.threshold_for(site_id)
        chosen = self.route(route_for(language))
        # Unsure of the language, both routes answer and the more confident one is taken:
        # each route's confidence is calibrated, so they compare. Read the wrong way, a
        # question gets nothing right (MiniLM cannot match Serbian to English), while only
        # 3-21 % of the evaluation sets' questions leave the detector unsure.
        other = next((r for r in self.routes.values() if r is not chosen), None)
        second = other if not sure and other is not None else None
        embedding = text_for_embedding(question)
        mended = Mended(embedding)
        if self.english is chosen or self.english is second:
            mended = await self._mend(site_id, embedding)

        def text_for(route: Route) -> str:
            return mended.text if route is self.english else embedding

        vector, other_vector = await asyncio.gather(
            chosen.encoder.encode_one(text_for(chosen)),
            second.encoder.encode_one(text_for(second)) if second is not None else _nothing(),
        )
        if self.curated is not None:
            match = await self.curated.match_curated(
                site_id, question, vector, vector_model_version=chosen.model_version
            )
            # Below the site's bar even a pinned answer gives way to retrieval.
            if match is not None and match.confidence >= threshold:
                return self._curated_answer(question, match, language, threshold, chosen, started)
        unavailable = False
        try:
            if second is None or other_vector is None:
                scored = await self.score(
                    site_id, question, route=chosen.name, vector=vector, language=language
                )
            else:
                both = await asyncio.gather(
                    self.score(
                        site_id, question, route=chosen.name, vector=vector, language=language
                    ),
                    self.score(
                        site_id, question, route=second.name, vector=other_vector, language=language
                    ),
                )
                scored = max(both, key=lambda s: s.confidence)
                chosen = self.route(scored.route)
        except KnowledgeStoreUnavailable as exc:
            unavailable = True
            RETRIEVAL_FAILURES.inc()
            log.warning(
                "knowledge store unavailable, answering with the fallback",
                extra={"fields": {"site_id": site_id, "error": str(exc)}},
            )
            scored = Scored(
                question,
                np.zeros(0, dtype=np.float32),
                [],
                NO_CANDIDATE_FEATURES,
                0.0,
                chosen.name,
            )
        decision = decide(scored.confidence, threshold, has_candidate=bool(scored.ranked))
        if unavailable:
            decision = Decision(False, 0.0, threshold, ("retrieval_unavailable",))
        best = scored.ranked[0] if scored.ranked else None
        if decision.answered and best is not None:
            text = await self.compose(best, scored.question_vector, route=chosen.name)
            sources = related_sources(scored.ranked)
        else:
            text, sources = await self._fallback_text(site_id), []
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
            "multilingual_route": 1.0 if chosen.name == MULTILINGUAL_ROUTE else 0.0,
            "language_unsure": 0.0 if sure else 1.0,
            "mended_words": float(len(mended.changes)) if chosen is self.english else 0.0,
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
            route=chosen.name,
            model_version=chosen.model_version,
            calibration_version=chosen.calibration.version,
            best=best,
            raw_scores=raw_scores,
            ranked=scored.ranked,
        )

    async def _mend(self, site_id: str, text: str) -> Mended:
        if self.speller is None or self.words_for is None:
            return Mended(text)
        return self.speller.mend(text, await self.words_for(site_id))

    async def _fallback_text(self, site_id: str) -> str:
        if self.fallback_for is None:
            return self.policy.fallback_text
        return await self.fallback_for(site_id)

    def _curated_answer(
        self,
        question: str,
        match: Any,
        language: str,
        threshold: float,
        route: Route,
        started: float,
    ) -> AnswerResult:
        """An owner's pinned answer: it wins over retrieval, carries its own source, and
        its confidence is the match's (the calibration is for retrieved passages)."""
        entry = match.entry
        confidence = float(match.confidence)
        decision = Decision(True, confidence, threshold, ("curated",))
        source = Candidate(
            chunk_id=entry.document_id,
            document_id=entry.document_id,
            title=entry.source_title,
            url=entry.content.url,
            heading_path=(),
            text=entry.content.answer,
            body_score=float(match.similarity),
            title_score=float(match.similarity),
        )
        latency = time.perf_counter() - started
        ANSWER_SECONDS.observe(latency)
        ANSWERS.labels("true").inc()
        CONFIDENCE.observe(confidence)
        return AnswerResult(
            question=question,
            text=entry.content.answer,
            decision=decision,
            sources=[source],
            language=language,
            features=NO_CANDIDATE_FEATURES,
            latency_ms=latency * 1000,
            route=route.name,
            model_version=route.model_version,
            calibration_version="curated",
            best=source,
            raw_scores={
                **{k: float(v) for k, v in match.raw_scores.items()},
                "threshold": threshold,
                "multilingual_route": 1.0 if route.name == MULTILINGUAL_ROUTE else 0.0,
            },
            ranked=[source],
        )

    async def compose(
        self, best: Candidate, question_vector: Vectors, *, route: str = ENGLISH_ROUTE
    ) -> str:
        """The best chunk, cut down to its most relevant sentences when it is too long.

        A chunk that already fits is returned whole: it is one section, and cutting it
        would only lose context (and cost a model call).
        """
        text = best.text.strip()
        if len(text) <= self.policy.max_chars:
            return text
        key = (route, best.chunk_id)
        cached = self._sentences.get(key)
        if cached is not None:
            self._sentences.move_to_end(key)
        else:
            sentences = split_sentences(text)
            if len(sentences) <= 1:
                return truncate(text, self.policy.max_chars)
            cached = await self._sentence_vectors(key, sentences)
        sentences, vectors = cached
        scores = cosine(vectors, question_vector).tolist()
        return select_sentences(
            sentences,
            scores,
            max_sentences=self.policy.max_sentences,
            max_chars=self.policy.max_chars,
        )

    async def _sentence_vectors(
        self, key: tuple[str, str], sentences: list[str]
    ) -> tuple[list[str], Vectors]:
        pending = self._encoding.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        self._encoding[key] = pending
        try:
            vectors = await self.route(key[0]).encoder.encode(sentences)
        except Exception as exc:
            # Whoever waits on this encoding sees the same failure; nothing is cached.
            pending.set_exception(exc)
            pending.exception()  # retrieved, so an unwaited failure logs no warning
            raise
        except BaseException:
            pending.cancel()
            raise
        finally:
            self._encoding.pop(key, None)
        cached = (sentences, vectors)
        pending.set_result(cached)
        self._sentences[key] = cached
        while len(self._sentences) > self.sentence_cache_size:
            self._sentences.popitem(last=False)
        return cached


async def _nothing() -> None:
    return None


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
        language=chunk.language,
    )


def answer_scored(message: MessageReceived, result: AnswerResult) -> AnswerScored:
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
        model_version=result.model_version,
        calibration_version=result.calibration_version,
        latency_ms=round(result.latency_ms, 3),
    )
