"""The analytics service's AsyncAPI document, generated from its subscriber declaration
without connecting to Kafka."""

from __future__ import annotations

from faststream.specification import AsyncAPI

from .app import build_broker
from .entrypoints.consumers import register_consumers
from .handlers import AnalyticsProjector
from .settings import AnalyticsSettings


def build_asyncapi(settings: AnalyticsSettings | None = None) -> str:
    settings = settings or AnalyticsSettings()
    broker = build_broker(settings)
    register_consumers(broker, AnalyticsProjector(), settings)
    spec = AsyncAPI(
        broker,
        title="tandem-analytics",
        version="0.1.0",
        description="Consumes every Tandem topic except the dead letters; publishes nothing.",
    )
    return spec.to_specification().to_json()


if __name__ == "__main__":
    print(build_asyncapi())  # noqa: T201
