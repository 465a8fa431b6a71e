"""Knowledge-base documents: identity rules, content hashing, and what gets embedded."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Literal

from .chunking import CHUNKER_VERSION, PARSERS, Chunk

# Defined with the parsers' errors (they raise it too); callers import it from here.
from .errors import InvalidDocumentError

DocumentFormat = Literal["markdown", "text", "html", "pdf"]
FORMATS: tuple[str, ...] = ("markdown", "text", "html", "pdf")

# Site ids become Weaviate tenant names ([A-Za-z0-9_-], at most 64).
SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Document ids travel in URL paths, so no slash; the CLI maps sub-folders to ':'.
DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$")
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._:~-]+")
MAX_DOCUMENT_CHARS = 2_000_000
MAX_TITLE_CHARS = 300

_CHUNK_NAMESPACE = uuid.UUID("3a0d5c1e-8f7b-4e55-9c2a-51b6f0d4e7a9")


@dataclass(frozen=True, slots=True)
class SourceDocument:
    site_id: str
    document_id: str
    title: str
    text: str
    url: str | None = None
    format: DocumentFormat = "markdown"

    def __post_init__(self) -> None:
        validate_site_id(self.site_id)
        validate_document_id(self.document_id)
        if not self.title.strip() or len(self.title) > MAX_TITLE_CHARS:
            raise InvalidDocumentError(f"title must be 1..{MAX_TITLE_CHARS} characters")
        if self.format not in FORMATS:
            raise InvalidDocumentError(f"format must be one of {FORMATS}")
        if len(self.text) > MAX_DOCUMENT_CHARS:
            raise InvalidDocumentError(f"text is longer than {MAX_DOCUMENT_CHARS} characters")
        if not self.text.strip():
            raise InvalidDocumentError("text is empty")


def validate_site_id(site_id: str) -> str:
    if not SITE_ID.match(site_id):
        raise InvalidDocumentError(
            "site_id must be 1..64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return site_id


def validate_document_id(document_id: str) -> str:
    if not DOCUMENT_ID.match(document_id):
        raise InvalidDocumentError(
            "document_id must be 1..200 letters, digits or '._:~-', starting with a letter or digit"
        )
    return document_id


def content_hash(document: SourceDocument, *, model_version: str) -> str:
    """What decides whether re-ingesting changes anything: the content, the chunker and the
    embedding model (new model, new vectors)."""
    material = json.dumps(
        {
            "title": document.title,
            "url": document.url,
            "format": document.format,
            "text": hashed_text(document),
            "chunker": CHUNKER_VERSION,
            "model": model_version,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def hashed_text(document: SourceDocument) -> str:
    """The part of the text that matters. For HTML that is what the parser keeps, not the
    markup: a page whose scripts, nonces or menus change on every request is unchanged
    when its content is, so re-crawling it does not re-index it."""
    if document.format != "html":
        return document.text
    parsed = PARSERS["html"](document.text)
    return json.dumps(
        [parsed.title, [[list(s.heading_path), list(s.blocks)] for s in parsed.sections]],
        ensure_ascii=False,
    )


def chunk_uuid(site_id: str, document_id: str, digest: str, position: int) -> uuid.UUID:
    """Deterministic: re-indexing the same content writes the same objects (an upsert)."""
    return uuid.uuid5(_CHUNK_NAMESPACE, f"{site_id}/{document_id}/{digest}/{position}")


def body_text(chunk: Chunk) -> str:
    """What the ``body`` vector embeds: the chunk under its heading path."""
    if chunk.heading_path:
        return " > ".join(chunk.heading_path) + "\n" + chunk.text
    return chunk.text


def title_text(title: str, heading_path: tuple[str, ...]) -> str:
    """What the ``title`` vector embeds: the document title and the chunk's nearest heading.

    A leading H1 that repeats the title is not repeated.
    """
    parts = [title.strip()]
    if heading_path:
        nearest = heading_path[-1]
        if nearest.strip().casefold() != title.strip().casefold():
            parts.append(nearest)
    return " — ".join(parts)


def document_id_from_name(relative: str) -> str:
    """A file's id from its path under the folder it was found in (or its name):
    ``guide/Install Tandem.md`` -> ``guide:Install-Tandem`` (ids cannot hold '/')."""
    stem = relative.rsplit(".", 1)[0] if "." in relative.rsplit("/", 1)[-1] else relative
    slug = _NOT_IN_ID.sub("-", stem.replace("/", ":")).strip("-.:~")
    if not slug or not DOCUMENT_ID.match(slug[:200]):
        raise InvalidDocumentError(f"{relative}: cannot derive a document id from the name")
    return slug[:200]
