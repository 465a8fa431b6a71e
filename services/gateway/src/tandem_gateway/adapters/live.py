"""Live frames through Redis pub/sub: publishing them, and one shared subscription per replica.

Any replica's consumer publishes a conversation's frames on its channel; every replica
holding sockets for that conversation receives them. Each replica keeps ONE pub/sub
connection and fans frames out to its sockets in memory, so sockets do not cost Redis
connections.

Pub/sub is fire-and-forget: a frame published while a replica's connection is down is
lost to it. So the hub never reconnects silently: when its connection fails it ends every
subscription, the sockets close, and clients reconnect with ``after_seq`` and get what
they missed from the stored history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from tandem_platform.redis import live_channel, site_live_channel

from ..domain.frames import LiveUpdate
from ..metrics import LIVE_FRAMES

log = logging.getLogger(__name__)

HUB_CLIENT_NAME_PREFIX = "tandem-gateway-live-"


class RedisLiveFanout:
    """Publishes live frames for a conversation's sockets and its site's consoles."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def publish(self, update: LiveUpdate) -> None:
        frame, console = update.frame, update.for_console()
        async with self.redis.pipeline(transaction=False) as pipe:
            if frame is not None:
                pipe.publish(live_channel(update.conversation_id), json.dumps(frame))
            if console is not None:
                pipe.publish(site_live_channel(update.site_id), json.dumps(console))
            await pipe.execute()
        shown = frame if frame is not None else console or {}
        LIVE_FRAMES.labels(str(shown.get("type", "unknown"))).inc()


class StreamLost(Exception):
    """The subscription can no longer promise every frame; the socket must close."""


_LOST = object()


class LiveSubscription:
    def __init__(self, channel: str, max_pending: int) -> None:
        self.channel = channel
        self.max_pending = max_pending
        self.lost_reason: str | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def offer(self, data: bytes) -> None:
        if self.lost_reason is not None:
            return
        if self._queue.qsize() >= self.max_pending:
            self.fail("the socket fell too far behind")
            return
        self._queue.put_nowait(data)

    def fail(self, reason: str) -> None:
        if self.lost_reason is None:
            self.lost_reason = reason
            self._queue.put_nowait(_LOST)

    async def get(self) -> bytes:
        item = await self._queue.get()
        if item is _LOST:
            raise StreamLost(self.lost_reason or "live stream lost")
        data: bytes = item
        return data


class LiveHub:
    def __init__(
        self, redis_url: str, *, max_pending: int, subscribe_timeout_seconds: float = 5.0
    ) -> None:
        # No automatic retries: a silent reconnect would hide lost frames (see module doc).
        # Named per process, so an operator can find (or kill) this replica's subscription.
        self._redis = Redis.from_url(
            redis_url,
            retry=Retry(NoBackoff(), retries=0),
            health_check_interval=15,
            client_name=f"{HUB_CLIENT_NAME_PREFIX}{socket.gethostname()}-{os.getpid()}",
        )
        self.max_pending = max_pending
        self.subscribe_timeout_seconds = subscribe_timeout_seconds
        self._pubsub: PubSub | None = None
        self._subscribers: dict[str, set[LiveSubscription]] = {}
        # Channels whose SUBSCRIBE Redis has not confirmed yet, and how many are in flight.
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._unconfirmed: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="gateway-live-hub")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._reset("the gateway is shutting down")
        await self._redis.aclose()

    @property
    def subscription_count(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    @contextlib.asynccontextmanager
    async def subscription(self, channel: str) -> AsyncIterator[LiveSubscription]:
        """Subscribed — confirmed by Redis — when entered; every frame published after that
        reaches the subscription until it exits (or fails with ``StreamLost``)."""
        subscription = await self._subscribe(channel)
        try:
            yield subscription
        finally:
            await self._unsubscribe(subscription)

    async def _subscribe(self, channel: str) -> LiveSubscription:
        subscription = LiveSubscription(channel, self.max_pending)
        failure: BaseException | None = None
        broken: PubSub | None = None
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            subscribers = self._subscribers.setdefault(channel, set())
            first = not subscribers
            subscribers.add(subscription)
            if first:
                if channel not in self._confirmations:
                    self._confirmations[channel] = asyncio.get_running_loop().create_future()
                self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
                try:
                    await self._pubsub.subscribe(channel)
                except BaseException as exc:
                    # The connection is suspect for every channel on it: start afresh
                    # rather than let the client library reconnect behind our back.
                    broken = self._fail_everything("the live stream was interrupted")
                    failure = exc
                else:
                    self._connected.set()
            confirmation = self._confirmations.get(channel)
        if failure is not None:
            await self._close_quietly(broken)
            if isinstance(failure, asyncio.CancelledError):
                raise failure
            raise StreamLost("could not subscribe to the live stream") from failure
        if confirmation is not None:
            try:
                await asyncio.wait_for(asyncio.shield(confirmation), self.subscribe_timeout_seconds)
            except TimeoutError as exc:
                await self._unsubscribe(subscription)
                raise StreamLost("Redis did not confirm the subscription in time") from exc
            except BaseException:
                await self._unsubscribe(subscription)
                raise
        return subscription

    async def _unsubscribe(self, subscription: LiveSubscription) -> None:
        channel = subscription.channel
        async with self._lock:
            subscribers = self._subscribers.get(channel)
            if subscribers is None or subscription not in subscribers:
                return
            subscribers.discard(subscription)
            if subscribers:
                return
            del self._subscribers[channel]
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(channel)
                except Exception as exc:  # the reader notices a broken connection too
                    log.warning(
                        "live hub unsubscribe failed", extra={"fields": {"error": repr(exc)}}
                    )

    async def _read_forever(self) -> None:
        while True:
            await self._connected.wait()
            pubsub = self._pubsub
            if pubsub is None:
                self._connected.clear()
                continue
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live hub lost Redis", extra={"fields": {"error": repr(exc)}})
                await self._reset("the live stream was interrupted")
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        raw_channel = message.get("channel")
        channel = raw_channel.decode() if isinstance(raw_channel, bytes) else str(raw_channel)
        if kind == "message":
            for subscription in list(self._subscribers.get(channel, ())):
                subscription.offer(message["data"])
        elif kind == "subscribe":
            remaining = self._unconfirmed.get(channel, 0) - 1
            if remaining > 0:
                self._unconfirmed[channel] = remaining
                return
            self._unconfirmed.pop(channel, None)
            confirmation = self._confirmations.pop(channel, None)
            if confirmation is not None and not confirmation.done():
                confirmation.set_result(None)

    async def _reset(self, reason: str) -> None:
        async with self._lock:
            broken = self._fail_everything(reason)
        await self._close_quietly(broken)

    def _fail_everything(self, reason: str) -> PubSub | None:
        """End every subscription and forget the connection; the caller holds the lock and
        closes the returned pub/sub connection once it has released the lock."""
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.fail(reason)
        self._subscribers.clear()
        for confirmation in self._confirmations.values():
            if not confirmation.done():
                confirmation.set_exception(StreamLost(reason))
                # Nobody may be waiting any more; retrieve it so asyncio does not warn.
                confirmation.exception()
        self._confirmations.clear()
        self._unconfirmed.clear()
        pubsub, self._pubsub = self._pubsub, None
        self._connected.clear()
        return pubsub

    @staticmethod
    async def _close_quietly(pubsub: PubSub | None) -> None:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def ping(self) -> None:
        await self._redis.ping()
