"""Regenerate the committed API documents from the code.

* ``docs/asyncapi/<service>.json`` — AsyncAPI 3.0 from each service's faststream broker
* ``services/gateway/openapi.json`` — the gateway's OpenAPI (public widget API and more)
* ``libs/events/schemas/*.json`` — JSON Schema of every event

``python tools/gen_docs.py --check`` exits 1 and names the stale files instead of writing
(the test suite runs the same comparison).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("gateway", "conversation", "answering", "escalation", "analytics")


def _pretty(text: str) -> str:
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def generated() -> dict[Path, str]:
    from tandem_events.schemas import export_schemas

    out: dict[Path, str] = {}
    for service in SERVICES:
        module = importlib.import_module(f"tandem_{service}.asyncapi")
        out[REPO / "docs" / "asyncapi" / f"{service}.json"] = _pretty(module.build_asyncapi())
    gateway_main = importlib.import_module("tandem_gateway.__main__")
    out[REPO / "services" / "gateway" / "openapi.json"] = _pretty(gateway_main.openapi_document())
    for name, schema in export_schemas().items():
        path = REPO / "libs" / "events" / "schemas" / f"{name}.json"
        out[path] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def stale(files: dict[Path, str]) -> list[Path]:
    return [p for p, text in files.items() if not p.exists() or p.read_text() != text]


def main(argv: list[str]) -> int:
    files = generated()
    if "--check" in argv:
        outdated = stale(files)
        for path in outdated:
            print(f"stale: {path.relative_to(REPO)}", file=sys.stderr)
        return 1 if outdated else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
