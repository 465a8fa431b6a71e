"""What every format's parser produces: a document as titled sections of text blocks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Section:
    heading_path: tuple[str, ...]
    blocks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    sections: tuple[Section, ...]
    #: A title the document gives itself (front matter ``title:``, ``<title>``, its first
    #: H1, a PDF's first line), if any.
    title: str | None = None


def build_sections(items: list[tuple[int, str] | str]) -> tuple[Section, ...]:
    """Sections from a flat run of headings (``(level, text)``) and blocks (``str``): each
    block belongs under the headings open before it, as in an outline."""
    sections: list[Section] = []
    headings: list[tuple[int, str]] = []
    blocks: list[str] = []

    def flush() -> None:
        if blocks:
            sections.append(Section(tuple(h for _, h in headings), tuple(blocks)))
            blocks.clear()

    for item in items:
        if isinstance(item, str):
            blocks.append(item)
            continue
        flush()
        level, text = item
        while headings and headings[-1][0] >= level:
            headings.pop()
        headings.append((level, text))
    flush()
    return tuple(sections)
