"""The table of scenario keys of docs/scenarios.md, generated from the schema (a test
keeps the two identical)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from .messages import allowed_range
from .schema import Scenario


def key_rows(model=Scenario, prefix=""):
    """(key path, allowed values, default, description) of every scenario key,
    from the schema itself: the key table of docs/scenarios.md is generated from this."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(key_rows(ann, f"{path}."))
            continue
        args = getattr(ann, "__args__", ())
        if getattr(ann, "__origin__", None) is dict and issubclass(args[-1], BaseModel):
            # a mapping name -> section (types): its row, then the section's keys
            rows.append((path, _SPECIAL.get(path, "mapping"), {},
                         field.description or ""))
            rows.extend(key_rows(args[-1], f"{path}.NAME."))
            continue
        allowed = allowed_range([*path.split(".")]) or ""
        args = getattr(ann, "__args__", ())
        if getattr(ann, "__origin__", None) is Literal:
            allowed = "one of " + ", ".join(args)
        elif args and getattr(args[0], "__origin__", None) is Literal:
            allowed = "list of " + ", ".join(args[0].__args__)
        if not allowed:
            allowed = getattr(ann, "__name__", str(ann)).replace("typing.", "")
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        rows.append((path, allowed, default, field.description or ""))
    return rows


_SPECIAL = {"seed": "integer 0 <= value < 2^63, or absent",
            "copy.kernel.bias": "-10^6 <= value <= 10^6, or a mapping trait -> such a value",
            "agent.seed_clones": "list of {count, traits} (types: {count, type})",
            "types": "mapping: type name -> its keys (types.NAME.*)",
            "mutations": "list of {from, to, rate}", "agent.initial_type": "a type name",
            "stop.type": "a type name", "types.NAME.defector": "true, false or absent",
            "name": "1-100 of A-Z a-z 0-9 . _ - (no leading .)",
            "description": "text, up to 10000 characters", "record_clones": "true or false",
            "sweep": "a design: grid, random or latin_hypercube (see Sweeps)",
            "study": "sizes, horizons, target, simulate (see Rare events: the scaling study)"}


def key_table_markdown() -> str:
    """The table of scenario keys in docs/scenarios.md (a test keeps the two identical)."""
    import json

    lines = ["| key | allowed | default | meaning |", "|---|---|---|---|"]
    for path, allowed, default, desc in key_rows():
        allowed = _SPECIAL.get(path, allowed)
        if path == "name":
            shown = "file stem"
        elif default is None:
            shown = "drawn, recorded" if path == "seed" else "none"
        else:
            shown = default if isinstance(default, str) else json.dumps(default)
        lines.append(f"| `{path}` | {allowed} | {shown} | {' '.join(desc.split())} |")
    return "\n".join(lines) + "\n"
