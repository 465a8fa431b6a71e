import json
import uuid
from datetime import UTC, datetime

import pytest
from tandem_events import (
    AgentAssigned,
    AgentJoined,
    AgentLeft,
    ConversationDeleted,
    ConversationResolved,
    ConversationStatusChanged,
    ConversationTransferred,
    EscalationQueued,
    EscalationRaised,
    NoteAdded,
    ReplyHeld,
    ReplyPosted,
    Source,
)
from tandem_gateway.domain.frames import (
    CLOSE_CONVERSATION_DELETED,
    WATCHED_ONLY_FRAMES,
    DeliveredMessages,
    MessageFrame,
    frame_json,
    is_close_order,
    live_update_for,
)

pytestmark = pytest.mark.unit

CONVERSATION = uuid.uuid4()
ENVELOPE = {"site_id": "acme", "conversation_id": CONVERSATION}
AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def _reply(author: str, **extra: object) -> ReplyPosted:
    return ReplyPosted(
        message_id=uuid.uuid4(),
        seq=7,
        author=author,  # type: ignore[arg-type]
        text="Our return window is 30 days.",
        created_at=AT,
        **ENVELOPE,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


def test_an_ai_reply_becomes_a_message_frame_with_confidence_sources_and_language() -> None:
    event = _reply(
        "ai",
        confidence=0.87,
        language="en",
        sources=(Source(title="Returns", url="https://shop.example/returns", chunk_id="c1"),),
    )
    update = live_update_for(event)
    assert update is not None
    assert update.conversation_id == CONVERSATION
    assert update.site_id == "acme"
    assert update.frame == {
        "type": "message",
        "seq": 7,
        "message_id": str(event.message_id),
        "author": "ai",
        "text": "Our return window is 30 days.",
        "created_at": "2026-11-21T10:00:00Z",
        "confidence": 0.87,
        "sources": [{"title": "Returns", "url": "https://shop.example/returns"}],
        "language": "en",
    }
    json.dumps(update.frame)  # goes to Redis as JSON


@pytest.mark.parametrize("author", ["visitor", "system"])
def test_non_ai_messages_carry_no_confidence_sources_or_language(author: str) -> None:
    update = live_update_for(_reply(author, confidence=0.5, language="en"))
    assert update is not None
    assert {"confidence", "sources", "language"}.isdisjoint(update.frame)
    assert update.frame["author"] == author


def test_an_agent_message_names_the_agent() -> None:
    update = live_update_for(_reply("agent", author_name="Dana"))
    assert update is not None
    assert update.frame["author_name"] == "Dana"


def test_a_status_change_becomes_a_status_frame() -> None:
    event = ConversationStatusChanged(previous_status="active", status="pending", **ENVELOPE)  # type: ignore[arg-type]
    update = live_update_for(event)
    assert update is not None
    assert update.frame == {"type": "status", "status": "pending"}


def test_an_escalation_becomes_a_handoff_request() -> None:
    event = EscalationRaised(reason="low_confidence", detail="", summary="", **ENVELOPE)  # type: ignore[arg-type]
    update = live_update_for(event)
    assert update is not None
    assert update.frame == {"type": "handoff", "state": "requested"}


def test_agents_joining_and_leaving_become_handoff_frames_with_the_agents_name() -> None:
    joined = live_update_for(AgentJoined(agent_id="a1", agent_name="Dana", **ENVELOPE))  # type: ignore[arg-type]
    left = live_update_for(
        AgentLeft(agent_id="a1", agent_name="Dana", ai_resumes=True, **ENVELOPE)  # type: ignore[arg-type]
    )
    assert joined is not None and left is not None
    assert joined.frame == {"type": "handoff", "state": "agent_joined", "agent": {"name": "Dana"}}
    assert left.frame == {"type": "handoff", "state": "agent_left", "agent": {"name": "Dana"}}


def test_a_deleted_conversation_closes_its_sockets_and_is_forgotten() -> None:
    update = live_update_for(ConversationDeleted(requested_by="owner", **ENVELOPE))  # type: ignore[arg-type]
    assert update is not None
    assert update.forget_conversation
    assert is_close_order(update.frame)
    assert update.frame["code"] == CLOSE_CONVERSATION_DELETED


@pytest.mark.parametrize(
    "event",
    [
        AgentAssigned(agent_id="a1", agent_name="Dana", **ENVELOPE),  # type: ignore[arg-type]
        ConversationResolved(resolved_by="ai", duration_seconds=3.0, **ENVELOPE),  # type: ignore[arg-type]
        NoteAdded(agent_id="a1", agent_name="Dana", note_id=uuid.uuid4(), text="VIP", **ENVELOPE),  # type: ignore[arg-type]
        ReplyHeld(
            message_id=uuid.uuid4(),
            in_reply_to=uuid.uuid4(),
            text="maybe",
            confidence=0.3,
            hold_until=AT,
            on_timeout="send",
            **ENVELOPE,  # type: ignore[arg-type]
        ),
        EscalationQueued(position=2, queue_length=3, **ENVELOPE),  # type: ignore[arg-type]
    ],
)
def test_agent_only_events_show_the_visitor_nothing_and_reach_the_console(event: object) -> None:
    update = live_update_for(event)  # type: ignore[arg-type]
    assert update is not None
    assert update.frame is None
    console = update.for_console()
    assert console is not None and console["conversation_id"] == str(CONVERSATION)
    json.dumps(console)


def test_a_note_reaches_consoles_with_its_author_but_never_the_visitors_channel() -> None:
    note_id = uuid.uuid4()
    update = live_update_for(
        NoteAdded(agent_id="a1", agent_name="Dana", note_id=note_id, text="VIP", **ENVELOPE)  # type: ignore[arg-type]
    )
    assert update is not None and update.frame is None
    assert update.for_console() == {
        "type": "note",
        "conversation_id": str(CONVERSATION),
        "note_id": str(note_id),
        "agent": {"id": "a1", "name": "Dana"},
        "text": "VIP",
        "created_at": update.for_console()["created_at"],  # type: ignore[index]
    }
    assert "note" in WATCHED_ONLY_FRAMES


def test_an_escalation_tells_consoles_the_reason_and_summary() -> None:
    event = EscalationRaised(
        reason="frustration",
        detail="angry",
        summary="asked X; AI said Y (30%)",
        **ENVELOPE,  # type: ignore[arg-type]
    )
    update = live_update_for(event)
    assert update is not None
    assert update.frame == {"type": "handoff", "state": "requested"}
    console = update.for_console()
    assert console is not None
    assert (console["type"], console["reason"], console["summary"]) == (
        "escalation",
        "frustration",
        "asked X; AI said Y (30%)",
    )


def test_a_transfer_shows_the_visitor_a_new_request_without_agent_ids() -> None:
    event = ConversationTransferred(
        from_agent_id="a1",
        from_agent_name="Dana",
        to_skill="billing",
        **ENVELOPE,  # type: ignore[arg-type]
    )
    update = live_update_for(event)
    assert update is not None
    assert update.frame == {"type": "handoff", "state": "requested"}
    console = update.for_console()
    assert console is not None
    assert (
        console["from_agent"] == {"id": "a1", "name": "Dana"} and console["to_skill"] == "billing"
    )


def test_visitor_handoff_frames_never_carry_agent_ids_but_console_frames_do() -> None:
    update = live_update_for(AgentJoined(agent_id="a1", agent_name="Dana", **ENVELOPE))  # type: ignore[arg-type]
    assert update is not None
    assert "a1" not in json.dumps(update.frame)
    assert update.for_console()["agent"] == {"id": "a1", "name": "Dana"}  # type: ignore[index]


def test_messages_go_to_consoles_tagged_with_their_conversation() -> None:
    update = live_update_for(_reply("visitor"))
    assert update is not None
    assert update.for_console() == {**update.frame, "conversation_id": str(CONVERSATION)}  # type: ignore[dict-item]


def test_a_typing_update_can_stay_off_the_consoles() -> None:
    from tandem_gateway.domain.frames import LiveUpdate

    update = LiveUpdate(
        CONVERSATION, "acme", {"type": "typing", "author": "agent"}, to_console=False
    )
    assert update.for_console() is None


def test_a_deletion_closes_visitor_sockets_and_tells_consoles() -> None:
    update = live_update_for(ConversationDeleted(requested_by="owner", **ENVELOPE))  # type: ignore[arg-type]
    assert update is not None
    assert update.for_console() == {"type": "deleted", "conversation_id": str(CONVERSATION)}


def test_a_stored_message_frame_round_trips_in_the_api_shape() -> None:
    stored = {
        "type": "message",
        "seq": 3,
        "message_id": str(uuid.uuid4()),
        "author": "visitor",
        "text": "hi",
        "created_at": "2026-11-21T10:00:00.250000Z",
    }
    assert frame_json(MessageFrame.model_validate(stored)) == stored


class TestDeliveredMessages:
    def test_nothing_at_or_below_after_seq_is_delivered(self) -> None:
        delivered = DeliveredMessages(after_seq=5)
        assert not delivered.admit(4)
        assert not delivered.admit(5)
        assert delivered.admit(6)

    def test_each_seq_is_delivered_once(self) -> None:
        delivered = DeliveredMessages(after_seq=0)
        assert [delivered.admit(s) for s in (1, 2, 2, 3, 1)] == [True, True, False, True, False]

    def test_a_message_overtaken_by_a_later_one_is_still_delivered(self) -> None:
        delivered = DeliveredMessages(after_seq=0)
        assert delivered.admit(1)
        assert delivered.admit(3)
        assert delivered.admit(2)
        assert not delivered.admit(3)
        assert delivered.highest == 3

    def test_a_gap_never_filled_does_not_block_later_messages(self) -> None:
        delivered = DeliveredMessages(after_seq=0)
        assert all(delivered.admit(s) for s in (1, 3, 4, 5))
        assert not delivered.admit(4)
        assert delivered.highest == 5
