"""The subscriber accepts every event type on its topics and hands each to the handlers
(faststream's in-memory test broker; the handlers' database work is covered by the
integration tests)."""

import typing
import uuid

import pytest
from faststream.kafka import TestKafkaBroker
from tandem_escalation.app import build_broker
from tandem_escalation.entrypoints.consumers import (
    SUBSCRIBED_TOPICS,
    EscalationInput,
    register_consumers,
)
from tandem_escalation.settings import EscalationSettings
from tandem_events import (
    EVENT_TYPES,
    AgentLeft,
    Event,
    KnowledgeDocumentIndexed,
    MessageReceived,
)
from tandem_events.wire import encode

pytestmark = pytest.mark.component


class RecordingHandlers:
    def __init__(self) -> None:
        self.events: list[tuple[Event, str | None]] = []

    async def handle(self, event: Event, *, traceparent: str | None = None) -> None:
        self.events.append((event, traceparent))


def test_payload_union_covers_every_event_type_of_the_subscribed_topics() -> None:
    union = typing.get_args(typing.get_args(EscalationInput)[0])
    on_topics = {t for t in EVENT_TYPES if t.topic in {topic.name for topic in SUBSCRIBED_TOPICS}}
    assert set(union) == on_topics
    assert KnowledgeDocumentIndexed not in on_topics


async def test_events_reach_the_handlers_with_their_trace() -> None:
    settings = EscalationSettings()
    broker = build_broker(settings)
    handlers = RecordingHandlers()
    register_consumers(broker, handlers, settings)  # type: ignore[arg-type]
    conversation_id = uuid.uuid4()
    events = [
        MessageReceived(
            site_id="site-1",
            conversation_id=conversation_id,
            message_id=uuid.uuid4(),
            client_message_id="c-1",
            seq=1,
            text="talk to a human",
        ),
        AgentLeft(
            site_id="site-1",
            conversation_id=conversation_id,
            agent_id="a-1",
            agent_name="Ann",
            ai_resumes=True,
        ),
    ]
    async with TestKafkaBroker(broker) as test_broker:
        for event in events:
            value, headers = encode(
                event, source="/test", traceparent=f"00-{'a' * 32}-{'b' * 16}-01"
            )
            await test_broker.publish(value, topic=event.topic, key=event.key, headers=headers)
    assert [type(e) for e, _ in handlers.events] == [MessageReceived, AgentLeft]
    assert handlers.events[0][0] == events[0]
    assert all(trace and trace.startswith(f"00-{'a' * 32}") for _, trace in handlers.events)
