"""Question normalisation for knowledge gaps: the same question typed differently
("Where is my ORDER?", "where is my order") counts as one."""

from __future__ import annotations

import unicodedata

#: Knowledge-gap questions are grouped by their first characters; longer text adds nothing.
MAX_QUESTION_CHARS = 300


def normalise_question(text: str) -> str:
    """Casefolded, without Latin accents or punctuation, single-spaced, at most 300 chars."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = (ch for ch in decomposed if not (0x0300 <= ord(ch) <= 0x036F))
    cleaned = "".join(
        " " if unicodedata.category(ch)[0] in "PSZC" else ch
        for ch in unicodedata.normalize("NFC", "".join(kept))
    )
    return " ".join(cleaned.split())[:MAX_QUESTION_CHARS]
