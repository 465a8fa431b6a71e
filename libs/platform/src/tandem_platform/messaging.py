"""Reliable Kafka messaging with faststream, written once for every service.

* Producer: idempotent (``enable_idempotence=True`` implies ``acks=all``); a publish returns
  only once the broker has the record.
* Consumers: at-least-once. Offsets are committed after the handler returns
  (``AckPolicy.NACK_ON_ERROR``); an infrastructure failure seeks back so the record is
  delivered again. Handlers are idempotent through the inbox (``tandem_platform.postgres``).
* Poison messages: a handler error is retried a bounded number of times in place, then the
  record goes to the dead-letter topic with the error in its headers and the partition
  moves on. Records that can never be decoded go there at once.
* Batches: a service that gains from many messages at once (answering) polls batches and
  runs them through ``consume_keyed_batch``: the same policy per record, one conversation's
  records in order, the batch committed when all of them are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tandem_events import Event, Topic, UnknownEventError, parse_event
from tandem_events.topics import DEAD_LETTER
from tandem_events.wire import encode, header_map

from .logging import conversation_id_var, correlation_id_var
from .metrics import EVENT_HANDLING_SECONDS, EVENTS_CONSUMED, EVENTS_PUBLISHED

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Every subscriber commits after its work is durable; never faststream's ack-first default.
AT_LEAST_ONCE = AckPolicy.NACK_ON_ERROR

#: Errors that retrying cannot fix: the record is dead-lettered at once.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    ValidationError,
    UnknownEventError,
    UnicodeDecodeError,
    ValueError,
)


#: Errors of a dependency that is down or slow (database, broker, cache): dead-lettering would
#: throw away valid events during an outage, so after the in-place retries the record is
#: left uncommitted and read again, after a pause, until the dependency is back.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OSError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    KafkaConnectionError,
    KafkaTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
)

#: Longest pause before an uncommitted record is read again during an outage.
MAX_OUTAGE_BACKOFF_SECONDS = 30.0


class PermanentError(Exception):
    """Raised by a handler for input it can never process (goes straight to the dead letters)."""


class RedeliveryRequested(Exception):
    """A dependency stayed unavailable through the in-place retries: the record, or the batch
    that holds it, is left uncommitted and read again."""


class DeadLetterPolicy:
    """faststream broker middleware: bounded retries, then the dead-letter topic.

    It is a middleware factory (faststream calls it once per message); ``bind`` it to the
    broker after the broker is built, since the broker takes the middleware at construction.
    """

    def __init__(
        self,
        *,
        service: str,
        max_attempts: int = 3,
        backoff_seconds: float = 0.2,
        dead_letter_topic: str = DEAD_LETTER.name,
    ) -> None:
        self.service = service
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.dead_letter_topic = dead_letter_topic
        self._broker: KafkaBroker | None = None

    def bind(self, broker: KafkaBroker) -> None:
        self._broker = broker

    def __call__(self, msg: Any, /, *, context: Any) -> _DeadLetterMiddleware:
        return _DeadLetterMiddleware(msg, context=context, policy=self)

    async def run(self, record: Any, call: Callable[[], Awaitable[T]]) -> T | None:
        """Runs ``call`` for ``record`` (one record, or a polled batch) under the policy.

        Returns the call's result, or None once the record went to the dead letters. Raises
        ``RedeliveryRequested`` when a dependency stayed down through the retries.
        """
        attempt = 0
        started = time.perf_counter()
        while True:
            attempt += 1
            try:
                result = await call()
            except (asyncio.CancelledError, RedeliveryRequested):
                raise
            except Exception as exc:
                permanent = isinstance(exc, (*PERMANENT_ERRORS, PermanentError))
                transient = not permanent and isinstance(exc, TRANSIENT_ERRORS)
                if transient and attempt >= self.max_attempts:
                    EVENTS_CONSUMED.labels(self.service, "unknown", "redelivered").inc()
                    log.warning(
                        "dependency unavailable, leaving the record for redelivery",
                        extra={"fields": {"attempts": attempt, "error": repr(exc)}},
                    )
                    await asyncio.sleep(
                        min(MAX_OUTAGE_BACKOFF_SECONDS, self.backoff_seconds * 2**attempt)
                    )
                    raise RedeliveryRequested(repr(exc)) from exc
                if permanent or attempt >= self.max_attempts:
                    # If publishing the dead letter fails, the exception propagates and the
                    # record is redelivered rather than lost.
                    records = record if isinstance(record, tuple) else (record,)
                    for each in records:
                        await self.dead_letter(each, exc, attempts=attempt)
                        EVENTS_CONSUMED.labels(self.service, "unknown", "dead_lettered").inc()
                    return None
                EVENTS_CONSUMED.labels(self.service, "unknown", "retried").inc()
                log.warning(
                    "handler failed, retrying",
                    extra={"fields": {"attempt": attempt, "error": repr(exc)}},
                )
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            else:
                if not isinstance(record, tuple):  # a batch's records are timed one by one
                    EVENT_HANDLING_SECONDS.labels(self.service).observe(
                        time.perf_counter() - started
                    )
                return result

    async def dead_letter(self, record: Any, error: BaseException, attempts: int) -> None:
        if self._broker is None:
            raise RuntimeError("DeadLetterPolicy is not bound to a broker")
        headers = header_map(getattr(record, "headers", None))
        headers.update(
            {
                "x-dead-letter-service": self.service,
                "x-dead-letter-topic": str(getattr(record, "topic", "")),
                "x-dead-letter-partition": str(getattr(record, "partition", "")),
                "x-dead-letter-offset": str(getattr(record, "offset", "")),
                "x-dead-letter-attempts": str(attempts),
                "x-dead-letter-error-type": type(error).__name__,
                "x-dead-letter-error": str(error)[:2000],
                "x-dead-letter-trace": "".join(traceback.format_exception(error))[-4000:],
            }
        )
        await self._broker.publish(
            getattr(record, "value", None) or b"",
            topic=self.dead_letter_topic,
            key=getattr(record, "key", None),
            headers=headers,
        )
        EVENTS_PUBLISHED.labels(self.dead_letter_topic, "dead_letter").inc()
        log.error(
            "dead-lettered a record",
            extra={
                "fields": {
                    "source_topic": headers["x-dead-letter-topic"],
                    "offset": headers["x-dead-letter-offset"],
                    "error": headers["x-dead-letter-error"],
                }
            },
        )


class _DeadLetterMiddleware:
    """One message's pass through the policy (see ``DeadLetterPolicy``)."""

    def __init__(self, msg: Any, *, context: Any, policy: DeadLetterPolicy) -> None:
        self.msg = msg
        self.context = context
        self.policy = policy
        # Set when consume_scope gives the record back for redelivery (dependency outage).
        self.redeliver = False

    async def __aenter__(self) -> _DeadLetterMiddleware:
        # Log context belongs to one record; clear what the previous record left behind.
        conversation_id_var.set(None)
        correlation_id_var.set(None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool:
        # Reached with an exception only when faststream failed to *decode* the record
        # (handler errors are handled in consume_scope): such a record can never succeed.
        if exc_val is None or isinstance(exc_val, asyncio.CancelledError) or self.redeliver:
            return False
        if not isinstance(exc_val, Exception):
            return False
        await self.policy.dead_letter(self.msg, exc_val, attempts=1)
        EVENTS_CONSUMED.labels(self.policy.service, "undecodable", "dead_lettered").inc()
        return True

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        try:
            return await self.policy.run(msg.raw_message, lambda: call_next(msg))
        except RedeliveryRequested:
            self.redeliver = True
            raise  # not acked: faststream seeks back and the record (or batch) comes again

    async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
        return await call_next(cmd)


async def decode_event(msg: StreamMessage[Any]) -> Event:
    """faststream decoder: the wire JSON, upcast to the current model of its event type."""
    event = parse_event(msg.body)
    conversation_id_var.set(str(event.conversation_id))
    correlation_id_var.set(str(event.correlation_id or event.event_id))
    return event


async def raw_records(msg: StreamMessage[Any]) -> Any:
    """faststream decoder of a batch subscriber whose records ``consume_keyed_batch`` parses
    one by one (so that one undecodable record is dead-lettered alone)."""
    return msg.raw_message


async def consume_keyed_batch(
    records: Sequence[Any],
    handle: Callable[[Event], Awaitable[object]],
    policy: DeadLetterPolicy,
) -> None:
    """Handles one polled batch: records of one key one after the other, in offset order;
    records of different keys (conversations) at the same time.

    This is what lets a consumer hand a service many messages at once without giving up the
    per-conversation order the single-record path keeps. Each record goes through ``policy``
    on its own (in-place retries, then the dead letters), so a poison record does not hold
    up its batch. If a record asks for redelivery (a dependency is down), this raises once
    the other records are done; the whole batch is read again and the idempotent handlers
    drop what they already did.
    """
    lanes: dict[object, list[Any]] = {}
    for record in records:
        lane = record.key if record.key is not None else (record.partition, record.offset)
        lanes.setdefault(lane, []).append(record)

    async def handle_record(record: Any) -> None:
        event = parse_event(record.value or b"")
        conversation_id_var.set(str(event.conversation_id))
        correlation_id_var.set(str(event.correlation_id or event.event_id))
        await handle(event)

    async def run_lane(lane: list[Any]) -> None:
        # Each lane is its own task, so the log context set here stays with its records.
        for record in lane:
            conversation_id_var.set(None)
            correlation_id_var.set(None)
            await policy.run(record, functools.partial(handle_record, record))

    outcomes = await asyncio.gather(
        *(run_lane(lane) for lane in lanes.values()), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def make_broker(
    bootstrap: str,
    *,
    service: str,
    max_attempts: int = 3,
    backoff_seconds: float = 0.2,
    dead_letter_topic: str = DEAD_LETTER.name,
) -> tuple[KafkaBroker, DeadLetterPolicy]:
    policy = DeadLetterPolicy(
        service=service,
        max_attempts=max_attempts,
        backoff_seconds=backoff_seconds,
        dead_letter_topic=dead_letter_topic,
    )
    broker = KafkaBroker(
        bootstrap,
        client_id=f"tandem-{service}",
        enable_idempotence=True,
        acks="all",
        middlewares=[policy],  # type: ignore[list-item]  # a factory, as faststream expects
        logger=logging.getLogger(f"tandem.{service}.broker"),
    )
    policy.bind(broker)
    return broker, policy


class EventPublisher:
    """Publishes events directly (no outbox): for services that write no database first."""

    def __init__(self, broker: KafkaBroker, *, source: str) -> None:
        self.broker = broker
        self.source = source

    async def publish(self, event: Event, *, traceparent: str | None = None) -> None:
        value, headers = encode(event, source=self.source, traceparent=traceparent)
        await self.broker.publish(value, topic=event.topic, key=event.key, headers=headers)
        EVENTS_PUBLISHED.labels(event.topic, "direct").inc()


async def ensure_topics(
    bootstrap: str, topics: Iterable[Topic], *, wait_seconds: float = 60.0
) -> None:
    """Create missing topics with their partition counts (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            await admin.start()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if not missing:
            return
        new_topics = []
        for topic in missing:
            configs = {"retention.ms": str(topic.retention_ms)} if topic.retention_ms else {}
            new_topics.append(
                NewTopic(topic.name, topic.partitions, replication_factor=1, topic_configs=configs)
            )
        # Another replica may create them at the same moment.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new_topics)
    finally:
        await admin.close()
