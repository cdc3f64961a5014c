"""The compiled tick against the naive reference (tests/naive.py), draw for draw.

Before each tick the engine's state is converted to the naive one (clones in
their slots, the free-slot stack, the agents); both advance one whole tick
(economy, dynamics, transmission, deaths, reproduction) from the same
generator state, and the results must be identical: every slot's clone
(id, agent, count, traits, parent, lineage flag), the free stack, every
agent's state, the tick's event totals and the generator's state.
"""

import math

import numpy as np
import pytest

from tests import naive
from simulation import validate
from simulation.engine import World
from simulation.kernels.clones import effective_error_rate, immune_efficacy, landscape
from simulation.names import DEATH_CAUSES

CASES = {
    "normal": {},
    "cauchy_rugged": {"copy": {"kernel": {"type": "cauchy", "scale": 0.2}},
                      "landscape": {"type": "rugged", "ruggedness": 0.5, "peaks": 3}},
    "step_up_redundant": {"copy": {"kernel": {"type": "step", "size": 0.2, "direction": "up"},
                                   "redundancy": 3, "error_correlation": 0.3,
                                   "redundancy_cost": 0.1}},
    "step_both_mutator": {"copy": {"kernel": {"type": "step", "size": 0.05},
                                   "mutator_strength": 3.0, "traits": ["drive", "fidelity"]}},
    "drive_guard": {"copy": {"drive_guard": 0.7, "error_rate": 0.1}},
    "uniform_repair": {"copy": {"kernel": {"type": "uniform"}, "traits": ["drive", "stealth"]},
                       "repair": {"rate": 0.3, "tolerance": 0.05}},
    "repair_blind_to_stealth": {"copy": {"kernel": {"type": "uniform"},
                                         "traits": ["drive", "stealth"]},
                                "repair": {"rate": 0.3, "tolerance": 0.05,
                                           "sees_stealth": False}},
    "immune_subset": {"immune": {"traits": ["drive"], "improvement": 0.05,
                                 "false_positive": 0.1, "tolerance": 0.05},
                      "copy": {"kernel": {"type": "normal", "bias": 0.05, "sd": 0.1}}},
    "systematic": {"copy": {"systematic": {"rate": 0.3, "sd": 0.1}, "error_rate": 0.02,
                            "kernel": {"type": "normal", "bias": {"drive": 0.05,
                                                                  "stealth": -0.02}}}},
    "systematic_lineage": {"copy": {"systematic": {"rate": 0.3, "sd": 0.1,
                                                   "scope": "lineage"},
                                    "error_rate": 0.02, "traits": ["drive", "stealth"]}},
    "noise_world": {"copy": {"noise": {"sigma": 1.5, "correlation_time": 3.0},
                             "redundancy": 3, "error_correlation": 0.2}},
    "noise_agent": {"copy": {"noise": {"sigma": 1.0, "correlation_time": 0.5,
                                       "scope": "agent"}}},
    "tracking_self": {"immune": {"reference": "tracking", "tracking_rate": 0.2,
                                 "tolerance": 0.05},
                      "repair": {"rate": 0.2, "tolerance": 0.05}},
    "random_landscape": {"landscape": {"type": "random", "ruggedness": 0.4, "peaks": 6}},
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
        landscape_seed=sc.landscape.seed,
        error_rate=sc.copy.error_rate, redundancy=sc.copy.redundancy,
        error_correlation=sc.copy.error_correlation,
        redundancy_cost=sc.copy.redundancy_cost,
        mutator_strength=sc.copy.mutator_strength, drive_guard=sc.copy.drive_guard,
        copy_traits=tuple(index[t] for t in sc.copy.traits), kernel=kern.type,
        sd=kern.sd, bias=kern.bias if not isinstance(kern.bias, dict) else 0.0,
        trait_bias=(tuple(kern.bias.get(t, 0.0) for t in naive.TRAITS)
                    if isinstance(kern.bias, dict) else None),
        systematic_rate=sc.copy.systematic.rate, systematic_sd=sc.copy.systematic.sd,
        systematic_lineage=sc.copy.systematic.scope == "lineage",
        noise_sigma=sc.copy.noise.sigma,
        noise_correlation_time=sc.copy.noise.correlation_time,
        noise_per_agent=sc.copy.noise.scope == "agent",
        tracking_rate=sc.immune.tracking_rate, scale=kern.scale, size=kern.size,
        direction=kern.direction, improvement=sc.immune.improvement,
        false_positive=sc.immune.false_positive, repair_rate=sc.repair.rate,
        repair_tolerance=sc.repair.tolerance, repair_sees_stealth=sc.repair.sees_stealth,
        immune_traits=tuple(index[t] for t in sc.immune.traits))


def naive_world_params(sc):
    w = sc.world
    return naive.WorldParams(
        dynamics=sc.agent.dynamics, economy=w.income is not None,
        income=w.income or 0.0, upkeep=w.upkeep, acquisition_bias=w.acquisition_bias,
        immune_cost=sc.immune.cost, max_capacity=float(sc.agent.capacity),
        oversight=w.oversight, oversight_threshold=w.oversight_threshold,
        transmission=w.transmission, takeover_kills=w.takeover_kills,
        takeover_fraction=sc.agent.takeover_fraction,
        reproduce=w.reproduction.threshold is not None,
        threshold=w.reproduction.threshold if w.reproduction.threshold is not None
        else math.inf, bottleneck=w.reproduction.bottleneck,
        agent_mutation=w.reproduction.agent_mutation,
        founder_reference=w.reproduction.reference == "founder", max_agents=w.max_agents,
        noise=0.0)


def naive_slots(world):
    """The engine's slot table as naive clones (None: a free slot)."""
    cl, ln = world.clones, world.lineage
    slots = []
    for slot in range(cl.meta[0]):
        if cl.count[slot] <= 0:
            slots.append(None)
            continue
        cid = int(cl.clone_id[slot])
        child = int(cl.repair_slot[slot])
        alive_child = (child >= 0 and cl.clone_id[child] == cl.repair_id[slot]
                       and cl.count[child] > 0)
        slots.append(naive.Clone(
            cid, int(cl.agent[slot]), int(cl.count[slot]), [float(v) for v in cl.traits[slot]],
            int(ln.parent[cid]), int(ln.origin[cid]), bool(cl.seeded[slot]),
            repair_child=int(cl.repair_id[slot]) if alive_child else -1,
            systematic=[float(v) for v in cl.systematic[slot]]))
    return slots, [int(i) for i in cl.free[: cl.meta[1]]]


def naive_agents(world):
    ag = world.agents
    noise = world.scenario.copy.noise
    rates = world._agent_error_rates(np.arange(world.n_agents))
    return [naive.AgentParams(float(ag.capacity[a]), [float(v) for v in ag.zref[a]],
                              float(ag.surveillance[a]), float(ag.efficacy[a]),
                              float(ag.tolerance[a]), float(ag.reserve[a]), bool(ag.alive[a]),
                              int(ag.parent[a]), DEATH_CAUSES[ag.death_cause[a]],
                              [float(v) for v in ag.systematic[a]], float(ag.noise[a]),
                              float(rates[a]) if noise.sigma > 0 else None)
            for a in range(world.n_agents)]


def engine_slots(world):
    cl, ln = world.clones, world.lineage
    return [(int(cl.clone_id[i]), int(cl.agent[i]), int(cl.count[i]),
             [float(v) for v in cl.traits[i]], int(ln.parent[cl.clone_id[i]]),
             bool(cl.seeded[i]), [float(v) for v in cl.systematic[i]])
            if cl.count[i] > 0 else None
            for i in range(cl.meta[0])]


def copy_rng(world):
    rng = np.random.default_rng()
    rng.bit_generator.state = world.rng.bit_generator.state
    return rng


def assert_ticks_match_naive(sc, seed, ticks, prepare=None):
    """Run ``ticks`` ticks of the engine and of the naive reference from the
    engine's state before each; returns the summed naive totals and facts."""
    world = World(sc, seed=seed)
    if prepare is not None:
        prepare(world)
    p, wp = naive_params(sc), naive_world_params(sc)
    p.replicate_seed = seed  # a random landscape's realisation (without landscape.seed)
    seen = {"mutations": 0, "kills": 0, "repairs": 0, "migrants": 0, "born": 0,
            "died": 0, "taken": 0}
    for _ in range(ticks):
        if world.status["extinction_tick"] >= 0:
            break  # absorbing: the engine stops there
        slots, free = naive_slots(world)
        agents = naive_agents(world)
        wp.noise = float(world.status["noise"])
        rng = copy_rng(world)
        t = world.tick + 1
        last_record = world.tick - world.tick % sc.record_every
        totals, next_id, facts = naive.world_tick(slots, free, agents, p, wp, t, rng,
                                                  int(world.clones.meta[2]), last_record)
        world.step()
        expected = [(c.id, c.agent, c.count, c.traits, c.parent, c.seeded, c.systematic)
                    if c is not None else None for c in slots]
        assert engine_slots(world) == expected
        assert [int(i) for i in world.clones.free[: world.clones.meta[1]]] == free
        assert int(world.clones.meta[2]) == next_id
        assert rng.bit_generator.state == world.rng.bit_generator.state
        tt = world.tick_totals
        assert [tt["births"], tt["deaths"], tt["immune_kills"], tt["repairs"],
                tt["mutations"], tt["mutants"], tt["migrants"]] == [
            totals.births, totals.deaths, totals.kills, totals.repairs, totals.mutations,
            totals.mutants, totals.extra["migrants"]]
        mine = naive_agents(world)
        assert len(mine) == len(agents)
        for a, b in zip(mine, agents):
            assert (a.alive, a.parent, a.death_cause) == (b.alive, b.parent, b.death_cause)
            np.testing.assert_allclose([a.capacity, a.reserve, a.surveillance, a.efficacy,
                                        a.tolerance, *a.zref, *a.systematic, a.noise],
                                       [b.capacity, b.reserve, b.surveillance, b.efficacy,
                                        b.tolerance, *b.zref, *b.systematic, b.noise],
                                       rtol=1e-12, atol=1e-12)
        # The agents' mu_r of the tick (environmental noise through the vote).
        for a, b in zip(range(world.n_agents), agents):
            if world.agents.alive[a] or not p.noise_per_agent:
                assert world.agents.error_rate[a] == pytest.approx(
                    naive.agent_error_rate(p, b), rel=1e-12)
        assert float(world.status["noise"]) == pytest.approx(wp.noise, rel=1e-12, abs=1e-15)
        # The per-agent reduction is the sum over the naive clones.
        ag = world.agents
        for a in range(world.n_agents):
            members = [c for c in slots if c is not None and c.agent == a and c.count > 0]
            assert ag.size[a] == sum(c.count for c in members)
            assert ag.clones[a] == len(members)
            assert ag.trait_sums[a, 0] == pytest.approx(sum(c.count * c.traits[0]
                                                            for c in members))
            assert ag.defectors[a] == sum(c.count for c in members
                                          if c.traits[0] > sc.agent.escape_threshold)
            assert ag.seeded[a] == sum(c.count for c in members if c.seeded)
        seen["mutations"] += totals.mutations
        seen["kills"] += totals.kills
        seen["repairs"] += totals.repairs
        seen["migrants"] += totals.extra["migrants"]
        for key in ("born", "died", "taken"):
            seen[key] += facts[key]
    return world, seen


#: copy.systematic is implemented for birth_death only (validation rejects the others).
BIRTH_DEATH_ONLY = {"systematic", "systematic_lineage"}


@pytest.mark.parametrize("case, dynamics", [
    (case, dynamics) for case in sorted(CASES)
    for dynamics in ("birth_death", "wright_fisher", "moran")
    if dynamics == "birth_death" or case not in BIRTH_DEATH_ONLY])
def test_tick_matches_naive(case, dynamics):
    overrides = {k: dict(v) for k, v in CASES[case].items()}
    overrides.setdefault("agent", {})["dynamics"] = dynamics
    sc = scenario(overrides)
    sc.record_every = 4  # records reset ancestors: repair children are refounded
    _, seen = assert_ticks_match_naive(sc, 12345, 25 if dynamics == "birth_death" else 8)
    assert seen["mutations"] > 0, "the case must exercise copy errors"
    assert seen["kills"] > 0, "the case must exercise the immune system"


@pytest.mark.parametrize("mu", [0.0, 1e-5, 1e-3, 0.01, 0.3, 1.0])
@pytest.mark.parametrize("r", [1, 3, 5, 7])
@pytest.mark.parametrize("rho", [0.0, 0.25, 1.0])
def test_effective_error_rate_matches_enumeration(mu, r, rho):
    assert effective_error_rate(mu, r, rho) == pytest.approx(
        naive.error_rate_after_vote(mu, r, rho), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("d", [0.0, 0.1, 0.5, 0.77, 1.0])
def test_landscape_and_efficacy(d):
    assert landscape(d, 2.0, 0.0, np.zeros((3, 0))) == pytest.approx(1 + 2 * d)
    assert landscape(d, 2.0, 0.5, np.array([[1.0], [3.0], [0.0]])) == pytest.approx(
        max(0.0, 1 + 2 * d + 0.5 * math.sin(2 * math.pi * 3 * d)))
    terms = np.array([[0.3, -0.2], [1.0, 2.0], [0.5, 4.0]])
    assert landscape(d, 1.0, 2.0, terms) == pytest.approx(max(0.0, 1 + d + 2.0 * (
        0.3 * math.sin(2 * math.pi * d + 0.5) - 0.2 * math.sin(4 * math.pi * d + 4.0))))
    assert immune_efficacy(0.6, 0.0, 100) == pytest.approx(0.6)
    assert immune_efficacy(0.6, 0.1, 10) == pytest.approx(1 - 0.4 * math.exp(-1.0))


def test_slots_are_recycled():
    sc = scenario({"copy": {"error_rate": 0.2}})
    sc.record_clones = False
    world = World(sc, seed=3)
    for _ in range(200):
        world.step()
    cl = world.clones
    assert cl.meta[2] > 4 * cl.meta[0]  # many more clones founded than slots ever used
    assert (cl.count[: cl.meta[0]] > 0).sum() == world.agents.clones[: world.n_agents].sum()
    assert cl.meta[1] == (cl.count[: cl.meta[0]] < 0).sum()


def test_tables_grow_mid_tick_without_changing_draws():
    """A Moran tick grows the tables before an agent it has no room for: the
    result is the same as with room to spare from the start."""
    sc = scenario({"agent": {"dynamics": "moran"}, "copy": {"error_rate": 0.3}})
    small, roomy = World(sc, seed=5), World(sc, seed=5)
    from simulation.kernels.clones import grow_clones
    s = roomy.state
    cl, ln, ev = grow_clones(s.clones, s.lineage, s.events, 20000)
    roomy.state = s._replace(clones=cl, lineage=ln, events=ev)
    for _ in range(5):
        small.step()
        roomy.step()
    assert engine_slots(small) == engine_slots(roomy)
    assert small.clones.count.shape[0] < roomy.clones.count.shape[0]


@pytest.mark.parametrize("systematic, noise", [
    ({"rate": 0.2, "scope": "agent"}, {"sigma": 0.5, "scope": "world"}),
    ({"rate": 0.2, "scope": "lineage"}, {"sigma": 0.5, "scope": "agent"}),
    ({"rate": 0.0}, {"sigma": 0.0}),
])
def test_replicate_start_draws_match_naive(systematic, noise):
    """The draws at tick 0 (systematic vectors of agents or of set-up
    clones, then the environment's X_0), against naive.start."""
    sc = scenario({"copy": {"systematic": systematic, "noise": noise,
                            "traits": ["drive", "stealth", "fidelity"]}})
    world = World(sc, seed=77, start=False)
    fresh = World(sc, seed=1, start=False)  # the set-up state, before any draw
    fresh.rng = np.random.default_rng(77)
    slots, _ = naive_slots(fresh)
    for c in slots:
        c.systematic = [0.0] * 4 if c.systematic else []
    agents = naive_agents(fresh)
    for ag in agents:
        ag.systematic = [0.0] * 4
    p, wp = naive_params(sc), naive_world_params(sc)
    rng = np.random.default_rng(77)
    naive.start(slots, agents, p, wp, rng)
    assert rng.bit_generator.state == world.rng.bit_generator.state
    cl = world.clones
    assert [c.systematic for c in slots] == [[float(v) for v in cl.systematic[i]]
                                             for i in range(cl.meta[0])]
    ag = world.agents
    assert [a.systematic for a in agents] == [[float(v) for v in ag.systematic[a]]
                                              for a in range(world.n_agents)]
    assert [a.noise for a in agents] == ag.noise[: world.n_agents].tolist()
    assert wp.noise == float(world.status["noise"])
    for a in range(world.n_agents):
        assert ag.error_rate[a] == pytest.approx(naive.agent_error_rate(p, agents[a]),
                                                 rel=1e-12)
    if systematic["rate"] == 0 and noise["sigma"] == 0:  # nothing drawn at all
        assert rng.bit_generator.state == np.random.default_rng(77).bit_generator.state


@pytest.mark.parametrize("guard", [0.0, 0.75, 1.0])
def test_drive_guard_thins_drive_errors_only(guard):
    # copy.drive_guard g: drive mutates in a copy with probability (1 - g) mu,
    # loyalty with mu, so mutations per birth is mu (2 - g). Seed 7, one
    # replicate of 60 ticks: about 1.4e4 births, so the ratio's standard error
    # is at most sqrt(0.2 / 1.4e4) ~ 0.004; the tolerance is 4 of them.
    from simulation import run_scenario

    sc = scenario({"copy": {"error_rate": 0.1, "traits": ["drive", "loyalty"],
                            "drive_guard": guard},
                   "immune": {"surveillance": 0.0},
                   "agent": {"capacity": 2000, "initial_size": 1000, "seed_clones": []},
                   "world": {"agents": 1}})
    sc.horizon, sc.seed = 60, 7
    ts = run_scenario(sc, show_progress=False).timeseries
    births, mutations = ts["births"].sum(), ts["mutations"].sum()
    assert births > 10_000
    assert mutations / births == pytest.approx(0.1 * (2 - guard), abs=0.016)
