"""The analytics service's one Kafka subscriber: every topic but the dead letters.

The payload type is every event type those topics carry (from the registry), so an event no projection uses
is acknowledged and ignored instead of failing validation and being dead-lettered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from tandem_events import (
    ALL_TOPICS,
    Event,
    events_on,
)
from tandem_events.topics import DEAD_LETTER
from tandem_platform.messaging import AT_LEAST_ONCE, decode_event

from ..handlers import AnalyticsProjector
from ..settings import AnalyticsSettings

SUBSCRIBED_TOPICS = tuple(topic for topic in ALL_TOPICS if topic != DEAD_LETTER)

if TYPE_CHECKING:
    AnalyticsInput: TypeAlias = Event
else:
    AnalyticsInput = events_on(*SUBSCRIBED_TOPICS)


def register_consumers(
    broker: KafkaBroker, projector: AnalyticsProjector, settings: AnalyticsSettings
) -> DefaultSubscriber:
    subscriber = broker.subscriber(
        *(topic.name for topic in SUBSCRIBED_TOPICS),
        group_id=settings.group_id,
        ack_policy=AT_LEAST_ONCE,
        decoder=decode_event,
        auto_offset_reset=settings.auto_offset_reset,
        title="analytics-inputs",
        description="Every Tandem event, projected into the dashboard's read models.",
    )

    @subscriber
    async def on_event(event: AnalyticsInput) -> None:
        await projector.handle(event)

    return subscriber
