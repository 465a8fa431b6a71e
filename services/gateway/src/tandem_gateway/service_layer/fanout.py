"""The fan-out use case: an event from Kafka becomes live frames on Redis."""

from __future__ import annotations

from tandem_events import AgentAssigned, AgentLeft, ConversationTransferred, Event

from ..domain.frames import live_update_for
from .ports import ConversationFlags, HolderStore, LiveFanout


class FanoutService:
    def __init__(
        self, *, live: LiveFanout, flags: ConversationFlags, holders: HolderStore | None = None
    ) -> None:
        self.live = live
        self.flags = flags
        self.holders = holders

    async def handle(self, event: Event) -> str:
        """Push ``event``'s frames to the conversation's sockets and the site's consoles;
        returns the outcome for metrics.

        Redelivered events push their frame again; sockets drop repeated message frames
        by seq, and a repeated status or handoff frame changes nothing on screen.
        """
        await self._forget_holder_when_gone(event)
        update = live_update_for(event)
        if update is None:
            return "ignored"
        if update.forget_conversation:
            # Deleted by its owner (or by the visitor through another replica): refuse it
            # here too and drop what the gateway remembers of it.
            await self.flags.mark_deleted(event.conversation_id)
            await self.flags.forget(event.conversation_id)
        await self.live.publish(update)
        return "processed"

    async def _forget_holder_when_gone(self, event: Event) -> None:
        """The console's own commands record who holds a conversation at once; these
        events end a hold that was ended elsewhere (another replica, the router). Only a
        matching holder is cleared, so a late leave never unseats a newer holder; and a
        hold missing here is looked up in the conversation service."""
        if self.holders is None:
            return
        match event:
            case AgentLeft():
                await self.holders.clear(event.conversation_id, only_if=event.agent_id)
            case ConversationTransferred():
                # Whoever held it, a transfer unassigns them (the actor may be an admin).
                await self.holders.clear(event.conversation_id)
            case AgentAssigned() if event.previous_agent_id:
                await self.holders.clear(event.conversation_id, only_if=event.previous_agent_id)
