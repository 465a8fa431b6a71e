"""The committed AsyncAPI/OpenAPI documents and event schemas match the code.

Run `make docs` to regenerate them after changing subscribers, routes or events.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "tools" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_api_documents_are_current() -> None:
    gen = _generator()
    stale = gen.stale(gen.generated())
    assert not stale, "stale generated documents (run `make docs`): " + ", ".join(
        str(p.relative_to(REPO)) for p in stale
    )
