"""Validation of console commands before anything is published."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from tandem_gateway.domain.agent_commands import (
    SOCKET_COMMANDS,
    Join,
    Reply,
    ReviewHeldReply,
    SetPresence,
)

pytestmark = pytest.mark.unit

CONVERSATION = str(uuid.uuid4())
HELD = str(uuid.uuid4())


def parse(**frame: Any) -> Any:
    return SOCKET_COMMANDS.validate_python(frame)


def test_commands_are_recognised_by_type() -> None:
    assert isinstance(parse(type="join", conversation_id=CONVERSATION, ref="r1"), Join)
    reply = parse(type="reply", conversation_id=CONVERSATION, text="  Hello there  ")
    assert isinstance(reply, Reply) and reply.text == "Hello there"
    review = parse(type="edit", conversation_id=CONVERSATION, held_message_id=HELD, text="Better")
    assert isinstance(review, ReviewHeldReply) and review.type == "edit"
    presence = parse(type="set_presence", status="away")
    assert isinstance(presence, SetPresence) and presence.max_concurrent is None


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "shout", "conversation_id": CONVERSATION},
        {"type": "join"},
        {"type": "join", "conversation_id": "not-a-uuid"},
        {"type": "join", "conversation_id": CONVERSATION, "as_admin": True},
        {"type": "reply", "conversation_id": CONVERSATION, "text": "   "},
        {"type": "reply", "conversation_id": CONVERSATION, "text": "x" * 4001},
        {"type": "reply", "conversation_id": CONVERSATION, "text": "bell\x07"},
        {"type": "note", "conversation_id": CONVERSATION, "text": ""},
        {"type": "edit", "conversation_id": CONVERSATION, "held_message_id": HELD},
        {"type": "replace", "conversation_id": CONVERSATION, "held_message_id": HELD, "text": " "},
        {"type": "approve", "conversation_id": CONVERSATION, "held_message_id": HELD, "text": "x"},
        {"type": "transfer", "conversation_id": CONVERSATION, "to_skill": "Billing Team"},
        {"type": "set_presence", "status": "asleep"},
        {"type": "set_presence", "status": "busy", "max_concurrent": 101},
        {"type": "correct", "conversation_id": CONVERSATION, "text": "fix"},
        {"type": "auth"},
        {"type": "join", "conversation_id": CONVERSATION, "ref": "x" * 129},
    ],
)
def test_invalid_commands_are_refused(frame: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SOCKET_COMMANDS.validate_python(frame)


def test_a_note_keeps_inner_line_breaks() -> None:
    note = parse(type="note", conversation_id=CONVERSATION, text="line one\nline two")
    assert note.text == "line one\nline two"
