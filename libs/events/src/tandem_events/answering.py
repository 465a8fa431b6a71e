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


class KnowledgeIngestionProgressed(Event):
    """How far a long knowledge-base ingestion (a crawl, a multi-file import, a large
    upload) has got. Published at most about once a second per job while it runs, and once
    more when it ends (``state`` ``completed`` or ``failed``). ``conversation_id`` is the nil
    UUID.

    ``done``, ``failed`` and ``skipped`` count items of ``unit``: documents for crawls and
    imports, passages (chunks embedded) for a single large upload. ``total`` is what the
    job knows of so far: a crawl discovers pages as it goes, so its total can grow.
    """

    topic = KNOWLEDGE_EVENTS.name
    event_type: Literal["KnowledgeIngestionProgressed"] = "KnowledgeIngestionProgressed"
    job_id: uuid.UUID
    job_kind: Literal["crawl", "upload", "import"]
    state: Literal["running", "completed", "failed"]
    unit: Literal["documents", "passages"] = "documents"
    done: int = Field(ge=0, description="items finished (indexed or unchanged)")
    total: int = Field(ge=0, description="items known so far")
    failed: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)
    current: str | None = Field(
        default=None, max_length=2000, description="the document or URL being worked on"
    )
    error: str | None = Field(default=None, max_length=2000, description="why a job failed")
