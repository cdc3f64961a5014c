"""Failure modes (docs/model.md, "Failure modes"): systematic error, a self
that drifts, the drift event and the per-replicate failure mode.

The draw-for-draw comparisons with the naive reference are the
``systematic`` and ``tracking_self`` cases of tests/test_kernels.py and
tests/test_world.py; here: the properties those cannot show (a systematic
error is the same in every copy, so redundancy cannot remove it), the drift
event against a tick-by-tick recomputation, the failure mode against its
event ticks (hypothesis), the analysis of modes as competing risks, and the
validation of the new keys.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import failure_mode_at, failure_mode_sensitivity, failure_mode_summary
from analysis.estimators import with_failure_modes
from simulation import ScenarioError, run_replicate, run_scenario, validate
from simulation.engine import World
from simulation.names import FAILURE_MODES
from simulation.run import failure_mode


def singleton(**sections):
    base = {"seed": 3, "horizon": 40, "record_every": 10,
            "agent": {"capacity": 400, "initial_size": 300, "birth_rate": 0.3,
                      "death_rate": 0.1},
            "immune": {"surveillance": 0.2, "tolerance": 0.3}}
    for section, values in sections.items():
        base.setdefault(section, {}).update(values) if isinstance(values, dict) \
            else base.__setitem__(section, values)
    return validate(base)


# --- systematic error ---------------------------------------------------------

@pytest.mark.parametrize("redundancy", [1, 9])
def test_systematic_error_is_the_same_in_every_copy_whatever_the_redundancy(redundancy):
    """With no ordinary error, every clone's drive is the founder's plus a
    whole number of copies of the agent's vector (clipped): the error is
    not drawn per copy, and r = 9 with majority vote leaves it as it is."""
    sc = singleton(copy={"error_rate": 0.0, "traits": ["drive"], "redundancy": redundancy,
                         "systematic": {"rate": 0.2, "sd": 0.05}},
                   agent={"capacity": 5000, "initial_size": 100, "birth_rate": 0.3,
                          "death_rate": 0.05, "initial_traits": {"drive": 0.5},
                          "escape_threshold": 0.99})
    world = World(sc, seed=8)
    v = world.agents.systematic[0]
    assert v[1:].tolist() == [0.0, 0.0, 0.0] and v[0] != 0.0  # drive only
    for _ in range(30):
        world.step()
    cl = world.clones
    live = cl.count[: cl.meta[0]] > 0
    drives = cl.traits[: cl.meta[0]][live, 0]
    steps = (drives - 0.5) / v[0]
    shifted = ~np.isclose(drives, 0.0) & ~np.isclose(drives, 1.0)
    np.testing.assert_allclose(steps[shifted], np.round(steps[shifted]), atol=1e-9)
    assert np.round(steps[shifted]).max() >= 2  # copies of copies carry it twice
    np.testing.assert_array_equal(cl.traits[: cl.meta[0]][live, 1:],
                                  np.tile([0.9, 0.0, 1.0], (live.sum(), 1)))


def test_redundancy_does_not_change_a_run_with_only_systematic_error():
    """Same seed, r = 1 and r = 9, no ordinary error, no redundancy cost:
    the very same run (the vote has nothing it can remove)."""
    runs = [run_scenario(singleton(copy={"error_rate": 0.0, "redundancy": r,
                                         "systematic": {"rate": 0.1}}),
                         show_progress=False).timeseries for r in (1, 9)]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert runs[0]["mean_drive"].iloc[-1] != runs[0]["mean_drive"].iloc[0]


def test_systematic_vectors_are_normal_with_the_given_sd():
    sc = validate({"seed": 1, "horizon": 1, "world": {"agents": 2000},
                   "agent": {"capacity": 2, "initial_size": 1},
                   "copy": {"traits": ["drive", "stealth"],
                            "systematic": {"rate": 0.1, "sd": 0.2}}})
    world = World(sc, seed=4)
    v = world.agents.systematic[:2000]
    assert not v[:, [1, 3]].any()  # traits copy errors do not touch
    for k in (0, 2):
        # mean within 4 standard errors; sd within 4 of its standard errors
        assert abs(v[:, k].mean()) < 4 * 0.2 / math.sqrt(2000)
        assert abs(v[:, k].std() - 0.2) < 4 * 0.2 / math.sqrt(2 * 2000)
    assert abs(np.corrcoef(v[:, 0], v[:, 2])[0, 1]) < 4 / math.sqrt(2000)


def test_lineage_vectors_are_normal_with_the_given_sd():
    """Scope lineage: each set-up clone (a lineage root) draws its own
    vector at tick 0, Normal(0, sd) per copied trait; agents have none."""
    sc = validate({"seed": 1, "horizon": 1, "world": {"agents": 2000},
                   "agent": {"capacity": 2, "initial_size": 1},
                   "copy": {"traits": ["drive", "stealth"],
                            "systematic": {"rate": 0.1, "sd": 0.2, "scope": "lineage"}}})
    world = World(sc, seed=4)
    assert not world.agents.systematic.any()
    v = world.clones.systematic[:2000]
    assert not v[:, [1, 3]].any()
    for k in (0, 2):  # as above: 4 standard errors
        assert abs(v[:, k].mean()) < 4 * 0.2 / math.sqrt(2000)
        assert abs(v[:, k].std() - 0.2) < 4 * 0.2 / math.sqrt(2 * 2000)


def test_lineage_vectors_are_inherited_and_each_mutant_clone_draws_its_own():
    """Scope lineage, recorded lineages: a clone founded by an ordinary copy
    error (its traits differ from its parent's by more than the parent's
    vector) has a fresh vector of its own; every other clone (systematic-only
    newborns, repair children) has exactly its parent's, and a
    systematic-only clone's traits are its parent's shifted by that vector."""
    sc = singleton(copy={"error_rate": 0.01, "traits": ["drive", "loyalty"],
                         "kernel": {"type": "normal", "sd": 0.2},
                         "systematic": {"rate": 0.2, "sd": 0.05, "scope": "lineage"}},
                   record_clones=True, horizon=60, replicates=1,
                   repair={"rate": 0.05, "tolerance": 0.1})
    result = run_scenario(sc, show_progress=False)
    clones = result.clones.set_index("clone")
    vec = clones[["systematic_drive", "systematic_loyalty"]].to_numpy()
    traits = clones[["drive", "loyalty"]].to_numpy()
    assert not clones[["systematic_stealth", "systematic_fidelity"]].to_numpy().any()
    children = clones.index[clones.parent >= 0]
    parent = clones.loc[children, "parent"].to_numpy()
    same = (vec[children] == vec[parent]).all(axis=1)
    shifted = np.clip(traits[parent] + vec[parent], 0.0, 1.0)
    systematic_only = same & np.isclose(traits[children], shifted, atol=1e-12).all(axis=1)
    own = ~same
    assert systematic_only.sum() > 5 and own.sum() > 5  # both kinds founded
    # the vectors of their own are fresh draws: all distinct, and the roots'
    assert len({tuple(v) for v in vec[children][own]}) == own.sum()
    roots = clones.index[clones.parent < 0]
    assert len({tuple(v) for v in vec[roots]}) == len(roots)
    # agents have no vector of their own under lineage scope
    assert result.agents["systematic_drive"].isna().all()


def test_agents_parquet_records_each_agents_systematic_vector():
    result = run_scenario(singleton(copy={"systematic": {"rate": 0.1, "sd": 0.1}}),
                          show_progress=False)
    agents = result.agents
    assert agents is not None
    for name in ("drive", "loyalty", "stealth", "fidelity"):
        column = agents.groupby("replicate")[f"systematic_{name}"]
        assert (column.nunique() == 1).all()  # drawn once: the same at every record
        assert (column.first() != 0.0).all()
        assert column.first().nunique() == agents.replicate.nunique()


def test_per_trait_bias_moves_only_the_traits_it_names():
    sc = singleton(copy={"error_rate": 0.3, "kernel": {"type": "normal", "sd": 0.001,
                                                       "bias": {"stealth": 0.05}}},
                   immune={"surveillance": 0.0})
    world = World(sc, seed=2)
    for _ in range(20):
        world.step()
    mean = world.mean_traits()
    assert mean[2] > 0.01  # stealth climbed from 0
    assert abs(mean[0] - 0.1) < 0.01 and abs(mean[1] - 0.9) < 0.01


# --- a self that drifts, and the drift event --------------------------------

def _resident_and_reference(world):
    ag, theta = world.agents, world.scenario.agent.escape_threshold
    cl = world.clones
    live = cl.count[: cl.meta[0]] > 0
    drive = cl.traits[: cl.meta[0]][live, 0]
    count = cl.count[: cl.meta[0]][live]
    resident = drive <= theta
    mean = (count[resident] * drive[resident]).sum() / count[resident].sum()
    return mean, float(ag.zref[0, 0])


def test_tracking_reference_moves_toward_the_mean_and_drift_is_seen_when_it_rises():
    sc = singleton(copy={"error_rate": 0.1, "traits": ["drive"],
                         "kernel": {"type": "normal", "sd": 0.05}},
                   agent={"capacity": 2000, "initial_size": 1000, "birth_rate": 0.2,
                          "death_rate": 0.1, "drive_advantage": 2.0,
                          "escape_threshold": 0.95},
                   immune={"surveillance": 0.3, "tolerance": 0.1, "efficacy": 0.7,
                           "reference": "tracking", "tracking_rate": 0.05},
                   stop={"drift_delta": 0.1})
    world = World(sc, seed=5)
    resident0, reference0 = _resident_and_reference(world)
    assert world.status["drift_tick"] == -1
    expected, largest = -1, 0.0
    for _ in range(1500):
        before = world.agents.zref[0].copy()
        mean_before = world.mean_traits()
        world.step()
        # z_ref moved by tracking_rate of the gap to the tick's starting mean
        np.testing.assert_allclose(world.agents.zref[0],
                                   before + 0.05 * (mean_before - before), rtol=1e-12)
        resident, reference = _resident_and_reference(world)
        if expected < 0 and (resident - resident0 >= 0.1 or reference - reference0 >= 0.1):
            expected = world.tick
        assert world.status["drift_tick"] == expected
        # the running maximum of the rise, the drift at any threshold
        largest = max(largest, resident - resident0, reference - reference0)
        assert world.status["drift_rise"] == pytest.approx(largest, abs=1e-12)
        if expected > 0:
            break
    assert expected > 0, "the tracking self must drift within 1500 ticks"


def test_a_founder_self_holds_the_drive_that_a_tracking_self_lets_drift():
    common = {"copy": {"error_rate": 0.1, "traits": ["drive"],
                       "kernel": {"type": "normal", "sd": 0.05}},
              "agent": {"capacity": 2000, "initial_size": 1000, "birth_rate": 0.2,
                        "drive_advantage": 2.0, "escape_threshold": 0.95},
              "horizon": 1500}
    fixed = run_scenario(singleton(**common, immune={"surveillance": 0.3,
                                                     "tolerance": 0.1}),
                         show_progress=False).runs
    tracking = run_scenario(singleton(**common, immune={
        "surveillance": 0.3, "tolerance": 0.1, "reference": "tracking",
        "tracking_rate": 0.05}), show_progress=False).runs
    assert fixed.failure_mode.iloc[0] == "none" and fixed.final_mean_drive.iloc[0] < 0.25
    assert tracking.failure_mode.iloc[0] == "drift"
    assert tracking.final_mean_drive.iloc[0] > 0.4


# --- failure modes ------------------------------------------------------------

@pytest.mark.parametrize("takeover, drift, mode", [
    (None, None, "none"), (5, None, "cancer"), (None, 5, "drift"),
    (5, 9, "cancer_then_drift"), (9, 5, "drift_then_cancer"), (7, 7, "cancer_then_drift")])
def test_failure_mode_from_event_ticks(takeover, drift, mode):
    assert failure_mode(takeover, drift) == mode
    assert mode in FAILURE_MODES


@st.composite
def failing_scenarios(draw):
    tracking = draw(st.booleans())
    return validate({
        "seed": draw(st.integers(0, 2**32)), "horizon": draw(st.integers(1, 60)),
        "record_every": draw(st.integers(1, 20)),
        "world": {"agents": draw(st.integers(1, 3))},
        "agent": {"capacity": draw(st.integers(10, 300)),
                  "initial_size": draw(st.integers(1, 200)),
                  "initial_traits": {"drive": draw(st.floats(0.0, 0.6))},
                  "birth_rate": draw(st.floats(0.0, 1.0)),
                  "death_rate": draw(st.floats(0.0, 0.5)),
                  "escape_threshold": draw(st.floats(0.0, 1.0)),
                  "takeover_fraction": draw(st.floats(0.05, 1.0))},
        "copy": {"error_rate": draw(st.floats(0.0, 0.5)),
                 "kernel": {"type": "normal", "sd": draw(st.floats(0.01, 0.3))},
                 "systematic": {"rate": draw(st.floats(0.0, 0.5)),
                                "sd": draw(st.floats(0.01, 0.3)),
                                "scope": draw(st.sampled_from(["agent", "lineage"]))},
                 "noise": {"sigma": draw(st.floats(0.0, 2.0)),
                           "correlation_time": draw(st.floats(0.5, 100.0)),
                           "scope": draw(st.sampled_from(["world", "agent"]))}},
        "immune": {"surveillance": draw(st.floats(0.0, 1.0)),
                   "tolerance": draw(st.floats(0.0, 1.0)),
                   "reference": "tracking" if tracking else "founder",
                   "tracking_rate": draw(st.floats(0.01, 1.0)) if tracking else 0.0},
        "stop": {"drift_delta": draw(st.floats(0.01, 1.0)),
                 "on": draw(st.sampled_from([[], ["takeover"]]))},
    })


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(failing_scenarios())
def test_a_failure_mode_is_set_iff_its_event_tick_is(sc):
    run = run_replicate(sc, 0).run
    cancer, drift = run["takeover_tick"], run["drift_tick"]
    mode = run["failure_mode"]
    assert ("cancer" in mode) == (cancer is not None)
    assert ("drift" in mode) == (drift is not None)
    assert (mode == "none") == (cancer is None and drift is None)
    assert run["drifted"] == (drift is not None)
    if drift is not None:
        assert 0 <= drift <= run["ticks"]
    if cancer is not None and drift is not None:
        assert mode.startswith("cancer") == (cancer <= drift)
    # The recorded rises give the same mode at the run's own threshold.
    table = pd.DataFrame([run])
    assert failure_mode_at(table, sc.stop.drift_delta)[0] == mode


def test_failure_modes_are_competing_risks():
    runs = pd.DataFrame({
        "ticks": [100] * 6, "stop_reason": ["horizon"] * 6,
        "takeover_tick": pd.array([10, None, 50, 30, None, None], dtype="Int64"),
        "drift_tick": pd.array([None, 20, 40, 60, None, None], dtype="Int64"),
        "extinction_tick": pd.array([None] * 6, dtype="Int64"),
        "failure_mode": ["cancer", "drift", "drift_then_cancer", "cancer_then_drift",
                         "none", "none"],
        "final_mean_drive": [0.5] * 6, "final_mean_loyalty": [0.5] * 6})
    ticks = with_failure_modes(runs)
    assert ticks["cancer_first_tick"].tolist() == [10, pd.NA, pd.NA, 30, pd.NA, pd.NA]
    assert ticks["drift_then_cancer_tick"].tolist() == [pd.NA, pd.NA, 50, pd.NA, pd.NA,
                                                        pd.NA]
    table = failure_mode_summary(runs, horizon=100).iloc[0]
    assert table["p_cancer_first"] == pytest.approx(2 / 6)
    assert table["p_drift_first"] == pytest.approx(2 / 6)
    assert table["p_cancer_then_drift"] == pytest.approx(1 / 6)
    assert table["p_drift_then_cancer"] == pytest.approx(1 / 6)
    assert table["p_no_failure"] == pytest.approx(2 / 6)
    assert table["mode_none"] == 2 and table["mode_cancer"] == 1
    early = failure_mode_summary(runs, horizon=35).iloc[0]  # by T = 35
    assert early["p_cancer_first"] == pytest.approx(2 / 6)
    assert early["p_drift_first"] == pytest.approx(1 / 6)
    assert early["p_cancer_then_drift"] == 0.0


# --- validation of the new keys -----------------------------------------------

@pytest.mark.parametrize("data, words", [
    ({"copy": {"systematic": {"scope": "species"}}}, "scope"),
    ({"copy": {"noise": {"sigma": -0.1}}}, "sigma"),
    ({"copy": {"noise": {"sigma": 10.5}}}, "sigma"),
    ({"copy": {"noise": {"correlation_time": 0.0}}}, "correlation_time"),
    ({"copy": {"noise": {"scope": "lineage"}}}, "scope"),
    ({"copy": {"noise": {"sigma": 1.0, "tau": 3}}}, "tau"),
    ({"copy": {"systematic": {"rate": 0.1}}, "agent": {"dynamics": "moran"}},
     "birth_death"),
    ({"immune": {"reference": "tracking"}}, "tracking_rate > 0"),
    ({"immune": {"tracking_rate": 0.1}}, "needs reference 'tracking'"),
    ({"copy": {"kernel": {"bias": {"greed": 0.1}}}}, "bias"),
    ({"stop": {"drift_delta": 0.0}}, "drift_delta"),
])
def test_new_keys_are_validated(data, words):
    with pytest.raises(ScenarioError, match=words):
        validate(data)


def test_run_summary_reports_the_failure_modes(tmp_path):
    from click.testing import CliRunner

    from substrate.cli import cli

    result = CliRunner().invoke(cli, ["run", "drift_tracking_self", "--replicates", "2",
                                      "--horizon", "1500", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "P(drift first by 1500)    1.000" in result.output
    assert "failure modes               none 0, cancer 0, drift 2," in result.output
    runs = pd.read_parquet(tmp_path / "o" / "runs.parquet")
    assert runs.failure_mode.tolist() == ["drift", "drift"]


# --- random landscapes ----------------------------------------------------------

def _random(seed=None, peaks=8):
    return validate({"seed": 1, "horizon": 5,
                     "landscape": {"type": "random", "ruggedness": 0.5, "peaks": peaks,
                                   **({"seed": seed} if seed is not None else {})}})


def test_random_landscape_per_replicate_or_fixed_by_its_seed():
    per_replicate = [World(_random(), seed=s).config.landscape for s in (1, 2)]
    assert not np.array_equal(per_replicate[0], per_replicate[1])
    np.testing.assert_array_equal(World(_random(), seed=1).config.landscape,
                                  per_replicate[0])
    fixed = [World(_random(seed=9), seed=s).config.landscape for s in (1, 2)]
    np.testing.assert_array_equal(fixed[0], fixed[1])
    assert fixed[0].shape == (3, 8)
    np.testing.assert_array_equal(fixed[0][1], np.arange(1, 9))


def test_random_landscape_leaves_the_replicates_stream_alone():
    """Drawing a realisation does not move the replicate's generator: with
    ruggedness 0 the run is that of a linear landscape."""
    flat = validate({"seed": 1, "horizon": 30, "copy": {"error_rate": 0.05},
                     "landscape": {"type": "random", "ruggedness": 0.0, "peaks": 4}})
    linear = validate({"seed": 1, "horizon": 30, "copy": {"error_rate": 0.05}})
    a, b = (run_scenario(sc, show_progress=False).timeseries for sc in (flat, linear))
    pd.testing.assert_frame_equal(a, b)


def test_random_landscape_has_the_given_sd_over_realisations():
    from simulation.engine import random_landscape

    d = np.linspace(0.0, 1.0, 201)
    values = []
    for k in range(400):
        terms = random_landscape(8, np.random.default_rng(k))
        values.append((terms[0][:, None] * np.sin(2 * np.pi * terms[1][:, None] * d
                                                  + terms[2][:, None])).sum(axis=0))
    values = np.array(values)
    # pooled over d and realisations the variance is 1 (standard error of
    # the realisations' mean square about 0.05 here)
    assert abs(values.var() - 1.0) < 0.15
    assert abs(values.mean()) < 0.1


# --- repair that sees stealth -----------------------------------------------------

@pytest.mark.parametrize("sees", [True, False])
def test_repair_misses_stealthy_parts_unless_blind_to_stealth(sees):
    """A deviant clone of stealth 1 with repair rate 1: never repaired when
    repair sees stealth (probability 1 * (1 - 1)), all repaired otherwise."""
    sc = singleton(agent={"capacity": 400, "initial_size": 300, "birth_rate": 0.0,
                          "death_rate": 0.0,
                          "seed_clones": [{"count": 50, "traits": {"drive": 0.3,
                                                                   "stealth": 1.0}}]},
                   copy={"error_rate": 0.0}, immune={"surveillance": 0.0},
                   repair={"rate": 1.0, "tolerance": 0.05, "sees_stealth": sees})
    world = World(sc, seed=1)
    world.step()
    assert world.tick_totals["repairs"] == (0 if sees else 50)


# --- the verdict across drift thresholds ---------------------------------------

def test_failure_mode_at_other_thresholds_from_the_recorded_rises():
    # Hand-made rises: R (by the end) and R_c (before the takeover).
    runs = pd.DataFrame({
        "takeover_tick": pd.array([50, 50, 50, None, None], dtype="Int64"),
        "drift_rise": [0.3, 0.3, 0.1, 0.25, 0.05],
        "drift_rise_before_takeover": [0.22, 0.1, 0.1, np.nan, np.nan]})
    assert list(failure_mode_at(runs, 0.2)) == [
        "drift_then_cancer", "cancer_then_drift", "cancer", "drift", "none"]
    assert list(failure_mode_at(runs, 0.25)) == [
        "cancer_then_drift", "cancer_then_drift", "cancer", "drift", "none"]
    assert list(failure_mode_at(runs, 0.35)) == ["cancer", "cancer", "cancer", "none", "none"]
    table = failure_mode_sensitivity(runs.assign(stop_reason="horizon"), [0.2, 0.35])
    assert table["p_drift_first"].tolist() == [0.4, 0.0]
    assert table["p_cancer_first"].tolist() == [0.4, 0.6]
    assert table["verdict"].tolist() == ["tied", "cancer first"] and table["flips"].all()


def test_the_flagships_verdict_turns_on_the_drift_threshold():
    # singleton_baseline (immune.tolerance 0.25, stop.drift_delta 0.2), its
    # seed, 6 replicates: the resident drive creeps up inside the tolerance
    # (the immune system removes what deviates by more), by 0.2 or more in 5
    # of them before their takeover or the horizon, and by less than 0.25 in
    # all. So at 0.2 "drift first" (5 of 6) and from the tolerance up
    # "cancer first" (the 3 takeovers, none with drift first): the verdict
    # flips, and the table says so.
    import scenarios
    from simulation import load_scenario

    sc = load_scenario(scenarios.path("singleton_baseline"), replicates=6)
    runs = run_scenario(sc, show_progress=False).runs
    np.testing.assert_array_equal(failure_mode_at(runs, 0.2), runs["failure_mode"])
    table = failure_mode_sensitivity(runs, [0.1, 0.2, 0.25, 0.3, 0.4]).set_index("drift_delta")
    assert table.loc[0.2, "verdict"] == "drift first"
    assert table.loc[0.2, "p_drift_first"] == pytest.approx(5 / 6)
    for delta in (0.25, 0.3, 0.4):
        assert table.loc[delta, "verdict"] == "cancer first"
        assert table.loc[delta, "p_drift_first"] == 0.0
        assert table.loc[delta, "p_cancer_first"] == runs["takeover"].mean() > 0
    assert table["flips"].all()
    assert (runs["drift_rise"] < sc.immune.tolerance).all()
    # The lines run and summarize print for it: this run's threshold and the
    # tolerance marked, each verdict beside its probabilities.
    from substrate.formatting import sensitivity_text

    text = sensitivity_text(table.reset_index(), 0.2, 0.25).splitlines()
    assert text[0] == ("  the failure-mode verdict turns on stop.drift_delta (0.2 here; "
                       "immune.tolerance 0.25):")
    assert [line.split()[0] for line in text[2:7]] == ["0.1", "0.2", "0.25", "0.3", "0.4"]
    assert text[3].endswith("drift first (this run)") and f"{5 / 6:.3f} [" in text[3]
    assert text[4].endswith("cancer first (= tolerance)")
    assert text[-1].startswith("  (the immune system lets drive rise by up to its tolerance")
