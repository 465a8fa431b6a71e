"""What the use cases need from the outside world; adapters implement these."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tandem_events import Event

from ..domain.agents import AgentIdentity
from ..domain.frames import LiveUpdate, MessageFrame
from ..domain.sites import Site


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """The idempotency record of one visitor message.

    ``published`` is False while (or after a failed attempt at) publishing: a resend then
    publishes again with the same seq, time and event id instead of taking new ones.
    """

    message_id: uuid.UUID
    seq: int
    occurred_at: datetime
    published: bool


class SiteDirectory(Protocol):
    async def by_key(self, public_key: str) -> Site | None: ...

    async def by_id(self, site_id: str) -> Site | None: ...


class ConversationHistory(Protocol):
    async def messages_after(
        self, conversation_id: uuid.UUID, after_seq: int, limit: int
    ) -> list[MessageFrame] | None:
        """Stored messages with ``seq > after_seq`` in order; None for an unknown conversation."""
        ...


class EventSink(Protocol):
    async def publish(self, event: Event) -> None:
        """Return once Kafka acknowledged ``event``; raise ``Unavailable`` otherwise."""
        ...


class SequenceSource(Protocol):
    async def next(self, conversation_id: uuid.UUID) -> int: ...


class MessageLock(Protocol):
    async def release(self) -> None: ...


class IdempotencyStore(Protocol):
    async def get(
        self, conversation_id: uuid.UUID, client_message_id: str
    ) -> AcceptedMessage | None: ...

    async def put(
        self, conversation_id: uuid.UUID, client_message_id: str, record: AcceptedMessage
    ) -> None: ...

    async def try_lock(
        self, conversation_id: uuid.UUID, client_message_id: str, ttl_seconds: float
    ) -> MessageLock | None:
        """A lock on one (conversation, client message), or None while someone holds it."""
        ...


class ConversationFlags(Protocol):
    async def is_deleted(self, conversation_id: uuid.UUID) -> bool: ...

    async def mark_deleted(self, conversation_id: uuid.UUID) -> None: ...

    async def forget(self, conversation_id: uuid.UUID) -> None:
        """Delete every key the gateway holds for the conversation (but the deleted mark)."""
        ...


class LiveFanout(Protocol):
    async def publish(self, update: LiveUpdate) -> None: ...


# -- the agent console ------------------------------------------------------------------


class HolderStore(Protocol):
    """Who holds (joined) each conversation, as this gateway last learnt it."""

    async def get(self, conversation_id: uuid.UUID) -> str | None: ...

    async def set(self, conversation_id: uuid.UUID, agent_id: str) -> None: ...

    async def clear(self, conversation_id: uuid.UUID, *, only_if: str | None = None) -> None:
        """Forget the holder (only when it is ``only_if``, if given)."""
        ...


class AgentDirectory(Protocol):
    """The team roster (the escalation service owns it and the password hashes)."""

    async def authenticate(self, email: str, password: str) -> AgentIdentity | None:
        """The agent these credentials belong to; None when they are wrong."""
        ...

    async def current(self, site_id: str, agent_id: str) -> AgentIdentity | None:
        """The agent as the roster has it now; None when removed or deactivated."""
        ...


class ConversationDirectory(Protocol):
    """The conversation service's views for agents (JSON as it sends it)."""

    async def conversation(self, conversation_id: uuid.UUID) -> dict[str, Any] | None: ...

    async def agent_view(self, conversation_id: uuid.UUID) -> dict[str, Any] | None: ...

    async def list_conversations(
        self, site_id: str, filters: dict[str, str | int | bool]
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    """What a refresh token stands for; kept under the token's digest."""

    identity: AgentIdentity
    family: str  # every token rotated from one sign-in shares it
    issued_at: int


class SessionStore(Protocol):
    async def put(self, digest: str, record: RefreshRecord, ttl_seconds: int) -> None: ...

    async def take(self, digest: str, ttl_seconds: int) -> RefreshRecord | None:
        """Remove and return the record, remembering the digest as used (for reuse
        detection); None when there is no such live token."""
        ...

    async def family_of_used(self, digest: str) -> str | None:
        """The family of a token that was already used, if this one was."""
        ...

    async def revoke_family(self, family: str) -> None: ...

    async def revoke_access(self, token_id: str, ttl_seconds: int) -> None: ...

    async def access_revoked(self, token_id: str) -> bool: ...


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        """Count one attempt; returns 0 when allowed, else the seconds until allowed."""
        ...


class InvitationDirectory(Protocol):
    """Invitations to a site's team, kept with the roster (the escalation service). Views
    are JSON as that service sends them."""

    async def create_invitation(
        self,
        site_id: str,
        *,
        email: str,
        role: str,
        token_digest: str,
        inviter: AgentIdentity,
        expires_in_seconds: int,
    ) -> dict[str, Any]: ...

    async def list_invitations(self, site_id: str) -> list[dict[str, Any]]: ...

    async def revoke_invitation(self, site_id: str, invitation_id: str) -> None: ...

    async def accept_invitation(
        self, token_digest: str, name: str, password: str
    ) -> dict[str, Any]:
        """The agent the invitation made (agent_id, site_id, email, name, role)."""
        ...
