"""A site's answering settings: how sure the AI must be to answer, and what the visitor
reads otherwise. ``None`` means "the service's default" (``TANDEM_ANSWERING_ANSWER_THRESHOLD``,
``TANDEM_ANSWERING_FALLBACK_TEXT``), so a site that never chose follows the default when it
changes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .curated import checked_text

MAX_FALLBACK_CHARS = 1000


class InvalidSiteSettings(ValueError):
    """The settings cannot be stored as given (the caller's mistake, a 4xx)."""


@dataclass(frozen=True, slots=True)
class SiteAnsweringSettings:
    answer_threshold: float | None = None
    fallback_text: str | None = None

    def __post_init__(self) -> None:
        threshold = self.answer_threshold
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, int | float):
                raise InvalidSiteSettings("answer_threshold must be a number from 0 to 1")
            if not math.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
                raise InvalidSiteSettings("answer_threshold must be from 0 to 1")
            object.__setattr__(self, "answer_threshold", float(threshold))
        if self.fallback_text is not None:
            text = checked_text(
                self.fallback_text,
                "fallback_text",
                MAX_FALLBACK_CHARS,
                single_line=False,
                error=InvalidSiteSettings,
            )
            object.__setattr__(self, "fallback_text", text)

    def threshold_or(self, default: float) -> float:
        return default if self.answer_threshold is None else self.answer_threshold

    def fallback_or(self, default: str) -> str:
        return default if self.fallback_text is None else self.fallback_text
