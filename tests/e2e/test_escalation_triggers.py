"""Every escalation trigger end to end, through the five running services and the real
servers: a visitor (or an agent) does something through the gateway or on the agent topic
→ the escalation service raises ``EscalationRaised`` with the trigger's reason on
``tandem.escalation.events`` → the gateway pushes a ``handoff`` frame (``requested``) to the
visitor's socket.

The escalation topic is read with a plain Kafka consumer from the end offsets taken before
the action, and filtered by conversation id (other tests and people use the same stack).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tandem_events import EscalationRaised, EscalationRequested, Event, parse_event
from tandem_events.topics import ESCALATION_EVENTS
from tandem_events.wire import encode

from tests.e2e.client import WidgetSession, next_frame
from tests.integration.stack import real_stack

pytestmark = pytest.mark.e2e

AI_REPLY_TIMEOUT = 60.0


class EscalationTopic:
    """The escalation topic from its end offsets at ``start()``, as an analyst reads it."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        self.events: list[tuple[float, Event]] = []
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [
            TopicPartition(ESCALATION_EVENTS.name, p) for p in range(ESCALATION_EVENTS.partitions)
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)  # the end offsets, fixed now
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()

    async def _read(self) -> None:
        async for record in self.consumer:
            event = parse_event(record.value)
            async with self._arrived:
                self.events.append((time.perf_counter(), event))
                self._arrived.notify_all()

    def raised(self, conversation_id: str) -> list[tuple[float, EscalationRaised]]:
        return [
            (at, e)
            for at, e in self.events
            if isinstance(e, EscalationRaised) and str(e.conversation_id) == conversation_id
        ]

    async def escalation(
        self, conversation_id: str, timeout: float = 30.0
    ) -> tuple[float, EscalationRaised]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: bool(self.raised(conversation_id))), timeout
            )
        return self.raised(conversation_id)[0]


@pytest.fixture(scope="module")
def kafka_bootstrap() -> str:
    with real_stack() as stack:
        return stack.kafka_bootstrap


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[EscalationTopic]:
    watcher = EscalationTopic(kafka_bootstrap)
    await watcher.start()
    yield watcher
    await watcher.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client


def is_handoff_requested(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "handoff" and frame.get("state") == "requested"


def is_ai(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "message" and frame.get("author") == "ai"


class Frames:
    """A visitor socket's frames. A frame one wait passes over stays for the next: the
    handoff and the AI reply it follows travel different paths and may arrive in either
    order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.passed_over: list[dict[str, Any]] = []

    async def next(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        for position, frame in enumerate(self.passed_over):
            if predicate(frame):
                return self.passed_over.pop(position)

        def wanted(frame: dict[str, Any]) -> bool:
            if predicate(frame):
                return True
            self.passed_over.append(frame)
            return False

        return await next_frame(self.ws, wanted, timeout)


async def ask(session: WidgetSession, http: httpx.AsyncClient, text: str) -> None:
    sent = await session.send(http, text)
    assert sent.status_code == 202, sent.text


async def run_trigger(
    running: dict[str, str],
    http: httpx.AsyncClient,
    topic: EscalationTopic,
    act: Callable[[WidgetSession, Frames], Awaitable[None]],
) -> tuple[EscalationRaised, dict[str, Any]]:
    """Start a conversation, follow its socket, ``act``; return the escalation on the topic
    and the handoff frame the visitor received."""
    session = WidgetSession(running["GATEWAY_URL"], running["DEMO_SITE_KEY"])
    await session.start(http)
    async with await session.connect(after_seq=0) as ws:
        frames = Frames(ws)
        await frames.next(lambda f: f.get("type") == "message")  # the greeting
        await act(session, frames)
        _, raised = await topic.escalation(session.conversation_id)
        frame = await frames.next(is_handoff_requested, timeout=30)
    return raised, frame


async def test_asking_for_a_human_in_words_escalates(
    running: dict[str, str], http: httpx.AsyncClient, topic: EscalationTopic
) -> None:
    async def act(session: WidgetSession, frames: Frames) -> None:
        await ask(session, http, "Can I speak to a real person please?")

    raised, frame = await run_trigger(running, http, topic, act)
    assert raised.reason == "human_requested"
    assert raised.site_id == running.get("DEMO_SITE_ID", "demo")
    assert "speak to a real person" in raised.summary
    assert frame == {"type": "handoff", "state": "requested"} or frame["state"] == "requested"


async def test_the_talk_to_a_person_button_escalates(
    running: dict[str, str], http: httpx.AsyncClient, topic: EscalationTopic
) -> None:
    async def act(session: WidgetSession, frames: Frames) -> None:
        pressed = await http.post(
            f"{session.gateway}/v1/widget/conversations/{session.conversation_id}/handoff",
            headers=session.headers,
        )
        assert pressed.status_code == 202, pressed.text

    raised, _ = await run_trigger(running, http, topic, act)
    assert raised.reason == "human_requested"
    assert "button" in raised.detail


async def test_three_low_confidence_answers_escalate(
    running: dict[str, str], http: httpx.AsyncClient, topic: EscalationTopic
) -> None:
    out_of_scope = (
        "What will the weather be like in Lisbon tomorrow?",
        "Can you recommend a recipe for a vegetarian lasagne?",
        "Who won the football world cup in 1998?",
    )
    confidences: list[float] = []

    async def act(session: WidgetSession, frames: Frames) -> None:
        for question in out_of_scope:
            await ask(session, http, question)
            reply = await frames.next(is_ai, timeout=AI_REPLY_TIMEOUT)
            confidences.append(reply["confidence"])

    raised, _ = await run_trigger(running, http, topic, act)
    assert raised.reason == "low_confidence", (raised.reason, raised.detail, confidences)
    assert all(c < 0.7 for c in confidences), confidences
    assert "3 AI answers in a row" in raised.detail
    assert "Who won the football world cup in 1998?" in raised.summary


async def test_the_same_question_asked_three_times_escalates(
    running: dict[str, str], http: httpx.AsyncClient, topic: EscalationTopic
) -> None:
    reworded = (
        "How do I stop Tandem and delete the local data?",
        "how can I stop Tandem and delete all of its local data",
        "How do I stop Tandem and remove the local data?",
    )

    async def act(session: WidgetSession, frames: Frames) -> None:
        for question in reworded[:-1]:
            await ask(session, http, question)
            await frames.next(is_ai, timeout=AI_REPLY_TIMEOUT)
        # The third asking escalates; whether the AI still answers it is the
        # conversation service's business, so the test does not wait for an answer.
        await ask(session, http, reworded[-1])

    raised, _ = await run_trigger(running, http, topic, act)
    assert raised.reason == "repeated_question", (raised.reason, raised.detail)
    assert "3 times" in raised.detail


async def test_a_frustrated_visitor_escalates(
    running: dict[str, str], http: httpx.AsyncClient, topic: EscalationTopic
) -> None:
    async def act(session: WidgetSession, frames: Frames) -> None:
        await ask(session, http, "This is useless, nothing you say helps me at all.")

    raised, _ = await run_trigger(running, http, topic, act)
    assert raised.reason == "frustration"


async def test_a_sensitive_topic_escalates(
    running: dict[str, str], http: httpx.AsyncClient, topic: EscalationTopic
) -> None:
    async def act(session: WidgetSession, frames: Frames) -> None:
        await ask(session, http, "I would like a refund for last month's subscription.")

    raised, _ = await run_trigger(running, http, topic, act)
    assert raised.reason == "sensitive_topic"
    assert "refund" in raised.detail


async def test_an_agent_escalating_by_hand_escalates(
    running: dict[str, str],
    http: httpx.AsyncClient,
    topic: EscalationTopic,
    kafka_bootstrap: str,
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:

        async def act(session: WidgetSession, frames: Frames) -> None:
            requested = EscalationRequested(
                site_id=running.get("DEMO_SITE_ID", "demo"),
                conversation_id=uuid.UUID(session.conversation_id),
                requested_by_id=uuid.uuid4().hex,
                requested_by_name="Test Supervisor",
                reason="needs a specialist",
            )
            value, headers = encode(requested, source="/tests/e2e")
            await producer.send_and_wait(
                requested.topic,
                value,
                key=requested.key,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )

        raised, _ = await run_trigger(running, http, topic, act)
    finally:
        await producer.stop()
    assert raised.reason == "manual"
    assert "Test Supervisor" in raised.detail and "needs a specialist" in raised.detail


async def test_median_time_from_message_to_escalation(
    running: dict[str, str], http: httpx.AsyncClient, topic: EscalationTopic
) -> None:
    """From the triggering message's POST to EscalationRaised on the topic, 20 runs."""
    latencies = []
    for _ in range(20):
        session = WidgetSession(running["GATEWAY_URL"], running["DEMO_SITE_KEY"])
        await session.start(http)
        started = time.perf_counter()
        await ask(session, http, "I want to talk to a human")
        arrived, raised = await topic.escalation(session.conversation_id)
        assert raised.reason == "human_requested"
        latencies.append(arrived - started)
    median_ms = statistics.median(latencies) * 1000
    print(
        f"\nmessage POST → EscalationRaised on the topic, {len(latencies)} runs: "
        f"median {median_ms:.0f} ms, min {min(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    assert median_ms < 2000
