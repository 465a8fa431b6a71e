"""The widget API's use cases: one method per thing a visitor can do.

Entry points translate HTTP/websocket input into these calls and errors back into
responses; nothing here knows FastAPI, Redis or Kafka.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tandem_events import (
    ConversationDeletionRequested,
    ConversationRated,
    ConversationStarted,
    HumanRequested,
    MessageReceived,
    deterministic_event_id,
)

from ..domain import tokens
from ..domain.frames import CLOSE_CONVERSATION_DELETED, LiveUpdate, MessageFrame, close_order
from ..domain.identity import IdentityRejected, check_identity
from ..domain.messages import (
    greeting_message_id,
    message_received_event_id,
    visitor_message_id,
)
from ..domain.origins import origin_allowed
from ..domain.sites import Site
from .errors import (
    ConversationGone,
    DuplicateInFlight,
    IdentityRefused,
    InvalidSiteKey,
    InvalidToken,
    MissingSiteKey,
    MissingToken,
    OriginNotAllowed,
    TokenExpired,
    WrongConversation,
)
from .ports import (
    AcceptedMessage,
    ConversationFlags,
    ConversationHistory,
    EventSink,
    IdempotencyStore,
    LiveFanout,
    SequenceSource,
    SiteDirectory,
)

#: The internal API returns at most this many messages per call; longer histories are paged.
HISTORY_PAGE = 200


@dataclass(frozen=True, slots=True)
class VisitorIdentity:
    id: str | None = None
    name: str | None = None
    email: str | None = None
    hmac: str | None = None


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """The browser origin of a request (None for non-browser clients) and whether it is
    the gateway's own origin (its demo and console pages)."""

    origin: str | None
    is_gateway_itself: bool = False


@dataclass(frozen=True, slots=True)
class StartedConversation:
    conversation_id: uuid.UUID
    visitor_token: str
    claims: tokens.VisitorClaims
    greeting: MessageFrame


@dataclass(frozen=True, slots=True)
class WidgetPolicy:
    token_secret: bytes
    token_ttl_seconds: int
    duplicate_wait_seconds: float = 5.0
    # A message lock outlives the slowest publish, so it is never lost mid-attempt.
    message_lock_seconds: float = 15.0
    duplicate_poll_seconds: float = 0.05


class WidgetService:
    def __init__(
        self,
        *,
        policy: WidgetPolicy,
        sites: SiteDirectory,
        history: ConversationHistory,
        events: EventSink,
        sequence: SequenceSource,
        idempotency: IdempotencyStore,
        flags: ConversationFlags,
        live: LiveFanout,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.sites = sites
        self.history = history
        self.events = events
        self.sequence = sequence
        self.idempotency = idempotency
        self.flags = flags
        self.live = live
        self.clock = clock

    # -- access -------------------------------------------------------------------------

    async def site_for_key(self, site_key: str | None) -> Site:
        if not site_key or not site_key.strip():
            raise MissingSiteKey("the X-Site-Key header is required")
        site_key = site_key.strip()
        if len(site_key) > 200:
            raise InvalidSiteKey("unknown site key")
        site = await self.sites.by_key(site_key)
        if site is None:
            raise InvalidSiteKey("unknown site key")
        return site

    @staticmethod
    def check_origin(site: Site, request_origin: RequestOrigin) -> None:
        origin = request_origin.origin
        if origin is None or request_origin.is_gateway_itself:
            return
        if not origin_allowed(origin, site.allowed_origins):
            raise OriginNotAllowed(f"origin {origin[:200]!r} may not use this site's widget")

    def verify_token(self, token: str | None) -> tokens.VisitorClaims:
        if not token:
            raise MissingToken("a visitor token is required (Authorization: Bearer <token>)")
        try:
            return tokens.verify_token(self.policy.token_secret, token, now=int(self.clock()))
        except tokens.ExpiredToken as exc:
            raise TokenExpired("the visitor token has expired; start a new conversation") from exc
        except tokens.TokenError as exc:
            raise InvalidToken("the visitor token is not valid") from exc

    async def authorize(
        self, token: str | None, conversation_id: uuid.UUID, *, allow_deleted: bool = False
    ) -> tokens.VisitorClaims:
        """The token's claims when it grants ``conversation_id`` and that still exists."""
        claims = self.verify_token(token)
        if not claims.grants(conversation_id):
            raise WrongConversation("this visitor token belongs to another conversation")
        if not allow_deleted and await self.flags.is_deleted(conversation_id):
            raise ConversationGone("this conversation was deleted")
        return claims

    async def authorize_stream(
        self, token: str | None, conversation_id: uuid.UUID, request_origin: RequestOrigin
    ) -> tokens.VisitorClaims:
        claims = await self.authorize(token, conversation_id)
        if request_origin.origin is not None and not request_origin.is_gateway_itself:
            site = await self.sites.by_id(claims.site_id)
            if site is None:
                raise InvalidToken("the site of this conversation no longer exists")
            self.check_origin(site, request_origin)
        return claims

    # -- use cases ----------------------------------------------------------------------

    async def start_conversation(
        self,
        site_key: str | None,
        request_origin: RequestOrigin,
        visitor: VisitorIdentity | None,
        locale: str | None,
    ) -> StartedConversation:
        site = await self.site_for_key(site_key)
        self.check_origin(site, request_origin)
        visitor = visitor or VisitorIdentity()
        try:
            verdict = check_identity(
                visitor_id=visitor.id,
                claimed_hmac=visitor.hmac,
                identity_secret=site.identity_secret,
                require_identity=site.require_identity,
            )
        except IdentityRejected as exc:
            raise IdentityRefused(exc.message, code=exc.code) from exc

        conversation_id = uuid.uuid4()
        greeting_seq = await self.sequence.next(conversation_id)
        started_at = datetime.fromtimestamp(self.clock(), UTC)
        greeting = MessageFrame(
            seq=greeting_seq,
            message_id=greeting_message_id(conversation_id),
            author="system",
            text=site.greeting,
            created_at=started_at,
        )
        await self.events.publish(
            ConversationStarted(
                occurred_at=started_at,
                site_id=site.site_id,
                conversation_id=conversation_id,
                visitor_id=visitor.id,
                visitor_name=visitor.name,
                visitor_email=visitor.email,
                identity_verified=verdict.verified,
                locale=locale,
                greeting_message_id=greeting.message_id,
                greeting_seq=greeting.seq,
                greeting_text=greeting.text,
            )
        )
        token, claims = tokens.issue_token(
            self.policy.token_secret,
            conversation_id=conversation_id,
            site_id=site.site_id,
            now=int(self.clock()),
            ttl_seconds=self.policy.token_ttl_seconds,
        )
        return StartedConversation(conversation_id, token, claims, greeting)

    async def send_message(
        self, claims: tokens.VisitorClaims, text: str, client_message_id: str
    ) -> AcceptedMessage:
        """Accept one visitor message exactly once per ``client_message_id``.

        A resend returns the first result. Two copies racing each other: one publishes,
        the other waits for its result. A failed publish keeps its seq and event id, so
        the resend that follows publishes the very same event (and if the failed attempt
        did reach Kafka after all, consumers drop the copy by event id).
        """
        conversation_id = claims.conversation_id
        deadline = time.monotonic() + self.policy.duplicate_wait_seconds
        while True:
            record = await self.idempotency.get(conversation_id, client_message_id)
            if record is not None and record.published:
                return record
            lock = await self.idempotency.try_lock(
                conversation_id, client_message_id, self.policy.message_lock_seconds
            )
            if lock is not None:
                break
            if time.monotonic() >= deadline:
                raise DuplicateInFlight(
                    "a message with this client_message_id is still being accepted; retry shortly"
                )
            await asyncio.sleep(self.policy.duplicate_poll_seconds)

        try:
            record = await self.idempotency.get(conversation_id, client_message_id)
            if record is not None and record.published:
                return record
            if record is None:
                record = AcceptedMessage(
                    message_id=visitor_message_id(conversation_id, client_message_id),
                    seq=await self.sequence.next(conversation_id),
                    occurred_at=datetime.fromtimestamp(self.clock(), UTC),
                    published=False,
                )
                await self.idempotency.put(conversation_id, client_message_id, record)
            await self.events.publish(
                MessageReceived(
                    event_id=message_received_event_id(conversation_id, client_message_id),
                    occurred_at=record.occurred_at,
                    site_id=claims.site_id,
                    conversation_id=conversation_id,
                    message_id=record.message_id,
                    client_message_id=client_message_id,
                    seq=record.seq,
                    text=text,
                )
            )
            accepted = replace(record, published=True)
            await self.idempotency.put(conversation_id, client_message_id, accepted)
            return accepted
        finally:
            await lock.release()

    async def read_messages(
        self, claims: tokens.VisitorClaims, after_seq: int, limit: int = HISTORY_PAGE
    ) -> list[MessageFrame]:
        messages = await self.history.messages_after(claims.conversation_id, after_seq, limit)
        # A conversation this token was issued for but not stored yet (its start event is
        # still on its way) simply has no messages so far.
        return messages or []

    async def all_messages_after(
        self, claims: tokens.VisitorClaims, after_seq: int
    ) -> list[MessageFrame]:
        """Every stored message after ``after_seq``, page by page."""
        collected: list[MessageFrame] = []
        cursor = after_seq
        while True:
            page = await self.read_messages(claims, cursor, HISTORY_PAGE)
            collected.extend(page)
            if len(page) < HISTORY_PAGE:
                return collected
            cursor = page[-1].seq

    async def rate(self, claims: tokens.VisitorClaims, score: int, comment: str | None) -> None:
        await self.events.publish(
            ConversationRated(
                site_id=claims.site_id,
                conversation_id=claims.conversation_id,
                score=score,
                comment=comment,
            )
        )

    async def request_human(self, claims: tokens.VisitorClaims) -> None:
        await self.events.publish(
            HumanRequested(site_id=claims.site_id, conversation_id=claims.conversation_id)
        )

    async def delete_conversation(self, claims: tokens.VisitorClaims) -> None:
        """Ask every store to forget the conversation; safe to repeat.

        The request is published before the conversation is marked deleted here: marking
        first and then failing to publish would refuse every retry while nothing was
        ever deleted.
        """
        conversation_id = claims.conversation_id
        await self.events.publish(
            ConversationDeletionRequested(
                event_id=deterministic_event_id("ConversationDeletionRequested", conversation_id),
                site_id=claims.site_id,
                conversation_id=conversation_id,
                requested_by="visitor",
            )
        )
        await self.flags.mark_deleted(conversation_id)
        await self.flags.forget(conversation_id)
        await self.live.publish(
            LiveUpdate(
                conversation_id=conversation_id,
                site_id=claims.site_id,
                frame=close_order(CLOSE_CONVERSATION_DELETED, "conversation deleted"),
            )
        )
