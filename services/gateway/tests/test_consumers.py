"""The fan-out subscriber, through faststream's in-memory test broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from faststream.kafka import TestKafkaBroker
from tandem_events import (
    AgentReplied,
    ConversationDeleted,
    ConversationStatusChanged,
    EscalationRaised,
    KnowledgeDocumentIndexed,
    ReplyPosted,
)
from tandem_events.topics import KNOWLEDGE_EVENTS
from tandem_gateway.app import build_broker
from tandem_gateway.entrypoints import consumers
from tandem_gateway.service_layer.fanout import FanoutService
from tandem_gateway.settings import GatewaySettings
from tandem_platform.messaging import EventPublisher

pytestmark = pytest.mark.component


async def test_conversation_escalation_and_agent_events_become_live_frames(world) -> None:  # type: ignore[no-untyped-def]
    settings = GatewaySettings(dev_mode=True)
    broker = build_broker(settings)
    consumers.register(broker, settings, FanoutService(live=world.live, flags=world.flags))
    conversation_id = uuid.uuid4()
    envelope = {"site_id": "acme", "conversation_id": conversation_id}
    async with TestKafkaBroker(broker) as test_broker:
        publisher = EventPublisher(test_broker, source="/test")
        await publisher.publish(
            ReplyPosted(
                message_id=uuid.uuid4(),
                seq=2,
                author="ai",
                text="hello",
                created_at=datetime.now(UTC),
                confidence=0.9,
                **envelope,  # type: ignore[arg-type]
            )
        )
        await publisher.publish(
            ConversationStatusChanged(previous_status="active", status="pending", **envelope)  # type: ignore[arg-type]
        )
        await publisher.publish(
            EscalationRaised(reason="human_requested", detail="", summary="", **envelope)  # type: ignore[arg-type]
        )
        # On a watched topic but without a frame of its own: accepted and ignored.
        await publisher.publish(
            AgentReplied(
                agent_id="a1",
                agent_name="Dana",
                message_id=uuid.uuid4(),
                seq=3,
                text="hi",
                **envelope,  # type: ignore[arg-type]
            )
        )
        await publisher.publish(ConversationDeleted(requested_by="owner", **envelope))  # type: ignore[arg-type]
        # Not a watched topic at all.
        await publisher.publish(
            KnowledgeDocumentIndexed(
                document_id="d",
                title="t",
                chunks=1,
                site_id="acme",
                conversation_id=uuid.UUID(int=0),
            )
        )
        assert KnowledgeDocumentIndexed.topic == KNOWLEDGE_EVENTS.name

    frames = [update.frame for update in world.live.updates]
    assert [f["type"] for f in frames] == ["message", "status", "handoff", "control"]
    assert frames[0]["confidence"] == 0.9
    assert conversation_id in world.flags.deleted
    assert world.flags.forgotten == [conversation_id]
