"""Scenarios loaded and validated against the schema (:mod:`simulation.schema`,
docs/scenarios.md).

:func:`load_scenario` reads a YAML file (with the limits of
:mod:`simulation.loading`), applies overrides and validates it; every mistake
becomes a :class:`ScenarioError` whose message is one line naming the file,
the key path, the value (at most a short excerpt) and what is allowed.

The work is shared out: :mod:`simulation.schema` (the sections and their
keys, typed, bounded and documented), :mod:`simulation.messages` (pydantic's
errors for people), :mod:`simulation.sweep_points` (sweep paths, checks and
points) and :mod:`simulation.key_table` (the key table of docs/scenarios.md); their
public names are imported here too, so ``from simulation.scenario import
...`` keeps working.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ScenarioError
from .key_table import key_rows, key_table_markdown  # noqa: F401
from .loading import (EXCERPT, apply_overrides, dump_yaml, excerpt,  # noqa: F401
                      parse_override, read_yaml, safe_load)
from .messages import NOT_YET, describe_error  # noqa: F401
from .names import STOP_EVENTS, TRAITS  # noqa: F401
from .schema import (BOUND_REASONS, MAPPING, MAX_AGENTS, MAX_AMOUNT,  # noqa: F401
                     MAX_COEFFICIENT, MAX_COUNT, MAX_NOISE_SIGMA, MAX_POINTS,
                     MAX_REPLICATES, MAX_TICKS, MAX_WORLD_COUNT, NAME_PATTERN, NAME_RULE,
                     NUMBER, Agent, Amount, Bias, Copy, Count, Immune, Kernel, Landscape,
                     Noise, NonNegative, Range, Rate, Repair, Reproduction, Sampled,
                     Scenario, SeedClone, Stop, Study, StudySimulation, Sweep, Systematic,
                     Ticks, Traits, WorldSection, safe_name)
from .sweep_points import (check_sweep, parameter_field, parameter_paths,  # noqa: F401
                           point_scenario, section_path)


def validate(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping.

    Parameters
    ----------
    data : dict
        The parsed scenario (None, for an empty document, is an error).
    source : str
        Names the scenario in messages (its file path).

    Raises
    ------
    ScenarioError
        One line naming ``source``, the key path, the value and what is allowed.
    """
    if data is None or data == {}:
        raise ScenarioError(f"{source}: empty scenario (it holds no keys; give at "
                            "least a name, or copy a bundled scenario)")
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: the file must be a mapping of keys "
                            f"(name, horizon, agent, ...), not {type(data).__name__}")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        # An unknown key first: it explains the missing key beside it (a typo).
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        line = describe_error(errors[0], source)
        if len(errors) > 1:
            line += f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})"
        raise ScenarioError(line) from None
    if scenario.sweep is not None:
        check_sweep(scenario, source)
    return scenario


def load_scenario(path, overrides: list[str] | None = None, resolve_seed: bool = True,
                  **top_level: Any) -> Scenario:
    """Load, override and validate a scenario file.

    ``top_level`` values that are not None replace top-level keys (the CLI's
    ``--seed``, ``--replicates`` and ``--horizon``). A missing seed is drawn
    from the operating system and recorded, so that the run can be repeated
    (unless ``resolve_seed`` is false: then it stays None for the caller).
    """
    path = Path(path)
    data = read_yaml(path)
    if data is None or data == {}:
        raise ScenarioError(f"{path}: empty scenario (no keys, only blanks or "
                            "comments); give at least a name, or copy a bundled scenario")
    if isinstance(data, dict):
        data.setdefault("name", safe_name(path.stem))
        data = apply_overrides(data, overrides or [], str(path))
        for key, value in top_level.items():
            if value is not None:
                data[key] = value
    scenario = validate(data, str(path))
    if scenario.seed is None and resolve_seed:
        scenario.seed = secrets.randbits(63)
    return scenario


def to_yaml(scenario: Scenario) -> str:
    """The resolved scenario (every default filled in) as YAML."""
    return dump_yaml(scenario.model_dump(mode="json"))
