# ruff: noqa: RUF001, RUF002 -- the look-alike characters are what this module folds.
"""Text normalisation shared by the escalation rules.

Visitors type the same words many ways: "Parlér à un HUMAIN !", "parler a un humain",
full-width "ＨＵＭＡＮ". Rules compare normalised text, so the phrase lists are written once
in their natural spelling and still match. Normalisation:

* casefolds and applies Unicode compatibility folding (full-width → ASCII, half-width kana
  → full-width);
* strips Latin diacritics and Arabic vowel marks (harakat, hamza carriers), but keeps marks
  that change a letter in other scripts (Japanese dakuten, Indic vowel signs);
* folds letters that have no decomposition (``ł``→l, ``ø``→o, ``ı``→i, ``æ``→ae, ``ß``→ss) and
  Arabic letter variants (``ى``→``ي``, ``ة``→``ه``, tatweel dropped);
* joins English ``n't`` contractions (``don't`` → ``dont``) and turns every other
  punctuation mark or symbol into a space.

Clauses (split at sentence and comma punctuation) bound phrase matches, so "No, I want a
human" is not read as a negated request.
"""

from __future__ import annotations

import re
import unicodedata

# Combining marks removed after NFKD decomposition: Latin/Greek/Cyrillic diacritics and
# Arabic harakat/hamza marks. Other scripts' marks are letters' essential parts and stay.
_STRIPPED_MARK_RANGES = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
)

_FOLD = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ı": "i",
        "ħ": "h",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "ى": "ي",
        "ة": "ه",
        "ـ": "",
    }
)

# "don't" → "dont": English negations must stay one token for the negation check.
_NT_CONTRACTION = re.compile(r"(?<=\w)['’ʼ´`](?=t\b)")
_CLAUSE_BREAK = re.compile(r"[.!?;,\n\r。！？；，、،؛؟…]+")


def _is_stripped_mark(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _STRIPPED_MARK_RANGES)


def normalise(text: str) -> str:
    """Lowercase, accent-free, punctuation-free text with single spaces."""
    text = _NT_CONTRACTION.sub("", text.casefold())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not _is_stripped_mark(ch))
    text = unicodedata.normalize("NFC", text).translate(_FOLD)
    cleaned = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text]
    return " ".join("".join(cleaned).split())


def clauses(text: str) -> list[str]:
    """The text's clauses, each normalised; empty clauses are dropped."""
    parts = (normalise(part) for part in _CLAUSE_BREAK.split(text))
    return [part for part in parts if part]


def is_cjk(ch: str) -> bool:
    """Scripts written without spaces between words (Chinese, Japanese kana and kanji)."""
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
    )


def contains_cjk(text: str) -> bool:
    return any(is_cjk(ch) for ch in text)


def similarity_tokens(normalised: str) -> frozenset[str]:
    """Tokens for comparing two questions: words, and character bigrams inside CJK runs
    (which have no spaces to split on)."""
    tokens: set[str] = set()
    for word in normalised.split():
        for run in _SCRIPT_RUNS.findall(word):
            if is_cjk(run[0]) and len(run) > 1:
                tokens.update(run[i : i + 2] for i in range(len(run) - 1))
            else:
                tokens.add(run)
    return frozenset(tokens)


_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff"
_SCRIPT_RUNS = re.compile(f"[{_CJK_CLASS}]+|[^{_CJK_CLASS}]+")
