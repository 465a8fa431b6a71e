"""Event lookup by type, upcasting of older schema versions, and ``parse_event``.

A breaking change to an event bumps its ``schema_version`` and registers an upcaster that
turns the previous version's JSON into the next one, so consumers only ever see the
current model while old messages stay readable on the topics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeAlias, Union

from pydantic import Field, ValidationError

from .agent import (
    AgentJoined,
    AgentLeft,
    AgentPresenceChanged,
    AgentReplied,
    ConversationTransferred,
    EscalationRequested,
    HeldReplyReviewed,
    NoteAdded,
    ReplyCorrected,
    ResolutionRequested,
)
from .answering import (
    AnswerScored,
    KnowledgeDocumentIndexed,
    KnowledgeDocumentRemoved,
    KnowledgeIngestionProgressed,
)
from .conversation import (
    ConversationDeleted,
    ConversationResolved,
    ConversationStatusChanged,
    HeldReplyReleased,
    ReplyHeld,
    ReplyPosted,
)
from .envelope import Event
from .escalation import AgentAssigned, EscalationQueued, EscalationRaised
from .topics import Topic
from .visitor import (
    ConversationDeletionRequested,
    ConversationRated,
    ConversationStarted,
    HumanRequested,
    MessageReceived,
)

EVENT_TYPES: tuple[type[Event], ...] = (
    ConversationStarted,
    MessageReceived,
    ConversationRated,
    HumanRequested,
    ConversationDeletionRequested,
    AnswerScored,
    KnowledgeDocumentIndexed,
    KnowledgeDocumentRemoved,
    ReplyPosted,
    ConversationStatusChanged,
    ConversationResolved,
    ConversationDeleted,
    EscalationRaised,
    AgentAssigned,
    AgentJoined,
    AgentLeft,
    AgentReplied,
    ReplyHeld,
    HeldReplyReleased,
    EscalationQueued,
    NoteAdded,
    HeldReplyReviewed,
    ReplyCorrected,
    ConversationTransferred,
    EscalationRequested,
    ResolutionRequested,
    AgentPresenceChanged,
    KnowledgeIngestionProgressed,
)

Upcaster: TypeAlias = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventError(ValueError):
    """The payload names an event type or version this code cannot read."""


class EventRegistry:
    def __init__(self, types: tuple[type[Event], ...] = EVENT_TYPES) -> None:
        self._types: dict[str, type[Event]] = {}
        # (event_type, from_version) -> upcaster producing from_version + 1
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for event_type in types:
            self.register(event_type)

    def register(self, event_cls: type[Event]) -> None:
        name = event_cls.model_fields["event_type"].default
        self._types[name] = event_cls

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        self._upcasters[(event_type, from_version)] = upcaster

    def model_for(self, event_type: str) -> type[Event]:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventError(f"unknown event type {event_type!r}") from None

    def current_version(self, event_type: str) -> int:
        default = self.model_for(event_type).model_fields["schema_version"].default
        return int(default)

    def upcast(self, payload: dict[str, Any]) -> dict[str, Any]:
        event_type = payload.get("event_type")
        if not isinstance(event_type, str):
            raise UnknownEventError("payload has no event_type")
        target = self.current_version(event_type)
        version = int(payload.get("schema_version", 1))
        if version > target:
            raise UnknownEventError(
                f"{event_type} v{version} is newer than this code understands (v{target})"
            )
        while version < target:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownEventError(f"no upcaster for {event_type} v{version}")
            payload = step(dict(payload))
            version += 1
            payload["schema_version"] = version
        return payload

    def parse(self, raw: bytes | str | Mapping[str, Any]) -> Event:
        """Parse a wire payload into the current model of its event type.

        Raises ``UnknownEventError`` or pydantic's ``ValidationError`` for payloads that can
        never be processed; callers route those to the dead-letter topic.
        """
        if isinstance(raw, bytes | str):
            try:
                data = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise UnknownEventError(f"payload is not JSON: {exc}") from exc
        else:
            data = dict(raw)
        if not isinstance(data, dict):
            raise UnknownEventError("payload is not a JSON object")
        upcasted = self.upcast(data)
        return self.model_for(upcasted["event_type"]).model_validate(upcasted)


def events_on(*topics: Topic) -> Any:
    """The discriminated union of every event type the ``topics`` carry, for a subscriber's
    payload annotation.

    Taken from the registry, so an event type added to one of those topics later is
    accepted (and ignored by a handler that does not care) instead of dead-lettered as
    undecodable.
    """
    names = {topic.name for topic in topics}
    carried = tuple(t for t in EVENT_TYPES if t.topic in names)
    if not carried:
        raise ValueError(f"no event type is published on {sorted(names)}")
    return Annotated[Union[carried], Field(discriminator="event_type")]  # noqa: UP007


DEFAULT_REGISTRY = EventRegistry()


def parse_event(raw: bytes | str | Mapping[str, Any]) -> Event:
    """Parse (and upcast) one event with the default registry."""
    return DEFAULT_REGISTRY.parse(raw)


__all__ = [
    "DEFAULT_REGISTRY",
    "EVENT_TYPES",
    "EventRegistry",
    "UnknownEventError",
    "ValidationError",
    "events_on",
    "parse_event",
]
