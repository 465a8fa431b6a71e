"""Text helpers shared by chunking and answering: sentences, words, inline Markdown.

Pure functions, no I/O. They are deliberately simple and language-tolerant: sentence ends
are ``.!?`` followed by a space and an upper-case letter or digit, CJK full stops, and line
breaks; words are runs of letters and digits.
"""

from __future__ import annotations

import functools
import re

_ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "etc",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "no",
        "fig",
        "approx",
        "incl",
        "cf",
    }
)
# A candidate sentence boundary: terminal punctuation (and closing quotes/brackets), spaces,
# then something that can start a sentence.
# Curly quotes are written as escapes: \u2018 \u2019 \u201c \u201d.
_BOUNDARY = re.compile(
    "([.!?\u2026]+[\"'\u201d\u2019)\\]]*)\\s+(?=[\"'\u201c\u2018(\\[]?[A-Z0-9\u00c0-\u00d6\u00d8-\u00de])"
)
# Ideographic full stop and full-width ! and ?.
_CJK_BOUNDARY = re.compile("(?<=[\u3002\uff01\uff1f])")
_WORD = re.compile("[^\\W_]+(?:['\u2019][^\\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "i'm",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "get",
        "got",
        "please",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "want",
        "need",
        "like",
        "know",
        "just",
        "also",
        "would",
        "could",
        "will",
        "one",
        "way",
    ]
)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (each line break also ends a sentence)."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        for piece in _CJK_BOUNDARY.split(line):
            sentences.extend(_split_latin(piece))
    return [s for s in sentences if s]


def _split_latin(line: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        end = match.end(1)
        before = line[start:end].rstrip(".!?\u2026\"'\u201d\u2019)]").split()
        last_word = before[-1].lower() if before else ""
        # "e.g. Foo", "Dr. Smith", "J. Smith", a list's "2. Next": not sentence ends.
        if (
            last_word.rstrip(".") in _ABBREVIATIONS
            or (len(last_word) == 1 and last_word.isalpha())
            or not any(ch.isalpha() for ch in line[start:end])
        ):
            continue
        out.append(line[start:end].strip())
        start = match.end()
    tail = line[start:].strip()
    if tail:
        out.append(tail)
    return out


def words(text: str) -> list[str]:
    """Lower-cased words (letters and digits, inner apostrophes kept)."""
    return [w.lower().replace("\u2019", "'") for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """A crude English suffix stripper; enough for lexical overlap, not for linguistics."""
    for suffix in ("ing", "edly", "ed", "ies", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@functools.lru_cache(maxsize=4096)
def content_terms(text: str) -> frozenset[str]:
    """Stemmed words that carry meaning (stop words and one-letter words removed).

    Cached: the same passages come up answer after answer, and stemming them again cost
    more than the rest of the confidence features together."""
    return frozenset(stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1)


_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()\s]*\))+(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_INLINE_CODE = re.compile(r"`+([^`]+)`+")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def strip_inline_markdown(text: str) -> str:
    """Turn inline Markdown into the plain text a reader sees (links keep their words)."""
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _UNDERSCORE_EMPHASIS.sub(r"\1", text)
    text = _STRIKE.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    return text


def collapse_spaces(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", text).strip()


#: Runs of 4+ digits (order, phone and card numbers), optionally grouped by dashes/spaces.
_LONG_NUMBER = re.compile(r"(?<![\w])\d[\d -]{2,}\d(?![\w])")


def text_for_embedding(question: str) -> str:
    """The question as the embedding model should read it: long numbers removed.

    "Where is order 732201349959?" is about an order, not about those digits, but a
    sentence model turns them into a dozen word pieces that pull the vector towards
    whatever else has numbers in it (support-shop recall@1 0.758 -> 0.769 when masked).
    Keyword search still gets the original text, so an error code or an article number
    still matches exactly.
    """
    masked = collapse_spaces(_LONG_NUMBER.sub(" ", question))
    return masked or question
