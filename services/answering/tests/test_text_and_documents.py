from __future__ import annotations

import pytest
from tandem_answering.domain.chunking import Chunk
from tandem_answering.domain.documents import (
    InvalidDocumentError,
    SourceDocument,
    body_text,
    chunk_uuid,
    content_hash,
    title_text,
)
from tandem_answering.domain.text import content_terms, split_sentences, strip_inline_markdown
from tandem_answering.entrypoints.cli import document_id_for

pytestmark = pytest.mark.unit


def test_sentences_split_at_terminal_punctuation() -> None:
    text = "Open Settings. Then choose Billing! Is it there? Yes, e.g. Dr. Smith said so. Done"
    assert split_sentences(text) == [
        "Open Settings.",
        "Then choose Billing!",
        "Is it there?",
        "Yes, e.g. Dr. Smith said so.",
        "Done",
    ]


def test_sentences_split_at_line_breaks_and_cjk_stops() -> None:
    assert split_sentences("- one\n- two") == ["- one", "- two"]
    assert split_sentences("注文を確認します。発送は明日です。") == [
        "注文を確認します。",
        "発送は明日です。",
    ]


def test_decimals_and_lowercase_continuations_do_not_split() -> None:
    assert split_sentences("Version 2.5 is out. it works") == ["Version 2.5 is out. it works"]


def test_inline_markdown() -> None:
    assert strip_inline_markdown("**Bold** and *it* and `code` and [link](http://a.b/c_(d))") == (
        "Bold and it and code and link"
    )
    assert strip_inline_markdown("snake_case_name stays") == "snake_case_name stays"


def test_content_terms_drop_stop_words_and_stem() -> None:
    assert content_terms("How do I cancel my orders?") == {"cancel", "order"}


def document(**overrides: str) -> SourceDocument:
    values = {"site_id": "acme", "document_id": "faq", "title": "FAQ", "text": "Hello."}
    values.update(overrides)
    return SourceDocument(**values)  # type: ignore[arg-type]


def test_content_hash_changes_with_content_and_model() -> None:
    base = content_hash(document(), model_version="m1")
    assert base == content_hash(document(), model_version="m1")
    assert base != content_hash(document(text="Hello!"), model_version="m1")
    assert base != content_hash(document(title="Other"), model_version="m1")
    assert base != content_hash(document(), model_version="m2")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("site_id", "acme/other"),
        ("site_id", ""),
        ("site_id", "x" * 65),
        ("document_id", "a/b"),
        ("document_id", "-leading"),
        ("title", "   "),
        ("text", "  \n "),
    ],
)
def test_invalid_documents_are_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidDocumentError):
        document(**{field: value})


def test_chunk_ids_are_deterministic_per_content() -> None:
    assert chunk_uuid("acme", "faq", "h1", 0) == chunk_uuid("acme", "faq", "h1", 0)
    assert chunk_uuid("acme", "faq", "h1", 0) != chunk_uuid("acme", "faq", "h2", 0)
    assert chunk_uuid("acme", "faq", "h1", 0) != chunk_uuid("other", "faq", "h1", 0)


def test_embedded_texts() -> None:
    chunk = Chunk(0, ("Shipping", "Customs"), "Fees are paid by the recipient.")
    assert body_text(chunk) == "Shipping > Customs\nFees are paid by the recipient."
    assert title_text("Shipping guide", chunk.heading_path) == "Shipping guide — Customs"
    assert title_text("Shipping", ("Shipping",)) == "Shipping"
    assert title_text("FAQ", ()) == "FAQ"


def test_cli_document_ids_from_paths() -> None:
    assert document_id_for("guide/Install Tandem.md") == "guide:Install-Tandem"
    assert document_id_for("README.md") == "README"
    with pytest.raises(InvalidDocumentError):
        document_id_for("///.md")


def test_numbered_list_markers_are_not_sentences() -> None:
    assert split_sentences("5. Gateway pushes it. 6. An agent joins.") == [
        "5. Gateway pushes it.",
        "6. An agent joins.",
    ]
