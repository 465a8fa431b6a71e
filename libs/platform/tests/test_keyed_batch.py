"""consume_keyed_batch's orchestration: which records run together, in which order, and
what happens to a poison record (the broker-backed guarantees are proven against real
Kafka in tests/integration/test_messaging_guarantees.py)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from tandem_events import Event, MessageReceived
from tandem_events.wire import encode
from tandem_platform.messaging import DeadLetterPolicy, RedeliveryRequested, consume_keyed_batch

pytestmark = pytest.mark.unit


@dataclass
class Record:
    key: bytes | None
    value: bytes
    partition: int = 0
    offset: int = 0
    topic: str = "visitor"
    headers: tuple[tuple[str, bytes], ...] = ()


class CollectingPolicy(DeadLetterPolicy):
    """The real retry loop; dead letters are collected instead of published."""

    def __init__(self) -> None:
        super().__init__(service="test", max_attempts=2, backoff_seconds=0.0)
        self.dead: list[tuple[Any, str]] = []

    async def dead_letter(self, record: Any, error: BaseException, attempts: int) -> None:
        self.dead.append((record, type(error).__name__))


def records_for(texts_by_conversation: dict[uuid.UUID, list[str]]) -> list[Record]:
    """Interleaved, one offset after the other, as one partition holds them."""
    records = []
    turns = max(len(texts) for texts in texts_by_conversation.values())
    for turn in range(turns):
        for conversation, texts in texts_by_conversation.items():
            if turn < len(texts):
                event = MessageReceived(
                    site_id="acme",
                    conversation_id=conversation,
                    message_id=uuid.uuid4(),
                    client_message_id=f"c{turn}",
                    seq=turn + 1,
                    text=texts[turn],
                )
                value, _ = encode(event, source="/test")
                records.append(Record(key=event.key, value=value, offset=len(records)))
    return records


async def test_conversations_run_side_by_side_each_in_its_order() -> None:
    conversations = [uuid.uuid4() for _ in range(3)]
    records = records_for(
        {c: [f"{n}-{turn}" for turn in range(4)] for n, c in enumerate(conversations)}
    )
    log: list[tuple[str, str]] = []
    running = most = 0

    async def handle(event: Event) -> None:
        nonlocal running, most
        assert isinstance(event, MessageReceived)
        running += 1
        most = max(most, running)
        log.append(("start", event.text))
        await asyncio.sleep(0.01)
        log.append(("end", event.text))
        running -= 1

    await consume_keyed_batch(records, handle, CollectingPolicy())

    assert most == len(conversations)
    for n in range(len(conversations)):
        mine = [(kind, text) for kind, text in log if text.startswith(f"{n}-")]
        assert mine == [(kind, f"{n}-{turn}") for turn in range(4) for kind in ("start", "end")]


async def test_a_poison_record_is_dead_lettered_alone() -> None:
    conversation = uuid.uuid4()
    good = records_for({conversation: ["before", "fails", "after"]})
    undecodable = Record(key=good[0].key, value=b"{not json", offset=99)
    policy = CollectingPolicy()
    handled: list[str] = []

    async def handle(event: Event) -> None:
        assert isinstance(event, MessageReceived)
        if event.text == "fails":
            raise RuntimeError("cannot process")
        handled.append(event.text)

    await consume_keyed_batch([*good, undecodable], handle, policy)

    assert handled == ["before", "after"]
    assert [(record.offset, error) for record, error in policy.dead] == [
        (1, "RuntimeError"),
        (99, "UnknownEventError"),
    ]


async def test_an_outage_sends_the_whole_batch_round_again() -> None:
    records = records_for({uuid.uuid4(): ["a"], uuid.uuid4(): ["b"]})
    policy = CollectingPolicy()
    handled: list[str] = []

    async def handle(event: Event) -> None:
        assert isinstance(event, MessageReceived)
        if event.text == "a":
            raise ConnectionError("database unreachable")
        handled.append(event.text)

    with pytest.raises(RedeliveryRequested):
        await consume_keyed_batch(records, handle, policy)
    assert handled == ["b"]  # the others finish; redelivered, they are dropped as repeats
    assert policy.dead == []
