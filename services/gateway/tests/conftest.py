"""In-memory stand-ins for the widget use cases' ports (unit tests only; integration tests
use real Redis and Kafka)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from tandem_events import Event
from tandem_gateway.domain.agents import AgentIdentity
from tandem_gateway.domain.frames import LiveUpdate, MessageFrame
from tandem_gateway.domain.sites import Site
from tandem_gateway.service_layer.agent import AgentConsolePolicy, AgentConsoleService
from tandem_gateway.service_layer.agent_auth import AgentAuthPolicy, AgentAuthService
from tandem_gateway.service_layer.errors import Unavailable
from tandem_gateway.service_layer.ports import AcceptedMessage, RefreshRecord
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


# -- the agent console's ports ----------------------------------------------------------

AGENT_SECRET = b"unit-test-agent-secret-0123456789abcdef"


class FakeSessions:
    def __init__(self) -> None:
        self.live: dict[str, RefreshRecord] = {}
        self.used: dict[str, str] = {}
        self.revoked_access: set[str] = set()

    async def put(self, digest: str, record: RefreshRecord, ttl_seconds: int) -> None:
        self.live[digest] = record

    async def take(self, digest: str, ttl_seconds: int) -> RefreshRecord | None:
        record = self.live.pop(digest, None)
        if record is not None:
            self.used[digest] = record.family
        return record

    async def family_of_used(self, digest: str) -> str | None:
        return self.used.get(digest)

    async def revoke_family(self, family: str) -> None:
        for digest in [d for d, r in self.live.items() if r.family == family]:
            del self.live[digest]

    async def revoke_access(self, token_id: str, ttl_seconds: int) -> None:
        self.revoked_access.add(token_id)

    async def access_revoked(self, token_id: str) -> bool:
        return token_id in self.revoked_access


class FakeLimiter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return window_seconds if self.counts[key] > limit else 0


class FakeRoster:
    def __init__(self) -> None:
        self.agents: dict[str, tuple[str, AgentIdentity]] = {}  # email -> (password, agent)
        self.inactive: set[str] = set()

    def add(self, email: str, password: str, identity: AgentIdentity) -> AgentIdentity:
        self.agents[email] = (password, identity)
        return identity

    async def authenticate(self, email: str, password: str) -> AgentIdentity | None:
        found = self.agents.get(email)
        if found is None or found[0] != password or found[1].agent_id in self.inactive:
            return None
        return found[1]

    async def current(self, site_id: str, agent_id: str) -> AgentIdentity | None:
        for _, identity in self.agents.values():
            if identity.agent_id == agent_id and identity.site_id == site_id:
                return None if agent_id in self.inactive else identity
        return None


class FakeHolders:
    def __init__(self) -> None:
        self.holders: dict[uuid.UUID, str] = {}

    async def get(self, conversation_id: uuid.UUID) -> str | None:
        return self.holders.get(conversation_id)

    async def set(self, conversation_id: uuid.UUID, agent_id: str) -> None:
        self.holders[conversation_id] = agent_id

    async def clear(self, conversation_id: uuid.UUID, *, only_if: str | None = None) -> None:
        if only_if is None or self.holders.get(conversation_id) == only_if:
            self.holders.pop(conversation_id, None)


class FakeConversations:
    """The conversation service's agent views, from dictionaries."""

    def __init__(self) -> None:
        self.views: dict[uuid.UUID, dict[str, Any]] = {}
        self.list_calls: list[tuple[str, dict[str, Any]]] = []

    def add(self, site_id: str, *, assigned: str | None = None, joined: bool = False) -> uuid.UUID:
        conversation_id = uuid.uuid4()
        agent = {"id": assigned, "name": assigned, "joined": joined} if assigned else None
        self.views[conversation_id] = {
            "conversation": {
                "conversation_id": str(conversation_id),
                "site_id": site_id,
                "status": "active",
                "assigned_agent": agent,
            },
            "messages": [],
            "held_replies": [],
            "notes": [],
        }
        return conversation_id

    async def conversation(self, conversation_id: uuid.UUID) -> dict[str, Any] | None:
        view = self.views.get(conversation_id)
        return view["conversation"] if view else None

    async def agent_view(self, conversation_id: uuid.UUID) -> dict[str, Any] | None:
        return self.views.get(conversation_id)

    async def list_conversations(
        self, site_id: str, filters: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.list_calls.append((site_id, filters))
        return [
            v["conversation"]
            for v in self.views.values()
            if v["conversation"]["site_id"] == site_id
        ]


@dataclass
class Console:
    """The agent console's use cases wired to in-memory ports."""

    world: World
    roster: FakeRoster = field(default_factory=FakeRoster)
    sessions: FakeSessions = field(default_factory=FakeSessions)
    limiter: FakeLimiter = field(default_factory=FakeLimiter)
    holders: FakeHolders = field(default_factory=FakeHolders)
    conversations: FakeConversations = field(default_factory=FakeConversations)

    def auth(self, **policy: Any) -> AgentAuthService:
        return AgentAuthService(
            policy=AgentAuthPolicy(secret=AGENT_SECRET, **policy),
            directory=self.roster,
            sessions=self.sessions,
            limiter=self.limiter,
            clock=lambda: self.world.now,
        )

    def agents(self) -> AgentConsoleService:
        return AgentConsoleService(
            conversations=self.conversations,
            sites=self.world.sites,
            events=self.world.events,
            sequence=self.world.sequence,
            idempotency=self.world.idempotency,
            holders=self.holders,
            live=self.world.live,
            policy=AgentConsolePolicy(duplicate_wait_seconds=0.5, duplicate_poll_seconds=0.01),
            clock=lambda: self.world.now,
        )


@pytest.fixture
def console(world: World) -> Console:
    return Console(world=world)


def agent(agent_id: str = "ana", site_id: str = "acme", role: str = "agent") -> AgentIdentity:
    return AgentIdentity(
        agent_id=agent_id,
        site_id=site_id,
        name=agent_id.title(),
        role=role,  # type: ignore[arg-type]
        skills=("billing",),
        languages=("en",),
    )
