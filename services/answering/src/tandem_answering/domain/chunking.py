"""Turning a document into retrievable chunks.

Two steps, so new formats slot in without touching the second:

1. A *parser* per format turns the raw text into ``Section``s: a heading path
   (``("Shipping", "International")``) and the section's blocks (paragraphs, lists, code,
   tables) as plain text. ``PARSERS`` maps a format name to its parser: Markdown and plain
   text here, HTML in ``html_document``, PDF text in ``pdf_document``.
2. ``chunk_sections`` packs each section's blocks into chunks of at most ``max_chars``
   characters, never across a heading (a chunk belongs to one heading path), splitting an
   over-long block at sentence ends, and repeating the last sentences of a chunk at the
   start of the next one (``overlap_chars``) so an answer that straddles the cut is still
   found whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .html_document import parse_html
from .pdf_document import parse_pdf_text
from .sections import ParsedDocument, Section
from .text import collapse_spaces, split_sentences, strip_inline_markdown

__all__ = [
    "CHUNKER_VERSION",
    "PARSERS",
    "Chunk",
    "ParsedDocument",
    "Section",
    "chunk_document",
    "chunk_sections",
    "parse_html",
    "parse_markdown",
    "parse_pdf_text",
    "parse_plain_text",
]

#: Bump when chunking changes, so re-ingesting unchanged documents re-indexes them.
CHUNKER_VERSION = "2"


@dataclass(frozen=True, slots=True)
class Chunk:
    position: int
    heading_path: tuple[str, ...]
    text: str


Parser = Callable[[str], ParsedDocument]

_ATX_HEADING = re.compile(r"^\s{0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_THEMATIC_BREAK = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n(?:---|\.\.\.)\s*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE)


def parse_markdown(raw: str) -> ParsedDocument:
    """CommonMark-ish: ATX and setext headings, fenced code, lists, tables, paragraphs."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    title: str | None = None
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_MATTER_TITLE.search(front.group(1))
        if found and found.group(1).strip():
            title = found.group(1).strip()
        text = text[front.end() :]
    text = _HTML_COMMENT.sub("", text)

    sections: list[Section] = []
    headings: list[tuple[int, str]] = []
    blocks: list[str] = []
    block_lines: list[str] = []
    fence: str | None = None

    def flush_block(*, code: bool = False) -> None:
        if block_lines:
            block = _render_block(block_lines, code=code)
            if block:
                blocks.append(block)
            block_lines.clear()

    def flush_section() -> None:
        flush_block()
        if blocks:
            sections.append(Section(tuple(h for _, h in headings), tuple(blocks)))
            blocks.clear()

    def open_heading(level: int, heading: str) -> None:
        nonlocal title
        flush_section()
        heading = collapse_spaces(strip_inline_markdown(heading))
        if not heading:
            return
        if level == 1 and title is None and not sections:
            title = heading
        while headings and headings[-1][0] >= level:
            headings.pop()
        headings.append((level, heading))

    for line in text.split("\n"):
        if fence is not None:
            if line.strip().startswith(fence):
                flush_block(code=True)
                fence = None
            else:
                block_lines.append(line)
            continue
        opening = _FENCE.match(line)
        if opening:
            flush_block()
            fence = opening.group(1)[0] * 3
            continue
        heading = _ATX_HEADING.match(line)
        if heading:
            open_heading(len(heading.group(1)), heading.group(2))
            continue
        underline = _SETEXT_UNDERLINE.match(line)
        if underline and len(block_lines) == 1 and not _LIST_ITEM.match(block_lines[0]):
            heading_text = block_lines.pop()
            open_heading(1 if underline.group(1)[0] == "=" else 2, heading_text)
            continue
        if not line.strip() or (_THEMATIC_BREAK.match(line) and not block_lines):
            flush_block()
            continue
        if _LINK_DEFINITION.match(line):
            continue
        block_lines.append(line)
    flush_block(code=fence is not None)
    flush_section()
    return ParsedDocument(tuple(sections), title)


def _render_block(lines: list[str], *, code: bool) -> str:
    if code:
        # Code keeps its lines and indentation; only outer blank lines go.
        return "\n".join(line.rstrip() for line in lines).strip("\n")
    cleaned = [re.sub(r"^\s{0,3}>\s?", "", line) for line in lines]
    structured = any(_LIST_ITEM.match(line) or line.lstrip().startswith("|") for line in cleaned)
    rendered = [collapse_spaces(strip_inline_markdown(line)) for line in cleaned]
    rendered = [line for line in rendered if line]
    # Lists and tables keep one item per line; wrapped prose becomes one line.
    return "\n".join(rendered) if structured else " ".join(rendered)


def parse_plain_text(raw: str) -> ParsedDocument:
    """Paragraphs separated by blank lines; no headings."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [collapse_spaces(line) for line in paragraph.split("\n")]
        joined = "\n".join(line for line in lines if line)
        if joined:
            paragraphs.append(joined)
    return ParsedDocument((Section((), tuple(paragraphs)),) if paragraphs else ())


PARSERS: dict[str, Parser] = {
    "markdown": parse_markdown,
    "text": parse_plain_text,
    "html": parse_html,
    # A PDF is stored as the text extracted from it (pages separated by form feeds, see
    # pdf_document.extract_pdf), so re-chunking never needs the original file.
    "pdf": parse_pdf_text,
}


def chunk_sections(
    sections: tuple[Section, ...] | list[Section], *, max_chars: int = 900, overlap_chars: int = 150
) -> list[Chunk]:
    if max_chars < 50:
        raise ValueError("max_chars must be at least 50")
    overlap_chars = max(0, min(overlap_chars, max_chars // 2))
    chunks: list[Chunk] = []
    for section in sections:
        pieces: list[str] = []
        for block in section.blocks:
            pieces.extend(_split_long(block, max_chars))
        current: list[str] = []
        length = 0
        for piece in pieces:
            added = len(piece) + (2 if current else 0)
            if current and length + added > max_chars:
                chunks.append(Chunk(len(chunks), section.heading_path, "\n\n".join(current)))
                carried = _tail(current[-1], min(overlap_chars, max_chars - len(piece) - 2))
                current = [carried] if carried else []
                length = len(carried)
                added = len(piece) + (2 if current else 0)
            current.append(piece)
            length += added
        if current:
            chunks.append(Chunk(len(chunks), section.heading_path, "\n\n".join(current)))
    return chunks


def chunk_document(
    raw: str, fmt: str, *, max_chars: int = 900, overlap_chars: int = 150
) -> tuple[ParsedDocument, list[Chunk]]:
    try:
        parser = PARSERS[fmt]
    except KeyError:
        raise ValueError(f"unsupported format {fmt!r}; expected one of {sorted(PARSERS)}") from None
    parsed = parser(raw)
    return parsed, chunk_sections(parsed.sections, max_chars=max_chars, overlap_chars=overlap_chars)


def _split_long(block: str, max_chars: int) -> list[str]:
    """Cut a block longer than ``max_chars`` at line ends (lists, code), then at sentence
    ends, then (one enormous sentence) at words."""
    if len(block) <= max_chars:
        return [block]
    lines = block.split("\n")
    if len(lines) > 1:
        return _pack(
            [piece for line in lines for piece in _split_long(line, max_chars)], max_chars, "\n"
        )
    parts = [
        part for sentence in split_sentences(block) for part in _split_words(sentence, max_chars)
    ]
    return _pack(parts, max_chars, " ")


def _pack(parts: list[str], max_chars: int, separator: str) -> list[str]:
    """Greedily join consecutive parts (each at most ``max_chars``) into pieces that fit."""
    out: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{separator}{part}" if current else part
        if len(candidate) <= max_chars:
            current = candidate
        else:
            if current:
                out.append(current)
            current = part
    if current:
        out.append(current)
    return out


def _split_words(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > max_chars:  # one unbroken token longer than a chunk
            if current:
                out.append(current)
                current = ""
            out.append(word[:max_chars])
            word = word[max_chars:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= max_chars:
            current = candidate
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return out


def _tail(text: str, budget: int) -> str:
    """The last whole sentences of ``text`` that fit in ``budget`` characters."""
    if budget <= 0:
        return ""
    kept: list[str] = []
    size = 0
    for sentence in reversed(split_sentences(text)):
        extra = len(sentence) + (1 if kept else 0)
        if size + extra > budget:
            break
        kept.append(sentence)
        size += extra
    return " ".join(reversed(kept))
