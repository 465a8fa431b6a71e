from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tandem_answering.domain.chunking import (
    Section,
    chunk_document,
    chunk_sections,
    parse_markdown,
    parse_plain_text,
)
from tandem_answering.domain.text import split_sentences

pytestmark = pytest.mark.unit

GUIDE = """---
title: Shipping guide
layout: page
---
# Shipping

We ship to most countries.

## International

International orders take **5 to 10** business days.
See [the carrier's site](https://carrier.example/track) for tracking.

### Customs

Customs fees are paid by the recipient.

## Returns
Setext heading below
--------------------

```python
# not a heading
print("hi")
```

- first item
- second item
"""


def test_markdown_sections_follow_the_heading_tree() -> None:
    parsed = parse_markdown(GUIDE)
    assert parsed.title == "Shipping guide"  # front matter wins over the first H1
    paths = [s.heading_path for s in parsed.sections]
    assert paths == [
        ("Shipping",),
        ("Shipping", "International"),
        ("Shipping", "International", "Customs"),
        ("Shipping", "Setext heading below"),
    ]


def test_inline_markdown_becomes_plain_text() -> None:
    parsed = parse_markdown(GUIDE)
    international = parsed.sections[1].blocks[0]
    assert international == (
        "International orders take 5 to 10 business days. See the carrier's site for tracking."
    )


def test_code_and_lists_keep_their_lines() -> None:
    parsed = parse_markdown(GUIDE)
    code, items = parsed.sections[3].blocks
    assert code == '# not a heading\nprint("hi")'
    assert items == "- first item\n- second item"


def test_first_h1_is_the_title_without_front_matter() -> None:
    assert parse_markdown("# Refund policy\n\nText.").title == "Refund policy"
    assert parse_markdown("Just text.").title is None


def test_comments_and_link_definitions_are_dropped() -> None:
    parsed = parse_markdown("Visible <!-- hidden --> text.\n\n[ref]: https://x.example\n")
    assert parsed.sections[0].blocks == ("Visible text.",)


def test_plain_text_paragraphs() -> None:
    parsed = parse_plain_text("First line\nsame paragraph.\n\n\nSecond   paragraph.")
    assert parsed.sections == (Section((), ("First line\nsame paragraph.", "Second paragraph.")),)


def test_small_section_is_one_chunk() -> None:
    _, chunks = chunk_document("# Title\n\nOne.\n\nTwo.", "markdown")
    assert [(c.heading_path, c.text) for c in chunks] == [(("Title",), "One.\n\nTwo.")]


def test_chunks_never_cross_headings() -> None:
    _, chunks = chunk_document("# A\n\nalpha\n\n# B\n\nbeta", "markdown")
    assert [(c.position, c.heading_path, c.text) for c in chunks] == [
        (0, ("A",), "alpha"),
        (1, ("B",), "beta"),
    ]


def test_long_sections_split_with_sentence_overlap() -> None:
    sentences = [f"Sentence number {i} explains one more detail." for i in range(40)]
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, 40, 4)]
    chunks = chunk_sections(
        [Section(("Long",), tuple(paragraphs))], max_chars=400, overlap_chars=100
    )
    assert len(chunks) > 3
    assert all(len(c.text) <= 400 for c in chunks)
    for previous, current in itertools.pairwise(chunks):
        # The next chunk opens with the previous one's closing sentences.
        carried = current.text.split("\n\n")[0]
        assert carried.endswith(split_sentences(previous.text)[-1])
        assert len(carried) <= 100
    # Nothing is lost: every sentence appears in some chunk.
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_a_single_huge_paragraph_is_cut_at_sentences() -> None:
    block = " ".join(f"Part {i} of the very long paragraph." for i in range(100))
    chunks = chunk_sections([Section((), (block,))], max_chars=200, overlap_chars=0)
    assert all(len(c.text) <= 200 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)


def test_a_token_longer_than_a_chunk_is_hard_cut() -> None:
    chunks = chunk_sections([Section((), ("x" * 250,))], max_chars=100, overlap_chars=0)
    assert [len(c.text) for c in chunks] == [100, 100, 50]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported format"):
        chunk_document("x", "docx")


@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400),
        max_size=8,
    ),
    st.integers(min_value=60, max_value=600),
    st.integers(min_value=0, max_value=300),
)
def test_every_chunk_fits_and_positions_count_up(
    blocks: list[str], max_chars: int, overlap: int
) -> None:
    blocks = [b.strip() for b in blocks if b.strip()]
    chunks = chunk_sections(
        [Section(("H",), tuple(blocks))], max_chars=max_chars, overlap_chars=overlap
    )
    assert all(0 < len(c.text) <= max_chars for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_long_lists_are_cut_between_items() -> None:
    items = "\n".join(f"{i}. Step number {i} does one more thing for you." for i in range(1, 30))
    chunks = chunk_sections([Section(("Steps",), (items,))], max_chars=300, overlap_chars=0)
    assert all(len(c.text) <= 300 for c in chunks)
    for chunk in chunks:
        assert all(line.split(". ", 1)[0].isdigit() for line in chunk.text.split("\n"))
