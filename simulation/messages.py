"""Pydantic's validation errors rendered for people: one line naming the
source, the key path, the value (at most a short excerpt) and what is
allowed, with the bounds and their reasons read from the schema itself."""

from __future__ import annotations

import difflib
import math

from pydantic import BaseModel

from .loading import excerpt, yaml_1_1_hint
from .schema import MAPPING, NAME_RULE, NUMBER, Scenario


NOT_YET = {}  # keys a later version implements: dotted path -> message


def model_for_path(parts, through_containers: bool = False):
    """The section model that a key path leads to (None if it leads to none).

    With ``through_containers`` (for error messages), the path may also pass
    through Optional sections and lists or mappings of sections, whose index
    or key is then the next part (``agent.seed_clones.0``)."""
    import typing

    model = Scenario
    skip = False
    for part in parts:
        if skip:
            skip = False
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        if through_containers:
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if typing.get_origin(ann) in (list, dict):
                ann, skip = args[-1], True
            elif type(None) in typing.get_args(ann) and len(args) == 1:
                ann = args[0]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return model if not skip else None


def bound_text(value) -> str:
    """A bound as text: 10^12 and 2^62 for round large numbers."""
    if isinstance(value, (int, float)) and abs(value) >= 1e5:
        for base in (10, 2):
            k = round(math.log(abs(value), base))
            if base ** k == abs(value):
                return f"{'-' if value < 0 else ''}{base}^{k}"
    return str(value)


def _field_limits(field) -> tuple[list, str | None]:
    """The bound objects (Ge, Le, ...) of a schema field, and the reason for
    its upper bound, looking inside Optional[Annotated[...]] too."""
    import typing

    metadata = list(field.metadata)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    for arg in typing.get_args(field.annotation):
        for meta in typing.get_args(arg)[1:]:
            metadata.extend(getattr(meta, "metadata", []))
            if isinstance(getattr(meta, "json_schema_extra", None), dict):
                extra = meta.json_schema_extra
    return metadata, extra.get("why")


def allowed_range(loc, with_reason: bool = False) -> str | None:
    """'0 <= value <= 1' for a bounded field at ``loc``, from its schema
    (with the reason for the upper bound if asked)."""
    model = model_for_path(loc[:-1], through_containers=True)
    field = model.model_fields.get(loc[-1]) if model is not None else None
    if field is None:
        return None
    low = high = None
    metadata, why = _field_limits(field)
    for meta in metadata:
        for attr, side in (("ge", "low"), ("gt", "low"), ("le", "high"), ("lt", "high")):
            value = getattr(meta, attr, None)
            if value is not None:
                op = "<=" if attr in ("ge", "le") else "<"
                if side == "low":
                    low = f"{bound_text(value)} {op} "
                else:
                    high = f" {op} {bound_text(value)}"
    if low is None and high is None:
        return None
    reason = f": {why}" if with_reason and why and high else ""
    return f"{low or ''}value{high or ''}{reason}"


_KINDS = {  # pydantic error type -> what is allowed
    "float_type": "must be a number", "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false", "string_type": "must be text",
    "model_type": "must be a section (a mapping of keys)",
    "dict_type": "must be a mapping", "list_type": "must be a list",
    "finite_number": "must be a finite number",
}


def _got(value, kind: str) -> str:
    """What kind of value was given, for a type error of ``kind``."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "an empty value (null)"
    if isinstance(value, str):
        hint = yaml_1_1_hint(value, bool if kind == "bool_type" else float)
        if hint and kind != "string_type":
            return f"text ({hint})"
        if kind in ("float_type", "int_type", "int_from_float"):
            return "text (write numbers without quotes)"
        return "text"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return type(value).__name__


def describe_error(err, source) -> str:
    loc = [excerpt(p, 40) if not isinstance(p, str) or not p.isprintable() else p[:40]
           for p in err["loc"] if p not in (NUMBER, MAPPING)]  # (a key with a newline: quoted)
    path = ".".join(loc) if loc else "(top level)"
    if len(path) > 120:
        path = path[:117] + "..."
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        if path in NOT_YET:
            return f"{source}: {path}: {NOT_YET[path]}"
        parent = model_for_path(loc[:-1], through_containers=True)
        allowed = sorted(parent.model_fields) if parent is not None else []
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"; did you mean {'.'.join(loc[:-1] + [close[0]])!r}?" if close else ""
        return (f"{source}: {path}: unknown key{hint} "
                f"(allowed here: {', '.join(allowed)})")
    if kind == "missing":
        return f"{source}: {path}: required key is missing"
    if kind == "invalid_key" or (loc and loc[-1] == "[key]"):
        where = ".".join(loc[:-2] if loc[-1] == "[key]" else loc[:-1]) or "(top level)"
        if kind == "literal_error":
            return (f"{source}: {where}: unknown key {excerpt(value)} (allowed: "
                    f"{err.get('ctx', {}).get('expected', '')})")
        return f"{source}: {where}: key {excerpt(value)} must be text (a name, e.g. horizon)"
    msg = " ".join(err["msg"].split())
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        allowed = allowed_range(loc, with_reason=kind.startswith("less"))
        if allowed:
            msg = f"out of range (allowed: {allowed})"
    elif kind == "int_type" and isinstance(value, float) and allowed_range(loc) and (
            math.isinf(value) or (value.is_integer() and abs(value) >= 2**63)):
        # A whole number too large for any integer (1e19): its range is what is wrong.
        msg = f"out of range (allowed: {allowed_range(loc)})"
    elif kind in _KINDS:
        allowed = allowed_range(loc)
        msg = f"{_KINDS[kind]}{f' ({allowed})' if allowed else ''}"
        if kind != "finite_number":
            msg += f", not {_got(value, kind)}"
    elif kind == "string_pattern_mismatch" and loc == ["name"]:
        msg = NAME_RULE
    elif kind == "string_too_long":
        msg = f"too long (at most {err.get('ctx', {}).get('max_length')} characters)"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if isinstance(value, dict) and kind in ("value_error", "assertion_error"):
        return f"{source}: {path}: {msg}"
    return f"{source}: {path} = {excerpt(value)}: {msg}"
