"""Publishing to Kafka with a deadline: a request waits for the broker's ack, but not forever."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time

from tandem_events import Event
from tandem_events.wire import child_traceparent
from tandem_platform.messaging import EventPublisher

from ..metrics import PUBLISH_SECONDS
from ..service_layer.errors import Unavailable

log = logging.getLogger(__name__)

#: The W3C traceparent of the HTTP request being served, continued onto the events it causes.
request_traceparent: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_traceparent", default=None
)


class KafkaEventSink:
    def __init__(self, publisher: EventPublisher, *, timeout_seconds: float) -> None:
        self.publisher = publisher
        self.timeout_seconds = timeout_seconds

    async def publish(self, event: Event) -> None:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                self.publisher.publish(
                    event, traceparent=child_traceparent(request_traceparent.get())
                ),
                self.timeout_seconds,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any broker failure means the same to the client: retry later
            PUBLISH_SECONDS.labels(event.event_type, "error").observe(time.perf_counter() - started)
            log.warning(
                "publish failed",
                extra={"fields": {"event_type": event.event_type, "error": repr(exc)}},
            )
            raise Unavailable("the message queue is unavailable; retry shortly") from exc
        PUBLISH_SECONDS.labels(event.event_type, "ok").observe(time.perf_counter() - started)
