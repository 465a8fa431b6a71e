"""JSON Schema export of every event and the backward-compatibility check CI runs.

Snapshots live in ``libs/events/schemas/<EventType>.v<version>.json``. A change is
compatible for the same version when every existing field keeps its type and no new field
is required; anything else must bump ``schema_version`` and register an upcaster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .registry import EVENT_TYPES

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def export_schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for event_cls in EVENT_TYPES:
        name = event_cls.model_fields["event_type"].default
        version = event_cls.model_fields["schema_version"].default
        schema = event_cls.model_json_schema(mode="serialization")
        schema["$id"] = f"https://tandem.dev/schemas/events/{name}.v{version}.json"
        schema["x-topic"] = event_cls.topic
        out[f"{name}.v{version}"] = schema
    return out


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(schema["$defs"][ref.removeprefix("#/$defs/")])
    return node


def _shape(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """A comparable description of a property's type, ignoring titles and descriptions."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        return ("anyOf", tuple(sorted(repr(_shape(schema, n)) for n in node["anyOf"])))
    if node.get("type") == "array":
        items = node.get("items")
        if isinstance(items, dict):
            return ("array", _shape(schema, items))
        return ("array", repr(node.get("prefixItems")))
    if node.get("type") == "object" and "properties" in node:
        return ("object", tuple(sorted(node["properties"])))
    return (node.get("type"), node.get("const"), tuple(node.get("enum", ())), node.get("format"))


def compatibility_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why ``new`` cannot replace ``old`` under the same schema version (empty when it can)."""
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for field, old_node in old_props.items():
        if field not in new_props:
            problems.append(f"field {field!r} was removed")
        elif _shape(old, old_node) != _shape(new, new_props[field]):
            problems.append(f"field {field!r} changed type")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for field in sorted(newly_required):
        problems.append(f"field {field!r} became required")
    return problems


def write_snapshots(directory: Path = SNAPSHOT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in export_schemas().items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_snapshots():
        print(written_path)
