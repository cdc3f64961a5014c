"""Multi-agent worlds (MODEL.md section 4) and the Price decomposition.

The new kernels against the naive reference, exactly; conservation of
migrants; the economy's accounting by hand; agent deaths; the Price identity
on several worlds; reproducibility."""

import numpy as np
import pandas as pd
import pytest

from tests import naive
from simulation import kernels as K
from simulation import run_scenario, validate
from simulation.model import DEATH_OVERSIGHT, DEATH_STARVED, DEATH_TAKEOVER, World
from tests.test_kernels import _copy_rng, engine_clones, naive_clones, naive_params


def world_scenario(**world):
    return validate({
        "seed": 1,
        "world": {"agents": 4, **world},
        "agent": {"capacity": 300, "initial_size": 150, "birth_rate": 0.3,
                  "escape_threshold": 0.4,
                  "seed_clones": [{"count": 40, "traits": {"drive": 0.8}},
                                  {"count": 10, "traits": {"drive": 0.6, "loyalty": 0.2}}]},
        "copy": {"error_rate": 0.05, "kernel": {"type": "normal", "sd": 0.1}},
        "immune": {"surveillance": 0.3, "tolerance": 0.2},
        "repair": {"rate": 0.1}})


def test_migration_matches_naive_and_conserves():
    sc = world_scenario(transmission=0.2)
    world = World(sc, seed=11)
    params = naive_params(sc)
    moved_total = 0
    for _ in range(10):
        world.tick += 1
        world._step()
        before_sizes = world.reduced[:, K.R_SIZE].sum()
        clones, rng = naive_clones(world), _copy_rng(world)
        alive = [int(a) for a in np.flatnonzero(world.agent_alive)]
        after, moved, next_id = naive.migrate(clones, alive, params, 0.2, world.tick, rng,
                                              world.state.next_id)
        world._transmission(0.2)
        expected = {c.id: (c.agent, c.count, c.traits, c.parent, c.seeded)
                    for c in after if c.count > 0}
        assert engine_clones(world) == expected
        assert rng.bit_generator.state == world.rng.bit_generator.state
        assert world.reduced[:, K.R_SIZE].sum() == before_sizes  # nothing created or lost
        if moved:
            assert world.totals[K.E_MIGRANTS] == moved
        moved_total += moved
    assert moved_total > 0


def test_children_match_naive():
    sc = world_scenario(income=5000.0, reproduction={"threshold": 1.0, "bottleneck": 30,
                                                     "agent_mutation": 0.7})
    world = World(sc, seed=5)
    params = naive_params(sc)
    agents = [naive.AgentParams(world.capacity[a], list(world.zref[a]), world.surveillance[a],
                                world.efficacy[a], world.tolerance[a])
              for a in range(world.n_agents)]
    world.tick = 1
    world.reserve[:] = [2.0, 0.5, 3.0, 1.0]  # agents 0, 2 and 3 reproduce
    clones, rng = naive_clones(world), _copy_rng(world)
    parents, children = [0, 2, 3], [4, 5, 6]
    after, new_agents, totals, next_id = naive.found_children(
        clones, parents, children, agents, params, 30, 1, rng, world.state.next_id,
        True, 0.7)
    world._reproduce()
    expected = {c.id: (c.agent, c.count, c.traits, c.parent, c.seeded)
                for c in after if c.count > 0}
    assert engine_clones(world) == expected
    assert rng.bit_generator.state == world.rng.bit_generator.state
    assert list(world.parent_agent[4:]) == parents
    np.testing.assert_allclose(world.reserve, [1.0, 0.5, 1.5, 0.5, 1.0, 1.5, 0.5])
    for child, agent in new_agents.items():
        np.testing.assert_allclose(world.zref[child], agent.zref)
        assert [world.surveillance[child], world.efficacy[child],
                world.tolerance[child]] == [agent.surveillance, agent.efficacy,
                                            agent.tolerance]
        assert world.reduced[child, K.R_SIZE] == 30
    assert world.agents_born == 3 and world.n_agents == 7
    assert {v.index for v in world.views} == set(range(7))


def test_economy_accounting_by_hand():
    sc = world_scenario(income=400.0, upkeep=0.5, acquisition_bias=2.0)
    sc.immune.cost = 0.25
    world = World(sc, seed=2)
    size = world.reduced[:, K.R_SIZE].copy()
    drive = world.reduced[:, K.R_SUM_DRIVE] / size
    world._economy()
    weight = size * (1 + 2.0 * drive)
    share = 400.0 * weight / weight.sum()
    upkeep = 0.5 + 0.25 * 0.3
    np.testing.assert_allclose(world.capacity, np.minimum(300, share / upkeep))
    np.testing.assert_allclose(world.reserve, share - upkeep * size)


def test_starvation_oversight_and_takeover_deaths():
    # Starvation: income far below upkeep.
    world = World(world_scenario(income=10.0), seed=1)
    world.step()
    assert not world.agent_alive.any()
    assert (world.death_cause == DEATH_STARVED).all() and world.size == 0
    # Oversight: every agent's goal output per subcomponent (mean loyalty ~0.85)
    # is below 0.95, and oversight 1 shuts each down.
    world = World(world_scenario(oversight=1.0, oversight_threshold=0.95), seed=1)
    world.step()
    assert (world.death_cause == DEATH_OVERSIGHT).all()
    # Takeover kills: a third of every agent are defectors (drive > 0.4);
    # after one tick of immune kills every agent is still above 0.2.
    sc = world_scenario(takeover_kills=True)
    sc.agent.takeover_fraction = 0.2
    world = World(sc, seed=1)
    assert world.tick_takeovers == 4
    world.step()
    assert (world.death_cause == DEATH_TAKEOVER).all()
    assert world.agents_lost_to_takeover == 4


def test_takeover_recorded_even_when_it_kills():
    sc = world_scenario(takeover_kills=True)
    sc.agent.takeover_fraction = 0.3
    sc.horizon = 5
    run = run_scenario(sc).runs.iloc[0]
    assert run.takeover and run.takeover_tick == 0 and run.agents_lost_to_takeover == 4
    # Measured before the takeover killed the agents.
    assert run.max_defector_fraction >= sc.agent.takeover_fraction
    assert run.extinct and run.stop_reason == "extinction"


PRICE_WORLDS = {
    "singleton": dict(agents=1),
    "transmission": dict(transmission=0.05),
    "reproduction_and_death": dict(income=2500.0, acquisition_bias=1.0, takeover_kills=True,
                                   reproduction={"threshold": 50.0, "bottleneck": 20,
                                                 "agent_mutation": 0.3}),
    "oversight": dict(oversight=0.02, oversight_threshold=0.9, transmission=0.01),
}


@pytest.mark.parametrize("name", sorted(PRICE_WORLDS))
@pytest.mark.parametrize("dynamics", ["birth_death", "wright_fisher", "moran"])
def test_price_terms_sum_to_the_observed_change(name, dynamics):
    sc = world_scenario(**PRICE_WORLDS[name])
    sc.agent.dynamics = dynamics
    sc.horizon, sc.record_every, sc.replicates = 120, 7, 2
    ts = run_scenario(sc).timeseries
    for rep, g in ts.groupby("replicate"):
        g = g[g["size"] > 0]
        for trait, prefix in (("mean_drive", "price"), ("mean_loyalty", "price_loyalty")):
            observed = g[trait].diff().iloc[1:]
            total = (g[f"{prefix}_between"] + g[f"{prefix}_within"]
                     + g[f"{prefix}_transmission"]).iloc[1:]
            np.testing.assert_allclose(total, observed, rtol=0, atol=1e-12)
            assert (g[f"{prefix}_transmission"].iloc[1:] != 0).any()
    if name == "singleton":
        assert (ts.price_between.dropna().abs() < 1e-12).all()  # rounding only


def test_multi_agent_runs_are_reproducible_and_write_agents():
    sc = world_scenario(**PRICE_WORLDS["reproduction_and_death"], transmission=0.01)
    sc.horizon, sc.replicates = 150, 2
    a, b = run_scenario(sc), run_scenario(sc)
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    pd.testing.assert_frame_equal(a.agents, b.agents)
    assert a.runs.agents_born.sum() > 0
    agents = a.agents
    assert {"tick", "agent", "parent_agent", "size", "mean_drive", "defector_fraction",
            "reserve", "surveillance", "goal_output", "alive"} <= set(agents.columns)
    assert (agents[agents.parent_agent >= 0].born_tick > 0).all()
