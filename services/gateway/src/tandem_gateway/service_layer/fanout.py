"""The fan-out use case: an event from Kafka becomes a live frame on Redis."""

from __future__ import annotations

from tandem_events import Event

from ..domain.frames import live_update_for
from .ports import ConversationFlags, LiveFanout


class FanoutService:
    def __init__(self, *, live: LiveFanout, flags: ConversationFlags) -> None:
        self.live = live
        self.flags = flags

    async def handle(self, event: Event) -> str:
        """Push ``event``'s frame to the conversation's sockets; returns the outcome for metrics.

        Redelivered events push their frame again; sockets drop repeated message frames
        by seq, and a repeated status or handoff frame changes nothing on screen.
        """
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
