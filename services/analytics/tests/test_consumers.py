"""Every event type reaches the projector and has a decided fate (faststream's in-memory
test broker; the projections themselves are covered by the integration tests)."""

import typing
import uuid

import pytest
from faststream.kafka import TestKafkaBroker
from tandem_analytics.app import build_broker
from tandem_analytics.entrypoints.consumers import (
    SUBSCRIBED_TOPICS,
    AnalyticsInput,
    register_consumers,
)
from tandem_analytics.handlers import DELETIONS, IGNORED, PROJECTIONS
from tandem_analytics.settings import AnalyticsSettings
from tandem_events import EVENT_TYPES, Event, HumanRequested, KnowledgeDocumentIndexed
from tandem_events.topics import DEAD_LETTER
from tandem_events.wire import encode

pytestmark = pytest.mark.component


class RecordingProjector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def handle(self, event: Event) -> None:
        self.events.append(event)


def test_every_topic_but_the_dead_letters_is_consumed() -> None:
    assert DEAD_LETTER not in SUBSCRIBED_TOPICS
    assert {t.name for t in SUBSCRIBED_TOPICS} == {t.topic for t in EVENT_TYPES}


def test_every_event_type_is_accepted_and_has_a_decided_fate() -> None:
    union = set(typing.get_args(typing.get_args(AnalyticsInput)[0]))
    assert union == set(EVENT_TYPES)
    decided = set(PROJECTIONS) | set(DELETIONS) | set(IGNORED)
    assert decided == set(EVENT_TYPES)
    assert not set(PROJECTIONS) & set(IGNORED)


async def test_events_of_every_topic_reach_the_projector() -> None:
    settings = AnalyticsSettings()
    broker = build_broker(settings)
    projector = RecordingProjector()
    register_consumers(broker, projector, settings)  # type: ignore[arg-type]
    events = [
        HumanRequested(site_id="site-1", conversation_id=uuid.uuid4()),
        KnowledgeDocumentIndexed(
            site_id="site-1",
            conversation_id=uuid.UUID(int=0),
            document_id="doc-1",
            title="Shipping",
            chunks=3,
        ),
    ]
    async with TestKafkaBroker(broker) as test_broker:
        for event in events:
            value, headers = encode(event, source="/test")
            await test_broker.publish(value, topic=event.topic, key=event.key, headers=headers)
    assert projector.events == events
