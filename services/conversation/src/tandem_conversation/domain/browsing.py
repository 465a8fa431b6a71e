"""Browsing a site's conversations: the filters the dashboard offers and the paging cursor.

Pure rules; ``adapters.repository.list_conversations`` turns a ``ConversationQuery`` into
SQL on this service's own tables, always within one site.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ConfidenceBand = Literal["low", "medium", "high", "none"]
CONFIDENCE_BANDS: tuple[ConfidenceBand, ...] = ("low", "medium", "high", "none")
#: The last AI answer's confidence: low < 0.5 <= medium < 0.8 <= high; none: no AI answer.
BAND_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "low": (None, 0.5),
    "medium": (0.5, 0.8),
    "high": (0.8, None),
}

Order = Literal["activity", "created"]

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
# Postgres text cannot hold NUL; other C0 controls have no business in a search either.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SEARCH_CHARS = 200


class InvalidQuery(ValueError):
    """A filter the caller should not have sent (a 422)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page of a newest-first listing starts: after this conversation."""

    created_at: datetime
    conversation_id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.conversation_id}".encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            moment, _, conversation = raw.partition("|")
            created_at = datetime.fromisoformat(moment)
            cursor = cls(created_at, uuid.UUID(conversation))
        except (binascii.Error, UnicodeError, ValueError) as exc:
            raise InvalidQuery("cursor: not a cursor this service gave out") from exc
        if created_at.tzinfo is None:
            raise InvalidQuery("cursor: not a cursor this service gave out")
        return cursor


@dataclass(frozen=True, slots=True)
class ConversationQuery:
    """Every filter is optional; together they narrow (AND)."""

    status: str | None = None
    assigned_agent_id: str | None = None
    waiting: bool | None = None
    flagged: bool | None = None
    created_from: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    confidence: ConfidenceBand | None = None
    language: str | None = None  # "pt" matches pt and pt-BR; "pt-BR" only pt-BR
    escalated: bool | None = None
    text: str | None = None
    order: Order = "activity"
    after: Cursor | None = None

    def __post_init__(self) -> None:
        for moment in (self.created_from, self.created_before):
            if moment is not None and moment.tzinfo is None:
                raise InvalidQuery("dates need a time zone")
        if self.created_from and self.created_before and self.created_before <= self.created_from:
            raise InvalidQuery("the end of the date range is not after its start")
        if self.language is not None and not _LANGUAGE.match(self.language):
            raise InvalidQuery("language: a language tag such as en or pt-BR")
        if self.text is not None:
            if not self.text.strip():
                raise InvalidQuery("q: must not be blank")
            if len(self.text) > MAX_SEARCH_CHARS or _CONTROL.search(self.text):
                raise InvalidQuery(
                    f"q: at most {MAX_SEARCH_CHARS} characters, no control characters"
                )
        if self.after is not None and self.order != "created":
            raise InvalidQuery("cursor: paging is only by creation time (order=created)")
        if self.waiting and self.order == "created":
            raise InvalidQuery("waiting conversations are listed longest waiting first")

    @property
    def search(self) -> str | None:
        return self.text.strip() if self.text else None

    def searched_id(self) -> uuid.UUID | None:
        """A search that is a conversation id finds that conversation by id."""
        if not self.search:
            return None
        try:
            return uuid.UUID(self.search)
        except ValueError:
            return None
