"""The subscriber answers MessageReceived, skips other visitor events, and publishes one
AnswerScored whose id derives from the message (faststream's in-memory test broker, a
bag-of-words stand-in for the model, an in-memory knowledge base; the real model, Weaviate
and Kafka are covered by tests/integration)."""

from __future__ import annotations

import typing
import uuid

import pytest
from faststream.kafka import TestKafkaBroker
from tandem_answering.adapters.embedder import BatchingEncoder
from tandem_answering.adapters.language import LanguageDetector
from tandem_answering.adapters.weaviate_store import KnowledgeStoreUnavailable, RetrievedChunk
from tandem_answering.app import build_broker
from tandem_answering.domain.answer import ENGLISH_ROUTE, FEATURE_NAMES, NOISE_FLOOR
from tandem_answering.domain.calibration import Calibration
from tandem_answering.entrypoints.consumers import ConsumerDeps, VisitorEvent, register
from tandem_answering.service_layer.answering import (
    Answerer,
    AnswerPolicy,
    Route,
    fixed_threshold,
)
from tandem_answering.settings import AnsweringSettings
from tandem_events import (
    EVENT_TYPES,
    AnswerScored,
    ConversationRated,
    MessageReceived,
    deterministic_event_id,
)
from tandem_events.topics import ANSWERING_EVENTS, VISITOR_EVENTS
from tandem_events.wire import encode
from tandem_platform.messaging import EventPublisher, decode_event

from .test_answerer_policies import WordEncoder

pytestmark = pytest.mark.component


def bag_of_words() -> WordEncoder:
    """Hashes words into a unit vector: texts sharing words have a high cosine."""
    return WordEncoder(dimension=256, version="bag-of-words")


class InMemoryKnowledge:
    def __init__(self, encoder: WordEncoder, chunks: dict[str, list[tuple[str, str]]]) -> None:
        self.sites: dict[str, list[RetrievedChunk]] = {}
        for site, docs in chunks.items():
            bodies = encoder.encode([text for _, text in docs])
            titles = encoder.encode([title for title, _ in docs])
            self.sites[site] = [
                RetrievedChunk(
                    chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{site}/{i}")),
                    document_id=f"doc-{i}",
                    title=title,
                    url=f"https://help.example/{i}",
                    heading_path=(),
                    text=text,
                    body_vector=bodies[i],
                    title_vector=titles[i],
                    keyword_hit=True,
                )
                for i, (title, text) in enumerate(docs)
            ]

    async def search(self, site_id, question, vector, *, limit=8, alpha=0.5, route="english"):  # type: ignore[no-untyped-def]
        return list(self.sites.get(site_id, []))[:limit]


def test_payload_union_covers_every_visitor_event_type() -> None:
    union = typing.get_args(typing.get_args(VisitorEvent)[0])
    assert set(union) == {t for t in EVENT_TYPES if t.topic == VISITOR_EVENTS.name}


async def test_message_in_answer_scored_out() -> None:
    settings = AnsweringSettings(consumer_workers=1)
    broker, policy = build_broker(settings)
    model = bag_of_words()
    encoder = BatchingEncoder(model, max_wait=0.0)
    calibration = Calibration(
        version="test-1",
        model_version="bag-of-words",
        features=FEATURE_NAMES,
        coefficients=(10.0, *[0.0] * (len(FEATURE_NAMES) - 1)),
        intercept=-5.0,
    )
    knowledge = InMemoryKnowledge(
        model,
        {
            "acme": [
                ("Refund policy", "Refunds are paid back to your card within five days."),
                ("Shipping", "Parcels leave our warehouse every morning."),
            ]
        },
    )
    deps = ConsumerDeps(
        answerer=Answerer(
            english=Route(ENGLISH_ROUTE, encoder, calibration, NOISE_FLOOR),
            store=knowledge,
            language=LanguageDetector(),
            policy=AnswerPolicy(),
            threshold_for=fixed_threshold(0.5),
        ),
        publisher=EventPublisher(broker, source="/tandem/answering"),
    )
    register(broker, settings, deps, policy)
    published: list[AnswerScored] = []

    @broker.subscriber(ANSWERING_EVENTS.name, decoder=decode_event)
    async def collect(event: AnswerScored) -> None:
        published.append(event)

    conversation = uuid.uuid4()
    answerable = MessageReceived(
        site_id="acme",
        conversation_id=conversation,
        message_id=uuid.uuid4(),
        client_message_id="c1",
        seq=3,
        text="When are refunds paid back to my card?",
    )
    unknown_site = answerable.model_copy(
        update={"site_id": "nobody", "message_id": uuid.uuid4(), "event_id": uuid.uuid4()}
    )
    rating = ConversationRated(site_id="acme", conversation_id=conversation, score=5)
    try:
        async with TestKafkaBroker(broker) as test_broker:
            for event in (rating, answerable, unknown_site):
                value, headers = encode(event, source="/test")
                await test_broker.publish(value, topic=event.topic, key=event.key, headers=headers)
    finally:
        await encoder.aclose()

    assert len(published) == 2
    answered, fallback = published
    assert answered.event_id == deterministic_event_id("AnswerScored", answerable.message_id)
    assert answered.causation_id == answerable.event_id
    assert answered.in_reply_to == answerable.message_id
    assert answered.question_seq == 3
    assert answered.answered
    assert answered.confidence > 0.5
    assert answered.answer == "Refunds are paid back to your card within five days."
    assert answered.sources[0].title == "Refund policy"
    assert answered.calibration_version == "test-1"
    assert answered.language == "en"
    assert set(FEATURE_NAMES) <= set(answered.raw_scores)

    assert not fallback.answered
    assert fallback.confidence == 0.0
    assert fallback.sources == ()
    assert fallback.answer == AnswerPolicy().fallback_text


class UnavailableKnowledge:
    async def search(self, site_id, question, vector, *, limit=8, alpha=0.5, route="english"):  # type: ignore[no-untyped-def]
        raise KnowledgeStoreUnavailable("Weaviate is down")


async def test_a_knowledge_store_outage_answers_with_the_fallback() -> None:
    encoder = BatchingEncoder(bag_of_words(), max_wait=0.0)
    answerer = Answerer(
        english=Route(
            ENGLISH_ROUTE,
            encoder,
            Calibration("c", "m", FEATURE_NAMES, (1.0, *[0.0] * (len(FEATURE_NAMES) - 1)), 0.0),
            NOISE_FLOOR,
        ),
        store=UnavailableKnowledge(),
        language=LanguageDetector(),
        policy=AnswerPolicy(fallback_text="Let me get a person."),
        threshold_for=fixed_threshold(0.5),
    )
    try:
        result = await answerer.answer("acme", "Where is my parcel?")
    finally:
        await encoder.aclose()
    assert not result.answered
    assert result.confidence == 0.0
    assert result.text == "Let me get a person."
    assert result.decision.reasons == ("retrieval_unavailable",)
    assert result.raw_scores["retrieval_unavailable"] == 1.0
