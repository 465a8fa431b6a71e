"""The agent console's use cases: read a site's conversations, and turn each command into
the event it stands for.

Every call is scoped to the signed-in agent's site: a conversation of another site is
"not found" (its existence is not even confirmed). Permissions come from
``domain.agents.check_action``. A command answers only once Kafka acknowledged its event
(acks=all); typing alone goes straight to the visitor's live channel (Redis), never to Kafka.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tandem_events import (
    AgentJoined,
    AgentLeft,
    AgentPresenceChanged,
    AgentReplied,
    ConversationTransferred,
    EscalationRequested,
    Event,
    HeldReplyReviewed,
    NoteAdded,
    ReplyCorrected,
    ResolutionRequested,
    deterministic_event_id,
)

from ..domain.agent_commands import (
    AgentStatus,
    Command,
    ConversationCommand,
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
from ..domain.agents import (
    Action,
    ActionRefused,
    AgentIdentity,
    ConversationAccess,
    NotThisSite,
    ai_resumes_after_leave,
    check_action,
)
from ..domain.frames import LiveUpdate, TypingFrame, frame_json
from .errors import DuplicateInFlight, NotAllowed, NotFound
from .ports import (
    AcceptedMessage,
    ConversationDirectory,
    EventSink,
    HolderStore,
    IdempotencyStore,
    LiveFanout,
    SequenceSource,
    SiteDirectory,
)

ListFilter = Literal["all", "waiting", "flagged", "mine"]
NIL_CONVERSATION = uuid.UUID(int=0)

_ACTIONS: dict[str, Action] = {
    "join": "join",
    "leave": "leave",
    "reply": "reply",
    "typing": "typing",
    "approve": "review",
    "edit": "review",
    "replace": "review",
    "discard": "review",
    "note": "note",
    "correct": "correct",
    "escalate": "escalate",
    "transfer": "transfer",
    "resolve": "resolve",
    "watch": "watch",
}


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the agent is told once the command's event is on Kafka."""

    command: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentConsolePolicy:
    duplicate_wait_seconds: float = 5.0
    message_lock_seconds: float = 15.0
    duplicate_poll_seconds: float = 0.05


class AgentConsoleService:
    def __init__(
        self,
        *,
        conversations: ConversationDirectory,
        sites: SiteDirectory,
        events: EventSink,
        sequence: SequenceSource,
        idempotency: IdempotencyStore,
        holders: HolderStore,
        live: LiveFanout,
        policy: AgentConsolePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conversations = conversations
        self.sites = sites
        self.events = events
        self.sequence = sequence
        self.idempotency = idempotency
        self.holders = holders
        self.live = live
        self.policy = policy or AgentConsolePolicy()
        self.clock = clock

    # -- reads --------------------------------------------------------------------------

    async def list_conversations(
        self,
        actor: AgentIdentity,
        list_filter: ListFilter = "all",
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        filters: dict[str, str | int | bool] = {"limit": limit}
        if status is not None:
            filters["status"] = status
        match list_filter:
            case "waiting":
                filters["waiting"] = True
            case "flagged":
                filters["flagged"] = True
            case "mine":
                filters["assigned_agent_id"] = actor.agent_id
        return await self.conversations.list_conversations(actor.site_id, filters)

    async def view(self, actor: AgentIdentity, conversation_id: uuid.UUID) -> dict[str, Any]:
        view = await self.conversations.agent_view(conversation_id)
        conversation = view.get("conversation") if view else None
        if not isinstance(conversation, dict) or conversation.get("site_id") != actor.site_id:
            raise NotFound("unknown conversation")
        return view  # type: ignore[return-value]

    async def access(
        self, actor: AgentIdentity, conversation_id: uuid.UUID, action: Action
    ) -> ConversationAccess:
        """The conversation as the rules see it, once ``actor`` may do ``action`` to it."""
        found = await self.conversations.conversation(conversation_id)
        if found is None or found.get("site_id") != actor.site_id:
            raise NotFound("unknown conversation")
        # The console's own joins are recorded here at once; the conversation service's
        # record (which follows the events) is the fallback.
        holder = await self.holders.get(conversation_id)
        if holder is None:
            agent = found.get("assigned_agent")
            if isinstance(agent, dict) and agent.get("joined", True):
                holder = agent.get("id")
        access = ConversationAccess(
            site_id=str(found["site_id"]), holder_id=holder, status=str(found.get("status"))
        )
        try:
            check_action(actor, action, access)
        except NotThisSite as exc:
            raise NotFound(exc.message) from exc
        except ActionRefused as exc:
            raise NotAllowed(exc.message) from exc
        return access

    # -- commands -----------------------------------------------------------------------

    async def execute(self, actor: AgentIdentity, command: Command) -> CommandResult:
        if isinstance(command, SetPresence):
            return await self._set_presence(actor, command)
        await self.access(actor, command.conversation_id, _ACTIONS[command.type])
        return await self._on_conversation(actor, command)

    async def _on_conversation(
        self, actor: AgentIdentity, command: ConversationCommand
    ) -> CommandResult:
        conversation_id = command.conversation_id
        envelope = self._envelope(actor, command)
        agent = {"agent_id": actor.agent_id, "agent_name": actor.name}
        match command:
            case Join():
                await self.events.publish(AgentJoined(**agent, **envelope))
                await self.holders.set(conversation_id, actor.agent_id)
                return CommandResult("join")
            case Leave():
                site = await self.sites.by_id(actor.site_id)
                resumes = ai_resumes_after_leave(
                    site.ai_resumes_after_agent if site else True, command.hand_back
                )
                await self.events.publish(AgentLeft(ai_resumes=resumes, **agent, **envelope))
                await self.holders.clear(conversation_id, only_if=actor.agent_id)
                return CommandResult("leave", {"ai_resumes": resumes})
            case Reply():
                accepted = await self._accept_once(
                    actor,
                    conversation_id,
                    command.client_message_id or command.ref,
                    lambda record: AgentReplied(
                        message_id=record.message_id,
                        seq=record.seq,
                        text=command.text,
                        occurred_at=record.occurred_at,
                        **agent,
                        **self._envelope(actor, command, event_id=record.event_id),
                    ),
                )
                return CommandResult(
                    "reply", {"message_id": str(accepted.message_id), "seq": accepted.seq}
                )
            case Typing():
                await self.live.publish(
                    LiveUpdate(
                        conversation_id=conversation_id,
                        site_id=actor.site_id,
                        frame=frame_json(TypingFrame(author="agent")),
                        to_console=False,
                    )
                )
                return CommandResult("typing")
            case ReviewHeldReply():
                await self._check_held(actor, conversation_id, command.held_message_id)
                await self.events.publish(
                    HeldReplyReviewed(
                        held_message_id=command.held_message_id,
                        decision=command.type,
                        text=command.text,
                        reason=command.reason,
                        **agent,
                        **envelope,
                    )
                )
                return CommandResult(command.type)
            case Note():
                note_id = (
                    deterministic_event_id("note", actor.agent_id, command.ref)
                    if command.ref
                    else uuid.uuid4()
                )
                await self.events.publish(
                    NoteAdded(note_id=note_id, text=command.text, **agent, **envelope)
                )
                return CommandResult("note", {"note_id": str(note_id)})
            case Correct():
                await self._check_correctable(actor, conversation_id, command.message_id)
                accepted = await self._accept_once(
                    actor,
                    conversation_id,
                    f"correct:{command.ref}" if command.ref else None,
                    lambda record: ReplyCorrected(
                        corrected_message_id=command.message_id,
                        correction_message_id=record.message_id,
                        seq=record.seq,
                        text=command.text,
                        reason=command.reason,
                        occurred_at=record.occurred_at,
                        **agent,
                        **self._envelope(actor, command, event_id=record.event_id),
                    ),
                )
                return CommandResult(
                    "correct", {"message_id": str(accepted.message_id), "seq": accepted.seq}
                )
            case Escalate():
                await self.events.publish(
                    EscalationRequested(
                        requested_by_id=actor.agent_id,
                        requested_by_name=actor.name,
                        reason=command.reason,
                        skill=command.skill,
                        **envelope,
                    )
                )
                return CommandResult("escalate")
            case Transfer():
                if command.to_agent_id == actor.agent_id:
                    raise NotAllowed("a conversation cannot be transferred to yourself")
                await self.events.publish(
                    ConversationTransferred(
                        from_agent_id=actor.agent_id,
                        from_agent_name=actor.name,
                        to_agent_id=command.to_agent_id,
                        to_skill=command.to_skill,
                        note=command.note,
                        **envelope,
                    )
                )
                await self.holders.clear(conversation_id)
                return CommandResult("transfer")
            case Resolve():
                await self.events.publish(
                    ResolutionRequested(
                        requested_by="agent",
                        agent_id=actor.agent_id,
                        agent_name=actor.name,
                        **envelope,
                    )
                )
                return CommandResult("resolve")
        raise NotAllowed(f"unknown command {command.type!r}")

    async def _set_presence(self, actor: AgentIdentity, command: SetPresence) -> CommandResult:
        await self.publish_presence(actor, command.status, command.max_concurrent)
        return CommandResult("set_presence", {"status": command.status})

    async def publish_presence(
        self, actor: AgentIdentity, status: AgentStatus, max_concurrent: int | None
    ) -> None:
        """Announce the agent's presence (also the socket's periodic heartbeat).
        ``max_concurrent=None``: the event's default (the roster's own limit applies)."""
        event = AgentPresenceChanged(
            site_id=actor.site_id,
            conversation_id=NIL_CONVERSATION,
            agent_id=actor.agent_id,
            agent_name=actor.name,
            status=status,
            skills=actor.skills,
            languages=actor.languages,
        )
        if max_concurrent is not None:
            event = event.model_copy(update={"max_concurrent": max_concurrent})
        await self.events.publish(event)

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _envelope(
        actor: AgentIdentity, command: ConversationCommand, *, event_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """Site and conversation of the event; its id repeats for a repeated ``ref``."""
        if event_id is None:
            event_id = (
                deterministic_event_id(
                    "agent-command",
                    actor.agent_id,
                    command.type,
                    command.conversation_id,
                    command.ref,
                )
                if command.ref
                else uuid.uuid4()
            )
        return {
            "event_id": event_id,
            "site_id": actor.site_id,
            "conversation_id": command.conversation_id,
        }

    async def _check_held(
        self, actor: AgentIdentity, conversation_id: uuid.UUID, held_message_id: uuid.UUID
    ) -> None:
        view = await self.view(actor, conversation_id)
        for held in view.get("held_replies", []):
            if held.get("message_id") == str(held_message_id):
                if held.get("state") != "held":
                    raise NotAllowed(f"this reply was already released ({held.get('state')})")
                return
        raise NotFound("no such held reply in this conversation")

    async def _check_correctable(
        self, actor: AgentIdentity, conversation_id: uuid.UUID, message_id: uuid.UUID
    ) -> None:
        view = await self.view(actor, conversation_id)
        for message in view.get("messages", []):
            if message.get("message_id") == str(message_id) and message.get("type") == "message":
                if message.get("author") not in ("ai", "agent"):
                    raise NotAllowed("only AI and agent replies can be corrected")
                return
        raise NotFound("no such message in this conversation")

    async def _accept_once(
        self,
        actor: AgentIdentity,
        conversation_id: uuid.UUID,
        client_id: str | None,
        make_event: Callable[[_Accepted], Event],
    ) -> AcceptedMessage:
        """Publish a message of the agent's exactly once per ``client_id``: a resend gets
        the first message id and seq; a failed publish keeps them for the retry."""
        if client_id is None:
            record = _Accepted.new(
                conversation_id, None, await self.sequence.next(conversation_id), self.clock()
            )
            await self.events.publish(make_event(record))
            return record.accepted(published=True)
        key = f"{actor.agent_id}:{client_id}"
        deadline = time.monotonic() + self.policy.duplicate_wait_seconds
        while True:
            existing = await self.idempotency.get(conversation_id, key)
            if existing is not None and existing.published:
                return existing
            lock = await self.idempotency.try_lock(
                conversation_id, key, self.policy.message_lock_seconds
            )
            if lock is not None:
                break
            if time.monotonic() >= deadline:
                raise DuplicateInFlight("this message is still being sent; retry shortly")
            await asyncio.sleep(self.policy.duplicate_poll_seconds)
        try:
            existing = await self.idempotency.get(conversation_id, key)
            if existing is not None and existing.published:
                return existing
            if existing is None:
                record = _Accepted.new(
                    conversation_id, key, await self.sequence.next(conversation_id), self.clock()
                )
                await self.idempotency.put(conversation_id, key, record.accepted(published=False))
            else:
                record = _Accepted.of(conversation_id, key, existing)
            await self.events.publish(make_event(record))
            accepted = record.accepted(published=True)
            await self.idempotency.put(conversation_id, key, accepted)
            return accepted
        finally:
            await lock.release()


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A message's identity, number and time, fixed at its first attempt."""

    message_id: uuid.UUID
    seq: int
    occurred_at: datetime
    event_id: uuid.UUID

    @classmethod
    def new(cls, conversation_id: uuid.UUID, key: str | None, seq: int, now: float) -> _Accepted:
        if key is None:
            return cls(uuid.uuid4(), seq, datetime.fromtimestamp(now, UTC), uuid.uuid4())
        return cls(
            message_id=uuid.uuid5(conversation_id, f"agent-message:{key}"),
            seq=seq,
            occurred_at=datetime.fromtimestamp(now, UTC),
            event_id=deterministic_event_id("agent-message", conversation_id, key),
        )

    @classmethod
    def of(cls, conversation_id: uuid.UUID, key: str, record: AcceptedMessage) -> _Accepted:
        return cls(
            message_id=record.message_id,
            seq=record.seq,
            occurred_at=record.occurred_at,
            event_id=deterministic_event_id("agent-message", conversation_id, key),
        )

    def accepted(self, *, published: bool) -> AcceptedMessage:
        return AcceptedMessage(
            message_id=self.message_id,
            seq=self.seq,
            occurred_at=self.occurred_at,
            published=published,
        )


__all__ = [
    "AgentConsolePolicy",
    "AgentConsoleService",
    "CommandResult",
    "ListFilter",
]
