"""The conversation service's hand-off rules against real Kafka, PostgreSQL and Redis.

The service runs in-process (``create_app`` + its lifespan) on a throwaway database of its
own and a Redis database of its own (sequence counters), with a throwaway consumer group
that starts at the latest offsets. Kafka's topics are shared with anything else running
on the stack, so the tests only publish events other services do not answer (no
MessageReceived: the question travels in AnswerScored), use fresh conversation ids, and
assert absences on this service's own database, never on the shared topics.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from redis.asyncio import Redis
from tandem_conversation.app import create_app
from tandem_conversation.entrypoints.consumers import CONSUMED_TOPICS
from tandem_conversation.handlers import ai_message_id
from tandem_conversation.settings import ConversationSettings
from tandem_events import (
    AgentAssigned,
    AgentJoined,
    AgentLeft,
    AnswerScored,
    ConversationResolved,
    ConversationTransferred,
    EscalationRaised,
    Event,
    HeldReplyReleased,
    HeldReplyReviewed,
    NoteAdded,
    ReplyCorrected,
    ReplyHeld,
    ReplyPosted,
    ResolutionRequested,
    Source,
    parse_event,
)
from tandem_events.topics import CONVERSATION_EVENTS
from tandem_events.wire import encode
from tandem_platform.redis import SequenceAllocator

from tests.integration.stack import Stack, throwaway_database, with_path

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
HOLD_SITE = f"conv-it-hold-{RUN}"  # holds below 0.8 for an hour: only reviews release
SEND_SITE = f"conv-it-send-{RUN}"  # holds below 0.8 for 5 s, then sends
FALLBACK_SITE = f"conv-it-fallback-{RUN}"  # holds below 0.8 for 5 s, then the fallback
PLAIN_SITE = f"conv-it-plain-{RUN}"  # never holds
FALLBACK_TEXT = "A colleague will answer you here in a moment."
ANA = {"agent_id": "agent-ana", "agent_name": "Ana"}
BO = {"agent_id": "agent-bo", "agent_name": "Bo"}


# ---------------------------------------------------------------------------- plumbing


@pytest.fixture(scope="module")
async def database(stack: Stack) -> AsyncIterator[str]:
    """A database of its own: the ``conversation`` schema of the running services is not
    touched, and nothing they do shows up here."""
    async with throwaway_database(stack, f"conv_it_{RUN}") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def redis_url(stack: Stack) -> str:
    # Sequence counters of their own: a running conversation service that also sees these
    # events must not take numbers from the same counters.
    return with_path(stack.redis_url, "/15")


async def wait_until_consuming(app: FastAPI, timeout: float = 60.0) -> None:
    consumer: AIOKafkaConsumer = app.state.subscriber.consumer
    expected = sum(topic.partitions for topic in CONSUMED_TOPICS)
    deadline = time.monotonic() + timeout
    while len(consumer.assignment()) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer owns {len(consumer.assignment())}/{expected} partitions")
        await asyncio.sleep(0.1)
    for partition in consumer.assignment():
        await consumer.position(partition)


@pytest.fixture(scope="module")
async def service(stack: Stack, database: str, redis_url: str) -> AsyncIterator[FastAPI]:
    settings = ConversationSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        postgres_dsn=database,
        redis_url=redis_url,
        group_id=f"tandem-conversation-it-{RUN}",
        auto_offset_reset="latest",
        consumer_retry_backoff_seconds=0.05,
        hold_check_interval_seconds=0.2,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await wait_until_consuming(app)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            for site, extra in (
                (HOLD_SITE, {"hold_below_confidence": 0.8, "hold_seconds": 3600}),
                (SEND_SITE, {"hold_below_confidence": 0.8, "hold_seconds": 5}),
                (
                    FALLBACK_SITE,
                    {
                        "hold_below_confidence": 0.8,
                        "hold_seconds": 5,
                        "hold_timeout_action": "fallback",
                        "fallback_text": FALLBACK_TEXT,
                    },
                ),
                (PLAIN_SITE, {"ai_resumes_after_agent": False}),
            ):
                response = await client.put(f"/internal/sites/{site}", json={"name": site, **extra})
                assert response.status_code == 200, response.text
        yield app


@pytest.fixture
async def api(service: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=service), base_url="http://t") as client:
        yield client


class Publisher:
    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all"
        )

    async def publish(self, event: Event) -> RecordMetadata:
        value, headers = encode(event, source="/tests/conversation")
        return await self.producer.send_and_wait(
            event.topic, value, key=event.key, headers=[(k, v.encode()) for k, v in headers.items()]
        )


@pytest.fixture(scope="module")
async def publisher(stack: Stack) -> AsyncIterator[Publisher]:
    publisher = Publisher(stack.kafka_bootstrap)
    await publisher.producer.start()
    yield publisher
    await publisher.producer.stop()


class TopicWatcher:
    """The conversation topic from its current end, as any downstream consumer reads it."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        self.events: list[Event] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [
            TopicPartition(CONVERSATION_EVENTS.name, p)
            for p in range(CONVERSATION_EVENTS.partitions)
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()

    async def _read(self) -> None:
        async for record in self.consumer:
            self.events.append(parse_event(record.value))

    async def first(
        self,
        conversation_id: uuid.UUID,
        kind: type[Event],
        where: Callable[[Any], bool] = lambda _: True,
        timeout: float = 20.0,
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if (
                    event.conversation_id == conversation_id
                    and isinstance(event, kind)
                    and where(event)
                ):
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind.__name__} for {conversation_id}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def watcher(stack: Stack, service: FastAPI) -> AsyncIterator[TopicWatcher]:
    watcher = TopicWatcher(stack.kafka_bootstrap)
    await watcher.start()
    yield watcher
    await watcher.stop()


@pytest.fixture(scope="module")
async def sequence(redis_url: str) -> AsyncIterator[SequenceAllocator]:
    redis = Redis.from_url(redis_url)
    yield SequenceAllocator(redis)
    await redis.aclose()


async def poll(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


async def agent_view(api: AsyncClient, conversation_id: uuid.UUID) -> dict[str, Any]:
    response = await api.get(f"/internal/conversations/{conversation_id}/agent-view")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def visitor_messages(api: AsyncClient, conversation_id: uuid.UUID) -> list[dict[str, Any]]:
    response = await api.get(f"/internal/conversations/{conversation_id}/messages")
    assert response.status_code == 200, response.text
    return response.json()["messages"]  # type: ignore[no-any-return]


async def ask(
    publisher: Publisher,
    sequence: SequenceAllocator,
    site: str,
    conversation_id: uuid.UUID,
    *,
    confidence: float,
    answer: str = "Our return window is 30 days.",
) -> AnswerScored:
    """A visitor question and the AI's scored answer, as the answering service sends it."""
    scored = AnswerScored(
        site_id=site,
        conversation_id=conversation_id,
        in_reply_to=uuid.uuid4(),
        question_seq=await sequence.next(conversation_id),
        question="How long do I have to send an item back?",
        answer=answer,
        confidence=confidence,
        answered=True,
        sources=(Source(title="Returns", url="https://shop.example/returns"),),
        language="en",
        model_version="test",
        calibration_version="test",
        latency_ms=5.0,
    )
    await publisher.publish(scored)
    return scored


def held_state(view: dict[str, Any], message_id: uuid.UUID) -> str | None:
    for held in view["held_replies"]:
        if held["message_id"] == str(message_id):
            return held["state"]  # type: ignore[no-any-return]
    return None


async def wait_held(api: AsyncClient, conversation_id: uuid.UUID, message_id: uuid.UUID) -> None:
    async def held() -> bool:
        response = await api.get(f"/internal/conversations/{conversation_id}/agent-view")
        return response.status_code == 200 and held_state(response.json(), message_id) == "held"

    await poll(held)


async def wait_released(
    api: AsyncClient, conversation_id: uuid.UUID, message_id: uuid.UUID, timeout: float = 20.0
) -> dict[str, Any]:
    async def released() -> dict[str, Any] | None:
        response = await api.get(f"/internal/conversations/{conversation_id}/agent-view")
        if response.status_code == 404:  # not stored yet
            return None
        view = response.json()
        state = held_state(view, message_id)
        return view if state not in (None, "held") else None

    return await poll(released, timeout)  # type: ignore[no-any-return]


def review(
    site: str, conversation_id: uuid.UUID, held_id: uuid.UUID, decision: str, **extra: Any
) -> HeldReplyReviewed:
    return HeldReplyReviewed(
        site_id=site,
        conversation_id=conversation_id,
        held_message_id=held_id,
        decision=decision,  # type: ignore[arg-type]
        **ANA,
        **extra,
    )


# ---------------------------------------------------------------------------- hold policy


async def test_a_low_confidence_answer_is_held_unseen_then_approved_as_the_ais(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    scored = await ask(publisher, sequence, HOLD_SITE, conversation_id, confidence=0.42)
    held_id = ai_message_id(scored.in_reply_to)
    await wait_held(api, conversation_id, held_id)

    held_event = await watcher.first(conversation_id, ReplyHeld)
    assert held_event.message_id == held_id
    assert held_event.confidence == pytest.approx(0.42)
    assert held_event.on_timeout == "send"
    assert held_event.text == scored.answer
    # Invisible to the visitor: only the question is there; agents see it with its state.
    assert [m["author"] for m in await visitor_messages(api, conversation_id)] == ["visitor"]
    view = await agent_view(api, conversation_id)
    assert view["conversation"]["status"] == "flagged"
    assert view["conversation"]["held_replies"] == 1
    assert [m.get("state") for m in view["messages"]] == ["posted", "held"]
    flagged = await api.get(
        "/internal/conversations", params={"site_id": HOLD_SITE, "flagged": True}
    )
    assert str(conversation_id) in [c["conversation_id"] for c in flagged.json()["conversations"]]

    await publisher.publish(review(HOLD_SITE, conversation_id, held_id, "approve", reason="fine"))
    view = await wait_released(api, conversation_id, held_id)
    assert held_state(view, held_id) == "approved"
    messages = await visitor_messages(api, conversation_id)
    assert [(m["author"], m["seq"]) for m in messages] == [
        ("visitor", scored.question_seq),
        ("ai", scored.question_seq + 1),
    ]
    assert messages[1]["message_id"] == str(held_id)
    assert messages[1]["confidence"] == pytest.approx(0.42)
    assert messages[1]["sources"] == [{"title": "Returns", "url": "https://shop.example/returns"}]
    assert view["conversation"]["status"] == "active"

    released = await watcher.first(conversation_id, HeldReplyReleased)
    assert (released.outcome, released.agent_id, released.reason) == (
        "approved",
        "agent-ana",
        "fine",
    )
    assert released.posted_message_id == held_id


async def test_an_edited_held_answer_is_sent_as_the_agents_message(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    scored = await ask(publisher, sequence, HOLD_SITE, conversation_id, confidence=0.3)
    held_id = ai_message_id(scored.in_reply_to)
    await wait_held(api, conversation_id, held_id)

    await publisher.publish(
        review(
            HOLD_SITE,
            conversation_id,
            held_id,
            "edit",
            text="You have 60 days for unworn items.",
            reason="policy changed",
        )
    )
    view = await wait_released(api, conversation_id, held_id)
    assert held_state(view, held_id) == "edited"
    messages = await visitor_messages(api, conversation_id)
    assert [m["author"] for m in messages] == ["visitor", "agent"]
    assert messages[1]["text"] == "You have 60 days for unworn items."
    assert messages[1]["author_name"] == "Ana"
    assert "confidence" not in messages[1]
    released = await watcher.first(conversation_id, HeldReplyReleased)
    assert (released.outcome, released.reason) == ("edited", "policy changed")
    assert released.posted_message_id == uuid.UUID(messages[1]["message_id"])
    # The timeline keeps what the AI had proposed, marked edited, after the question.
    assert [(m["author"], m["state"]) for m in view["messages"]] == [
        ("visitor", "posted"),
        ("ai", "edited"),
        ("agent", "posted"),
    ]


async def test_a_discarded_held_answer_is_never_shown_and_a_repeat_review_changes_nothing(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    scored = await ask(publisher, sequence, HOLD_SITE, conversation_id, confidence=0.1)
    held_id = ai_message_id(scored.in_reply_to)
    await wait_held(api, conversation_id, held_id)
    await publisher.publish(review(HOLD_SITE, conversation_id, held_id, "discard", reason="wrong"))
    await wait_released(api, conversation_id, held_id)
    # A later approval of the same reply (another agent, too late) is ignored.
    late = await publisher.publish(review(HOLD_SITE, conversation_id, held_id, "approve"))
    await wait_committed(api, late)
    view = await agent_view(api, conversation_id)
    assert held_state(view, held_id) == "discarded"
    assert [m["author"] for m in await visitor_messages(api, conversation_id)] == ["visitor"]
    assert (await watcher.first(conversation_id, HeldReplyReleased)).outcome == "discarded"


async def wait_committed(api: AsyncClient, sent: RecordMetadata, timeout: float = 20.0) -> None:
    """Until the service's group has committed past ``sent`` (its effects are durable)."""
    app: FastAPI = api._transport.app  # type: ignore[attr-defined]
    consumer: AIOKafkaConsumer = app.state.subscriber.consumer
    partition = TopicPartition(sent.topic, sent.partition)
    deadline = time.monotonic() + timeout
    while True:
        committed = await consumer.committed(partition)
        if committed is not None and committed > sent.offset:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"offset {sent.offset} of {partition} not processed")
        await asyncio.sleep(0.05)


async def test_an_unreviewed_answer_is_sent_when_its_hold_expires(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    started = time.monotonic()
    scored = await ask(publisher, sequence, SEND_SITE, conversation_id, confidence=0.5)
    held_id = ai_message_id(scored.in_reply_to)
    await wait_held(api, conversation_id, held_id)
    view = await wait_released(api, conversation_id, held_id, timeout=30)
    assert time.monotonic() - started >= 5.0, "released before its hold expired"
    assert held_state(view, held_id) == "timeout_sent"
    messages = await visitor_messages(api, conversation_id)
    assert [(m["author"], m["message_id"]) for m in messages][1] == ("ai", str(held_id))
    released = await watcher.first(conversation_id, HeldReplyReleased)
    assert (released.outcome, released.agent_id) == ("timeout_sent", None)


async def test_an_unreviewed_answer_falls_back_to_the_sites_text(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    scored = await ask(publisher, sequence, FALLBACK_SITE, conversation_id, confidence=0.5)
    held_id = ai_message_id(scored.in_reply_to)
    view = await wait_released(api, conversation_id, held_id, timeout=30)
    assert held_state(view, held_id) == "timeout_fallback"
    messages = await visitor_messages(api, conversation_id)
    assert [(m["author"], m["text"]) for m in messages][1:] == [("system", FALLBACK_TEXT)]
    released = await watcher.first(conversation_id, HeldReplyReleased)
    assert released.outcome == "timeout_fallback"
    assert released.posted_message_id == uuid.UUID(messages[1]["message_id"])


async def test_a_hold_expiring_after_an_agent_joined_sends_nothing(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator, watcher: TopicWatcher
) -> None:
    conversation_id = uuid.uuid4()
    scored = await ask(publisher, sequence, SEND_SITE, conversation_id, confidence=0.5)
    held_id = ai_message_id(scored.in_reply_to)
    await wait_held(api, conversation_id, held_id)
    await publisher.publish(AgentJoined(site_id=SEND_SITE, conversation_id=conversation_id, **ANA))
    view = await wait_released(api, conversation_id, held_id, timeout=30)
    assert held_state(view, held_id) == "discarded"
    assert [m["author"] for m in await visitor_messages(api, conversation_id)] == ["visitor"]
    released = await watcher.first(conversation_id, HeldReplyReleased)
    assert released.outcome == "discarded" and "agent took over" in (released.reason or "")


async def test_expired_holds_are_released_once_however_many_replicas_race(
    service: FastAPI, api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator
) -> None:
    conversations = [uuid.uuid4() for _ in range(12)]
    held_ids = []
    for conversation_id in conversations:
        scored = await ask(publisher, sequence, SEND_SITE, conversation_id, confidence=0.2)
        held_ids.append((conversation_id, ai_message_id(scored.in_reply_to)))
    for conversation_id, held_id in held_ids:
        await wait_held(api, conversation_id, held_id)
    await asyncio.sleep(5.5)
    # Four more "replicas" next to the service's own timer, all at once.
    timer = service.state.hold_timer
    await asyncio.gather(*(timer.release_due() for _ in range(4)))
    for conversation_id, held_id in held_ids:
        view = await wait_released(api, conversation_id, held_id)
        assert held_state(view, held_id) == "timeout_sent"
        ai = [m for m in await visitor_messages(api, conversation_id) if m["author"] == "ai"]
        assert [m["message_id"] for m in ai] == [str(held_id)]


async def test_site_hold_settings_are_validated(api: AsyncClient) -> None:
    site = f"conv-it-bad-{RUN}"
    for bad in (
        {"hold_below_confidence": 1.5},
        {"hold_below_confidence": -0.1},
        {"hold_seconds": 4},
        {"hold_seconds": 3601},
        {"hold_timeout_action": "shrug"},
    ):
        response = await api.put(f"/internal/sites/{site}", json={"name": "x", **bad})
        assert response.status_code == 422, (bad, response.text)
    ok = await api.put(
        f"/internal/sites/{site}",
        json={"name": "x", "hold_below_confidence": 0.0, "hold_seconds": 5},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["hold_below_confidence"] == 0.0 and body["hold_seconds"] == 5
    assert body["hold_timeout_action"] == "send" and body["ai_resumes_after_agent"] is True


# ---------------------------------------------------------------------------- lifecycle


async def test_assignment_join_note_correction_transfer_resolution_and_reopening(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator, watcher: TopicWatcher
) -> None:
    site, conversation_id = PLAIN_SITE, uuid.uuid4()
    envelope = {"site_id": site, "conversation_id": conversation_id}
    first = await ask(publisher, sequence, site, conversation_id, confidence=0.9)
    await poll(lambda: _authors_are(api, conversation_id, ["visitor", "ai"]))

    await publisher.publish(
        EscalationRaised(
            reason="human_requested", detail="asked", summary="s", language="en", **envelope
        )
    )
    await publisher.publish(AgentAssigned(**ANA, **envelope))
    await poll(lambda: _status_is(api, conversation_id, "pending", assigned="agent-ana"))
    waiting = await api.get("/internal/conversations", params={"site_id": site, "waiting": True})
    listed = {c["conversation_id"]: c for c in waiting.json()["conversations"]}
    assert listed[str(conversation_id)]["assigned_agent"] == {
        "id": "agent-ana",
        "name": "Ana",
        "joined": False,
    }
    assert listed[str(conversation_id)]["escalation_reason"] == "human_requested"
    assert listed[str(conversation_id)]["waiting_seconds"] >= 0
    assert listed[str(conversation_id)]["last_confidence"] == pytest.approx(0.9)
    assert listed[str(conversation_id)]["language"] == "en"
    # Assigned is not joined: the AI still answers.
    second = await ask(publisher, sequence, site, conversation_id, confidence=0.9)
    await poll(lambda: _authors_are(api, conversation_id, ["visitor", "ai"] * 2))

    await publisher.publish(AgentJoined(**ANA, **envelope))
    await poll(
        lambda: _status_is(api, conversation_id, "active", assigned="agent-ana", joined=True)
    )
    mine = await api.get(
        "/internal/conversations", params={"site_id": site, "assigned_agent_id": "agent-ana"}
    )
    assert str(conversation_id) in [c["conversation_id"] for c in mine.json()["conversations"]]

    note = NoteAdded(note_id=uuid.uuid4(), text="VIP customer, be generous", **ANA, **envelope)
    await publisher.publish(note)
    ai_reply = ai_message_id(second.in_reply_to)
    correction = ReplyCorrected(
        corrected_message_id=ai_reply,
        correction_message_id=uuid.uuid4(),
        seq=await sequence.next(conversation_id),
        text="Correction: it is 60 days.",
        reason="outdated",
        **ANA,
        **envelope,
    )
    await publisher.publish(correction)
    await poll(lambda: _authors_are(api, conversation_id, ["visitor", "ai"] * 2 + ["agent"]))
    view = await agent_view(api, conversation_id)
    assert [n["text"] for n in view["notes"]] == ["VIP customer, be generous"]
    corrected = next(m for m in view["messages"] if m["message_id"] == str(ai_reply))
    assert corrected["corrected_by"] == str(correction.correction_message_id)
    fix = next(
        m for m in view["messages"] if m["message_id"] == str(correction.correction_message_id)
    )
    assert fix["corrects"] == str(ai_reply) and fix["seq"] == correction.seq
    posted = await watcher.first(
        conversation_id, ReplyPosted, lambda e: e.message_id == correction.correction_message_id
    )
    assert (posted.author, posted.author_name, posted.seq) == ("agent", "Ana", correction.seq)
    visible = await visitor_messages(api, conversation_id)
    assert all("VIP" not in m["text"] for m in visible), "a note reached the visitor's history"

    await publisher.publish(
        ConversationTransferred(
            from_agent_id="agent-ana", from_agent_name="Ana", to_skill="billing", **envelope
        )
    )
    await poll(lambda: _status_is(api, conversation_id, "pending", assigned=None))
    # With humans until the next agent joins: an answer now is suppressed.
    third = await ask(publisher, sequence, site, conversation_id, confidence=0.95)
    await poll(
        lambda: _authors_are(api, conversation_id, ["visitor", "ai"] * 2 + ["agent", "visitor"])
    )
    await publisher.publish(AgentJoined(**BO, **envelope))
    await poll(lambda: _status_is(api, conversation_id, "active", assigned="agent-bo", joined=True))
    assert ai_message_id(third.in_reply_to) not in [
        uuid.UUID(m["message_id"]) for m in await visitor_messages(api, conversation_id)
    ]

    await publisher.publish(
        ResolutionRequested(requested_by="agent", agent_id="agent-bo", agent_name="Bo", **envelope)
    )
    resolved = await watcher.first(conversation_id, ConversationResolved)
    assert resolved.resolved_by == "agent" and resolved.duration_seconds > 0
    await poll(
        lambda: _status_is(api, conversation_id, "resolved", assigned="agent-bo", joined=True)
    )
    # Bo leaves without saying; this site's policy keeps the AI away (ai_resumes=False sent).
    await publisher.publish(AgentLeft(ai_resumes=False, **BO, **envelope))
    await poll(lambda: _status_is(api, conversation_id, "resolved", assigned=None))
    # The visitor writes again: the conversation reopens, waiting for a human (the AI was
    # not handed it back).
    await ask(publisher, sequence, site, conversation_id, confidence=0.95)
    await poll(lambda: _status_is(api, conversation_id, "pending", assigned=None))
    assert first.in_reply_to  # the first exchange stays in the history
    assert [m["author"] for m in await visitor_messages(api, conversation_id)].count("ai") == 2


async def _authors_are(api: AsyncClient, conversation_id: uuid.UUID, authors: list[str]) -> bool:
    response = await api.get(f"/internal/conversations/{conversation_id}/messages")
    return (
        response.status_code == 200
        and [m["author"] for m in response.json()["messages"]] == authors
    )


async def _status_is(
    api: AsyncClient,
    conversation_id: uuid.UUID,
    status: str,
    *,
    assigned: str | None,
    joined: bool = False,
) -> bool:
    response = await api.get(f"/internal/conversations/{conversation_id}")
    if response.status_code != 200:
        return False
    body = response.json()
    agent = body["assigned_agent"]
    return (
        body["status"] == status
        and (agent["id"] if agent else None) == assigned
        and (agent["joined"] if agent else False) == joined
    )


async def test_an_answer_after_the_join_is_never_posted(
    api: AsyncClient, publisher: Publisher, sequence: SequenceAllocator
) -> None:
    """The join is committed before the answer arrives: the answer is dropped, and the
    AI's silence holds until the agent hands the conversation back."""
    conversation_id = uuid.uuid4()
    envelope = {"site_id": PLAIN_SITE, "conversation_id": conversation_id}
    joined = await publisher.publish(AgentJoined(**ANA, **envelope))
    await wait_committed(api, joined)
    scored = await ask(publisher, sequence, PLAIN_SITE, conversation_id, confidence=0.99)
    await poll(lambda: _authors_are(api, conversation_id, ["visitor"]))
    await publisher.publish(AgentLeft(ai_resumes=True, **ANA, **envelope))
    await poll(lambda: _status_is(api, conversation_id, "active", assigned=None))
    await ask(publisher, sequence, PLAIN_SITE, conversation_id, confidence=0.99)
    await poll(lambda: _authors_are(api, conversation_id, ["visitor", "visitor", "ai"]))
    messages = await visitor_messages(api, conversation_id)
    assert str(ai_message_id(scored.in_reply_to)) not in [m["message_id"] for m in messages]
