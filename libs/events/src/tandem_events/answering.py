"""Events of the answering service (topics ``tandem.answering.events``, ``tandem.knowledge.events``)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Event
from .topics import ANSWERING_EVENTS, KNOWLEDGE_EVENTS
from .visitor import MAX_MESSAGE_CHARS


class Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    url: str | None = None
    document_id: str | None = None
    chunk_id: str | None = None
    score: float | None = None


class AnswerScored(Event):
    """A candidate AI answer to one visitor message, with how sure the AI is that it is right."""

    topic = ANSWERING_EVENTS.name
    event_type: Literal["AnswerScored"] = "AnswerScored"
    in_reply_to: uuid.UUID = Field(description="message_id of the visitor message answered")
    question_seq: int = Field(ge=1)
    question: str = Field(max_length=MAX_MESSAGE_CHARS)
    answer: str = Field(max_length=MAX_MESSAGE_CHARS)
    confidence: float = Field(ge=0.0, le=1.0, description="calibrated P(answer is right)")
    answered: bool = Field(
        description="False when confidence was below the site's threshold and the answer "
        "is the site's fallback text instead of a guess"
    )
    sources: tuple[Source, ...] = ()
    language: str = Field(default="en", max_length=16)
    raw_scores: dict[str, float] = Field(default_factory=dict)
    model_version: str
    calibration_version: str
    latency_ms: float = Field(ge=0.0)


class KnowledgeDocumentIndexed(Event):
    """A knowledge-base document was (re)indexed. ``conversation_id`` is the nil UUID."""

    topic = KNOWLEDGE_EVENTS.name
    event_type: Literal["KnowledgeDocumentIndexed"] = "KnowledgeDocumentIndexed"
    document_id: str
    title: str
    url: str | None = None
    chunks: int = Field(ge=0)


class KnowledgeDocumentRemoved(Event):
    """A knowledge-base document was deleted. ``conversation_id`` is the nil UUID."""

    topic = KNOWLEDGE_EVENTS.name
    event_type: Literal["KnowledgeDocumentRemoved"] = "KnowledgeDocumentRemoved"
    document_id: str
