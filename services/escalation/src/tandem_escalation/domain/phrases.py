"""Phrase patterns: a small, readable notation for what visitors say, matched on
normalised text (see ``text.normalise``).

A pattern is a sequence of slots separated by spaces; each slot lists alternatives with
``|``; an alternative ending in ``*`` matches any word starting with it. Between two slots
up to ``max_gap`` other words may appear (articles, adjectives: "talk to *a real* human"),
unless the pattern starts with ``=`` (adjacent words only) or ``~N`` (at most N words
between: ``~1 want human``). In patterns of two or more words, words of six letters or
more also match with one typo ("speak to a persno"), one typo per match. Patterns
containing Chinese or Japanese characters are matched as substrings, since those scripts
put no spaces between words.

    "talk*|speak* to|with human*|person|agent*"   matches "can I speak with a real person"
    "=not helpful|useful"                         matches "that was not helpful"
    "人工客服"                                     matches "我要人工客服"

A pattern set may be *negatable*: a match preceded in its clause by a negation and a
volition word ("I don't want to talk to a human", "je ne veux pas parler à un humain") is
not a match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .text import clauses, contains_cjk, normalise


class PhraseSyntaxError(ValueError):
    """A phrase pattern cannot be compiled."""


#: Words at least this long also match with one typo (in patterns of two or more words).
FUZZY_MIN_CHARS = 6
#: How a slot accepted a word. A match may use one typo at most: with two, words of
#: another language one edit away ("contact ... person" vs Italian "contatt* ... persona")
#: would match.
NO, EXACT, TYPO = 0, 1, 2


class Slot:
    """One position of a pattern: exact words and word prefixes, optionally typo-tolerant."""

    __slots__ = ("_fuzzy_by_length", "_fuzzy_seen", "fuzzy", "prefixes", "words")

    def __init__(self, words: frozenset[str], prefixes: tuple[str, ...], fuzzy: bool) -> None:
        self.words = words
        self.prefixes = prefixes
        self.fuzzy = fuzzy
        # Candidates for a typo'd token of length n are the words and prefixes of length
        # n-1, n and n+1 (a prefix is compared with the token's start).
        by_length: dict[int, list[tuple[str, bool]]] = {}
        if fuzzy:
            for word in words:
                if len(word) >= FUZZY_MIN_CHARS:
                    for n in (len(word) - 1, len(word), len(word) + 1):
                        by_length.setdefault(n, []).append((word, False))
            for prefix in prefixes:
                if len(prefix) >= FUZZY_MIN_CHARS:
                    for n in range(len(prefix) - 1, 64):
                        by_length.setdefault(n, []).append((prefix, True))
        self._fuzzy_by_length = by_length
        # Typo checks are the matcher's slow part and visitors reuse words: remember answers.
        self._fuzzy_seen: dict[str, bool] = {}

    def accepts(self, token: str) -> int:
        """``EXACT``, ``TYPO`` (one edit away from a long word) or ``NO``."""
        if token in self.words or token.startswith(self.prefixes):
            return EXACT
        if not self._fuzzy_by_length:
            return NO
        seen = self._fuzzy_seen.get(token)
        if seen is None:
            if len(self._fuzzy_seen) > 20_000:
                self._fuzzy_seen.clear()
            seen = self._fuzzy_seen[token] = self._fuzzy_accepts(token)
        return TYPO if seen else NO

    def _fuzzy_accepts(self, token: str) -> bool:
        for candidate, is_prefix in self._fuzzy_by_length.get(len(token), ()):
            if not is_prefix:
                if within_one_edit(token, candidate):
                    return True
            elif any(
                within_one_edit(token[: len(candidate) + delta], candidate) for delta in (-1, 0, 1)
            ):
                return True
        return False


def within_one_edit(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of neighbours apart."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    for i, (x, y) in enumerate(zip(shorter, longer, strict=False)):
        if x != y:
            return shorter[i:] == longer[i + 1 :]
    return True


@dataclass(frozen=True, slots=True)
class PhrasePattern:
    source: str
    language: str
    slots: tuple[Slot, ...]
    substring: str | None
    max_gap: int

    def match(self, tokens: list[str], compact: str) -> tuple[int, int] | None:
        """(first, last) token index of the first match, or None. CJK patterns report (0, 0)."""
        if self.substring is not None:
            return (0, 0) if self.substring in compact else None
        first = self.slots[0]
        for start, token in enumerate(tokens):
            how = first.accepts(token)
            if how:
                end = self._rest(tokens, 1, start, typos=int(how == TYPO))
                if end is not None:
                    return start, end
        return None

    def _rest(self, tokens: list[str], slot_index: int, position: int, typos: int) -> int | None:
        if slot_index == len(self.slots):
            return position
        slot = self.slots[slot_index]
        last = min(len(tokens), position + 2 + self.max_gap)
        for next_position in range(position + 1, last):
            how = slot.accepts(tokens[next_position])
            if how == NO or (how == TYPO and typos):
                continue
            end = self._rest(tokens, slot_index + 1, next_position, typos + int(how == TYPO))
            if end is not None:
                return end
        return None


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    language: str
    pattern: str
    text: str  # the matched words (normalised), or the clause for substring patterns


def compile_pattern(source: str, language: str, *, max_gap: int = 2) -> PhrasePattern:
    raw = source.strip()
    if raw.startswith("="):
        raw, max_gap = raw[1:].strip(), 0
    elif raw.startswith("~"):
        gap, _, raw = raw[1:].partition(" ")
        if not gap.isdigit():
            raise PhraseSyntaxError(f"'~' must be followed by a number of words in {source!r}")
        max_gap = int(gap)
    if not raw:
        raise PhraseSyntaxError(f"empty phrase pattern {source!r}")
    if contains_cjk(raw):
        substring = normalise(raw).replace(" ", "")
        return PhrasePattern(source, language, (), substring, max_gap)
    slots: list[tuple[frozenset[str], tuple[str, ...]]] = []
    for slot_source in raw.split():
        words: set[str] = set()
        prefixes: list[str] = []
        for alternative in slot_source.split("|"):
            is_prefix = alternative.endswith("*")
            word = normalise(alternative.rstrip("*"))
            if not word or " " in word:
                raise PhraseSyntaxError(
                    f"alternative {alternative!r} in {source!r} must be one word after "
                    "normalisation"
                )
            if is_prefix:
                prefixes.append(word)
            else:
                words.add(word)
        slots.append((frozenset(words), tuple(prefixes)))
    # One-word patterns stay exact: "terribly sorry" must not read as "terrible".
    fuzzy = len(slots) > 1
    compiled = tuple(Slot(words, prefixes, fuzzy) for words, prefixes in slots)
    return PhrasePattern(source, language, compiled, None, max_gap)


def compile_phrases(
    patterns: Mapping[str, Iterable[str]], *, max_gap: int = 2
) -> tuple[PhrasePattern, ...]:
    """Compile ``{language: [pattern, ...]}``; raises ``PhraseSyntaxError`` on a bad pattern."""
    return tuple(
        compile_pattern(source, language, max_gap=max_gap)
        for language, sources in patterns.items()
        for source in sources
    )


class PhraseSet:
    """Compiled patterns of one rule, with an optional negation check."""

    def __init__(
        self,
        patterns: tuple[PhrasePattern, ...],
        *,
        negation_words: Iterable[str] = (),
        volition_words: Iterable[str] = (),
        negation_window: int = 4,
    ) -> None:
        self.patterns = patterns
        self.negation_words = frozenset(normalise(w) for w in negation_words)
        self.volition_words = frozenset(normalise(w) for w in volition_words)
        self.negation_window = negation_window

    @classmethod
    def of(
        cls,
        patterns: Mapping[str, Iterable[str]],
        *,
        negation_words: Iterable[str] = (),
        volition_words: Iterable[str] = (),
    ) -> PhraseSet:
        return cls(
            compile_phrases(patterns),
            negation_words=negation_words,
            volition_words=volition_words,
        )

    def extended(self, patterns: Mapping[str, Iterable[str]]) -> PhraseSet:
        """This set plus more patterns (the compiled ones are reused, not recompiled)."""
        extended = PhraseSet(self.patterns + compile_phrases(patterns))
        extended.negation_words = self.negation_words
        extended.volition_words = self.volition_words
        extended.negation_window = self.negation_window
        return extended

    def __len__(self) -> int:
        return len(self.patterns)

    def find(self, text: str) -> PhraseMatch | None:
        """The first pattern that matches ``text`` (clause by clause), or None."""
        for clause in clauses(text):
            tokens = clause.split()
            compact = clause.replace(" ", "")
            for pattern in self.patterns:
                span = pattern.match(tokens, compact)
                if span is None:
                    continue
                if pattern.substring is not None:
                    return PhraseMatch(pattern.language, pattern.source, clause)
                start, end = span
                if self._negated(tokens, start):
                    continue
                return PhraseMatch(
                    pattern.language, pattern.source, " ".join(tokens[start : end + 1])
                )
        return None

    def _negated(self, tokens: list[str], start: int) -> bool:
        """A negation and a volition word just before the match: "I don't want to ..."."""
        if not self.negation_words:
            return False
        window = set(tokens[max(0, start - self.negation_window) : start])
        return bool(window & self.negation_words) and bool(window & self.volition_words)
