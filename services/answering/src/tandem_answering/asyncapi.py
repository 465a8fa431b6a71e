"""The answering service's AsyncAPI document, generated from its faststream subscriber."""

from __future__ import annotations

from faststream.specification import AsyncAPI
from tandem_events import (
    AnswerScored,
    KnowledgeDocumentIndexed,
    KnowledgeDocumentRemoved,
    KnowledgeIngestionProgressed,
)
from tandem_events.topics import ANSWERING_EVENTS, KNOWLEDGE_EVENTS, VISITOR_EVENTS

from .app import build_broker
from .entrypoints import consumers
from .settings import AnsweringSettings


def build_asyncapi(settings: AnsweringSettings | None = None) -> str:
    settings = settings or AnsweringSettings()
    broker, policy = build_broker(settings)
    consumers.register(broker, settings, consumers.ConsumerDeps(), policy)

    # The consumers poll batches and leave themselves out of the document; the channel is
    # declared as its records look on the wire, one visitor event each.
    @broker.subscriber(
        VISITOR_EVENTS.name,
        group_id=settings.group_id,
        title=consumers.CHANNEL_TITLE,
        description=consumers.CHANNEL_DESCRIPTION,
    )
    async def visitor_event(event: consumers.VisitorEvent) -> None:
        """The payload of one record of the channel."""

    # Published directly (AnswerScored) and through the outbox (the knowledge events);
    # declared here so the document shows them.
    broker.publisher(
        ANSWERING_EVENTS.name,
        title="answering.events",
        description=ANSWERING_EVENTS.description,
        schema=AnswerScored,
    )
    broker.publisher(
        KNOWLEDGE_EVENTS.name,
        title="knowledge.events",
        description=KNOWLEDGE_EVENTS.description,
        schema=KnowledgeDocumentIndexed | KnowledgeDocumentRemoved | KnowledgeIngestionProgressed,
    )
    spec = AsyncAPI(
        broker,
        title="Tandem answering service",
        version="0.1.0",
        description=(
            "Answers visitor messages from the site's knowledge base with a calibrated "
            "confidence; reports knowledge-base indexing and the progress of long ingestions."
        ),
    )
    return spec.to_specification().to_json()
