"""HTML and PDF documents: what the parsers keep, drop and call the title; format
detection and decoding of uploaded bytes."""

from __future__ import annotations

import pytest
from tandem_answering.domain.chunking import chunk_document
from tandem_answering.domain.documents import SourceDocument, content_hash
from tandem_answering.domain.errors import InvalidDocumentError
from tandem_answering.domain.formats import decode_text, detect_format, load_bytes
from tandem_answering.domain.html_document import decode_html, inspect_page, parse_html
from tandem_answering.domain.pdf_document import extract_pdf, parse_pdf_text

pytestmark = pytest.mark.unit

PAGE = """<!doctype html>
<html lang="en"><head>
  <meta charset="utf-8"><title>Returns &amp; refunds | Kettle Co</title>
  <script>window.analytics = {id: "returns"};</script><style>p { color: red }</style>
</head><body>
  <header><a href="/">Kettle Co</a><nav><ul><li><a href="/shop">Shop</a></li></ul></nav></header>
  <main>
    <h1>Returns <a class="headerlink" href="#returns">¶</a></h1>
    <p>Send a kettle back within <strong>30 days</strong>
       of delivery.</p>
    <h2>How to return</h2>
    <ol><li><p>Print the label</p></li><li>Drop the parcel off<ul><li>any post office</li></ul></li></ol>
    <h3>Costs</h3>
    <table><tr><th>Country</th><th>Fee</th></tr><tr><td><p>UK</p></td><td>free</td></tr></table>
    <aside>You may also like: descaler</aside>
    <div hidden>internal note</div>
    <h2>Refunds</h2>
    <p>Refunds reach your card<br>within five business days.</p>
    <pre>ORDER-ID  1234
  line two</pre>
  </main>
  <footer>© Kettle Co</footer>
</body></html>
"""


def test_html_headings_become_the_heading_path_and_furniture_is_dropped() -> None:
    parsed = parse_html(PAGE)
    assert parsed.title == "Returns & refunds | Kettle Co"
    assert [(s.heading_path, s.blocks) for s in parsed.sections] == [
        (("Returns",), ("Send a kettle back within 30 days of delivery.",)),
        (
            ("Returns", "How to return"),
            ("1. Print the label\n2. Drop the parcel off\n  - any post office",),
        ),
        (("Returns", "How to return", "Costs"), ("Country | Fee\nUK | free",)),
        (
            ("Returns", "Refunds"),
            ("Refunds reach your card\nwithin five business days.", "ORDER-ID  1234\n  line two"),
        ),
    ]
    everything = " ".join(b for s in parsed.sections for b in s.blocks)
    for dropped in ("analytics", "color", "Shop", "descaler", "internal note", "©", "Kettle Co"):
        assert dropped not in everything


def test_html_without_main_keeps_the_body_and_takes_the_first_h1_as_title() -> None:
    parsed = parse_html(
        "<body><nav>Menu</nav><h1>Grinder care</h1><p>Run rice through it.</p>"
        "<script>ignored()</script><div>Brush it <em>clean</em>.</div></body>"
    )
    assert parsed.title == "Grinder care"
    assert parsed.sections[0].heading_path == ("Grinder care",)
    assert parsed.sections[0].blocks == ("Run rice through it.", "Brush it clean.")


def test_html_that_is_broken_still_parses() -> None:
    parsed = parse_html("<p>one<p>two<ul><li>a<li>b</ul><div><span>three</div></i></b>")
    assert parsed.sections[0].blocks == ("one", "two", "- a\n- b", "three")
    assert parse_html("").sections == ()
    assert parse_html("<script>only()</script>").sections == ()


def test_html_chunks_keep_title_and_headings() -> None:
    parsed, chunks = chunk_document(PAGE, "html", max_chars=200, overlap_chars=0)
    assert parsed.title
    assert chunks[0].heading_path == ("Returns",)
    assert all(len(c.text) <= 200 for c in chunks)


def test_html_content_hash_ignores_markup_that_changes_on_every_request() -> None:
    def document(html: str) -> SourceDocument:
        return SourceDocument(site_id="s", document_id="d", title="T", text=html, format="html")

    first = document(PAGE.replace('"returns"', '"nonce-1"'))
    second = document(PAGE.replace('"returns"', '"nonce-2"').replace("<p>", "<p class=x>"))
    changed = document(PAGE.replace("30 days", "14 days"))
    assert content_hash(first, model_version="m") == content_hash(second, model_version="m")
    assert content_hash(first, model_version="m") != content_hash(changed, model_version="m")


def test_inspect_page_reads_links_canonical_and_robots_meta() -> None:
    info = inspect_page(
        '<head><base href="/docs/"><link rel="canonical" href="https://x.test/a">'
        '<meta name="robots" content="noindex, follow"></head>'
        '<a href="b.html">b</a><a rel="nofollow" href="/login">x</a><a>no href</a>'
    )
    assert info.links == ("b.html",)
    assert info.canonical == "https://x.test/a"
    assert info.base_href == "/docs/"
    assert (info.noindex, info.nofollow) == (True, False)
    assert inspect_page('<meta name="robots" content="none">').nofollow


def test_decode_html_follows_declared_and_meta_charsets() -> None:
    assert decode_html("Café".encode()) == "Café"
    assert decode_html("Café".encode("cp1252")) == "Café"
    assert decode_html('<meta charset="iso-8859-1">Caf\xe9'.encode("latin-1")).endswith("Café")
    assert decode_html("Café".encode("utf-16"), None) == "Café"
    assert decode_html("Café".encode("cp1252"), "windows-1252") == "Café"


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, one page per list."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops += [f"({escaped}) Tj", "T*"]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {len(objects) + 2} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = None
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
        info = len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = (
        f"<< /Size {len(objects) + 1} /Root 1 0 R" + (f" /Info {info} 0 R" if info else "") + " >>"
    )
    out += b"trailer\n" + trailer.encode() + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_pdf_text_per_page_with_metadata_title() -> None:
    data = make_pdf(
        [
            ["Kettle warranty", "Every kettle has a two-year war-", "ranty from delivery."],
            ["Claims", "Write to support within 30 days."],
        ],
        title="Warranty terms",
    )
    extracted = extract_pdf(data)
    assert (extracted.pages, extracted.empty_pages, extracted.title) == (2, 0, "Warranty terms")
    assert extracted.text.count("\f") == 1
    parsed = parse_pdf_text(extracted.text)
    assert parsed.title == "Kettle warranty"
    assert parsed.sections[0].heading_path == ()
    blocks = parsed.sections[0].blocks
    assert blocks[0] == "Kettle warranty Every kettle has a two-year warranty from delivery."
    assert blocks[1] == "Claims Write to support within 30 days."


def test_pdf_without_text_layer_or_broken_is_a_clear_error() -> None:
    with pytest.raises(InvalidDocumentError, match="scanned PDF without a text layer"):
        extract_pdf(make_pdf([[], []]))
    with pytest.raises(InvalidDocumentError, match="not a readable PDF"):
        extract_pdf(b"%PDF-1.7\n1 0 obj garbage")
    with pytest.raises(InvalidDocumentError, match="not a PDF"):
        extract_pdf(b"hello")
    with pytest.raises(InvalidDocumentError, match="pages"):
        extract_pdf(make_pdf([["a"], ["b"]]), max_pages=1)


def test_format_detection_by_suffix_type_and_content() -> None:
    assert detect_format("guide.MD", None, b"# Hi") == "markdown"
    assert detect_format("notes.txt", "text/plain", b"hi") == "text"
    assert detect_format("page.htm", None, b"<p>") == "html"
    assert detect_format("upload", "text/html; charset=utf-8", b"<p>") == "html"
    assert detect_format("upload", "application/octet-stream", b"<!DOCTYPE html><p>") == "html"
    assert detect_format("file.txt", "text/plain", b"%PDF-1.4 ...") == "pdf"
    assert detect_format("sheet.xlsx", "application/vnd.ms-excel", b"PK\x03\x04") is None
    assert detect_format(None, None, b"just text") is None


def test_loading_bytes_of_every_format() -> None:
    assert load_bytes(b"# Title\n\nBody", "markdown").title == "Title"
    assert load_bytes(b"\xef\xbb\xbfplain", "text").text == "plain"
    loaded = load_bytes(b"<title>T</title><p>x</p>", "html")
    assert (loaded.format, loaded.title) == ("html", "T")
    pdf = load_bytes(make_pdf([["First line", "more"]]), "pdf")
    assert (pdf.format, pdf.title, pdf.pages) == ("pdf", "First line", 1)
    with pytest.raises(InvalidDocumentError, match="UTF-8"):
        decode_text(b"caf\xe9")
    with pytest.raises(InvalidDocumentError, match="empty"):
        load_bytes(b"  ", "text")
