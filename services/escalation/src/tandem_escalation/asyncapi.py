"""The escalation service's AsyncAPI document, generated from its subscriber and publisher
declarations without connecting to Kafka."""

from __future__ import annotations

from faststream.specification import AsyncAPI

from .adapters.repository import PolicyBook
from .app import build_broker
from .entrypoints.consumers import register_consumers
from .handlers import EscalationHandlers
from .settings import EscalationSettings


def build_asyncapi(settings: EscalationSettings | None = None) -> str:
    settings = settings or EscalationSettings()
    broker = build_broker(settings)
    register_consumers(broker, EscalationHandlers(policies=PolicyBook()), settings)
    spec = AsyncAPI(
        broker,
        title="tandem-escalation",
        version="0.1.0",
        description="Consumes visitor, answering, conversation and agent events; publishes "
        "EscalationRaised through a transactional outbox.",
    )
    return spec.to_specification().to_json()


if __name__ == "__main__":
    print(build_asyncapi())  # noqa: T201
