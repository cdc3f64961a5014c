"""The engine against a naive one-agent-per-subcomponent Mesa model: the same
scenario gives statistically indistinguishable outcomes.

Seeds 1..R for each; R = 150 replicates each. For each outcome the
difference of the two means must be within 4 standard errors of the
difference, sqrt(se_engine^2 + se_naive^2): a correct engine fails one
comparison by chance with probability about 6e-5."""

import math

import numpy as np
import pytest

from tests.naive_mesa import NaiveWorld
from simulation import validate
from simulation.engine import World

SCENARIO = {
    "agent": {"capacity": 300, "initial_size": 150, "birth_rate": 0.3, "death_rate": 0.1,
              "drive_advantage": 2.0, "escape_threshold": 0.3,
              "seed_clones": [{"count": 15, "traits": {"drive": 0.4, "stealth": 0.3}}]},
    "copy": {"error_rate": 0.03, "kernel": {"type": "normal", "sd": 0.1, "bias": 0.02}},
    "immune": {"surveillance": 0.3, "tolerance": 0.15, "efficacy": 0.7},
    "repair": {"rate": 0.1, "tolerance": 0.1},
    "record_clones": False,
}
TICKS, REPLICATES = 60, 150


def outcomes(world_class, sc, seed):
    world = world_class(sc, seed=seed)
    kills = mutations = 0
    for _ in range(TICKS):
        world.step()
        if world_class is World:
            kills += world.tick_totals["immune_kills"]
            mutations += world.tick_totals["mutations"]
    if world_class is World:
        size = world.size
        drive = world.mean_traits()[0]
        defectors = world.agents.defectors[0]
    else:
        size = len(world.agents)
        drive = world.mean("drive")
        defectors = sum(s.traits[0] > sc.agent.escape_threshold for s in world.agents)
        kills, mutations = world.kills, world.mutations
    return {"size": size, "mean_drive": drive, "defectors": defectors, "kills": kills,
            "mutations": mutations}


@pytest.fixture(scope="module")
def samples():
    sc = validate(SCENARIO)
    engine = [outcomes(World, sc, seed) for seed in range(1, REPLICATES + 1)]
    naive = [outcomes(NaiveWorld, sc, seed) for seed in range(1, REPLICATES + 1)]
    return engine, naive


@pytest.mark.parametrize("quantity", ["size", "mean_drive", "defectors", "kills", "mutations"])
def test_engine_and_naive_mesa_agree(samples, quantity):
    engine, naive = (np.array([o[quantity] for o in s], dtype=float) for s in samples)
    se = math.sqrt(engine.var(ddof=1) / len(engine) + naive.var(ddof=1) / len(naive))
    assert se > 0
    assert abs(engine.mean() - naive.mean()) < 4 * se, (engine.mean(), naive.mean(), se)
