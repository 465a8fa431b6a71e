"""The event contract: snapshots, compatibility, upcasting and the wire format."""

from __future__ import annotations

import json
import uuid
from typing import Literal

import pytest
from pydantic import ValidationError
from tandem_events import (
    EVENT_TYPES,
    AnswerScored,
    Event,
    EventRegistry,
    MessageReceived,
    UnknownEventError,
    deterministic_event_id,
    parse_event,
)
from tandem_events.schemas import SNAPSHOT_DIR, compatibility_problems, export_schemas
from tandem_events.topics import ALL_TOPICS
from tandem_events.wire import child_traceparent, encode

pytestmark = pytest.mark.unit


def _message(**overrides: object) -> MessageReceived:
    fields: dict[str, object] = {
        "site_id": "acme",
        "conversation_id": uuid.uuid4(),
        "message_id": uuid.uuid4(),
        "client_message_id": "c-1",
        "seq": 2,
        "text": "Where is my order?",
    }
    fields.update(overrides)
    return MessageReceived(**fields)  # type: ignore[arg-type]


def test_every_event_is_frozen_past_tense_and_on_a_known_topic() -> None:
    topic_names = {t.name for t in ALL_TOPICS}
    for event_cls in EVENT_TYPES:
        name = event_cls.model_fields["event_type"].default
        assert name.endswith(("ed", "Left", "Held")), name  # past tense
        assert event_cls.model_config.get("frozen") is True
        assert event_cls.topic in topic_names
    event = _message()
    with pytest.raises(ValidationError):
        event.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(export_schemas()))
def test_schema_snapshot_exists_and_current_schema_is_backward_compatible(name: str) -> None:
    path = SNAPSHOT_DIR / f"{name}.json"
    assert path.exists(), f"new event schema {name}: run `make docs` and commit the snapshot"
    old = json.loads(path.read_text())
    problems = compatibility_problems(old, export_schemas()[name])
    assert not problems, (
        f"{name} changed incompatibly ({'; '.join(problems)}): bump schema_version and "
        "register an upcaster instead"
    )


def test_compatibility_check_catches_breaking_changes() -> None:
    base = MessageReceived.model_json_schema(mode="serialization")
    removed = json.loads(json.dumps(base))
    del removed["properties"]["text"]
    assert "field 'text' was removed" in compatibility_problems(base, removed)
    retyped = json.loads(json.dumps(base))
    retyped["properties"]["seq"] = {"type": "string"}
    assert "field 'seq' changed type" in compatibility_problems(base, retyped)
    required = json.loads(json.dumps(base))
    required["properties"]["new_field"] = {"type": "string"}
    required["required"].append("new_field")
    assert "field 'new_field' became required" in compatibility_problems(base, required)
    optional = json.loads(json.dumps(base))
    optional["properties"]["new_optional"] = {"type": "string"}
    assert compatibility_problems(base, optional) == []


def test_parse_event_round_trips_every_wire_payload() -> None:
    event = _message()
    value, _ = encode(event, source="/tests")
    parsed = parse_event(value)
    assert parsed == event
    assert isinstance(parsed, MessageReceived)


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1,2]", b'{"event_type": "NoSuchEvent"}', b'{"schema_version": 1}'],
)
def test_unreadable_payloads_raise_a_clear_error(payload: bytes) -> None:
    with pytest.raises(UnknownEventError):
        parse_event(payload)


def test_invalid_fields_raise_validation_error() -> None:
    value, _ = encode(_message(), source="/tests")
    data = json.loads(value)
    data["seq"] = 0
    with pytest.raises(ValidationError):
        parse_event(json.dumps(data))


def test_newer_version_than_the_code_knows_is_refused() -> None:
    data = json.loads(encode(_message(), source="/tests")[0])
    data["schema_version"] = 99
    with pytest.raises(UnknownEventError, match="newer"):
        parse_event(data)


def test_upcasters_turn_old_versions_into_the_current_model() -> None:
    class PriceQuoted(Event):
        """A made-up event whose v1 carried cents as a string and v2 an integer."""

        topic = "tandem.test"
        event_type: Literal["PriceQuoted"] = "PriceQuoted"
        schema_version: int = 3
        amount_cents: int
        currency: str

    registry = EventRegistry(types=(PriceQuoted,))
    registry.register_upcaster(
        "PriceQuoted", 1, lambda d: {"amount_cents": int(d.pop("amount")), **d}
    )
    registry.register_upcaster("PriceQuoted", 2, lambda d: {**d, "currency": "EUR"})
    v1 = {
        "event_type": "PriceQuoted",
        "schema_version": 1,
        "site_id": "acme",
        "conversation_id": str(uuid.uuid4()),
        "amount": "1250",
    }
    event = registry.parse(v1)
    assert isinstance(event, PriceQuoted)
    assert (event.schema_version, event.amount_cents, event.currency) == (3, 1250, "EUR")

    registry_missing_step = EventRegistry(types=(PriceQuoted,))
    with pytest.raises(UnknownEventError, match="no upcaster"):
        registry_missing_step.parse(v1)


def test_wire_headers_are_cloudevents_binary_mode_with_traceparent() -> None:
    event = _message()
    value, headers = encode(event, source="/tandem/gateway")
    assert json.loads(value)["event_id"] == str(event.event_id)
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == str(event.event_id)
    assert headers["ce_type"] == "dev.tandem.MessageReceived.v1"
    assert headers["ce_source"] == "/tandem/gateway"
    assert headers["ce_subject"] == str(event.conversation_id)
    assert headers["content-type"] == "application/json"
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (version, len(trace_id), len(span_id), flags) == ("00", 32, 16, "01")
    child = child_traceparent(headers["traceparent"])
    assert child.split("-")[1] == trace_id and child.split("-")[2] != span_id


def test_key_is_the_conversation_and_caused_events_carry_the_chain() -> None:
    question = _message()
    assert question.key == str(question.conversation_id).encode()
    answer = AnswerScored(
        event_id=deterministic_event_id("AnswerScored", question.message_id),
        in_reply_to=question.message_id,
        question_seq=question.seq,
        question=question.text,
        answer="It ships in 2 days.",
        confidence=0.8,
        answered=True,
        model_version="m",
        calibration_version="c",
        latency_ms=12.0,
        **question.caused(),
    )
    assert answer.causation_id == question.event_id
    assert answer.correlation_id == question.event_id
    assert answer.event_id == deterministic_event_id("AnswerScored", question.message_id)


def test_events_on_gives_exactly_the_event_types_of_the_topics() -> None:
    from pydantic import TypeAdapter
    from tandem_events import ConversationStarted, ReplyPosted, events_on
    from tandem_events.topics import DEAD_LETTER, VISITOR_EVENTS

    adapter = TypeAdapter(events_on(VISITOR_EVENTS))
    started = ConversationStarted(
        site_id="acme",
        conversation_id=uuid.uuid4(),
        greeting_message_id=uuid.uuid4(),
        greeting_seq=1,
        greeting_text="Hi",
    )
    assert adapter.validate_python(started) == started
    reply = ReplyPosted(
        site_id="acme",
        conversation_id=uuid.uuid4(),
        message_id=uuid.uuid4(),
        seq=2,
        author="ai",
        text="x",
        created_at=started.occurred_at,
    )
    with pytest.raises(ValidationError):  # carried by another topic: not in this union
        adapter.validate_python(reply.model_dump())
    with pytest.raises(ValueError, match="no event type"):
        events_on(DEAD_LETTER)
