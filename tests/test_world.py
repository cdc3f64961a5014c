"""Multi-agent worlds (docs/worlds.md) and the Price decomposition.

Whole ticks with every world-level mechanism against the naive reference,
draw for draw; the economy's accounting by hand; agent deaths and their
timing; reproduction at the cap; the Price identity on several worlds and
its terms on a case whose answer is known; reproducibility."""

import numpy as np
import pandas as pd
import pytest

from simulation import run_scenario, validate
from simulation.engine import World
from simulation.names import DEATH_CAUSES
from simulation.scenario import Immune
from tests.test_kernels import assert_ticks_match_naive


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


WORLD_CASES = {
    "transmission": dict(transmission=0.2),
    "economy_reproduction_cap": dict(income=3000.0, upkeep=0.5, acquisition_bias=1.0,
                                     max_agents=6,
                                     reproduction={"threshold": 5.0, "bottleneck": 30,
                                                   "agent_mutation": 0.7}),
    "oversight_takeover_kills": dict(oversight=0.3, oversight_threshold=0.85,
                                     takeover_kills=True, transmission=0.05),
    "starvation": dict(income=100.0, upkeep=1.0),
}


@pytest.mark.parametrize("dynamics", ["birth_death", "moran"])
@pytest.mark.parametrize("case", sorted(WORLD_CASES))
def test_world_ticks_match_naive(case, dynamics):
    sc = world_scenario(**WORLD_CASES[case])
    sc.agent.dynamics = dynamics
    sc.agent.takeover_fraction = 0.3
    sc.record_every = 5
    world, seen = assert_ticks_match_naive(sc, 11, 20)
    if "transmission" in case:
        assert seen["migrants"] > 0
    if "reproduction" in case:
        assert seen["born"] > 0
        assert world.living_agents <= 6
    if case in ("oversight_takeover_kills", "starvation"):
        assert seen["died"] > 0


def test_economy_accounting_by_hand():
    from simulation.kernels.world import economy
    sc = world_scenario(income=400.0, upkeep=0.5, acquisition_bias=2.0)
    sc.immune.cost = 0.25
    world = World(sc, seed=2)
    ag, n = world.agents, world.n_agents
    size = ag.size[:n].copy()
    drive = ag.trait_sums[:n, 0] / size
    economy(ag, world.config.params[0])
    weight = size * (1 + 2.0 * drive)
    share = 400.0 * weight / weight.sum()
    upkeep = 0.5 + 0.25 * 0.3
    np.testing.assert_allclose(ag.capacity[:n], np.minimum(300, share / upkeep))
    np.testing.assert_allclose(ag.reserve[:n], share - upkeep * size)


def causes(world):
    return [DEATH_CAUSES[c] for c in world.agents.death_cause[: world.n_agents]]


def test_starvation_oversight_and_takeover_deaths():
    # Starvation: income far below upkeep.
    world = World(world_scenario(income=10.0), seed=1)
    world.step()
    assert world.living_agents == 0
    assert causes(world) == ["starved"] * 4 and world.size == 0
    # Oversight: every agent's goal output per subcomponent (mean loyalty ~0.85)
    # is below 0.95, and oversight 1 shuts each down.
    world = World(world_scenario(oversight=1.0, oversight_threshold=0.95), seed=1)
    world.step()
    assert causes(world) == ["oversight"] * 4
    # Takeover kills: a third of every agent are defectors (drive > 0.4);
    # after one tick of immune kills every agent is still above 0.2.
    sc = world_scenario(takeover_kills=True)
    sc.agent.takeover_fraction = 0.2
    world = World(sc, seed=1)
    assert world.status["tick_takeovers"] == 4
    world.step()
    assert causes(world) == ["takeover"] * 4
    assert world.status["agents_lost_to_takeover"] == 4


def test_agents_lost_to_takeover_counts_every_cause_of_death():
    """Taken-over agents that starve in the same tick are lost to takeover
    too (with or without takeover_kills)."""
    sc = world_scenario(income=10.0)
    sc.agent.takeover_fraction = 0.2
    world = World(sc, seed=1)
    world.step()
    assert causes(world) == ["starved"] * 4
    assert world.status["agents_lost_to_takeover"] == 4


@pytest.mark.parametrize("world_settings", [
    dict(takeover_kills=True), dict(oversight=1.0, oversight_threshold=0.99),
    dict(income=10.0)])
def test_takeover_and_first_defector_seen_when_the_agent_dies(world_settings):
    """Outcomes are observed before the deaths they cause: the defectors are
    seeded, so every agent is taken over at tick 0 and dies in tick 1."""
    sc = world_scenario(**world_settings)
    sc.agent.takeover_fraction = 0.3
    sc.horizon, sc.replicates = 5, 3
    runs = run_scenario(sc, show_progress=False).runs
    assert runs.takeover.all() and (runs.takeover_tick == 0).all()
    assert (runs.first_defector_tick == 0).all()
    assert (runs.max_defector_fraction >= 0.3).all()
    assert (runs.extinct & (runs.stop_reason == "extinction")).all()


def test_first_defector_never_after_takeover_when_takeover_kills():
    """Defectors arise by copy errors (none seeded); a takeover kills its
    agent at once. In every replicate with a takeover, the first defector
    was seen at or before it."""
    sc = validate({
        "seed": 3, "replicates": 30, "horizon": 300,
        "world": {"agents": 3, "takeover_kills": True, "oversight": 0.5,
                  "oversight_threshold": 0.5},
        "agent": {"capacity": 60, "initial_size": 40, "birth_rate": 0.4,
                  "escape_threshold": 0.3, "takeover_fraction": 0.2},
        "copy": {"error_rate": 0.05, "kernel": {"type": "normal", "sd": 0.15, "bias": 0.03}},
        "immune": {"surveillance": 0.1, "tolerance": 0.3}, "record_clones": False})
    runs = run_scenario(sc, show_progress=False).runs
    taken = runs[runs.takeover]
    assert len(taken) >= 5  # the case must exercise takeovers
    assert (taken.first_defector_tick <= taken.takeover_tick).all()


def test_reproduction_at_the_cap_is_not_decided_by_index():
    """With room for one child among four equal parents, each parent should
    reproduce about equally often over seeds; in index order agent 0 always
    would. 400 seeds: each count ~ Binomial(400, 1/4), sd 8.7; the band
    60-140 is 4.6 sd wide on each side of 100."""
    from simulation.kernels.world import choose_parents
    sc = world_scenario(income=5000.0, max_agents=5,
                        reproduction={"threshold": 1.0, "bottleneck": 10})
    world = World(sc, seed=1)
    ag = world.agents
    ag.reserve[:4] = 10.0
    wins = np.zeros(4, int)
    for seed in range(400):
        parents = choose_parents(ag, world.config.params[0], np.random.default_rng(seed))
        assert len(parents) == 1
        wins[parents[0]] += 1
    assert wins.sum() == 400 and (wins > 60).all() and (wins < 140).all()


def test_first_tick_uses_the_efficacy_at_time_zero():
    """e(t) = 1 - (1 - e0) exp(-k t) with t the tick's start: tick 1 kills
    with e0. One clone of 10^5 deviant members, surveillance 1, stealth 0,
    no births or deaths: kills ~ Binomial(10^5, e0) = 20 000 +- 126 for
    e0 = 0.2; with e(1) (improvement 1) it would be ~70 500."""
    sc = validate({"seed": 1, "agent": {"capacity": 10**6, "initial_size": 10**5,
                                        "birth_rate": 0.0, "death_rate": 0.0,
                                        "seed_clones": [{"count": 10**5,
                                                         "traits": {"drive": 0.9}}]},
                   "copy": {"error_rate": 0.0},
                   "immune": {"surveillance": 1.0, "efficacy": 0.2, "improvement": 1.0,
                              "tolerance": 0.1}})
    world = World(sc, seed=1)
    world.step()
    assert abs(world.tick_totals["immune_kills"] - 20000) < 6 * 126


def test_repair_alone_is_all_transmission():
    """Only repair acts (no births, deaths, immune kills or copy errors): a
    seeded clone of drive 0.9 is reset to the resident drive 0.1, so every
    change of mean drive is transmission and the other terms are 0, at every
    record (not just their sum)."""
    sc = validate({"seed": 4, "replicates": 1, "horizon": 60, "record_every": 10,
                   "agent": {"capacity": 10**5, "initial_size": 2000, "birth_rate": 0.0,
                             "death_rate": 0.0,
                             "initial_traits": {"drive": 0.1, "loyalty": 0.9},
                             "seed_clones": [{"count": 1000, "traits": {"drive": 0.9}}]},
                   "copy": {"error_rate": 0.0}, "immune": {"surveillance": 0.0},
                   "repair": {"rate": 0.05, "tolerance": 0.1}})
    ts = run_scenario(sc, show_progress=False).timeseries
    observed = np.diff(ts.mean_drive)
    ts = ts.iloc[1:]
    assert (np.abs(observed) > 1e-3).all()  # repair changes the mean at every record
    np.testing.assert_allclose(ts.price_transmission, observed, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ts.price_within, 0.0, atol=1e-9)
    np.testing.assert_allclose(ts.price_between, 0.0, atol=1e-9)


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


def test_snapshot_restore_continues_exactly_and_scores_pause():
    """A restored snapshot continues exactly as the original (same stream);
    the loop pauses when the running maximum of the takeover score reaches
    the level asked for."""
    from simulation.codes import Advance
    from simulation.engine import build_config
    sc = world_scenario(transmission=0.05, takeover_kills=True)
    sc.agent.takeover_fraction = 0.5
    sc.horizon = 200
    lineage = World(sc, seed=9, config=build_config(sc, score_event="takeover",
                                                    score_kind="lineage"))
    # the lineage score maps the defector fraction onto [1/2, 1]:
    assert lineage.status["score"] == pytest.approx((1 - 1e-6) * (0.5 + 0.5 * (1 / 3) / 0.5))
    world = World(sc, seed=9, config=build_config(sc, score_event="takeover",
                                                  score_kind="fraction"))
    assert 0 < world.status["score"] < 0.7  # 50 of 150 seeded defectors: 1/3 / 0.5
    code = world.advance(sc.horizon, stop_score=0.9)
    assert code == Advance.SCORED and world.status["score"] >= 0.9
    saved = world.snapshot()
    world.advance(world.tick + 40)
    after = (world.tick, world.timeseries().copy(), world.clones.count.copy())
    world.restore(saved)
    world.advance(world.tick + 40)
    assert world.tick == after[0]
    pd.testing.assert_frame_equal(pd.DataFrame(world.timeseries()), pd.DataFrame(after[1]))
    np.testing.assert_array_equal(world.clones.count, after[2])
    # A branch on another stream differs.
    world.restore(saved, rng=np.random.default_rng(123))
    world.advance(world.tick + 40)
    assert not pd.DataFrame(world.timeseries()).equals(pd.DataFrame(after[1]))


@pytest.mark.parametrize("dynamics", ["birth_death", "moran"])
def test_child_agents_draw_their_own_systematic_vector_and_track_their_mean(dynamics):
    """Reproduction with systematic error (each child draws its vector after
    its immune parameters) and a tracking self, against the naive reference."""
    sc = world_scenario(income=3000.0, upkeep=0.5, max_agents=6,
                        reproduction={"threshold": 5.0, "bottleneck": 30,
                                      "agent_mutation": 0.5})
    sc.agent.dynamics = dynamics
    sc.immune = Immune(surveillance=0.3, tolerance=0.2, reference="tracking",
                       tracking_rate=0.1)
    if dynamics == "birth_death":
        sc.copy.systematic.rate = 0.2
        sc.copy.systematic.sd = 0.1
    sc.record_every = 5
    world, seen = assert_ticks_match_naive(sc, 11, 20)
    assert seen["born"] > 0
    n = world.n_agents
    vectors = world.agents.systematic[:n]
    if dynamics == "birth_death":
        assert len({tuple(v) for v in vectors}) == n  # every agent its own vector
    else:
        assert not vectors.any()


@pytest.mark.parametrize("dynamics", ["birth_death", "moran"])
def test_ticks_above_the_fast_limit_grow_as_they_draw_and_match_naive(dynamics):
    # Two agents of 40000 with transmission: each tick's worst case (every
    # newborn a mutant, every member a migrant) exceeds driver.FAST_LIMIT,
    # so every tick runs alone in tables grown as its draws require
    # (tick_alone); the draws must still be the naive reference's.
    from simulation.kernels import driver
    sc = world_scenario(transmission=0.05)
    sc.world.agents = 2
    sc.agent.capacity, sc.agent.initial_size = 60000, 40000
    sc.agent.seed_clones = sc.agent.seed_clones[:1]  # 40 defectors, to migrate
    sc.agent.dynamics = dynamics
    sc.copy.error_rate = 0.001
    world = World(sc, seed=3)
    assert driver.tick_bound(world.agents, world.config.params[0]) > driver.FAST_LIMIT
    world, seen = assert_ticks_match_naive(sc, 3, 4)
    assert seen["mutations"] > 0 and seen["migrants"] > 0
    if dynamics == "birth_death":  # grown to need, not to the bound (a Moran
        # tick makes room for its N events, each a possible mutant, up front)
        assert world.clones.count.shape[0] < driver.FAST_LIMIT


@pytest.mark.parametrize("dynamics", ["birth_death", "wright_fisher", "moran"])
def test_the_bound_counts_possible_mutants_only_where_copy_errors_can_happen(dynamics):
    # Without copy errors no newborn founds a clone: one clone of 2^17 + 10^4
    # members stays under driver.FAST_LIMIT (in the compiled loop); with
    # copy errors, or copy.noise on a positive rate, every newborn counts.
    from simulation.kernels import driver
    size = driver.FAST_LIMIT + 10_000

    def bound(copy):
        sc = validate({"seed": 1, "agent": {"capacity": size, "initial_size": size,
                                            "dynamics": dynamics},
                       "copy": copy, "immune": {"surveillance": 0.0}})
        world = World(sc, seed=1)
        return driver.tick_bound(world.agents, world.config.params[0])

    assert bound({"error_rate": 0.0}) == 1
    assert bound({"error_rate": 0.0, "noise": {"sigma": 1.0}}) == 1
    assert bound({"error_rate": 1e-6}) > driver.FAST_LIMIT
    assert bound({"error_rate": 1e-6, "noise": {"sigma": 1.0}}) > driver.FAST_LIMIT


def test_lineage_vectors_and_agent_environments_through_reproduction_and_migration():
    """Reproduction and transmission with lineage-scope systematic error (a
    mutant founder draws its clone's vector, other founders and migrants
    inherit theirs) and per-agent environmental noise (a child agent draws
    its own X_0), against the naive reference."""
    sc = world_scenario(income=3000.0, upkeep=0.5, max_agents=6, transmission=0.1,
                        reproduction={"threshold": 5.0, "bottleneck": 30,
                                      "agent_mutation": 0.5})
    sc.copy.systematic.rate = 0.2
    sc.copy.systematic.sd = 0.1
    sc.copy.systematic.scope = "lineage"
    sc.copy.noise.sigma = 1.0
    sc.copy.noise.correlation_time = 4.0
    sc.copy.noise.scope = "agent"
    sc.record_every = 5
    world, seen = assert_ticks_match_naive(sc, 11, 20)
    assert seen["born"] > 0 and seen["migrants"] > 0
    n = world.n_agents
    assert len(set(world.agents.noise[:n].tolist())) == n  # every agent its own X
    assert not world.agents.systematic[:n].any()  # the vectors are the clones'
