"""Each bundled scenario's header claim ("# Expected outcome ...") against a run.

A claim about a probability is a range [low, high]; the run refutes it when
its 95% interval for P(event by T) (Wilson, or bounds, from
:func:`analysis.estimate_event`) lies wholly outside the range. A claim
about a mean is checked the same way with the 95% t interval of the mean
over replicates. Ranges are the headers' words ("most" = [0.5, 1], "rare or
absent" = [0, 0.2], "about a third" = [0.2, 0.5], ...), not the exact counts
quoted for the file's seed, which may move when the engine changes.

The slow tests run every file as it is (its seed, replicates and horizon:
about 4 minutes on 2 cores). The fast tests run a few replicates, sometimes
a shorter horizon, of the same file and check a weaker claim that still
fails if the scenario stops showing its effect (each says how).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import scenarios
from analysis import compare_runs, estimate_event
from simulation import load_scenario, run_scenario
from simulation.sweep import point_scenarios, seed_point


def _run(name, overrides=(), replicates=None, horizon=None, point=None):
    """A run of a bundled scenario, or of one sweep point with the seeds the
    sweep gives it (common seeds: replicate k of every point pairs with
    replicate k of the others)."""
    sc = load_scenario(scenarios.path(name), list(overrides), replicates=replicates,
                       horizon=horizon)
    seeds = None
    if point is not None:
        seeds = seed_point(sc, point)
        sc = point_scenarios(sc, name)[point]
    return run_scenario(sc, point=point or 0, show_progress=False, seed_point=seeds)


def _assert_probability(result, event, low, high):
    """The run's 95% interval for P(event by its horizon) meets [low, high]."""
    horizon = result.scenario.horizon
    est = estimate_event(result.runs, event, horizon)
    assert est["high"] >= low and est["low"] <= high, (
        f"{result.scenario.name}: P({event} by {horizon}) = {est['p']:.3f} "
        f"[{est['low']:.3f}, {est['high']:.3f}] refutes the claim [{low}, {high}]")
    return est


def _paired(a, b, event="takeover"):
    """P(event by T) of run ``b`` minus run ``a``, replicates paired by seed
    (both runs of one file: common seeds), with Newcombe's paired interval."""
    table = compare_runs(a.runs, b.runs, a.scenario.horizon, [event]).iloc[0].to_dict()
    assert table["paired"] and table["pairs"] == len(a.runs) == len(b.runs), table
    return table


def _mean_interval(values, confidence=0.95):
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2 or values.std(ddof=1) == 0:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * stats.sem(values)
    return mean, mean - half, mean + half


def _assert_mean(name, values, low, high):
    mean, lo, hi = _mean_interval(values)
    assert hi >= low and lo <= high, (
        f"{name}: mean {mean:.3f} [{lo:.3f}, {hi:.3f}] refutes the claim [{low}, {high}]")
    return mean


def _mutations_per_birth(result):
    ts = result.timeseries
    return ts["mutations"].sum() / max(ts["births"].sum(), 1)


def _final_surveillance(result):
    """Mean surveillance of the live agents at each replicate's last record."""
    agents = result.agents
    last = agents.groupby("replicate")["tick"].transform("max")
    live = agents[(agents.tick == last) & agents.alive]
    return live.groupby("replicate")["surveillance"].mean().to_numpy()


# --- the claims, one function per scenario, full (slow) or cheap (fast) ------

# Claims that are one probability range. name: (event, low, high, replicates
# of the fast test (the file's horizon; only the interval is wider), the
# header's words).
RANGE_CLAIMS = {
    "singleton_baseline": ("takeover", 0.4, 0.7, 6, "takeover in a minority-to-half "
                           "of replicates by tick 2000 (about 0.4-0.7)"),
    "error_correction_r1": ("takeover", 0.5, 1.0, 4, "takeover in most replicates by "
                            "tick 1500"),
    "error_correction_r3": ("takeover", 0.0, 0.2, 4, "takeover rare or absent"),
    "error_correction_r5": ("takeover", 0.0, 0.2, 4, "takeover rare or absent"),
    "jump_size_normal": ("takeover", 0.0, 0.05, 4, "no takeover"),
    "jump_size_cauchy": ("takeover", 0.5, 1.0, 4, "takeover in most replicates"),
    "defence4_transmission": ("extinction", 0.7, 1.0, 2, "in 9 of 10 replicates every "
                              "one of the 10 agents is lost"),
    "basins_without_jump": ("takeover", 0.0, 0.05, 4, "no takeover"),
}


def _range_claim(name):
    event, low, high, fast_replicates, _ = RANGE_CLAIMS[name]

    def claim(fast):
        result = _run(name, replicates=fast_replicates if fast else None)
        _assert_probability(result, event, low, high)

    return claim


def claim_error_correction_r5_correlated(fast):
    # "mutations and takeovers much closer to error_correction_r1 than to
    # error_correction_r5, though somewhat fewer than r1": mutations per birth
    # closer to r1's than to r5's on a log scale, below r1's. Fast: 2
    # replicates of 200 ticks each (the rates are set from tick 1).
    replicates, horizon = (2, 200) if fast else (None, None)
    rate = {name: _mutations_per_birth(_run(f"error_correction_{name}",
                                            replicates=replicates, horizon=horizon))
            for name in ("r1", "r5", "r5_correlated")}
    log = {k: math.log10(max(v, 1e-12)) for k, v in rate.items()}
    assert abs(log["r5_correlated"] - log["r1"]) < abs(log["r5_correlated"] - log["r5"]), rate
    assert rate["r5_correlated"] < rate["r1"], rate
    if not fast:
        correlated = _run("error_correction_r5_correlated")
        r5c = _assert_probability(correlated, "takeover", 0.3, 1.0)
        independent = _run("error_correction_r5")
        r5 = estimate_event(independent.runs, "takeover", 1500)
        assert r5c["low"] > r5["high"], (r5c, r5)  # more takeovers than r5
        # the files share their seed: paired, correlated minus independent above 0
        assert _paired(independent, correlated)["low"] > 0


def claim_immune_arms_race(fast):
    # "with improvement 0.002 per tick ... no replicate is taken over"; a
    # static immune system (improvement 0) "loses almost every replicate".
    # fast: 4 replicates; the static contrast runs only in the slow test.
    result = _run("immune_arms_race", replicates=4 if fast else None)
    _assert_probability(result, "takeover", 0.0, 0.05)
    if not fast:
        static = _run("immune_arms_race", ["immune.improvement=0"])
        _assert_probability(static, "takeover", 0.85, 1.0)
        # paired on common seeds: improving minus static, clear of 0
        difference = _paired(static, result)
        assert difference["high"] < -0.5, difference


def claim_stealth_evolution(fast):
    # "takeover in about a third of replicates by tick 3000". fast: 4
    # replicates to tick 1500, where P can only be lower: [0, 0.5].
    if fast:
        _assert_probability(_run("stealth_evolution", replicates=4, horizon=1500),
                            "takeover", 0.0, 0.5)
    else:
        _assert_probability(_run("stealth_evolution"), "takeover", 0.2, 0.5)


def claim_jump_size_normal(fast):
    # "no takeover"
    result = _run("jump_size_normal", replicates=4 if fast else None)
    _assert_probability(result, "takeover", 0.0, 0.05)


def claim_jump_size_cauchy(fast):
    # "takeover in most replicates"
    result = _run("jump_size_cauchy", replicates=4 if fast else None)
    _assert_probability(result, "takeover", 0.5, 1.0)


def claim_competition_immune_cost(fast):
    # "mean surveillance of live agents falls from 0.6 to about 0.06 by tick
    # 3000, and 20-30 agents per replicate are lost to takeover; with
    # immune.cost=0 surveillance stays near 0.59". fast: 1 replicate to tick
    # 1500: surveillance has already fallen below 0.5 with the cost (about
    # 0.4 with the file's seed) and not without it.
    if fast:
        costly = _final_surveillance(_run("competition_immune_cost", replicates=1,
                                          horizon=1500))
        free = _final_surveillance(_run("competition_immune_cost", ["immune.cost=0"],
                                        replicates=1, horizon=1500))
        assert costly.mean() < 0.5 < free.mean(), (costly, free)
        return
    result = _run("competition_immune_cost")
    _assert_mean("competition_immune_cost surveillance", _final_surveillance(result),
                 0.02, 0.15)
    _assert_mean("competition_immune_cost agents lost",
                 result.runs.agents_lost_to_takeover, 20, 30)
    free = _run("competition_immune_cost", ["immune.cost=0"])
    _assert_mean("competition_immune_cost cost 0 surveillance", _final_surveillance(free),
                 0.5, 0.7)


def _isolated_agents(name, fast):
    # "takeover in every replicate, but only 1-6 of the 10 agents are lost
    # (about 3 on average): the rest live on"; fast: 2 replicates.
    result = _run(name, replicates=2 if fast else None)
    _assert_probability(result, "takeover", 0.9, 1.0)
    _assert_probability(result, "extinction", 0.0, 0.05)
    lost = result.runs.agents_lost_to_takeover
    assert lost.min() >= 1 and lost.max() <= 6, list(lost)
    if not fast:
        _assert_mean(f"{name} agents lost", lost, 2, 4)


def claim_defence4_isolation(fast):
    _isolated_agents("defence4_isolation", fast)


def claim_multi_agent_matched(fast):
    # "some agent is taken over in every replicate ..., losing about 3 of 10
    # agents (fraction lost about 0.3), yet the world never goes extinct and
    # is never totally lost"
    _isolated_agents("multi_agent_matched", fast)
    result = _run("multi_agent_matched", replicates=2 if fast else None)
    _assert_probability(result, "total_loss", 0.0, 0.05)
    assert (result.runs.fraction_lost == result.runs.agents_lost / 10).all()


def claim_oversight(fast):
    # "world mean loyalty stays near 0.89 at tick 2000; with world.oversight=0
    # it falls to about 0.76". fast: 1 replicate each to tick 1000: loyalty
    # with oversight above loyalty without.
    replicates, horizon = (1, 1000) if fast else (None, None)
    kept = _run("oversight", replicates=replicates, horizon=horizon).runs
    lost = _run("oversight", ["world.oversight=0"], replicates=replicates,
                horizon=horizon).runs
    assert kept.final_mean_loyalty.mean() > lost.final_mean_loyalty.mean()
    if not fast:
        _assert_mean("oversight loyalty", kept.final_mean_loyalty, 0.86, 0.92)
        _assert_mean("oversight 0 loyalty", lost.final_mean_loyalty, 0.72, 0.80)


def claim_singleton_matched(fast):
    # "P(takeover by 1500) of 0.2-0.3 ... and a takeover is the end of the
    # only system": every takeover is an extinction at the same tick.
    result = _run("singleton_matched", replicates=4 if fast else None)
    _assert_probability(result, "takeover", 0.2, 0.3)
    runs = result.runs
    assert (runs.takeover_tick.dropna() == runs.extinction_tick[runs.takeover]).all()
    assert (runs.total_loss_tick.dropna() == runs.takeover_tick[runs.takeover]).all()
    assert (runs.total_loss == runs.takeover).all()


def _agent_outcomes(result):
    from analysis.summary import agent_outcomes
    return agent_outcomes(result.runs, result.scenario.horizon)


def claim_singleton_matched_total(fast):
    # "total loss in (nearly) every replicate by 1500 ..., fraction of agents
    # and of goal output lost 1; multi_agent_matched: no total loss ...,
    # about 3 of 10 agents lost; the big agent's hazard several times a small
    # one's". The claim's interval must exclude the alternative: the
    # singleton's P(total loss) interval lies above the ten agents'. fast: 6
    # singleton and 3 multi-agent replicates (Wilson: 6/6 gives [0.61, 1],
    # 0/3 gives [0, 0.56], which exclude each other when the claim holds).
    one = _run("singleton_matched_total", replicates=6 if fast else None)
    many = _run("multi_agent_matched", replicates=3 if fast else None)
    single, multi = _agent_outcomes(one), _agent_outcomes(many)
    _assert_probability(one, "total_loss", 0.9, 1.0)
    _assert_probability(many, "total_loss", 0.0, 0.05)
    assert single["p_total_loss_low"] > multi["p_total_loss_high"], (single, multi)
    assert single["mean_fraction_lost"] == 1.0 == single["mean_goal_output_lost"], single
    assert multi["mean_fraction_lost_high"] < 1.0, multi
    if not fast:
        _assert_mean("multi_agent_matched fraction lost", many.runs.fraction_lost, 0.2, 0.4)
        assert single["agent_hazard_low"] > multi["agent_hazard_high"], (single, multi)


def claim_sweep_error_immune(fast):
    # "the low-error, high-efficacy corner is safe, the high-error,
    # low-efficacy corner is taken over in every replicate, and at error rate
    # 0.01 no efficacy up to 0.9 keeps P below 10%"; on common seeds the
    # paired differences fall with efficacy and rise with the error rate,
    # clear of 0. Grid points (error rate slowest): 3 = (0.0003, 0.8), 4 =
    # (0.0003, 0.9), 5 = (0.001, 0.5), 9 = (0.001, 0.9), 15 = (0.01, 0.5),
    # 18 = (0.01, 0.8), 19 = (0.01, 0.9). fast: 3 replicates of the two
    # corners, paired: the unsafe corner minus the safe one above 0 (3 of 3
    # against 0 of 3 gives Newcombe's [+0.17, +1]).
    replicates = 3 if fast else None
    safe = _run("sweep_error_immune", replicates=replicates, point=4)
    unsafe = _run("sweep_error_immune", replicates=replicates, point=15)
    _assert_probability(safe, "takeover", 0.0, 0.1)
    _assert_probability(unsafe, "takeover", 0.9, 1.0)
    assert _paired(safe, unsafe)["low"] > 0
    if not fast:
        top = _run("sweep_error_immune", point=19)
        _assert_probability(top, "takeover", 0.1, 1.0)
        for weak, strong in ((5, 9), (15, 19)):  # efficacy 0.5 -> 0.9
            difference = _paired(_run("sweep_error_immune", point=weak),
                                 _run("sweep_error_immune", point=strong))
            assert difference["high"] < 0, (weak, strong, difference)
        difference = _paired(_run("sweep_error_immune", point=3),
                             _run("sweep_error_immune", point=18))  # error 0.0003 -> 0.01
        assert difference["low"] > 0, difference


def claim_redundancy_independent(fast):
    # "takeover in (nearly) every replicate by tick 1500 at r = 1, in none
    # at r = 9; the paired difference r = 9 minus r = 1 far below 0". fast:
    # 4 replicates of each point (4 of 4 against 0 of 4: Newcombe's paired
    # interval [-1, -0.31], clear of 0).
    replicates = 4 if fast else None
    r1 = _run("redundancy_independent", replicates=replicates, point=0)
    r9 = _run("redundancy_independent", replicates=replicates, point=1)
    _assert_probability(r1, "takeover", 0.9, 1.0)
    _assert_probability(r9, "takeover", 0.0, 0.05)
    assert _paired(r1, r9)["high"] < (0 if fast else -0.8)


def _frames_equal(a, b):
    """The tables of two points equal, apart from their point column."""
    import pandas as pd

    for table in ("runs", "timeseries"):
        pd.testing.assert_frame_equal(getattr(a, table).drop(columns="point"),
                                      getattr(b, table).drop(columns="point"))


def claim_redundancy_systematic(fast):
    # Points (r slowest; error kind: independent, systematic): 0 = (1, ind.),
    # 1 = (1, sys.), 2 = (9, ind.), 3 = (9, sys.). "Systematic errors: about
    # 0.05-0.3 at r = 1 and the same replicates at r = 9 (every pair
    # identical, difference 0); independent errors: (nearly) all -> none; at
    # r = 9 systematic above independent (paired difference above 0)". fast:
    # 3 replicates of points 1 and 3, identical tables (r changes no draw);
    # 20 replicates of point 3: systematic error still takes some over (at
    # least 1; 3 of 20 with the file's seed; independent error at r = 9
    # takes none of 100).
    if fast:
        _frames_equal(_run("redundancy_systematic", replicates=3, point=1),
                      _run("redundancy_systematic", replicates=3, point=3))
        runs = _run("redundancy_systematic", replicates=20, point=3).runs
        assert runs.takeover.sum() >= 1, runs.failure_mode.value_counts()
        return
    independent1, systematic1, independent9, systematic9 = (
        _run("redundancy_systematic", point=p) for p in range(4))
    _assert_probability(systematic1, "takeover", 0.05, 0.3)
    _frames_equal(systematic1, systematic9)
    same = _paired(systematic1, systematic9)
    assert same["identical_pairs"] == same["pairs"] and same["low"] < 0 < same["high"], same
    assert _paired(independent1, independent9)["high"] < -0.8
    assert _paired(independent9, systematic9)["low"] > 0


def claim_noise_bursts(fast):
    # "tau = 1: P(takeover by 1500) about 0.6-0.9, like the constant rate
    # 0.002; tau = 1000: about 0.2-0.45, the interval below the short-tau
    # one". fast: 40 replicates of each point, the same ranges and fewer
    # takeovers with bursts (34 vs 14 of 40 with the file's seed).
    # On common seeds, the paired difference tau = 1000 minus tau = 1 lies
    # below 0 (fast: its estimate; slow: its interval).
    replicates = 40 if fast else None
    white_run = _run("noise_bursts", replicates=replicates, point=0)
    bursts_run = _run("noise_bursts", replicates=replicates, point=1)
    white = _assert_probability(white_run, "takeover", 0.6, 0.9)
    bursts = _assert_probability(bursts_run, "takeover", 0.2, 0.45)
    difference = _paired(white_run, bursts_run)
    if fast:
        assert difference["difference"] < 0 and bursts["p"] < white["p"], (white, bursts)
        return
    assert difference["high"] < 0, difference
    constant_run = _run("noise_bursts", ["copy.noise.sigma=0", "copy.error_rate=0.002"])
    _assert_probability(constant_run, "takeover", 0.6, 0.9)
    assert _paired(constant_run, bursts_run)["high"] < 0  # bursts below the constant rate
    like = _paired(constant_run, white_run)  # tau = 1 like the constant rate
    assert like["low"] <= 0 <= like["high"], like


def claim_defence_budget(fast):
    # Points: 0 none, 1 cost only, 2 drive guard, 3 immune, 4 improving
    # immune, 5 isolation. "P(total loss by 2000) (nearly) 1 without a
    # defence, at either size; every defence lowers it (paired difference
    # with point 1 below 0); the improving immune system to about 0, below
    # the static one; the guard, the static immune system and isolation to
    # about 0.3-0.8; isolation loses most of its agents (0.7-1)". fast: 3
    # replicates of points 1 and 4 (3 of 3 against 0 of 3: Newcombe's
    # paired interval [-1, -0.17], below 0).
    if fast:
        cost = _run("defence_budget", replicates=3, point=1)
        improving = _run("defence_budget", replicates=3, point=4)
        _assert_probability(cost, "total_loss", 0.9, 1.0)
        _assert_probability(improving, "total_loss", 0.0, 0.1)
        assert _paired(cost, improving, "total_loss")["high"] < 0
        return
    none, cost, guard, immune, improving, isolation = (
        _run("defence_budget", point=p) for p in range(6))
    for result in (none, cost):
        _assert_probability(result, "total_loss", 0.9, 1.0)
    for result in (guard, immune, isolation):
        _assert_probability(result, "total_loss", 0.3, 0.8)
        assert _paired(cost, result, "total_loss")["high"] < 0
    _assert_probability(improving, "total_loss", 0.0, 0.1)
    assert _paired(cost, improving, "total_loss")["high"] < 0
    assert _paired(immune, improving, "total_loss")["high"] < 0
    lost = _agent_outcomes(isolation)
    assert lost["mean_fraction_lost_high"] >= 0.7 and lost["mean_fraction_lost_low"] <= 1.0


def _converged_without_takeover(runs):
    return (runs.converged & (runs.failure_mode == "drift")).to_numpy()


def claim_drift_tracking_self(fast):
    # "every replicate drifts, most reach convergence with no takeover
    # (failure_mode drift), a few are taken over after drifting; with a
    # fixed self, none". fast: 3 replicates (2 of them converge without a
    # takeover with the file's seed) and 2 with a founder self.
    replicates = 3 if fast else None
    runs = _run("drift_tracking_self", replicates=replicates).runs
    assert runs.drifted.all(), runs.failure_mode.tolist()
    assert set(runs.failure_mode) <= {"drift", "drift_then_cancer"}
    both = _converged_without_takeover(runs)
    if fast:
        assert both.sum() >= 1, runs[["failure_mode", "convergence_tick"]]
    else:
        from analysis import wilson_interval
        _, low, high = wilson_interval(int(both.sum()), len(both))
        assert low > 0.2 and high >= 0.5, (both.sum(), low, high)
    founder = _run("drift_tracking_self", ["immune.reference=founder",
                                           "immune.tracking_rate=0"],
                   replicates=2 if fast else None)
    fixed = founder.runs
    assert (fixed.failure_mode == "none").all(), fixed.failure_mode.tolist()
    assert fixed.final_mean_drive.max() < 0.3, fixed.final_mean_drive.tolist()
    if not fast:  # paired on common seeds: tracking minus founder self
        tracking = _run("drift_tracking_self")
        for event in ("drift", "convergence"):
            difference = _paired(founder, tracking, event)
            assert difference["low"] > 0.3, difference


def claim_landscape_realisations(fast):
    # "homogeneity of P across realisations is rejected (chi-square, p <
    # 0.001): some realisations are taken over in 5 of 5 replicates, most in
    # 0 of 5; mean over realisations about 0.22". fast: the first 5
    # realisations (2 of them 5/5, 2 of them 0/5 with the file's seed).
    points = range(5) if fast else range(20)
    counts = np.array([_run("landscape_realisations", point=k).runs.takeover.sum()
                       for k in points])
    assert counts.max() == 5 and counts.min() == 0, counts
    if not fast:
        # realisations x (taken over, not): both columns have counts
        _, p_value, _, _ = stats.chi2_contingency(np.column_stack([counts, 5 - counts]))
        assert p_value < 0.001, (counts, p_value)
        _assert_mean("landscape_realisations P over realisations", counts / 5, 0.1, 0.35)


def claim_defence_scaling(fast):
    # A study, not replicates. fast: the header's theory values (the reduced
    # grid's simulated agreement is tests/test_scaling.py's default test);
    # slow: the whole study against every claim of the header.
    import tempfile
    from pathlib import Path

    from tests.test_scaling import check_bundled_study, check_header_theory

    check_header_theory()
    if not fast:
        with tempfile.TemporaryDirectory() as tmp:
            check_bundled_study(Path(tmp))


def claim_defence_flagship(fast):
    # A study on gradual physics. Both tiers: the single-hit theory is not
    # applicable on the flagship's kernel (two-error paths outnumber one-error
    # ones by more than 1e3 at N = 10^6); the answer's table in README.md and
    # docs/rare-events.md and the header's numbers are the bundled answer's
    # (tests/data/defence_flagship_answer.json). slow: the whole study
    # (~25 minutes of CPU) reproduces that answer (the file's seed). The
    # reduced study's agreement with direct simulation is
    # tests/test_study_gradual.py's default test.
    import json
    import re
    import tempfile
    from pathlib import Path

    from click.testing import CliRunner

    from analysis.gradual import answer, answer_markdown
    from analysis.hazard import defence_needed
    from analysis.scaling import sized
    from substrate.cli import cli
    from tests.make_flagship_answer import PATH

    base = load_scenario(scenarios.path("defence_flagship"))
    row = defence_needed(sized(base, 10**6), 1e-6, 10**6)
    assert not row["applicable"] and row["multi_hit_ratio"] > 1e3, row
    stored = json.loads(PATH.read_text())
    root = Path(scenarios.path("defence_flagship")).resolve().parents[1]
    table = answer_markdown(stored)
    for doc in ("README.md", "docs/rare-events.md"):
        assert table in (root / doc).read_text(), doc
    header = Path(scenarios.path("defence_flagship")).read_text().split("\nname:")[0]
    claims = re.findall(r"([0-9.]+|none up to 1) at\s*#?\s*N = 10\^(\d), T = 10\^(\d)",
                        header)
    assert len(claims) == 6, claims
    cells = {(c["size"], c["horizon"]): c for c in stored["cells"]}
    for value, n, t in claims:
        cell = cells[(10 ** int(n), 10 ** int(t))]
        said = "none up to 1" if cell["theory"] is None else f"{cell['theory']:.3f}"
        assert said == value, (value, n, t, cell)
    simulated = [c for c in stored["cells"] if "simulated" in c]
    assert len(simulated) == 4 and all(c["size"] == 10**4 for c in simulated)
    for c in simulated:  # "every 95% range holds the theory's value and reaches efficacy 1"
        assert c["low"] <= c["theory"] and c["high"] is None, c
    if not fast:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "study"
            res = CliRunner().invoke(cli, ["study", "defence_flagship", "--out", str(out)])
            assert res.exit_code == 0, res.output
            again = answer(json.loads((out / "study.json").read_text()))
            assert answer_markdown(again) == table


def _incidence(runs, column, tick):
    """(events by ``tick``, replicates) of an event-tick column."""
    ticks = runs[column].astype("float").to_numpy()
    return int(np.sum(ticks <= tick)), len(ticks)


def _assert_holds(name, events, n, value):
    """The Wilson interval of events/n holds ``value``."""
    from analysis.estimators import wilson_interval

    p, low, high = wilson_interval(events, n)
    assert low <= value <= high, f"{name}: {p:.3f} [{low:.3f}, {high:.3f}] misses {value:.3f}"


def claim_knudson_two_hit(fast):
    # "P(C by tick 75, 150, 300) = 0.028, 0.106, 0.362 by the formula, each
    # inside the run's Wilson interval". The file costs about 1 s: fast runs
    # it whole and checks the oldest age only.
    runs = _run("knudson_two_hit").runs
    n, d, u = 1e5, 0.1, 1e-4
    for age in (300,) if fast else (75, 150, 300):
        events, total = _incidence(runs, "type_reached_tick", age)
        _assert_holds("knudson_two_hit", events, total, 1 - math.exp(-n * (d * u * age) ** 2 / 2))


def claim_tunnelling_sequential(fast):
    # "the Wilson interval of P(C fixed by 40000) holds the chain's 0.977 and
    # the mean waiting time is within 4 SE of the chain's". fast: 40
    # replicates to 10000 ticks, P(fixed by 10000) against the chain's.
    from analysis.theory import moran_ladder_takeover

    horizon = 10000 if fast else 40000
    result = _run("tunnelling_sequential", replicates=40 if fast else None, horizon=horizon)
    exact = moran_ladder_takeover(10, [1.0, 1.0, 2.0], [1e-4, 1e-4], horizon, 2, 1.0)
    events, total = _incidence(result.runs, "type_fixation_tick", horizon)
    _assert_holds("tunnelling_sequential", events, total, exact[horizon])
    if not fast:
        ticks = result.runs.type_fixation_tick.astype("float").to_numpy()
        capped = np.where(np.isnan(ticks), horizon, ticks)
        se = capped.std(ddof=1) / math.sqrt(capped.size)
        assert abs(capped.mean() - (1 - exact[:horizon]).sum()) <= 4 * se


def claim_tunnelling_tunnel(fast):
    # "the rate of C's fixation (events over exposure) within 25% of
    # N u1 sqrt(u2 rho2) = 6.4e-4": its 95% interval meets [0.75, 1.25]
    # times it. fast: 30 replicates to 1500 ticks (the interval is wider).
    from analysis.estimators import poisson_rate_interval

    result = _run("tunnelling_tunnel", replicates=30 if fast else None,
                  horizon=1500 if fast else None)
    runs = result.runs
    events = int(runs.type_fixed.sum())
    rate, low, high = poisson_rate_interval(events, float(runs.ticks.sum()))
    formula = 300 * 3e-5 * math.sqrt(0.01 * (1 - 1 / 2.0))
    assert high >= 0.75 * formula and low <= 1.25 * formula, (rate, low, high, formula)
    assert low > 5 * 3e-5  # far above the sequential rate u1


def claim_basins_and_jumps(fast):
    # "takeover in most replicates (P(takeover by 2000) in [0.5, 1]), each by
    # a jump: the edge valley2 -> unsafe never fires". The file costs about
    # 1 s: fast runs it whole too.
    result = _run("basins_and_jumps")
    _assert_probability(result, "takeover", 0.5, 1.0)
    assert (result.runs.mutations_valley2_to_unsafe == 0).all()
    jumps = result.runs.mutations_safe0_to_unsafe + result.runs.mutations_safe1_to_unsafe
    assert (jumps[result.runs.takeover] > 0).all()


CLAIMS = {**{name: _range_claim(name) for name in RANGE_CLAIMS},
          **{name[len("claim_"):]: function for name, function in dict(globals()).items()
             if name.startswith("claim_")}}


def test_every_bundled_scenario_has_a_claim_check():
    assert sorted(CLAIMS) == scenarios.names()


def test_every_header_states_an_expected_outcome():
    for name in CLAIMS:
        assert "# Expected outcome" in scenarios.path(name).read_text(), name


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claim_fast(name):
    CLAIMS[name](fast=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claim_with_the_files_settings(name):
    CLAIMS[name](fast=False)
