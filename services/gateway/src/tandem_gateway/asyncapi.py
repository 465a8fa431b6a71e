"""The gateway's AsyncAPI document, generated from its broker without connecting."""

from __future__ import annotations

from typing import Annotated, Union

from faststream.specification import AsyncAPI
from pydantic import Field
from tandem_events import EVENT_TYPES
from tandem_events.topics import AGENT_EVENTS, VISITOR_EVENTS

from . import __version__
from .app import build_broker
from .entrypoints import consumers
from .service_layer.fanout import FanoutService
from .settings import GatewaySettings


class _Unwired:
    """Stands in for the fan-out's adapters: the document needs the handler's signature only."""

    async def publish(self, *_: object) -> None:
        raise RuntimeError("not wired: documentation only")


def build_asyncapi(settings: GatewaySettings | None = None) -> str:
    settings = settings or GatewaySettings(dev_mode=True)
    broker = build_broker(settings)
    unwired = _Unwired()
    consumers.register(broker, settings, FanoutService(live=unwired, flags=unwired))  # type: ignore[arg-type]
    visitor_events = tuple(t for t in EVENT_TYPES if t.topic == VISITOR_EVENTS.name)
    # Published with EventPublisher (acks=all, keyed by conversation); declared here so the
    # document shows them.
    broker.publisher(
        VISITOR_EVENTS.name,
        title="gateway-visitor-events",
        description=VISITOR_EVENTS.description,
        schema=Annotated[Union[visitor_events], Field(discriminator="event_type")],  # noqa: UP007
    )
    agent_events = tuple(t for t in EVENT_TYPES if t.topic == AGENT_EVENTS.name)
    broker.publisher(
        AGENT_EVENTS.name,
        title="gateway-agent-events",
        description=AGENT_EVENTS.description
        + " Published from console commands (websocket and REST).",
        schema=Annotated[Union[agent_events], Field(discriminator="event_type")],  # noqa: UP007
    )
    spec = AsyncAPI(
        broker,
        title="Tandem gateway",
        version=__version__,
        description=(
            "Publishes what visitors do through the widget and what agents do from the "
            "console; consumes conversation, escalation and agent events to push live "
            "frames to websockets via Redis."
        ),
    )
    return spec.to_specification().to_json()
