"""Every Kafka topic Tandem uses, with its partition count, in one place.

Partition counts cap how far each consumer group scales (replicas <= partitions); the
Kubernetes manifests and the local stack both read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int
    description: str
    retention_ms: int | None = None


VISITOR_EVENTS = Topic(
    "tandem.visitor.events",
    12,
    "What visitors do through the widget: conversations started, messages, ratings, "
    "deletion requests. Published by the gateway.",
)
ANSWERING_EVENTS = Topic(
    "tandem.answering.events",
    12,
    "Scored AI answers. Published by the answering service.",
)
CONVERSATION_EVENTS = Topic(
    "tandem.conversation.events",
    12,
    "Conversation facts: replies posted, status changes, resolution, deletion. Published "
    "by the conversation service through its outbox.",
)
ESCALATION_EVENTS = Topic(
    "tandem.escalation.events",
    12,
    "Escalations raised and agents assigned. Published by the escalation service.",
)
AGENT_EVENTS = Topic(
    "tandem.agent.events",
    12,
    "What human agents do from the console: join, leave, reply. Published by the gateway.",
)
KNOWLEDGE_EVENTS = Topic(
    "tandem.knowledge.events",
    3,
    "Knowledge-base changes: documents indexed or removed. Published by the answering service.",
)
DEAD_LETTER = Topic(
    "tandem.dead-letter",
    3,
    "Messages a consumer could not process after bounded retries, with the error in headers.",
    retention_ms=30 * 24 * 3600 * 1000,
)

ALL_TOPICS: tuple[Topic, ...] = (
    VISITOR_EVENTS,
    ANSWERING_EVENTS,
    CONVERSATION_EVENTS,
    ESCALATION_EVENTS,
    AGENT_EVENTS,
    KNOWLEDGE_EVENTS,
    DEAD_LETTER,
)
