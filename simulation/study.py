"""The scaling study's simulated points: founded defector lineages.

A takeover at P ~ 1e-6 in a system of 10^3 to 10^9 subcomponents over 10^3
to 10^6 ticks is out of reach of whole-system paths (the founding mutation
itself is the rare event, and splitting has no score before it). The study
therefore splits the risk where the branching approximation splits it
(docs/model.md, "The scaling of the defence needed"): defector lineages are
founded at the rate nu (residents' births x the defector-making copy error
rate, computed, not simulated), and what happens to one founded lineage is
simulated exactly here. One *path* is the full model (the engine's
``birth_death`` tick, immune kills, the growth limit, the takeover rule)
started from the residents at their equilibrium size N* plus one founded
defector, with no further copy errors (other founders are counted by nu),
until takeover, the lineage's loss, or ``horizon``.

Seeds: path i of size N uses the seed derived from (master seed,
``STUDY_STREAM``, N, i) for every value of the solved key (common random
numbers: the comparison between values is not blurred by independent noise).
"""

from __future__ import annotations

import numpy as np

from .engine import World
from .scenario import Scenario, point_scenario

#: First spawn-key component of the study's streams.
STUDY_STREAM = 104_729


def lineage_scenario(base: Scenario, size: int, residents: int, founder_drive: float,
                     key: str, value: float, horizon: int) -> Scenario:
    """One founded defector lineage among ``residents`` residents, in a system
    of capacity ``size``, with ``key`` = ``value``: no copy errors, records
    only at the horizon, stopped at takeover or at the lineage's loss."""
    data = base.model_dump(mode="json")
    data.pop("study", None)
    return point_scenario(data, {
        "agent.capacity": size, "agent.initial_size": residents + 1,
        "agent.seed_clones": [{"count": 1, "traits": {"drive": founder_drive}}],
        "copy.error_rate": 0.0, "horizon": horizon, "record_every": horizon,
        "record_clones": False, "stop.on": ["takeover", "fixation"], key: value,
    }, "<study>", f"study point {key}={value}, capacity {size}")


def path_seeds(seed: int, size: int, paths: int) -> np.ndarray:
    """The seed of each path of one size (the same for every value)."""
    return np.random.SeedSequence(seed, spawn_key=(STUDY_STREAM, size)).generate_state(
        paths, np.uint64)


def simulate_lineages(base: Scenario, size: int, residents: int, founder_drive: float,
                      key: str, values, paths: int, horizon: int, seed: int,
                      progress=None) -> list[dict]:
    """Follow ``paths`` founded lineages at each value of ``key``.

    Returns
    -------
    list of dict
        Per value: ``value``, ``paths``, ``takeover_ticks`` (the takeover tick
        of each path that reached it, sorted), ``alive`` (paths whose
        lineage was alive at ``horizon`` without a takeover) and ``ticks``
        (ticks simulated). ``progress()`` is called after each value.
    """
    seeds = path_seeds(seed, size, paths)
    out = []
    for value in values:
        sc = lineage_scenario(base, size, residents, founder_drive, key, value, horizon)
        world = World(sc, seed=int(seeds[0]), start=False)
        takeovers, alive, ticks = [], 0, 0
        for s in seeds:
            world.reset(int(s))
            world.advance(horizon)
            st = world.status
            ticks += int(st["tick"])
            if st["takeover_tick"] >= 0:
                takeovers.append(int(st["takeover_tick"]))
            elif st["loss_tick"] < 0 and st["extinction_tick"] < 0:
                alive += 1
        out.append({"value": float(value), "paths": paths,
                    "takeover_ticks": sorted(takeovers), "alive": alive, "ticks": ticks})
        if progress:
            progress()
    return out
