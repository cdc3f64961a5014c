"""Sweep points: the parameter paths a sweep may vary, the checks of a
sweep's design before anything runs, and the scenario of one point."""

from __future__ import annotations

import copy as _copy
import difflib
import math

from pydantic import BaseModel, ValidationError

from .errors import ScenarioError
from .key_table import key_rows
from .loading import EXCERPT, excerpt
from .messages import bound_text, describe_error, model_for_path
from .schema import BOUND_REASONS, MAX_POINTS, Scenario


def parameter_field(path: str):
    """The schema field of a dotted parameter path, or None if there is none
    (or it names a section rather than a parameter)."""
    parts = path.split(".")
    model = model_for_path(parts[:-1])
    if model is None or parts[-1] not in model.model_fields:
        return None
    field = model.model_fields[parts[-1]]
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return None
    return field


def parameter_paths() -> list[str]:
    """Every dotted parameter path a sweep may vary."""
    return [path for path, *_ in key_rows() if path not in ("name", "description")]


def section_path(path: str) -> bool:
    """Whether a dotted path names a section of the scenario (``copy.kernel``),
    whose sweep values are whole mappings, rather than a parameter."""
    parts = path.split(".")
    return parts[0] not in ("sweep", "study") and model_for_path(parts) is not None


def _check_path(path: str, where: str, source: str, whole: bool) -> None:
    """A sweepable path: a scalar parameter, or (``whole``: a grid or zip
    axis, whose values may be mappings) a section."""
    if whole and section_path(path):
        return
    if path in ("seed", "replicates", "name", "description", "sweep", "study"):
        raise ScenarioError(f"{source}: {where}: not a sweepable parameter path ({path} is "
                            "the sweep's own: one master seed, replicate count and name "
                            "per sweep; each point's replicates get seeds derived from the "
                            "master seed)")
    if parameter_field(path) is None:
        known = parameter_paths()
        close = difflib.get_close_matches(path, known, n=1) if len(path) <= 100 else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(f"{source}: {where}: not a sweepable parameter path{hint}")
    if getattr(parameter_field(path).annotation, "__origin__", None) in (list, dict):
        raise ScenarioError(f"{source}: {where}: a list or mapping cannot be swept "
                            "(sweep scalar parameters or whole sections; make one "
                            "file per variant)")


def check_sweep(scenario: Scenario, source: str) -> None:
    """Unknown paths, zip groups of unequal lengths, a path swept twice and
    grid values that make an invalid scenario are errors now, before
    anything runs (sampled points are checked when drawn)."""
    sweep = scenario.sweep
    base = scenario.model_dump(mode="json", exclude={"sweep"})
    design = next((k for k in ("grid", "random", "latin_hypercube") if getattr(sweep, k)),
                  "grid")
    if design != "grid":
        ranges = getattr(sweep, design).ranges
        for path, rng in ranges.items():
            where = f"sweep.{design}.ranges.{path[:EXCERPT]}"
            _check_path(path, where, source, whole=False)
            for value in (rng.low, rng.high):
                point_scenario(base, {path: value}, source, where)
        return
    for index, group in enumerate(sweep.zip or []):
        lengths = {path: len(values) for path, values in group.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{p[:EXCERPT]}: {n}" for p, n in lengths.items())
            raise ScenarioError(
                f"{source}: sweep.zip[{index}]: lists of different lengths ({shown}); "
                "the parameters of a zip group vary together, so their lists must be "
                "equally long")
    axes = sweep.axes()
    points = math.prod(len(values) for _, _, values in axes)
    if points > MAX_POINTS:
        what = (("sweep.grid", "the product of the list lengths") if not sweep.zip else
                ("sweep", "the product of the grid's list lengths and the zip groups' "
                 "lengths"))
        raise ScenarioError(
            f"{source}: {what[0]}: {points} points ({what[1]}); at most "
            f"{bound_text(MAX_POINTS)}: {BOUND_REASONS['points']}")
    seen: dict[str, str] = {}
    for where, paths, _ in axes:
        for path in paths:
            here = where if where.startswith("sweep.grid") else f"{where}.{path[:EXCERPT]}"
            _check_path(path, here[:EXCERPT + 20], source, whole=True)
            for other, other_where in seen.items():
                if path == other or path.startswith(other + ".") or \
                        other.startswith(path + "."):
                    raise ScenarioError(
                        f"{source}: {here}: {path[:EXCERPT]} is swept already by "
                        f"{other_where} ({other[:EXCERPT]}); sweep each parameter once")
            seen[path] = here
    for where, paths, values in axes:
        for row in values:
            for path, value in zip(paths, row):
                if section_path(path) and not isinstance(value, dict):
                    raise ScenarioError(
                        f"{source}: {where}: {path} = {excerpt(value)}: {path} is a "
                        "section; each of its values must be a mapping of its keys "
                        f"(e.g. {{{_example_keys(path)}}})")
            point_scenario(base, dict(zip(paths, row)), source, where)


def _example_keys(path: str) -> str:
    model = model_for_path(path.split("."))
    return ", ".join(f"{name}: ..." for name in list(model.model_fields)[:2])


def point_scenario(base: dict, overrides: dict, source: str, where: str = "sweep point"):
    """The scenario of one sweep point: ``base`` (a resolved scenario's dump)
    with ``overrides`` (dotted path -> value), validated."""
    data = _copy.deepcopy(base)
    data.pop("sweep", None)
    data.pop("study", None)
    kernel = data.get("copy", {}).get("kernel", {})
    if "copy.kernel.type" in overrides and overrides["copy.kernel.type"] != kernel.get("type"):
        # Another kernel type: its own keys take their defaults, not the
        # base kernel's (which it would reject as unused).
        data.setdefault("copy", {})["kernel"] = {}
    for path, value in overrides.items():
        node = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ScenarioError(f"{source}: {where}: {describe_error(err, 'value').split(': ', 1)[1]}"
                            ) from None
