"""The defence study on gradual physics (simulation/gradual.py,
analysis/gradual.py, analysis/multitype.py).

Each piece against a hand computation or an exact law: the background's
founding rate, the fixed background of a founded lineage
(``copy.seeded_only``, untracked seed clones), the founders' strata, the
estimator, and the multi-hit theory (one type without mutation: the
Galton-Watson escape; a flagship founder: simulated lineages). The
decomposition against direct simulation of the whole system: a reduced
case here, the study's flagship points at P ~ 1e-2 to 1e-3 under slow
(benchmarks/study_gradual.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

import scenarios
from analysis.estimators import wilson_interval
from analysis.gradual import (founder_contributions, founding_integral, scaled_takeover,
                              takeover_by)
from analysis.multitype import LineageTheory, founder_escape
from analysis.scaling import sized
from analysis.theory import galton_watson_escape
from simulation import load_scenario
from simulation.engine import World, initial_state
from simulation.errors import ScenarioError
from simulation.gradual import (DRIVE_STRATA, STEALTH_STRATA, Background, draw_founders,
                                founding_weights, founding_windows, lineage_scenario)
from simulation.scenario import point_scenario
from substrate.cli import cli


def flagship(*overrides, seed=None):
    return load_scenario(scenarios.path("defence_flagship"), list(overrides), seed=seed)


def test_founding_weights_by_hand():
    """n p_b mu P(d + X > theta) per clone, 0 for a defector (docs/model.md)."""
    sc = flagship()
    counts = np.array([5000.0, 200.0, 7.0])
    traits = np.array([[0.1, 0.9, 0.0, 1.0], [0.4, 0.6, 0.1, 1.0], [0.6, 0.5, 0.0, 1.0]])
    w = founding_weights(sc, counts, traits, np.array([0.1, 0.9, 0.0, 1.0]))
    g = 1 - counts.sum() / 10000
    for i in range(2):
        d, lo = traits[i, 0], traits[i, 1]
        p_b = 0.2 * (1 + 2 * d) * (1 - 0.3 * lo) * g
        expected = counts[i] * p_b * 1e-3 * stats.norm.sf((0.5 - d) / 0.08)
        assert w[i] == pytest.approx(expected, rel=1e-12)
    assert w[2] == 0.0


def test_an_untracked_seed_clone_is_background():
    sc = flagship("agent.initial_size=101", "agent.seed_clones=[{count: 100, tracked: false, "
                  "traits: {drive: 0.3}}, {count: 1, traits: {drive: 0.6}}]")
    state = initial_state(sc)
    cl = state.clones
    assert cl.count[:2].tolist() == [100, 1] and cl.seeded[:2].tolist() == [False, True]
    assert state.agents.zref[0].tolist() == [0.1, 0.9, 0.0, 1.0]
    with pytest.raises(ScenarioError, match="no tracked clone"):
        flagship("agent.seed_clones=[{count: 1, tracked: false}]", "stop.on=[fixation]")
    with pytest.raises(ScenarioError, match="seeded_only needs"):
        flagship("copy.seeded_only=true", "agent.dynamics=moran")


def test_a_founded_lineage_mutates_in_a_fixed_background():
    """copy.seeded_only at copy error 0.05: the background clone stays the
    only unseeded clone (it never founds a mutant), while a lineage that
    lives (a strong founder; the first seed of 0..9 whose lineage is not
    lost) has founded mutant clones by its end (300 ticks or takeover)."""
    sc = lineage_scenario(flagship("copy.error_rate=0.05"), "immune.efficacy", 0.02,
                          [0.34, 0.66, 0.05, 1.0], 5000, [0.9, 0.2, 0.05, 1.0], 300)
    world = World(sc, seed=0, start=False)
    for seed in range(10):
        world.reset(seed)
        world.advance(300)
        cl = world.clones
        live = cl.count > 0
        unseeded = live & ~cl.seeded
        assert unseeded.sum() == 1
        assert cl.traits[unseeded][0].tolist() == [0.34, 0.66, 0.05, 1.0]
        if world.status["loss_tick"] < 0:
            assert (live & cl.seeded).sum() > 5
            break
    else:
        raise AssertionError("every lineage was lost")


def _pool():
    """A synthetic background: two records, three founding clones each."""
    traits = np.array([[0.3, 0.7, 0.0, 1.0], [0.33, 0.7, 0.1, 1.0], [0.45, 0.7, 0.2, 1.0]] * 2)
    return Background(ticks=np.array([0, 100, 200]), nu=np.array([[0.0, 1.0, 1.0]]),
                      size=np.array([[100.0, 100.0, 100.0]]),
                      pool_tick=np.repeat([100, 200], 3), pool_traits=traits,
                      pool_weight=np.array([1.0, 2.0, 0.5] * 2),
                      dominant=np.array([0.3, 0.7, 0.0, 1.0]), deviant_share=0.0)


def test_founders_are_stratified_with_unit_mean_ratio():
    """Per window, the strata are visited alike and each founder stands for
    its stratum's probability: the mean likelihood ratio is 1 (exactly: it
    is sum P_s P_d); every founder is a defector, founded in its window; a
    higher drive stratum gives a larger drive step on average."""
    sc = flagship()
    founders = draw_founders(sc, _pool(), [100, 200], 3, seed=5)
    per_window = len(STEALTH_STRATA) * len(DRIVE_STRATA) * 3
    assert len(founders) == 2 * per_window
    for w, (lo, hi) in enumerate(founding_windows([100, 200])):
        mine = [f for f in founders if f["window"] == w]
        assert np.mean([f["likelihood_ratio"] for f in mine]) == pytest.approx(1.0, rel=1e-12)
        assert all(lo <= f["tick"] <= hi for f in mine if f["traits"] is not None)
        assert all(f["traits"][0] > 0.5 for f in mine if f["traits"] is not None)
    steps = [np.mean([f["traits"][0] for f in founders if f["drive_stratum"] == d
                      and f["traits"] is not None]) for d in range(len(DRIVE_STRATA))]
    assert steps == sorted(steps)


def test_the_estimator_by_hand():
    """nu = 1 per tick from tick 100 (Lambda(100) = 50 by the trapezoid,
    Lambda(200) = 150); one window (0, 200], two founders: the first
    (LR 2, tick 50) with splitting weight 1e-3 and its 4 final particles at
    ticks 10, 20, 200, 30, the second (LR 0.5) without a takeover.
    z_1 = 150 x 2 x 1e-3 x 3/4 (tau <= 200 - 50 keeps three), z_2 = 0;
    E = their mean."""
    background = {"ticks": [0, 100, 200], "nu": [[0.0, 1.0, 1.0]]}
    integral = founding_integral(background)
    assert integral(100)[0] == 50.0 and integral(200)[0] == 150.0
    assert integral(300)[0] == 250.0  # beyond: the last half of the records, nu = 1
    founders = [{"window": 0, "tick": 50, "likelihood_ratio": 2.0},
                {"window": 0, "tick": 10, "likelihood_ratio": 0.5}]
    runs = [{"log10_weight": -3.0, "hit_ticks": [10, 20, 200, 30]},
            {"log10_weight": None, "hit_ticks": []}]
    z = founder_contributions(founders, runs, 4, [(0, 200)], 200, integral)
    assert z.tolist() == pytest.approx([150 * 2 * 1e-3 * 3 / 4, 0.0])
    by = takeover_by(founders, runs, 4, [(0, 200)], 200, integral)
    assert by["p"] == pytest.approx(-math.expm1(-z.mean()))
    # contributions above 1 (nu = 10 per tick: z = 3 and 1, E = 2):
    # the interval holds the estimate (splitting_interval clips at 1, the
    # top of a probability, not of an exposure)
    runs[1] = {"log10_weight": -3.0, "hit_ticks": [5, 6, 7, 8]}
    many = founding_integral({"ticks": [0, 200], "nu": [[10.0, 10.0]]})
    by = takeover_by(founders, runs, 4, [(0, 200)], 200, many)
    assert by["exposure"] == pytest.approx(2.0)
    assert by["low"] <= by["p"] <= by["high"] and by["p"] < 1, by


def test_scaled_takeover_by_hand():
    """A system k times the background's, as k independent copies of it:
    1 - (mean_b exp(-E_b))^k; k = 1 is the replicates' mean of
    1 - exp(-E_b); a certain takeover in every replicate stays 1 (no log of
    0); tiny exposures keep their precision (k E to first order)."""
    assert scaled_takeover(np.array([0.1, 0.3]), 1) == pytest.approx(
        1 - (math.exp(-0.1) + math.exp(-0.3)) / 2, rel=1e-12)
    assert scaled_takeover(np.array([0.1, 0.3]), 3) == pytest.approx(
        1 - ((math.exp(-0.1) + math.exp(-0.3)) / 2) ** 3, rel=1e-12)
    assert scaled_takeover(np.array([1e3, 1e3]), 10) == 1.0
    assert scaled_takeover(np.array([1e-12, 3e-12]), 1e5) == pytest.approx(2e-7, rel=1e-6)


def test_escape_of_one_type_is_galton_watson():
    """Without copy errors each cell is its own Galton-Watson process: the
    theory's escape is the closed form of analysis.theory for its birth and
    removal probabilities."""
    sc = flagship("copy.error_rate=0.0", "immune.efficacy=0.3")
    theory = LineageTheory(sized(sc, 10000), 6300.0, cells=20)
    pi, sweeps = theory.escape()
    cell = theory.cell([0.775, 0.325, 0.125, 1.0])
    b, a = theory.birth[cell], theory.survive[cell]
    assert pi[cell] == pytest.approx(galton_watson_escape(b, 1 - a), rel=1e-9)
    assert pi[cell] > 0.1 and sweeps < 10
    subcritical = theory.cell([0.525, 0.875, 0.025, 1.0])
    assert theory.birth[subcritical] < 1 - theory.survive[subcritical]
    assert pi[subcritical] == 0.0


def test_theory_against_simulated_lineages():
    """One flagship founder (drive 0.5625, loyalty 0.6625, stealth 0.1125: a
    cell centre of the theory's grid) at efficacy 0.25 (surveillance 1),
    N = 10^4: the theory's escape against 3000 simulated lineages (all copy
    errors, fixed background, seed 11). Its takeovers by 5000 ticks hold the
    theory within their 99% Wilson interval widened by 10% of the theory
    (the grid's discretisation: 80 cells move the flagship's escape by ~8%)."""
    sc = sized(flagship(), 10000)
    sc = point_scenario(sc.model_dump(mode="json"), {"immune.efficacy": 0.25}, "<t>")
    founder = [0.5625, 0.6625, 0.1125, 1.0]
    theory = LineageTheory(sc, 6300.0)
    pi, _ = theory.escape()
    expected = pi[theory.cell(founder)]
    lineage = lineage_scenario(sc, "immune.efficacy", 0.25, [0.3475, 0.6525, 0.05, 1.0],
                               6300, founder, 5000)
    world = World(lineage, seed=0, start=False)
    seeds = np.random.SeedSequence(11).generate_state(3000, np.uint64)
    hits = 0
    for s in seeds:
        world.reset(int(s))
        world.advance(5000)
        hits += world.status["takeover_tick"] >= 0
    _, low, high = wilson_interval(int(hits), 3000, 0.99)
    assert low - 0.1 * expected <= expected <= high + 0.1 * expected, (hits, expected)


def test_founder_escape_weights_parents():
    """The founding-weighted mean over parents, each parent's drive step
    conditioned on crossing theta: a pool of one parent at a time by hand."""
    sc = point_scenario(sized(flagship(), 10000).model_dump(mode="json"),
                        {"immune.efficacy": 0.25}, "<t>")
    theory = LineageTheory(sc, 6300.0, cells=20)
    pi, _ = theory.escape()
    parents = np.array([[0.34, 0.66, 0.0, 1.0], [0.34, 0.66, 0.2, 1.0]])
    one = [founder_escape(theory, pi, sc, parents[i:i + 1], np.ones(1)) for i in range(2)]
    both = founder_escape(theory, pi, sc, parents, np.array([3.0, 1.0]))
    assert both == pytest.approx((3 * one[0] + one[1]) / 4, rel=1e-12)
    # by hand for the first parent: the step's law above the gap 0.16, over the drive cells
    law = stats.norm(scale=0.08)
    edges = np.r_[0.5, np.arange(11, 20) * 0.05, np.inf]
    mass = law.sf(np.maximum(edges[:-1] - 0.34, 0.16)) - law.sf(edges[1:] - 0.34)
    by_hand = float(mass @ pi[10:, theory.cell(parents[0])[1], 0]) / mass.sum()
    assert one[0] == pytest.approx(by_hand, rel=1e-9)
    assert one[1] > one[0]  # stealth lowers the kills


def direct_takeovers(sc, key: str, value: float, T: int, replicates: int, seed: int):
    """Takeovers by T among ``replicates`` direct replicates of the whole
    system at ``key`` = ``value`` (the engine's compiled batches), with the
    95% Wilson interval: (hits, low, high)."""
    from simulation.run import run_scenario

    direct = point_scenario(sc.model_dump(mode="json"), {
        key: value, "replicates": replicates, "horizon": T, "seed": seed,
        "record_every": T, "record_clones": False, "stop.on": ["takeover"]}, "<t>")
    hits = int(run_scenario(direct, show_progress=False).runs["takeover_tick"].notna().sum())
    _, low, high = wilson_interval(hits, replicates)
    return hits, low, high


REDUCED = ["study.sizes=[2000]", "study.horizons=[1000]", "study.simulate.sizes=[2000]",
           "study.simulate.values=[0.1,0.15]", "study.simulate.founders=2",
           "study.simulate.particles=10", "study.simulate.horizon=1000",
           "study.simulate.background.replicates=2", "study.simulate.background.horizon=1000",
           "study.simulate.background.every=20", "study.theory_cells=20"]


def test_reduced_study_against_direct(tmp_path):
    """The flagship's physics at capacity 2000, T = 1000, efficacy 0.1
    (surveillance 1), file seed: the decomposition's P(takeover by 1000) (2
    founders per stratum, 10 particles) against 3000 direct replicates of the
    whole system (seed 4; ~4 s): the two 95% intervals overlap (at P ~ 0.04,
    3000 replicates give a relative error of ~0.1). Also: study.json, the
    figure, and a resumed study keeping its part."""
    out = tmp_path / "study"
    runner = CliRunner()
    args = ["study", "defence_flagship", "--out", str(out)]
    for o in REDUCED:
        args += ["--set", o]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "on gradual physics" in res.output
    data = json.loads((out / "study.json").read_text())
    assert data["physics"] == "gradual" and not data["single_hit"][0]["applicable"]
    (sim,) = data["simulated"]
    by = sim["points"][0]["by"][0]
    hits, low, high = direct_takeovers(sized(flagship(*REDUCED), 2000), "immune.efficacy",
                                       0.1, 1000, 3000, seed=4)
    assert by["low"] <= high and low <= by["high"], (by, hits)
    png = tmp_path / "scaling.png"
    res = runner.invoke(cli, ["plot", str(out), "--kind", "scaling", "--out", str(png)])
    assert res.exit_code == 0, res.output
    part = out / "parts" / "size-2000.json"
    before = part.stat().st_mtime_ns
    res = runner.invoke(cli, args + ["--resume"])
    assert res.exit_code == 0, res.output
    assert part.stat().st_mtime_ns == before
    assert json.loads((out / "study.json").read_text())["simulated"] == data["simulated"]


#: The issue's 500-subcomponent singleton (the flagship's kernel, copy error
#: 0.003, birth 0.25, drive advantage 1.5, surveillance 0.3, tolerance 0.25),
#: studied for P(takeover by 1000) <= 0.01.
SINGLETON_500 = """
name: singleton_500
seed: 20261208
horizon: 1000
agent: {capacity: 500, initial_size: 250, birth_rate: 0.25, death_rate: 0.1,
        drive_advantage: 1.5, loyalty_cost: 0.3, escape_threshold: 0.5,
        escape_headroom: 10, takeover_fraction: 0.5,
        initial_traits: {drive: 0.1, loyalty: 0.9, stealth: 0.0, fidelity: 1.0}}
copy: {error_rate: 0.003, kernel: {type: normal, sd: 0.08}}
immune: {surveillance: 0.3, tolerance: 0.25, efficacy: 0.66}
stop: {on: [takeover]}
study:
  target: 0.01
  sizes: [500]
  horizons: [1000]
  simulate: {sizes: [500], values: [0.0, 0.5], founders: 4, particles: 20, horizon: 1000,
             background: {replicates: 200, horizon: 1000, every: 10}}
"""


@pytest.mark.slow
def test_issue_singleton_500_against_direct(tmp_path):
    """The issue's case where the single-hit theory had said efficacy 0,
    'trusted': the gradual study's P(takeover by 1000) at efficacy 0 and
    0.5 (the file's seed; 200 background replicates, 4 founders per
    stratum, 20 particles; ~40 s of CPU) against 4000 direct replicates
    each (seed 4; ~15 s): the 95% intervals overlap. Measured: 0.187
    [0.083, 0.278] against 0.198 [0.186, 0.211] at 0, 0.042 [0.015, 0.077]
    against 0.0265 [0.022, 0.032] at 0.5. The background is stochastic
    here (a staircase of deviant clones climbs in some replicates only):
    with 4 background replicates, or 1 - exp(-mean E), the study said 0.05
    at efficacy 0."""
    path = tmp_path / "singleton_500.yaml"
    path.write_text(SINGLETON_500)
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, ["study", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    (sim,) = json.loads((out / "study.json").read_text())["simulated"]
    sc = sized(load_scenario(path), 500)
    for point in sim["points"]:
        (by,) = point["by"]
        hits, low, high = direct_takeovers(sc, "immune.efficacy", point["value"], 1000, 4000,
                                           seed=4)
        assert by["low"] <= high and low <= by["high"], (point["value"], by, hits)
