"""Invariants that hold for every valid scenario (hypothesis) and seeding rules."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import replicate_seed, run_replicate, run_scenario, validate
from simulation.engine import World

rate = st.floats(0.0, 1.0)
trait_values = st.fixed_dictionaries({t: rate for t in ("drive", "loyalty", "stealth", "fidelity")})


@st.composite
def scenarios(draw):
    kernel = draw(st.sampled_from([
        {"type": "normal", "sd": draw(st.floats(0.01, 0.5)), "bias": draw(st.floats(-0.2, 0.2))},
        {"type": "cauchy", "scale": draw(st.floats(0.01, 0.5))},
        {"type": "step", "size": draw(st.floats(0.01, 1.0)),
         "direction": draw(st.sampled_from(["up", "down", "both"]))},
        {"type": "uniform"}]))
    capacity = draw(st.integers(1, 500))
    return validate({
        "seed": draw(st.integers(0, 2**32)), "horizon": draw(st.integers(1, 25)),
        "record_every": draw(st.integers(1, 7)),
        "world": {"agents": draw(st.integers(1, 3))},
        "agent": {"capacity": capacity, "initial_size": draw(st.integers(1, 600)),
                  "initial_traits": draw(trait_values),
                  "birth_rate": draw(st.floats(0.0, 2.0)), "death_rate": draw(rate),
                  "drive_advantage": draw(st.floats(0.0, 5.0)),
                  "loyalty_cost": draw(rate), "escape_threshold": draw(rate),
                  "escape_headroom": draw(st.floats(1.0, 20.0))},
        "copy": {"error_rate": draw(rate), "kernel": kernel,
                 "redundancy": draw(st.sampled_from([1, 3, 5])),
                 "error_correlation": draw(rate),
                 "mutator_strength": draw(st.floats(0.0, 5.0)),
                 "noise": {"sigma": draw(st.sampled_from([0.0, 0.5, 3.0, 10.0])),
                           "correlation_time": draw(st.floats(0.01, 1e6)),
                           "scope": draw(st.sampled_from(["world", "agent"]))}},
        "immune": {"surveillance": draw(rate), "tolerance": draw(rate),
                   "efficacy": draw(rate), "improvement": draw(st.floats(0.0, 1.0)),
                   "false_positive": draw(rate)},
        "repair": {"rate": draw(rate), "tolerance": draw(rate)},
        "landscape": draw(st.sampled_from([
            {"type": "linear"},
            {"type": "rugged", "ruggedness": draw(st.floats(0.0, 3.0)),
             "peaks": draw(st.integers(1, 5))}])),
    })


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_counts_and_fractions_stay_valid(sc):
    world = World(sc, seed=sc.seed)
    for _ in range(sc.horizon):
        world.step()
        cl, ag, n = world.clones, world.agents, world.n_agents
        live = cl.count[: cl.meta[0]]
        assert np.all((live > 0) | (live == -1))  # a clone is alive or its slot is free
        assert np.all((cl.traits[: cl.meta[0]][live > 0] >= 0)
                      & (cl.traits[: cl.meta[0]][live > 0] <= 1))
        assert ag.size[:n].sum() == live[live > 0].sum()
        assert np.all((ag.defectors[:n] >= 0) & (ag.defectors[:n] <= ag.size[:n]))
        assert all(v >= 0 for v in world.tick_totals.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_run_tables_are_valid(sc):
    result = run_replicate(sc, 0)
    ts = result.timeseries
    assert np.all(ts["size"] >= 0)
    for col in ("mean_drive", "mean_loyalty", "mean_stealth", "mean_fidelity"):
        vals = ts[col][ts["size"] > 0]
        assert np.all((vals >= -1e-12) & (vals <= 1 + 1e-12))
    assert np.all((ts["defector_fraction"] >= 0) & (ts["defector_fraction"] <= 1))
    run = result.run
    assert 0 <= run["max_defector_fraction"] <= 1
    assert run["ticks"] <= sc.horizon
    for key in ("takeover_tick", "convergence_tick", "first_defector_tick", "extinction_tick"):
        assert run[key] is None or 0 <= run[key] <= run["ticks"]
    if run["takeover_tick"] is not None:  # a takeover needs a defector, seen by then
        assert run["first_defector_tick"] is not None
        assert run["first_defector_tick"] <= run["takeover_tick"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_same_seed_same_result(sc):
    a, b = run_replicate(sc, 0), run_replicate(sc, 0)
    assert pd.Series(a.run).equals(pd.Series(b.run))  # NaN-aware equality
    for key in a.timeseries.dtype.names:
        np.testing.assert_array_equal(a.timeseries[key], b.timeseries[key])


def test_extinction_absorbs():
    sc = validate({"seed": 4, "horizon": 500, "agent": {"initial_size": 30, "birth_rate": 0.0,
                                                        "death_rate": 0.2}})
    result = run_replicate(sc, 0)
    assert result.run["extinct"] and result.run["stop_reason"] == "extinction"
    assert result.run["final_size"] == 0
    assert result.run["extinction_tick"] == result.run["ticks"]


def test_different_seeds_differ():
    sc = validate({"seed": 1, "replicates": 2, "horizon": 50,
                   "copy": {"error_rate": 0.01}})
    runs = run_scenario(sc).runs
    assert runs.seed.nunique() == 2
    ts = run_scenario(sc).timeseries
    first, second = (g.drop(columns="replicate").reset_index(drop=True)
                     for _, g in ts.groupby("replicate"))
    assert not first.equals(second)
    other = run_scenario(validate({**sc.model_dump(), "seed": 2})).timeseries
    assert not other.equals(ts)


def test_replicate_alone_equals_replicate_in_full_run():
    sc = validate({"seed": 99, "replicates": 4, "horizon": 40, "copy": {"error_rate": 0.01}})
    full = run_scenario(sc)
    alone = run_scenario(sc, replicates=[2])
    pd.testing.assert_frame_equal(
        full.runs[full.runs.replicate == 2].reset_index(drop=True), alone.runs)
    pd.testing.assert_frame_equal(
        full.timeseries[full.timeseries.replicate == 2].reset_index(drop=True),
        alone.timeseries)


@st.composite
def worlds(draw):
    """Random multi-agent worlds with every world-level mechanism."""
    economy = draw(st.booleans())
    world = {"agents": draw(st.integers(2, 5)),
             "transmission": draw(rate), "takeover_kills": draw(st.booleans()),
             "oversight": draw(rate), "oversight_threshold": draw(rate)}
    if economy:
        world.update(income=draw(st.floats(10.0, 5000.0)),
                     upkeep=draw(st.floats(0.1, 3.0)),
                     initial_reserve=draw(st.floats(0.0, 500.0)),
                     acquisition_bias=draw(st.floats(0.0, 3.0)),
                     reproduction={"threshold": draw(st.floats(1.0, 500.0)),
                                   "bottleneck": draw(st.integers(1, 50)),
                                   "agent_mutation": draw(rate),
                                   "reference": draw(st.sampled_from(["founder", "inherited"]))})
        max_agents = draw(st.one_of(st.none(), st.integers(world["agents"], 12)))
        if max_agents is not None:
            world["max_agents"] = max_agents
    return validate({
        "seed": draw(st.integers(0, 2**32)), "horizon": draw(st.integers(1, 30)),
        "record_every": draw(st.integers(1, 7)), "world": world,
        "agent": {"dynamics": draw(st.sampled_from(["birth_death", "wright_fisher", "moran"])),
                  "capacity": draw(st.integers(5, 300)),
                  "initial_size": draw(st.integers(1, 200)),
                  "initial_traits": draw(trait_values), "birth_rate": draw(st.floats(0, 1)),
                  "escape_threshold": draw(rate)},
        "copy": {"error_rate": draw(rate),
                 "noise": {"sigma": draw(st.sampled_from([0.0, 1.0])),
                           "scope": draw(st.sampled_from(["world", "agent"]))}},
        "immune": {"surveillance": draw(rate), "tolerance": draw(rate),
                   "cost": draw(st.floats(0.0, 2.0)) if economy else 0.0},
        "repair": {"rate": draw(rate)},
    })


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_world_invariants(sc):
    world = World(sc, seed=sc.seed)
    for _ in range(sc.horizon):
        world.step()
        cl, ag, n = world.clones, world.agents, world.n_agents
        live = cl.count[: cl.meta[0]]
        assert np.all((live > 0) | (live == -1))
        # Dead agents hold no subcomponents; sizes add up.
        sizes = np.bincount(cl.agent[: cl.meta[0]][live > 0], live[live > 0], n)
        np.testing.assert_array_equal(sizes, ag.size[:n])
        assert np.all(sizes[~ag.alive[:n]] == 0)
        assert np.all(ag.death_tick[:n][~ag.alive[:n]] >= 1)
        if sc.world.max_agents is not None:
            assert world.living_agents <= max(sc.world.max_agents, sc.world.agents)
        for array in (ag.surveillance, ag.efficacy, ag.tolerance):
            assert np.all((array[:n] >= 0) & (array[:n] <= 1))


BATCH_CASES = {
    # many clones: the tables grow between ticks (NEED_ROOM, make_room)
    "growing_tables": dict(copy={"error_rate": 0.05, "kernel": {"type": "normal", "sd": 0.2}}),
    # a stop event ends replicates early
    "stop_on_takeover": dict(agent={"seed_clones": [{"count": 30, "traits": {"drive": 0.9}}]},
                             stop={"on": ["takeover"]}, immune={"surveillance": 0.0}),
    # every tick above driver.FAST_LIMIT: ticks run alone, growing as they draw
    "ticks_alone": dict(agent={"capacity": 120000, "initial_size": 60000}, horizon=6,
                        record_every=2),
    "moran": dict(agent={"dynamics": "moran", "capacity": 300, "initial_size": 300},
                  copy={"error_rate": 0.01}),
}


@pytest.mark.parametrize("case", sorted(BATCH_CASES))
def test_compiled_batch_of_replicates_equals_replicates_one_by_one(case, monkeypatch):
    # The batch derives each replicate's generator in compiled code and runs
    # them back to back in one call: runs and records must be exactly those
    # of World-by-World replicates (run_replicate), which the naive
    # reference pins draw for draw.
    from simulation import run as run_module
    data = {"seed": 11, "replicates": 12, "horizon": 120, "record_every": 7,
            "record_clones": False,
            "agent": {"capacity": 400, "initial_size": 200, "birth_rate": 0.2,
                      "death_rate": 0.1},
            "copy": {"error_rate": 0.002},
            "immune": {"surveillance": 0.3, "tolerance": 0.25, "efficacy": 0.6}}
    for key, value in BATCH_CASES[case].items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    if case == "ticks_alone":
        data["replicates"] = 2
    sc = validate(data)
    monkeypatch.setattr(run_module, "RECORD_ROWS", 5)  # the records grow too
    monkeypatch.setattr(run_module, "BATCH", 5)  # several calls
    assert run_module.batchable(sc, run_module.build_config(sc))
    batch = run_scenario(sc, show_progress=False)
    # Shares of the replicates in threads, each in its own tables: the same.
    threaded = run_scenario(sc, show_progress=False, threads=3)
    pd.testing.assert_frame_equal(batch.runs, threaded.runs)
    pd.testing.assert_frame_equal(batch.timeseries, threaded.timeseries)
    monkeypatch.setattr(run_module, "batchable", lambda *_: False)
    alone = run_scenario(sc, show_progress=False)
    pd.testing.assert_frame_equal(batch.runs, alone.runs)
    pd.testing.assert_frame_equal(batch.timeseries, alone.timeseries)
    assert batch.runs.seed.tolist() == [replicate_seed(11, k) for k in range(len(batch.runs))]
    if case == "stop_on_takeover":
        assert (batch.runs.stop_reason == "takeover").any()
