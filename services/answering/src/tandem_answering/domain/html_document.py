"""HTML pages as knowledge-base documents, with the standard library's tolerant parser.

What a reader of the page would call its content is kept; the page's furniture is not:

* ``h1`` to ``h6`` become the heading path of the text under them;
* paragraphs, lists (one item a line, ``-`` or ``1.``), tables (one row a line, cells
  joined by ``|``), definition lists, quotes and ``pre`` (kept verbatim) become blocks;
* ``script``, ``style``, ``nav``, ``footer``, ``aside`` and the like are dropped, as is
  anything ``hidden``/``aria-hidden`` or with a navigation, footer or sidebar ARIA role;
* when the page marks its ``<main>`` content (element or ``role="main"``) and it has text,
  only that is kept: site headers and menus stay out of the answers;
* the title is the page's ``<title>``, else its first ``<h1>``.

``inspect_page`` reads what a crawler needs from the same markup: links, the canonical
URL, ``<base href>`` and the robots meta tag. Nothing here fetches anything.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from .sections import ParsedDocument, build_sections

_SKIPPED_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "footer",
        "aside",
        "svg",
        "math",
        "canvas",
        "iframe",
        "object",
        "embed",
        "button",
        "select",
        "dialog",
    }
)
_SKIPPED_ROLES = frozenset({"navigation", "contentinfo", "complementary", "search", "menu"})
_VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
# Elements that start and end a block of text (everything else is inline).
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "form",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
# Blocks whose lines stay together: one item (or row) a line.
_CONTAINER_TAGS = frozenset({"ul", "ol", "menu", "dl", "table"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACES = re.compile(r"\s+")
# Permalink anchors that documentation generators append to headings.
_HEADING_ANCHOR = re.compile(r"[\s¶#§🔗]+$")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\x00]")


@dataclass(slots=True)
class _Open:
    tag: str
    #: Pushed while skipping, or a skipped element itself: its end changes no text state.
    inert: bool = False
    skipped: bool = False
    main: bool = False


class _ContentParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[tuple[int, str] | str, bool]] = []  # (item, inside main)
        self.title: str | None = None
        self.first_h1: str | None = None
        self._stack: list[_Open] = []
        self._skipping = 0
        self._main = 0
        self._pre = 0
        self._title: list[str] | None = None
        self._heading: tuple[int, list[str]] | None = None
        self._line: list[str] = []
        self._lines: list[str] = []
        self._prefix = ""
        self._lists: list[list[int]] = []  # [ordered (0/1), next number] per open list
        self._containers = 0
        self._cells = 0  # cells so far in the current table row
        self._cell_depth = 0  # open td/th elements

    # -- text buffers -----------------------------------------------------------------

    def _end_line(self) -> None:
        text = "".join(self._line)
        self._line = []
        text = _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip()
        if text and text != "|":
            self._lines.append(self._prefix + text)
            # A list item's marker waits for the item's first text (it may be in a <p>).
            self._prefix = ""

    def _end_block(self) -> None:
        self._end_line()
        if self._lines:
            self.items.append(("\n".join(self._lines), self._main > 0))
            self._lines = []

    def _boundary(self) -> None:
        """A block element starts or ends: a space inside a table cell, a new line inside a
        list or table, else a new block."""
        if self._cell_depth:
            self._line.append(" ")
        elif self._containers:
            self._end_line()
        else:
            self._end_block()

    # -- parser callbacks --------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            if self._skipping:
                return
            if tag == "br":
                if self._heading is not None:
                    self._heading[1].append(" ")
                elif self._pre:
                    self._line.append("\n")
                elif self._cell_depth:
                    self._line.append(" ")
                else:
                    self._end_line()
            elif tag == "hr":
                self._boundary()
            return
        if self._skipping:
            self._stack.append(_Open(tag, inert=True))
            return
        values = {name: (value or "") for name, value in attrs}
        role = values.get("role", "").strip().lower()
        if (
            tag in _SKIPPED_TAGS
            or role in _SKIPPED_ROLES
            or "hidden" in values
            or values.get("aria-hidden", "").strip().lower() == "true"
        ) and tag not in ("html", "body"):
            self._boundary()
            self._skipping += 1
            self._stack.append(_Open(tag, inert=True, skipped=True))
            return
        entry = _Open(tag)
        self._stack.append(entry)
        if tag == "title":
            self._title = [] if self.title is None else None
            return
        if tag in _HEADINGS:
            self._end_block()
            self._heading = (_HEADINGS[tag], [])
            return
        if tag == "main" or role == "main":
            self._end_block()
            entry.main = True
            self._main += 1
            return
        if tag in _CONTAINER_TAGS:
            if self._containers:
                self._end_line()
            else:
                self._end_block()
            self._containers += 1
            if tag in ("ul", "ol", "menu"):
                start = values.get("start", "1")
                self._lists.append([tag == "ol", int(start) if start.isdigit() else 1])
            return
        if tag == "pre":
            self._end_block()
            self._pre += 1
            return
        if tag in _BLOCK_TAGS and tag not in ("td", "th"):
            self._boundary()
        if tag == "li" and self._lists:
            ordered = self._lists[-1]
            indent = "  " * (len(self._lists) - 1)
            if ordered[0]:
                self._prefix = f"{indent}{ordered[1]}. "
                ordered[1] += 1
            else:
                self._prefix = f"{indent}- "
        elif tag == "tr":
            self._cells = 0
        elif tag in ("td", "th"):
            if self._cells:
                self._line.append(" | ")
            self._cells += 1
            self._cell_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if not any(entry.tag == tag for entry in self._stack):
            return  # a stray end tag, as browsers do
        while self._stack:
            entry = self._stack.pop()
            self._close(entry)
            if entry.tag == tag:
                break

    def _close(self, entry: _Open) -> None:
        if entry.skipped:
            self._skipping -= 1
            return
        if entry.inert:
            return
        tag = entry.tag
        if tag == "title":
            if self._title is not None:
                self.title = _SPACES.sub(" ", _INVISIBLE.sub("", "".join(self._title))).strip()
                self.title = self.title or None
            self._title = None
        elif tag in _HEADINGS and self._heading is not None:
            level, parts = self._heading
            self._heading = None
            text = _SPACES.sub(" ", _INVISIBLE.sub("", "".join(parts))).strip()
            text = _HEADING_ANCHOR.sub("", text).strip()
            if text:
                self.items.append(((level, text), self._main > 0))
                if level == 1 and self.first_h1 is None:
                    self.first_h1 = text
        elif entry.main:
            self._end_block()
            self._main -= 1
        elif tag in _CONTAINER_TAGS:
            self._containers -= 1
            if tag in ("ul", "ol", "menu") and self._lists:
                self._lists.pop()
            if self._containers:
                self._end_line()
            else:
                self._end_block()
        elif tag == "pre":
            raw = "".join(self._line)
            self._line = []
            text = "\n".join(line.rstrip() for line in _INVISIBLE.sub("", raw).split("\n"))
            text = text.strip("\n")
            self._pre -= 1
            if text.strip():
                if self._containers:
                    self._lines.append(text)
                else:
                    self._end_block()
                    self.items.append((text, self._main > 0))
        elif tag in ("td", "th"):
            self._cell_depth = max(0, self._cell_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._boundary()

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._title is not None:
            self._title.append(data)
        elif self._heading is not None:
            self._heading[1].append(data)
        else:
            self._line.append(data)

    def close(self) -> None:
        super().close()
        while self._stack:
            self._close(self._stack.pop())
        self._end_block()


def parse_html(raw: str) -> ParsedDocument:
    parser = _ContentParser()
    parser.feed(raw)
    parser.close()
    items = parser.items
    if any(in_main and isinstance(item, str) for item, in_main in items):
        items = [(item, in_main) for item, in_main in items if in_main]
    title = parser.title or parser.first_h1
    return ParsedDocument(build_sections([item for item, _ in items]), title)


# -- what a crawler reads from a page -------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageInfo:
    #: ``href`` values as written (resolve them against ``base_href`` or the page URL).
    links: tuple[str, ...] = ()
    canonical: str | None = None
    base_href: str | None = None
    #: ``<meta name="robots">`` (or ``tandembot``) says not to index / not to follow links.
    noindex: bool = False
    nofollow: bool = False


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.canonical: str | None = None
        self.base_href: str | None = None
        self.robots: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "").strip() for name, value in attrs}
        rel = set(values.get("rel", "").lower().split())
        if tag == "a" and values.get("href") and "nofollow" not in rel:
            self.links.append(values["href"])
        elif tag == "link" and "canonical" in rel and values.get("href"):
            self.canonical = self.canonical or values["href"]
        elif tag == "base" and values.get("href"):
            self.base_href = self.base_href or values["href"]
        elif tag == "meta" and values.get("name", "").lower() in ("robots", "tandembot"):
            self.robots.extend(
                part.strip().lower() for part in values.get("content", "").split(",")
            )


def inspect_page(raw: str) -> PageInfo:
    parser = _LinkParser()
    parser.feed(raw)
    parser.close()
    robots = set(parser.robots)
    return PageInfo(
        links=tuple(parser.links),
        canonical=parser.canonical,
        base_href=parser.base_href,
        noindex=bool(robots & {"noindex", "none"}),
        nofollow=bool(robots & {"nofollow", "none"}),
    )


# -- bytes to text ------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode_html(data: bytes, declared_charset: str | None = None) -> str:
    """Decode a page the way browsers mostly do: a byte-order mark, then the charset the
    server declared, then a ``<meta charset>`` near the top, then UTF-8, then Windows-1252
    (which the web treats ISO-8859-1 as)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace")
    candidates = []
    if declared_charset:
        candidates.append(declared_charset)
    found = _META_CHARSET.search(data[:4096])
    if found:
        candidates.append(found.group(1).decode("ascii", errors="ignore"))
    for name in candidates:
        try:
            encoding = codecs.lookup(name).name
        except LookupError:
            continue
        if encoding in ("latin-1", "iso8859-1", "ascii"):
            encoding = "cp1252"
        return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
