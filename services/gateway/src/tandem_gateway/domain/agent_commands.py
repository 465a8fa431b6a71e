"""The commands an agent sends from the console, over the websocket or the REST API.

Every command is validated here before anything is published: unknown fields, empty or
oversized text, control characters and contradictory options are refused with a clear
message. ``ref`` is the client's own reference for the command: the answer (``ack`` or
``error``) repeats it, and a command repeated with the same ``ref`` publishes the same
event id, so a client retrying after a lost answer changes nothing twice.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from tandem_events import MAX_MESSAGE_CHARS

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


#: Text a visitor will read (or an agent, for notes): trimmed, 1 to 4,000 characters.
MessageText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS),
    AfterValidator(_no_control_characters),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_control_characters),
]
Skill = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
AgentId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w.:-]+$")]
Ref = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_no_control_characters)
]
AgentStatus = Literal["available", "busy", "away", "offline"]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: Ref | None = Field(default=None, description="echoed in the answer; makes retries safe")


class _OnConversation(_Command):
    conversation_id: uuid.UUID


class Watch(_OnConversation):
    """Socket only: also push this conversation's messages and notes to this socket."""

    type: Literal["watch"] = "watch"


class Unwatch(_OnConversation):
    type: Literal["unwatch"] = "unwatch"


class Join(_OnConversation):
    type: Literal["join"] = "join"


class Leave(_OnConversation):
    type: Literal["leave"] = "leave"
    hand_back: bool | None = Field(
        default=None,
        description="hand the conversation back to the AI; omitted: the site's policy decides",
    )


class Reply(_OnConversation):
    type: Literal["reply"] = "reply"
    text: MessageText
    client_message_id: Ref | None = Field(
        default=None, description="resending the same id returns the first result"
    )


class Typing(_OnConversation):
    type: Literal["typing"] = "typing"


ReviewDecision = Literal["approve", "edit", "replace", "discard"]


class ReviewHeldReply(_OnConversation):
    """Approve, edit, replace or discard an AI reply held for review."""

    type: ReviewDecision
    held_message_id: uuid.UUID
    text: MessageText | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _text_only_where_it_is_sent(self) -> ReviewHeldReply:
        if self.type in ("edit", "replace") and self.text is None:
            raise ValueError(f"{self.type} needs the text to send")
        if self.type in ("approve", "discard") and self.text is not None:
            raise ValueError(f"{self.type} takes no text")
        return self


class Note(_OnConversation):
    type: Literal["note"] = "note"
    text: MessageText


class Correct(_OnConversation):
    type: Literal["correct"] = "correct"
    message_id: uuid.UUID = Field(description="the sent message being corrected")
    text: MessageText
    reason: Reason | None = None


class Escalate(_OnConversation):
    type: Literal["escalate"] = "escalate"
    reason: Reason | None = None
    skill: Skill | None = None


class Transfer(_OnConversation):
    type: Literal["transfer"] = "transfer"
    to_agent_id: AgentId | None = None
    to_skill: Skill | None = None
    note: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
            AfterValidator(_no_control_characters),
        ]
        | None
    ) = None


class Resolve(_OnConversation):
    type: Literal["resolve"] = "resolve"


class SetPresence(_Command):
    type: Literal["set_presence"] = "set_presence"
    status: AgentStatus
    max_concurrent: int | None = Field(default=None, ge=0, le=100)


class Authenticate(_Command):
    """Socket only: the first frame, and again before the access token expires."""

    type: Literal["auth"] = "auth"
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


ConversationCommand = (
    Join | Leave | Reply | Typing | ReviewHeldReply | Note | Correct | Escalate | Transfer | Resolve
)
Command = ConversationCommand | SetPresence

SocketCommand = Annotated[
    Watch
    | Unwatch
    | Join
    | Leave
    | Reply
    | Typing
    | ReviewHeldReply
    | Note
    | Correct
    | Escalate
    | Transfer
    | Resolve
    | SetPresence
    | Authenticate,
    Field(discriminator="type"),
]

SOCKET_COMMANDS: TypeAdapter[SocketCommand] = TypeAdapter(SocketCommand)
