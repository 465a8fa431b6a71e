"""The CLI's progress bar: what it draws on a terminal, and that it stays out of pipes."""

from __future__ import annotations

import io
import uuid

import pytest
from tandem_answering.entrypoints.ingest_commands import ProgressBar
from tandem_answering.service_layer.jobs import ProgressSnapshot

pytestmark = pytest.mark.unit


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def snapshot(done: int, total: int, **extra: object) -> ProgressSnapshot:
    fields: dict[str, object] = {
        "job_id": uuid.uuid4(),
        "kind": "crawl",
        "state": "running",
        "unit": "documents",
        "done": done,
        "total": total,
        "failed": 0,
        "skipped": 0,
        "current": None,
    }
    fields.update(extra)
    return ProgressSnapshot(**fields)  # type: ignore[arg-type]


def test_the_bar_shows_counts_and_the_current_item_within_the_width() -> None:
    bar = ProgressBar(Terminal())
    bar.update(snapshot(3, 12, failed=1, skipped=2, current="https://x.test/" + "p" * 200))
    line = bar.render(80)
    assert line.startswith("[")
    assert "   6/12 documents · 1 failed · 2 skipped · …" in line
    assert len(line) < 80
    assert line.count("#") == 10  # half of a 20-character bar


def test_a_terminal_gets_redraws_and_lines_above_the_bar() -> None:
    stream = Terminal()
    out = io.StringIO()
    bar = ProgressBar(stream, redraws_per_second=1000)
    bar.update(snapshot(1, 2))
    bar.println("indexed    a", stream=out)
    bar.update(snapshot(2, 2, state="completed"))
    bar.close()
    assert out.getvalue() == "indexed    a\n"
    drawn = stream.getvalue()
    assert drawn.count("\r\033[K") >= 3
    assert "2/2 documents" in drawn and drawn.endswith("\n")


def test_no_bar_outside_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.update(snapshot(1, 2))
    bar.close()
    assert not bar.enabled and stream.getvalue() == ""
