"""Tandem's event contract."""

from .agent import AgentJoined, AgentLeft, AgentReplied
from .answering import AnswerScored, KnowledgeDocumentIndexed, Source
from .conversation import (
    Author,
    ConversationDeleted,
    ConversationResolved,
    ConversationStatusChanged,
    ReplyPosted,
    Status,
)
from .envelope import Event, deterministic_event_id, utc_now
from .escalation import AgentAssigned, EscalationRaised, EscalationReason
from .registry import DEFAULT_REGISTRY, EVENT_TYPES, EventRegistry, UnknownEventError, parse_event
from .topics import ALL_TOPICS, Topic
from .visitor import (
    MAX_MESSAGE_CHARS,
    ConversationDeletionRequested,
    ConversationRated,
    ConversationStarted,
    HumanRequested,
    MessageReceived,
)

__all__ = [
    "ALL_TOPICS",
    "DEFAULT_REGISTRY",
    "EVENT_TYPES",
    "MAX_MESSAGE_CHARS",
    "AgentAssigned",
    "AgentJoined",
    "AgentLeft",
    "AgentReplied",
    "AnswerScored",
    "Author",
    "ConversationDeleted",
    "ConversationDeletionRequested",
    "ConversationRated",
    "ConversationResolved",
    "ConversationStarted",
    "ConversationStatusChanged",
    "EscalationRaised",
    "EscalationReason",
    "Event",
    "EventRegistry",
    "HumanRequested",
    "KnowledgeDocumentIndexed",
    "MessageReceived",
    "ReplyPosted",
    "Source",
    "Status",
    "Topic",
    "UnknownEventError",
    "deterministic_event_id",
    "parse_event",
    "utc_now",
]
