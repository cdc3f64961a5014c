"""Each kernel against the naive reference (tests/naive.py), on the same inputs.

The engine's state before a tick is converted to naive clones (in slot order,
which fixes the order of the random draws), both advance one tick from the
same generator state, and the results must be identical: every clone's
count, traits, parent, agent and lineage flag, and the tick's event totals.
"""

import math

import numpy as np
import pytest

from tests import naive
from simulation import kernels as K
from simulation import validate
from simulation.model import World

CASES = {
    "normal": {},
    "cauchy_rugged": {"copy": {"kernel": {"type": "cauchy", "scale": 0.2}},
                      "landscape": {"type": "rugged", "ruggedness": 0.5, "peaks": 3}},
    "step_up_redundant": {"copy": {"kernel": {"type": "step", "size": 0.2, "direction": "up"},
                                   "redundancy": 3, "error_correlation": 0.3,
                                   "redundancy_cost": 0.1}},
    "step_both_mutator": {"copy": {"kernel": {"type": "step", "size": 0.05},
                                   "mutator_strength": 3.0, "traits": ["drive", "fidelity"]}},
    "uniform_repair": {"copy": {"kernel": {"type": "uniform"}, "traits": ["drive", "stealth"]},
                       "repair": {"rate": 0.3, "tolerance": 0.05}},
    "immune_subset": {"immune": {"traits": ["drive"], "improvement": 0.05,
                                 "false_positive": 0.1, "tolerance": 0.05},
                      "copy": {"kernel": {"type": "normal", "bias": 0.05, "sd": 0.1}}},
    "crowded_defectors": {"agent": {"capacity": 150, "initial_size": 300,
                                    "escape_threshold": 0.2},
                          "repair": {"rate": 0.5, "tolerance": 0.0}},
}


def scenario(overrides):
    base = {
        "seed": 1, "horizon": 10,
        "world": {"agents": 3},
        "agent": {"capacity": 400, "initial_size": 200, "birth_rate": 0.3,
                  "death_rate": 0.1, "drive_advantage": 1.5,
                  "seed_clones": [{"count": 20, "traits": {"drive": 0.7, "stealth": 0.5}},
                                  {"count": 5, "traits": {"loyalty": 0.1, "fidelity": 0.6}}]},
        "copy": {"error_rate": 0.05},
        "immune": {"surveillance": 0.4, "tolerance": 0.1, "efficacy": 0.7},
    }
    for section, values in overrides.items():
        for key, value in values.items():
            base.setdefault(section, {})[key] = value
    return validate(base)


def naive_params(sc):
    kern = sc.copy.kernel
    index = {t: i for i, t in enumerate(naive.TRAITS)}
    return naive.Params(
        birth_rate=sc.agent.birth_rate, death_rate=sc.agent.death_rate,
        drive_advantage=sc.agent.drive_advantage, loyalty_cost=sc.agent.loyalty_cost,
        escape_threshold=sc.agent.escape_threshold,
        escape_headroom=sc.agent.escape_headroom, landscape=sc.landscape.type,
        ruggedness=sc.landscape.ruggedness, peaks=sc.landscape.peaks,
        error_rate=sc.copy.error_rate, redundancy=sc.copy.redundancy,
        error_correlation=sc.copy.error_correlation,
        redundancy_cost=sc.copy.redundancy_cost,
        mutator_strength=sc.copy.mutator_strength,
        copy_traits=tuple(index[t] for t in sc.copy.traits), kernel=kern.type,
        sd=kern.sd, bias=kern.bias, scale=kern.scale, size=kern.size,
        direction=kern.direction, improvement=sc.immune.improvement,
        false_positive=sc.immune.false_positive, repair_rate=sc.repair.rate,
        repair_tolerance=sc.repair.tolerance,
        immune_traits=tuple(index[t] for t in sc.immune.traits))


def naive_clones(world):
    s = world.state
    out = []
    for slot in range(s.n_slots):
        if s.count[slot] <= 0:
            continue
        cid = int(s.clone_id[slot])
        child = int(s.repair_slot[slot])
        alive_child = child >= 0 and s.clone_id[child] == s.repair_id[slot] and s.count[child] > 0
        out.append(naive.Clone(
            cid, int(s.agent[slot]), int(s.count[slot]), [float(v) for v in s.traits[slot]],
            int(s.lineage_parent[cid]), int(s.lineage_origin[cid]), bool(s.seeded[slot]),
            repair_child=int(s.repair_id[slot]) if alive_child else -1))
    return out


def engine_clones(world):
    s = world.state
    return {int(s.clone_id[i]): (int(s.agent[i]), int(s.count[i]),
                                 [float(v) for v in s.traits[i]],
                                 int(s.lineage_parent[s.clone_id[i]]), bool(s.seeded[i]))
            for i in range(s.n_slots) if s.count[i] > 0}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tick_matches_naive(case):
    sc = scenario(CASES[case])
    world = World(sc, seed=12345)
    params = naive_params(sc)
    agents = [naive.AgentParams(world.capacity[a], list(world.zref[a]),
                                world.surveillance[a], world.efficacy[a],
                                world.tolerance[a]) for a in range(world.n_agents)]
    mutations = 0
    for _ in range(25):
        before = naive_clones(world)
        rng = np.random.default_rng()
        rng.bit_generator.state = world.rng.bit_generator.state
        next_id = world.state.next_id
        world.step()
        after, totals, next_id = naive.tick(before, agents, params, world.tick, rng, next_id)
        expected = {c.id: (c.agent, c.count, c.traits, c.parent, c.seeded)
                    for c in after if c.count > 0}
        assert engine_clones(world) == expected
        assert world.state.next_id == next_id
        assert list(world.totals[:6]) == [totals.births, totals.deaths, totals.kills,
                                      totals.repairs, totals.mutations, totals.mutants]
        # The generators must have made exactly the same draws.
        assert rng.bit_generator.state == world.rng.bit_generator.state
        # The per-agent reduction is the sum over the naive clones.
        for a in range(world.n_agents):
            mine = [c for c in after if c.agent == a and c.count > 0]
            assert world.reduced[a, K.R_SIZE] == sum(c.count for c in mine)
            assert world.reduced[a, K.R_CLONES] == len(mine)
            assert world.reduced[a, K.R_SUM_DRIVE] == pytest.approx(
                sum(c.count * c.traits[0] for c in mine))
            assert world.reduced[a, K.R_DEFECTORS] == sum(
                c.count for c in mine if c.traits[0] > sc.agent.escape_threshold)
            assert world.reduced[a, K.R_SEEDED] == sum(c.count for c in mine if c.seeded)
        mutations += totals.mutations
    assert mutations > 0, "the case must exercise copy errors"


@pytest.mark.parametrize("mu", [0.0, 1e-5, 1e-3, 0.01, 0.3, 1.0])
@pytest.mark.parametrize("r", [1, 3, 5, 7])
@pytest.mark.parametrize("rho", [0.0, 0.25, 1.0])
def test_effective_error_rate_matches_enumeration(mu, r, rho):
    assert K.effective_error_rate(mu, r, rho) == pytest.approx(
        naive.error_rate_after_vote(mu, r, rho), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("d", [0.0, 0.13, 0.5, 0.99])
def test_landscape_and_efficacy(d):
    assert K.landscape(d, 2.0, 0.0, 1) == 1 + 2 * d
    rugged = 1 + 0.5 * d + 0.8 * math.sin(2 * math.pi * 3 * d)
    assert K.landscape(d, 0.5, 0.8, 3) == pytest.approx(max(rugged, 0.0))
    assert K.landscape(d, 0.0, 5.0, 1) >= 0.0
    assert K.immune_efficacy(0.4, 0.01, 100) == pytest.approx(1 - 0.6 * math.exp(-1))


def test_slots_are_recycled():
    """Memory follows the clones alive, not the clones that ever existed."""
    sc = scenario({"copy": {"error_rate": 0.2}, "world": {"agents": 1}})
    world = World(sc, seed=3)
    for _ in range(200):
        world.step()
    s = world.state
    assert s.next_id > 4 * s.capacity  # many more clones founded than slots
    assert (s.count[: s.n_slots] > 0).sum() == world.reduced[:, K.R_CLONES].sum()
    assert s.n_free == (s.count[: s.n_slots] < 0).sum()


def _copy_rng(world):
    rng = np.random.default_rng()
    rng.bit_generator.state = world.rng.bit_generator.state
    return rng


def _assert_same(world, after, next_id, totals, rng, events=True):
    expected = {c.id: (c.agent, c.count, c.traits, c.parent, c.seeded)
                for c in after if c.count > 0}
    assert engine_clones(world) == expected
    assert world.state.next_id == next_id
    assert rng.bit_generator.state == world.rng.bit_generator.state
    if events:
        assert list(world._tick_totals[:6]) == [totals.births, totals.deaths, totals.kills,
                                            totals.repairs, totals.mutations, totals.mutants]


@pytest.mark.parametrize("dynamics", ["wright_fisher", "moran"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_generation_matches_naive(dynamics, case):
    """Both phases of a WF or Moran tick, each from the engine's own state."""
    overrides = {k: dict(v) for k, v in CASES[case].items()}
    overrides.setdefault("agent", {})["dynamics"] = dynamics
    sc = scenario(overrides)
    world = World(sc, seed=777)
    params = naive_params(sc)
    agents = [naive.AgentParams(world.capacity[a], list(world.zref[a]),
                                world.surveillance[a], world.efficacy[a],
                                world.tolerance[a]) for a in range(world.n_agents)]
    mutations = kills = 0
    for _ in range(8):
        world.tick += 1
        # Phase 1: immune system and repair.
        before, rng = naive_clones(world), _copy_rng(world)
        after, totals, next_id = naive.immune_phase(before, agents, params, world.tick,
                                                    rng, world.state.next_id)
        refill = world._immune_phase()
        _assert_same(world, after, next_id, totals, rng)
        assert list(refill) == totals.extra["kills_by_agent"]
        kills += totals.kills
        # Phase 2: reproduction.
        before, rng = naive_clones(world), _copy_rng(world)
        if dynamics == "wright_fisher":
            after, totals, next_id = naive.wright_fisher(before, agents, params, world.tick,
                                                         rng, world.state.next_id)
            world._reproduce_wright_fisher()
            for a in range(world.n_agents):
                assert world.reduced[a, K.R_SIZE] in (0, sc.agent.capacity)
        else:
            after, totals, next_id = naive.moran(before, agents, params, world.tick, rng,
                                                 world.state.next_id, list(refill))
            sizes = world.reduced[:, K.R_SIZE].copy() + refill
            world._moran_events(refill)
            np.testing.assert_array_equal(world.reduced[:, K.R_SIZE], sizes)
        _assert_same(world, after, next_id, totals, rng)
        mutations += totals.mutations
    assert mutations > 0


def test_moran_grows_arrays_mid_tick():
    """moran_events stops before an agent it has no room for; the engine
    grows the arrays and resumes it: same result as with room to spare."""
    sc = scenario({"agent": {"dynamics": "moran"}, "copy": {"error_rate": 0.3}})
    small, roomy = World(sc, seed=5), World(sc, seed=5)
    roomy.state.reserve(20000)
    for _ in range(5):
        small.step()
        roomy.step()
    assert engine_clones(small) == engine_clones(roomy)
    assert small.state.capacity < roomy.state.capacity
