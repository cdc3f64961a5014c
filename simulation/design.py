"""A sweep's design: its points (grid, zip, random, Latin hypercube), their
validated scenarios, its corners (what bounds its memory and time) and its
size, without running anything."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np

from .errors import ScenarioError
from .scenario import Scenario, point_scenario

DESIGN_STREAM = 2**32  # spawn key of the random stream that draws sampled designs


def label(value):
    """A swept value as it appears in the runs table: itself, or for a whole
    mapping (a section such as ``copy.kernel``) its compact JSON, one
    readable string per category (``{"type": "cauchy", "scale": 0.01}``)."""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=False)
    return value


def design(scenario: Scenario) -> list[dict]:
    """The sweep's points: one dict (dotted path -> value) per point, in order;
    a whole mapping (a swept section) as its :func:`label`.

    ``grid``: the Cartesian product of the value lists (the first key varies
    slowest), then of the ``zip`` groups (each group's lists varied together,
    one axis). ``random``: uniform (or log-uniform) draws;
    ``latin_hypercube``: ``scipy.stats.qmc.LatinHypercube``. Sampled designs
    draw from the master seed's own stream, so they are fixed by the seed.
    Integer parameters are rounded (``copy.redundancy`` to the nearest odd
    number in its range). A parameter whose values are of different types
    (``copy.kernel.bias: 0.0`` at one point, ``{drive: -0.02}`` at another)
    is labelled by strings at every point (each value's JSON): one column
    type, whatever the point.
    """
    values = design_values(scenario)
    mixed = {path for path in values[0]
             if len({_kind(point[path]) for point in values} - {None}) > 1}
    return [{path: json.dumps(value) if path in mixed else label(value)
             for path, value in point.items()}
            for point in values]


def _kind(value):
    """The column type a swept value takes in the tables (None: any)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return float  # integers and floats share a float column
    return type(value)


def design_values(scenario: Scenario) -> list[dict]:
    """The points of :func:`design` with the swept values themselves (whole
    mappings as mappings): what each point's scenario is built from."""
    from .scenario import parameter_field

    sweep = scenario.sweep
    if sweep is None:
        return [{}]
    if sweep.grid or sweep.zip:
        axes = sweep.axes()
        points = []
        for rows in itertools.product(*(values for _, _, values in axes)):
            point = {}
            for (_, paths, _), row in zip(axes, rows):
                point.update(zip(paths, row))
            points.append(point)
        return points
    sampled = sweep.random or sweep.latin_hypercube
    keys = list(sampled.ranges)
    rng = np.random.default_rng(np.random.SeedSequence(scenario.seed,
                                                       spawn_key=(DESIGN_STREAM,)))
    if sweep.random:
        unit = rng.random((sampled.n, len(keys)))
    else:
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(keys), rng=rng).random(sampled.n)
    points = []
    for row in unit:
        point = {}
        for key, u in zip(keys, row):
            r = sampled.ranges[key]
            if r.log:
                value = math.exp(math.log(r.low) + u * (math.log(r.high) - math.log(r.low)))
            else:
                value = r.low + u * (r.high - r.low)
            if _is_int(parameter_field(key).annotation):
                value = int(round(value))
                if key == "copy.redundancy" and value % 2 == 0:
                    value += 1 if value < r.high else -1  # the nearest odd in range
            point[key] = float(value) if isinstance(value, float) else value
        points.append(point)
    return points


def _is_int(annotation) -> bool:
    """An int field, possibly Optional[...] or Annotated[...]."""
    import typing

    if annotation is int:
        return True
    return any(_is_int(a) for a in typing.get_args(annotation) if a is not type(None))


def seed_point(scenario: Scenario, point: int) -> int:
    """The point whose seeds replicate k of sweep point ``point`` runs with
    (:func:`simulation.run.replicate_seed`): 0 at every point with
    ``sweep.seeds: common`` (the default), so that replicate k of every
    point, and of a plain run of the base scenario or of any point's
    scenario, starts from one seed; ``point`` itself with ``independent``.

    What common seeds share: two points draw identically until the first
    draw that a swept key changes (a probability, a count, a draw made or
    not); from there their streams part. Points that differ only in a key
    that never changes a draw (``copy.redundancy`` without copy errors or
    its cost, a threshold never reached) give identical replicates; points
    that differ in a key acting from the first tick (a birth rate, an error
    rate) part at once and are as good as independent."""
    sweep = scenario.sweep
    return point if sweep is not None and sweep.seeds == "independent" else 0


def _where(index: int, overrides: dict) -> str:
    return "sweep point {} ({})".format(
        index, ", ".join(f"{k}={label(v)}" for k, v in overrides.items()))


def iter_point_scenarios(scenario: Scenario, source: str = "<scenario>"):
    """Every point's validated scenario, one at a time (errors name the point)."""
    base = scenario.model_dump(mode="json")
    for index, overrides in enumerate(design_values(scenario)):
        yield point_scenario(base, overrides, source, _where(index, overrides))


#: Designs of at most this many points are checked point by point; larger
#: ones first from their corners (:func:`corner_scenarios`).
CORNER_POINTS = 1000
#: At most this many corners are built.
MAX_CORNERS = 4096


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _extremes(rows: list[tuple]) -> list[int]:
    """Indices of the rows holding each column's smallest and largest value
    (all rows for a column that is not numeric, at most 8 of them evenly)."""
    chosen = set()
    for column in range(len(rows[0])):
        values = [row[column] for row in rows]
        if all(_numeric(v) for v in values):
            chosen.update((min(range(len(values)), key=values.__getitem__),
                           max(range(len(values)), key=values.__getitem__)))
        else:
            step = max(1, len(values) // 8)
            chosen.update(range(0, len(values), step))
    return sorted(chosen)


def corner_scenarios(scenario: Scenario, source: str = "<scenario>"):
    """The validated scenarios of the design's corners, without building
    every point: for a grid, the points combining each axis's smallest and
    largest values (a column that is not a number: up to 8 of its values);
    for a sampled design, the combinations of each key's smallest and
    largest drawn value. What a point's memory and time grow with
    (capacities, agents, rates, horizon, replicates) are largest at a
    corner, so the corners bound the design's cost. A corner that does
    not validate is left out (the points themselves are checked later).
    Yields nothing when the corners would be more than :data:`MAX_CORNERS`."""
    sweep = scenario.sweep
    if sweep is None:
        return
    if sweep.grid or sweep.zip:
        axes = [(paths, rows) for _, paths, rows in sweep.axes()]
    else:
        points = design_values(scenario)
        axes = [([key], [(point[key],) for point in points]) for key in points[0]]
    choices = [[rows[i] for i in _extremes(rows)] for _, rows in axes]
    if math.prod(len(c) for c in choices) > MAX_CORNERS:
        return
    base = scenario.model_dump(mode="json")
    for combination in itertools.product(*choices):
        overrides = {}
        for (paths, _), row in zip(axes, combination):
            overrides.update(zip(paths, row))
        try:
            yield point_scenario(base, overrides, source, "a corner of the sweep")
        except ScenarioError:
            continue


def check_design_memory(scenario: Scenario, max_memory: int | None = None,
                        block_size: int = 10, workers: int = 1,
                        source: str | None = None) -> dict | None:
    """Refuse a sweep whose memory exceeds the budget from its design, in a
    second, before any point is built (:func:`corner_scenarios`; the
    runs table counted for every point). Designs of at most
    :data:`CORNER_POINTS` points are left to
    :func:`simulation.budget.check_sweep_memory` over every point.

    Returns
    -------
    dict or None
        The corners' estimate (None: the design is small, or its corners
        too many, and was not checked here).

    Raises
    ------
    MemoryBudgetError
        As :func:`simulation.budget.check_sweep_memory`.
    """
    from .budget import check_sweep_memory

    count = design_size(scenario)
    if count <= CORNER_POINTS:
        return None
    corners = list(corner_scenarios(scenario, source or "<scenario>"))
    if not corners:
        return None
    return check_sweep_memory(corners, max_memory, block_size=block_size, workers=workers,
                              source=source, points_total=count)


def design_size(scenario: Scenario) -> int:
    """The number of the design's points, without building them."""
    sweep = scenario.sweep
    if sweep is None:
        return 1
    if sweep.grid or sweep.zip:
        return math.prod(len(rows) for _, _, rows in sweep.axes())
    return (sweep.random or sweep.latin_hypercube).n


def point_scenarios(scenario: Scenario, source: str = "<scenario>") -> list[Scenario]:
    """Every point's validated scenario (errors name the point)."""
    return list(iter_point_scenarios(scenario, source))



def sweep_seconds(scenario: Scenario, workers: int = 1, source: str = "<scenario>"):
    """Estimated seconds of a whole sweep on ``workers`` processes, from its
    corners' mean (:func:`corner_scenarios`, :func:`simulation.cost.
    estimate_seconds`) times its points; None when it has too many corners."""
    from .cost import estimate_seconds

    corners = list(corner_scenarios(scenario, source))
    if not corners:
        return None
    mean = sum(estimate_seconds(c) for c in corners) / len(corners)
    return mean * design_size(scenario) / max(1, workers)

