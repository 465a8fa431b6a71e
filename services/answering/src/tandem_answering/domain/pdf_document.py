"""PDF files as knowledge-base documents.

``extract_pdf`` turns the file into text once, at the edge (upload, CLI, crawl): one page
after another, separated by form feeds (``\\f``, as ``pdftotext`` does). That text is what
is stored and hashed, so a knowledge base can be re-chunked or re-embedded without the
original file. ``parse_pdf_text`` turns it into blocks: paragraphs where the text has blank
lines, wrapped lines joined, words hyphenated across a line break joined again. PDFs carry
no reliable heading structure, so the blocks have no heading path; a page break is a
paragraph break, and a passage may run on over it.

pypdf is pure Python and only parses: no I/O, no subprocess. It runs in a thread (the
callers' business), since a long PDF takes a while.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from .errors import InvalidDocumentError
from .sections import ParsedDocument, Section

PAGE_BREAK = "\f"
MAX_PAGES = 3000

_BLANK_LINES = re.compile(r"\n[ \t]*\n")
# "exam-\nple" -> "example" (only before a lower-case letter: "Jean-\nPaul" keeps its dash).
_HYPHENATED = re.compile(r"(\w)-\n(?=[a-zà-ÿ])")
_SPACES = re.compile(r"[ \t\u00a0]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class ExtractedPdf:
    text: str
    #: The title in the file's metadata, when it has a usable one.
    title: str | None
    pages: int
    #: Pages without any text (scans inside an otherwise digital PDF).
    empty_pages: int


def extract_pdf(data: bytes, *, max_pages: int = MAX_PAGES) -> ExtractedPdf:
    """The text of every page; ``InvalidDocumentError`` for what cannot be indexed: not a
    PDF, a password, too many pages, or no text layer at all (a scan)."""
    from pypdf import PdfReader  # imported here: only PDF ingestion pays for it

    # pypdf reports every oddity of a malformed file as a warning; one line per file is
    # plenty for us (the outcome is what the caller reports).
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise InvalidDocumentError("not a PDF file (it does not start with %PDF-)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidDocumentError(
                "the PDF is protected by a password; upload a copy without one"
            )
        pages = len(reader.pages)
    except InvalidDocumentError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        raise InvalidDocumentError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    if pages > max_pages:
        raise InvalidDocumentError(f"the PDF has {pages} pages; at most {max_pages} are indexed")
    texts: list[str] = []
    for page in reader.pages:
        try:
            texts.append(clean_page_text(page.extract_text() or ""))
        except Exception:  # one broken page must not lose the others
            texts.append("")
    empty = sum(1 for text in texts if not text.strip())
    if pages == 0 or empty == pages:
        raise InvalidDocumentError(
            "scanned PDF without a text layer: none of its "
            f"{pages} page{'s' if pages != 1 else ''} has extractable text; "
            "run it through OCR first"
        )
    return ExtractedPdf(PAGE_BREAK.join(texts), _metadata_title(reader), pages, empty)


def _metadata_title(reader: object) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None  # type: ignore[attr-defined]
    except Exception:
        return None
    if not isinstance(title, str):
        return None
    title = _SPACES.sub(" ", _CONTROL.sub("", title)).strip()
    # Producers fill the field with file names and placeholders; those are not titles.
    if not title or title.lower() in ("untitled", "title") or re.search(r"\.(docx?|pdf)$", title):
        return None
    return title[:300]


def clean_page_text(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()


def parse_pdf_text(raw: str) -> ParsedDocument:
    paragraphs: list[str] = []
    for page in raw.split(PAGE_BREAK):
        for paragraph in _BLANK_LINES.split(page.replace("\r\n", "\n")):
            joined = _HYPHENATED.sub(r"\1", paragraph.strip())
            text = _SPACES.sub(" ", " ".join(line.strip() for line in joined.split("\n"))).strip()
            if text:
                paragraphs.append(text)
    if not paragraphs:
        return ParsedDocument(())
    first_line = next(line.strip() for line in raw.split("\n") if line.strip())
    title = first_line.strip(PAGE_BREAK).strip()[:300] or None
    return ParsedDocument((Section((), tuple(paragraphs)),), title)
