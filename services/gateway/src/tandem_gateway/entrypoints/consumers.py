"""The fan-out consumer: conversation, escalation and agent events become live frames.

One subscriber reads the three topics in the ``tandem-gateway`` group, so each event is
handled by one replica, which publishes the frame to Redis for every replica's sockets.
Pushing a frame is idempotent enough to need no inbox: sockets drop repeated message
frames by seq, and a repeated status or handoff frame changes nothing on screen.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeAlias

from faststream.kafka import KafkaBroker
from redis.exceptions import RedisError
from tandem_events import ConversationDeleted, Event, events_on
from tandem_events.topics import AGENT_EVENTS, CONVERSATION_EVENTS, ESCALATION_EVENTS
from tandem_platform.messaging import AT_LEAST_ONCE, decode_event
from tandem_platform.metrics import EVENTS_CONSUMED

from ..service_layer.fanout import FanoutService
from ..settings import GatewaySettings

log = logging.getLogger(__name__)

FANOUT_TOPICS = (CONVERSATION_EVENTS, ESCALATION_EVENTS, AGENT_EVENTS)
CONSUMER = "gateway"

if TYPE_CHECKING:
    FanoutEvent: TypeAlias = Event
else:
    FanoutEvent = events_on(*FANOUT_TOPICS)


def register(broker: KafkaBroker, settings: GatewaySettings, fanout: FanoutService) -> None:
    @broker.subscriber(
        *(topic.name for topic in FANOUT_TOPICS),
        group_id=settings.consumer_group,
        ack_policy=AT_LEAST_ONCE,
        decoder=decode_event,
        auto_offset_reset=settings.consumer_offset_reset,
        title="gateway-live-fanout",
        description="Turns conversation, escalation and agent events into live frames on Redis.",
    )
    async def push_live_frame(event: FanoutEvent) -> None:
        try:
            outcome = await fanout.handle(event)
        except RedisError as exc:
            if isinstance(event, ConversationDeleted):
                raise  # forgetting must happen: retried, then dead-lettered for replay
            # A live frame is worth nothing late: sockets that missed it reconnect and
            # read the stored history. Dropping beats filling the dead-letter topic.
            log.warning(
                "live frame dropped: Redis unavailable", extra={"fields": {"error": repr(exc)}}
            )
            outcome = "dropped"
        EVENTS_CONSUMED.labels(CONSUMER, event.event_type, outcome).inc()
