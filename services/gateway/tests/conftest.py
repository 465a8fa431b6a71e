"""In-memory stand-ins for the widget use cases' ports (unit tests only; integration tests
use real Redis and Kafka)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest
from tandem_events import Event
from tandem_gateway.domain.frames import LiveUpdate, MessageFrame
from tandem_gateway.domain.sites import Site
from tandem_gateway.service_layer.errors import Unavailable
from tandem_gateway.service_layer.ports import AcceptedMessage
from tandem_gateway.service_layer.widget import WidgetPolicy, WidgetService

SECRET = b"unit-test-token-secret-0123456789abcdef"
IDENTITY_SECRET = "acme-identity-secret-0123456789"


class FakeSites:
    def __init__(self, *sites: Site) -> None:
        self.sites = {s.public_key: s for s in sites}

    async def by_key(self, public_key: str) -> Site | None:
        return self.sites.get(public_key)

    async def by_id(self, site_id: str) -> Site | None:
        return next((s for s in self.sites.values() if s.site_id == site_id), None)


class FakeHistory:
    def __init__(self) -> None:
        self.messages: dict[uuid.UUID, list[MessageFrame]] = {}

    async def messages_after(
        self, conversation_id: uuid.UUID, after_seq: int, limit: int
    ) -> list[MessageFrame] | None:
        if conversation_id not in self.messages:
            return None
        return [m for m in self.messages[conversation_id] if m.seq > after_seq][:limit]


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[Event] = []
        self.attempted: list[Event] = []
        self.failures_left = 0
        self.delay = 0.0

    async def publish(self, event: Event) -> None:
        self.attempted.append(event)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures_left:
            self.failures_left -= 1
            raise Unavailable("kafka is down")
        self.published.append(event)


class FakeSequence:
    def __init__(self) -> None:
        self.counters: dict[uuid.UUID, int] = {}

    async def next(self, conversation_id: uuid.UUID) -> int:
        self.counters[conversation_id] = self.counters.get(conversation_id, 0) + 1
        return self.counters[conversation_id]


class _Lock:
    def __init__(self, held: set[tuple[uuid.UUID, str]], key: tuple[uuid.UUID, str]) -> None:
        self.held, self.key = held, key

    async def release(self) -> None:
        self.held.discard(self.key)


class FakeIdempotency:
    def __init__(self) -> None:
        self.records: dict[tuple[uuid.UUID, str], AcceptedMessage] = {}
        self.locks: set[tuple[uuid.UUID, str]] = set()

    async def get(
        self, conversation_id: uuid.UUID, client_message_id: str
    ) -> AcceptedMessage | None:
        return self.records.get((conversation_id, client_message_id))

    async def put(
        self, conversation_id: uuid.UUID, client_message_id: str, record: AcceptedMessage
    ) -> None:
        self.records[(conversation_id, client_message_id)] = record

    async def try_lock(
        self, conversation_id: uuid.UUID, client_message_id: str, ttl_seconds: float
    ) -> _Lock | None:
        key = (conversation_id, client_message_id)
        if key in self.locks:
            return None
        self.locks.add(key)
        return _Lock(self.locks, key)


class FakeFlags:
    def __init__(self) -> None:
        self.deleted: set[uuid.UUID] = set()
        self.forgotten: list[uuid.UUID] = []

    async def is_deleted(self, conversation_id: uuid.UUID) -> bool:
        return conversation_id in self.deleted

    async def mark_deleted(self, conversation_id: uuid.UUID) -> None:
        self.deleted.add(conversation_id)

    async def forget(self, conversation_id: uuid.UUID) -> None:
        self.forgotten.append(conversation_id)


class FakeLive:
    def __init__(self) -> None:
        self.updates: list[LiveUpdate] = []

    async def publish(self, update: LiveUpdate) -> None:
        self.updates.append(update)


@dataclass
class World:
    sites: FakeSites
    history: FakeHistory = field(default_factory=FakeHistory)
    events: FakeEvents = field(default_factory=FakeEvents)
    sequence: FakeSequence = field(default_factory=FakeSequence)
    idempotency: FakeIdempotency = field(default_factory=FakeIdempotency)
    flags: FakeFlags = field(default_factory=FakeFlags)
    live: FakeLive = field(default_factory=FakeLive)
    now: float = 1_800_000_000.0

    def service(self, **policy: object) -> WidgetService:
        return WidgetService(
            policy=WidgetPolicy(
                token_secret=SECRET,
                token_ttl_seconds=3600,
                duplicate_wait_seconds=float(policy.get("duplicate_wait_seconds", 1.0)),  # type: ignore[arg-type]
                duplicate_poll_seconds=0.01,
            ),
            sites=self.sites,
            history=self.history,
            events=self.events,
            sequence=self.sequence,
            idempotency=self.idempotency,
            flags=self.flags,
            live=self.live,
            clock=lambda: self.now,
        )


def acme_site(**overrides: object) -> Site:
    values: dict[str, object] = {
        "site_id": "acme",
        "name": "Acme",
        "public_key": "pk_acme_0123456789",
        "allowed_origins": ("https://shop.acme.example",),
        "greeting": "Hi! How can we help?",
        "require_identity": False,
        "identity_secret": IDENTITY_SECRET,
    }
    values.update(overrides)
    return Site.model_validate(values)


@pytest.fixture
def world() -> World:
    return World(sites=FakeSites(acme_site()))


@pytest.fixture
def make_site():  # type: ignore[no-untyped-def]
    return acme_site


@pytest.fixture
def identity_secret() -> str:
    return IDENTITY_SECRET
