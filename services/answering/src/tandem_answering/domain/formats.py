"""From a file's bytes to the text a ``SourceDocument`` holds, whatever its format.

The format comes from the file name's suffix, else its content type, else its first
bytes (a PDF says ``%PDF-``, an HTML page usually ``<!doctype html>`` or ``<html``). A PDF
becomes the text extracted from it (see ``pdf_document``); HTML stays HTML (its parser
runs at chunking time); Markdown and plain text must be UTF-8 (or UTF-16 with a BOM).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from .chunking import PARSERS
from .errors import InvalidDocumentError
from .html_document import decode_html
from .pdf_document import extract_pdf

FORMAT_BY_SUFFIX: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
FORMAT_BY_CONTENT_TYPE: dict[str, str] = {
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
}
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.I | re.S)


def suffix_of(name: str) -> str:
    base = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""


def detect_format(filename: str | None, content_type: str | None, head: bytes) -> str | None:
    """The format of an uploaded file, or None when it is none Tandem can index."""
    if head.lstrip()[:5].startswith(b"%PDF-"):
        return "pdf"
    by_suffix = FORMAT_BY_SUFFIX.get(suffix_of(filename or ""))
    if by_suffix:
        return by_suffix
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in FORMAT_BY_CONTENT_TYPE:
        return FORMAT_BY_CONTENT_TYPE[media]
    if _HTML_START.match(head[:1024]):
        return "html"
    return None


def decode_text(data: bytes) -> str:
    """Markdown and plain text: UTF-8 (a BOM is dropped), or UTF-16 with its BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16").replace("\x00", "")
    try:
        return data.decode("utf-8-sig").replace("\x00", "")
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(
            f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8 and upload again"
        ) from None


@dataclass(frozen=True, slots=True)
class LoadedText:
    text: str
    format: str
    #: The title the file gives itself (PDF metadata, ``<title>``, a first H1), if any.
    title: str | None
    #: PDF pages (0 for other formats).
    pages: int = 0


def load_bytes(data: bytes, fmt: str, *, charset: str | None = None) -> LoadedText:
    """The text to store for a file of format ``fmt``; CPU-bound for PDFs (run it in a
    thread). ``InvalidDocumentError`` when nothing indexable comes out."""
    if fmt == "pdf":
        pdf = extract_pdf(data)
        title = pdf.title or PARSERS["pdf"](pdf.text).title
        return LoadedText(pdf.text, "pdf", title, pdf.pages)
    if fmt == "html":
        text = decode_html(data, charset).replace("\x00", "")
    elif fmt in ("markdown", "text"):
        text = decode_text(data)
    else:
        raise InvalidDocumentError(f"unsupported format {fmt!r}")
    if not text.strip():
        raise InvalidDocumentError("the file is empty")
    return LoadedText(text, fmt, PARSERS[fmt](text).title)
