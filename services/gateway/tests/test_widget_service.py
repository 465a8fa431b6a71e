"""The widget use cases against in-memory ports."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from tandem_events import (
    ConversationDeletionRequested,
    ConversationRated,
    ConversationStarted,
    HumanRequested,
    MessageReceived,
)
from tandem_gateway.domain.frames import MessageFrame, is_close_order
from tandem_gateway.domain.identity import identity_hmac
from tandem_gateway.service_layer.errors import (
    ConversationGone,
    DuplicateInFlight,
    IdentityRefused,
    InvalidSiteKey,
    InvalidToken,
    MissingSiteKey,
    MissingToken,
    OriginNotAllowed,
    TokenExpired,
    Unavailable,
    WrongConversation,
)
from tandem_gateway.service_layer.widget import RequestOrigin, VisitorIdentity

pytestmark = pytest.mark.unit

KEY = "pk_acme_0123456789"
SHOP = RequestOrigin("https://shop.acme.example")


async def _start(world, **kwargs):  # type: ignore[no-untyped-def]
    service = world.service()
    return service, await service.start_conversation(
        kwargs.get("key", KEY),
        kwargs.get("origin", SHOP),
        kwargs.get("visitor"),
        kwargs.get("locale"),
    )


class TestStartConversation:
    async def test_publishes_the_start_with_the_greeting_as_seq_1(self, world) -> None:  # type: ignore[no-untyped-def]
        _, started = await _start(world, locale="fr")
        assert started.greeting.seq == 1
        assert started.greeting.author == "system"
        assert started.greeting.text == "Hi! How can we help?"
        (event,) = world.events.published
        assert isinstance(event, ConversationStarted)
        assert event.conversation_id == started.conversation_id
        assert event.site_id == "acme"
        assert event.greeting_seq == 1
        assert event.greeting_message_id == started.greeting.message_id
        assert event.greeting_text == started.greeting.text
        assert event.occurred_at == started.greeting.created_at
        assert event.locale == "fr"
        assert not event.identity_verified

    async def test_the_token_grants_the_new_conversation(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = await service.authorize(started.visitor_token, started.conversation_id)
        assert claims.site_id == "acme"

    @pytest.mark.parametrize("key", [None, "", "   "])
    async def test_a_missing_site_key_is_refused(self, world, key) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(MissingSiteKey):
            await _start(world, key=key)

    async def test_an_unknown_site_key_is_refused(self, world) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(InvalidSiteKey):
            await _start(world, key="pk_nobody")
        assert world.events.published == []

    async def test_a_foreign_origin_is_refused(self, world) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(OriginNotAllowed):
            await _start(world, origin=RequestOrigin("https://evil.example"))
        assert world.events.published == []

    async def test_non_browser_clients_and_the_gateways_own_pages_pass(self, world) -> None:  # type: ignore[no-untyped-def]
        await _start(world, origin=RequestOrigin(None))
        await _start(world, origin=RequestOrigin("http://gw.local:8000", is_gateway_itself=True))
        assert len(world.events.published) == 2

    async def test_a_verified_identity_is_passed_on(self, world, identity_secret) -> None:  # type: ignore[no-untyped-def]
        visitor = VisitorIdentity(
            id="u-1",
            name="Ann",
            email="ann@example.com",
            hmac=identity_hmac(identity_secret, "u-1"),
        )
        await _start(world, visitor=visitor)
        (event,) = world.events.published
        assert event.identity_verified
        assert (event.visitor_id, event.visitor_name, event.visitor_email) == (
            "u-1",
            "Ann",
            "ann@example.com",
        )

    async def test_a_forged_identity_is_refused(self, world) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(IdentityRefused) as refused:
            await _start(world, visitor=VisitorIdentity(id="u-1", hmac="00" * 32))
        assert refused.value.code == "invalid_identity"

    async def test_a_site_requiring_identity_refuses_anonymous_visitors(
        self, world, make_site
    ) -> None:  # type: ignore[no-untyped-def]
        world.sites.sites[KEY] = make_site(require_identity=True)
        with pytest.raises(IdentityRefused) as refused:
            await _start(world, visitor=VisitorIdentity(id="u-1"))
        assert refused.value.code == "identity_required"
        assert world.events.published == []

    async def test_kafka_down_is_unavailable(self, world) -> None:  # type: ignore[no-untyped-def]
        world.events.failures_left = 1
        with pytest.raises(Unavailable):
            await _start(world)


class TestAuthorize:
    async def test_no_token_is_refused(self, world) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(MissingToken):
            await world.service().authorize(None, uuid.uuid4())

    async def test_a_garbage_token_is_refused(self, world) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(InvalidToken):
            await world.service().authorize("garbage", uuid.uuid4())

    async def test_another_conversations_token_is_forbidden(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        with pytest.raises(WrongConversation):
            await service.authorize(started.visitor_token, uuid.uuid4())

    async def test_an_expired_token_is_refused(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        world.now += 3600
        with pytest.raises(TokenExpired):
            await service.authorize(started.visitor_token, started.conversation_id)

    async def test_a_deleted_conversation_is_gone(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        world.flags.deleted.add(started.conversation_id)
        with pytest.raises(ConversationGone):
            await service.authorize(started.visitor_token, started.conversation_id)
        claims = await service.authorize(
            started.visitor_token, started.conversation_id, allow_deleted=True
        )
        assert claims.conversation_id == started.conversation_id

    async def test_streams_check_the_browser_origin_against_the_site(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        token, conversation = started.visitor_token, started.conversation_id
        await service.authorize_stream(token, conversation, SHOP)
        await service.authorize_stream(token, conversation, RequestOrigin(None))
        with pytest.raises(OriginNotAllowed):
            await service.authorize_stream(
                token, conversation, RequestOrigin("https://evil.example")
            )


class TestSendMessage:
    async def test_accepts_a_message_with_the_next_seq_and_a_derived_id(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        accepted = await service.send_message(claims, "Where is my order?", "c-1")
        assert accepted.seq == 2
        assert accepted.message_id == uuid.uuid5(started.conversation_id, "c-1")
        event = world.events.published[-1]
        assert isinstance(event, MessageReceived)
        assert (event.message_id, event.seq, event.text, event.client_message_id) == (
            accepted.message_id,
            2,
            "Where is my order?",
            "c-1",
        )

    async def test_a_resend_returns_the_first_result_and_publishes_nothing(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        first = await service.send_message(claims, "hello", "c-1")
        again = await service.send_message(claims, "hello", "c-1")
        assert again == first
        assert sum(isinstance(e, MessageReceived) for e in world.events.published) == 1
        other = await service.send_message(claims, "hello", "c-2")
        assert other.seq == first.seq + 1

    async def test_a_failed_publish_keeps_the_seq_for_the_retry(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        world.events.failures_left = 1
        with pytest.raises(Unavailable):
            await service.send_message(claims, "hello", "c-1")
        record = world.idempotency.records[(started.conversation_id, "c-1")]
        assert not record.published
        world.now += 5
        retried = await service.send_message(claims, "hello", "c-1")
        assert retried.seq == record.seq
        failed, succeeded = [e for e in world.events.attempted if isinstance(e, MessageReceived)]
        # The very same event: if the failed attempt reached Kafka after all, consumers
        # drop the copy by its event id.
        assert succeeded == failed

    async def test_concurrent_copies_publish_once_and_both_get_the_result(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        world.events.delay = 0.05
        first, second = await asyncio.gather(
            service.send_message(claims, "hello", "c-1"),
            service.send_message(claims, "hello", "c-1"),
        )
        assert first == second
        assert sum(isinstance(e, MessageReceived) for e in world.events.published) == 1

    async def test_a_copy_gives_up_when_the_first_stays_in_flight(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        world.idempotency.locks.add((started.conversation_id, "c-1"))  # held elsewhere
        impatient = world.service(duplicate_wait_seconds=0.05)
        with pytest.raises(DuplicateInFlight):
            await impatient.send_message(claims, "hello", "c-1")


class TestOtherUseCases:
    async def test_reading_an_unknown_conversation_gives_no_messages(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        assert await service.read_messages(claims, 0) == []

    async def test_all_messages_after_pages_through_long_histories(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        world.history.messages[started.conversation_id] = [
            MessageFrame(
                seq=seq,
                message_id=uuid.uuid4(),
                author="visitor",
                text=f"m{seq}",
                created_at=datetime.now(UTC),
            )
            for seq in range(1, 451)
        ]
        messages = await service.all_messages_after(claims, 10)
        assert [m.seq for m in messages] == list(range(11, 451))

    async def test_rating_and_handoff_publish_their_events(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        await service.rate(claims, 4, "quick")
        await service.request_human(claims)
        rated, human = world.events.published[-2:]
        assert isinstance(rated, ConversationRated)
        assert (rated.score, rated.comment) == (4, "quick")
        assert isinstance(human, HumanRequested)
        assert human.conversation_id == started.conversation_id

    async def test_deleting_publishes_then_marks_forgets_and_closes_sockets(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        await service.delete_conversation(claims)
        assert isinstance(world.events.published[-1], ConversationDeletionRequested)
        assert started.conversation_id in world.flags.deleted
        assert world.flags.forgotten == [started.conversation_id]
        (update,) = world.live.updates
        assert is_close_order(update.frame)

    async def test_a_failed_delete_marks_nothing_so_the_retry_can_publish(self, world) -> None:  # type: ignore[no-untyped-def]
        service, started = await _start(world)
        claims = service.verify_token(started.visitor_token)
        world.events.failures_left = 1
        with pytest.raises(Unavailable):
            await service.delete_conversation(claims)
        assert started.conversation_id not in world.flags.deleted
        await service.delete_conversation(claims)
        assert started.conversation_id in world.flags.deleted
