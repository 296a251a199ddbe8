"""JSON Schemas of the events: exported to `libs/contracts/schemas/` (`make schemas`) and
checked by tests to stay compatible with what was published before.

Compatible means a consumer built on the old schema still reads new messages: no field
removed, no field's type changed, no new required field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crm_contracts.events import EVENT_TYPES, event_type_of

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def current_schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for cls in EVENT_TYPES:
        version = cls.model_fields["schema_version"].default
        out[f"{event_type_of(cls)}.v{version}.json"] = cls.model_json_schema(mode="serialization")
    return out


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return _resolve(schema, schema["$defs"][ref.rsplit("/", 1)[-1]])
    return node


def _shape(schema: dict[str, Any], node: dict[str, Any]) -> object:
    """A comparable summary of a field's type, following $refs."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        return sorted((_shape(schema, n) for n in node["anyOf"]), key=repr)
    if node.get("type") == "object" and "properties" in node:
        return {k: _shape(schema, v) for k, v in node["properties"].items()}
    return node.get("type", node.get("const", "any"))


def incompatibilities(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """What in `new` would break a consumer of `old` (empty list: compatible)."""
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_field in old_props.items():
        if name not in new_props:
            problems.append(f"{path}{name}: removed")
            continue
        old_shape, new_shape = _shape(old, old_field), _shape(new, new_props[name])
        if isinstance(old_shape, dict) and isinstance(new_shape, dict):
            problems += incompatibilities(
                _resolve(old, old_field) | {"$defs": old.get("$defs", {})},
                _resolve(new, new_props[name]) | {"$defs": new.get("$defs", {})},
                f"{path}{name}.",
            )
        elif old_shape != new_shape:
            problems.append(f"{path}{name}: type changed from {old_shape} to {new_shape}")
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(added_required):
        problems.append(f"{path}{name}: new required field")
    return problems


def export(directory: Path = SCHEMA_DIR, check_only: bool = False) -> list[str]:
    """Write the schemas; refuse (and write nothing) if one breaks its published version."""
    directory.mkdir(parents=True, exist_ok=True)
    problems, changed = [], []
    schemas = current_schemas()
    for name, schema in schemas.items():
        target = directory / name
        if target.exists():
            old = json.loads(target.read_text())
            problems += [f"{name}: {p}" for p in incompatibilities(old, schema)]
            if old == schema:
                continue
        changed.append(name)
    if problems or check_only:
        return problems or [f"{n}: not exported" for n in changed]
    for name in changed:
        (directory / name).write_text(json.dumps(schemas[name], indent=2, sort_keys=True) + "\n")
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only verify, write nothing")
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args()
    problems = export(args.out, check_only=args.check)
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
