"""The agent console's REST API: the site's conversations, one conversation's full view,
and one endpoint per command (the same commands the agent websocket takes).

Every route needs an agent access token, and reads or acts only within that agent's site.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, status
from tandem_events import Status

from ..domain.agent_commands import (
    Command,
    Correct,
    Escalate,
    Join,
    Leave,
    Note,
    Reply,
    Resolve,
    ReviewHeldReply,
    SetPresence,
    Transfer,
    Typing,
)
from ..domain.agent_tokens import AgentClaims
from ..service_layer.agent import AgentConsoleService
from .agent_schemas import (
    AgentView,
    CommandAccepted,
    ConversationList,
    CorrectBody,
    EscalateBody,
    LeaveBody,
    NoteBody,
    PresenceBody,
    ReplyBody,
    ReviewBody,
    TransferBody,
    _Body,
)
from .deps import Agent, Agents
from .schemas import error_responses

router = APIRouter(prefix="/v1/agent", tags=["agent: conversations"])

COMMAND_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 503)
_Route = TypeVar("_Route", bound=Callable[..., Any])


async def _run(
    agents: AgentConsoleService, agent: AgentClaims, command: Command
) -> CommandAccepted:
    result = await agents.execute(agent.identity, command)
    details = dict(result.details)
    # "status" is the acknowledgement's own field; a presence change reports its new state
    # under "presence" instead of clashing with it.
    if "status" in details:
        details["presence"] = details.pop("status")
    return CommandAccepted(command=result.command, **details)


@router.get(
    "/conversations",
    response_model=ConversationList,
    summary="The site's conversations",
    description=(
        "`filter`: `waiting` (escalated, nobody joined yet; longest waiting first), "
        "`flagged` (flagged, or an AI reply held for review), `mine` (assigned to me), "
        "`all`. Each item has status, assigned agent, last confidence, duration, waiting "
        "time and language."
    ),
    responses=error_responses(401, 422, 503),
)
async def list_conversations(
    agent: Agent,
    agents: Agents,
    filter: Literal["all", "waiting", "flagged", "mine"] = "all",
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConversationList:
    listed = await agents.list_conversations(agent.identity, filter, status, limit)
    return ConversationList(conversations=listed)


@router.get(
    "/conversations/{conversation_id}",
    response_model=AgentView,
    summary="A conversation as agents see it",
    description="Full history with per-message confidence, held replies, internal notes.",
    responses=error_responses(401, 404, 422, 503),
)
async def get_conversation(conversation_id: uuid.UUID, agent: Agent, agents: Agents) -> AgentView:
    return AgentView.model_validate(await agents.view(agent.identity, conversation_id))


def _command_route(path: str, summary: str, description: str = "") -> Callable[[_Route], _Route]:
    return router.post(
        f"/conversations/{{conversation_id}}/{path}",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=CommandAccepted,
        response_model_exclude_none=True,
        summary=summary,
        description=description or None,
        responses=COMMAND_ERRORS,
    )


def _ref(body: _Body | None) -> str | None:
    return body.ref if body else None


@_command_route("join", "Join (take over from the AI)", "The AI stays silent until you hand back.")
async def join(
    conversation_id: uuid.UUID, agent: Agent, agents: Agents, body: _Body | None = None
) -> CommandAccepted:
    return await _run(agents, agent, Join(conversation_id=conversation_id, ref=_ref(body)))


@_command_route(
    "leave", "Leave", "`hand_back` omitted: the site's policy decides whether the AI resumes."
)
async def leave(
    conversation_id: uuid.UUID, agent: Agent, agents: Agents, body: LeaveBody | None = None
) -> CommandAccepted:
    body = body or LeaveBody()
    command = Leave(conversation_id=conversation_id, hand_back=body.hand_back, ref=body.ref)
    return await _run(agents, agent, command)


@_command_route("messages", "Reply to the visitor", "Answers with the message's id and seq.")
async def reply(
    conversation_id: uuid.UUID, body: ReplyBody, agent: Agent, agents: Agents
) -> CommandAccepted:
    command = Reply(
        conversation_id=conversation_id,
        text=body.text,
        client_message_id=body.client_message_id,
        ref=body.ref,
    )
    return await _run(agents, agent, command)


@_command_route("typing", "Show the visitor that you are typing")
async def typing(conversation_id: uuid.UUID, agent: Agent, agents: Agents) -> CommandAccepted:
    return await _run(agents, agent, Typing(conversation_id=conversation_id))


@_command_route(
    "held-replies/{message_id}",
    "Review a held AI reply",
    "`approve` sends it as the AI's answer; `edit`/`replace` send your text as your message; "
    "`discard` sends nothing.",
)
async def review_held_reply(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    body: ReviewBody,
    agent: Agent,
    agents: Agents,
) -> CommandAccepted:
    command = ReviewHeldReply(
        conversation_id=conversation_id,
        type=body.decision,
        held_message_id=message_id,
        text=body.text,
        reason=body.reason,
        ref=body.ref,
    )
    return await _run(agents, agent, command)


@_command_route("notes", "Add an internal note", "Agents only: never shown to the visitor.")
async def add_note(
    conversation_id: uuid.UUID, body: NoteBody, agent: Agent, agents: Agents
) -> CommandAccepted:
    command = Note(conversation_id=conversation_id, text=body.text, ref=body.ref)
    return await _run(agents, agent, command)


@_command_route("corrections", "Correct a sent reply", "The correction is a new message.")
async def correct(
    conversation_id: uuid.UUID, body: CorrectBody, agent: Agent, agents: Agents
) -> CommandAccepted:
    command = Correct(
        conversation_id=conversation_id,
        message_id=body.message_id,
        text=body.text,
        reason=body.reason,
        ref=body.ref,
    )
    return await _run(agents, agent, command)


@_command_route("escalate", "Escalate by hand")
async def escalate(
    conversation_id: uuid.UUID, agent: Agent, agents: Agents, body: EscalateBody | None = None
) -> CommandAccepted:
    body = body or EscalateBody()
    command = Escalate(
        conversation_id=conversation_id, reason=body.reason, skill=body.skill, ref=body.ref
    )
    return await _run(agents, agent, command)


@_command_route("transfer", "Transfer to another agent, or back to the queue for a skill")
async def transfer(
    conversation_id: uuid.UUID, agent: Agent, agents: Agents, body: TransferBody | None = None
) -> CommandAccepted:
    body = body or TransferBody()
    command = Transfer(
        conversation_id=conversation_id,
        to_agent_id=body.to_agent_id,
        to_skill=body.to_skill,
        note=body.note,
        ref=body.ref,
    )
    return await _run(agents, agent, command)


@_command_route("resolve", "Mark resolved")
async def resolve(
    conversation_id: uuid.UUID, agent: Agent, agents: Agents, body: _Body | None = None
) -> CommandAccepted:
    return await _run(agents, agent, Resolve(conversation_id=conversation_id, ref=_ref(body)))


@router.put(
    "/presence",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CommandAccepted,
    summary="Set your presence (available, busy, away, offline)",
    description="An open agent socket repeats the last presence every 15 s as a heartbeat.",
    responses=error_responses(401, 413, 422, 503),
)
async def set_presence(body: PresenceBody, agent: Agent, agents: Agents) -> CommandAccepted:
    command = SetPresence(status=body.status, max_concurrent=body.max_concurrent, ref=body.ref)
    return await _run(agents, agent, command)
