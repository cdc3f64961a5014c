"""Rare events on gradual paths: splitting scores, intervals, honest costs and
the study's refusal where one copy error does not make a defector.

The exact case. A Moran population of 20 on a ladder of drive levels (step
kernel +0.2 from 0.4: 0.4, 0.6, 0.8, 1.0; escape threshold 0.9, so only 1.0
is a defector), the rugged landscape L(d) = 1 + d + 0.5 sin(2 pi d) making
the two intermediate levels deleterious (relative fitness 0.77 and 0.78) and
the defector advantageous (1.18): a takeover needs three copy errors, two of
them through lineages that selection removes. P(takeover by T) comes exactly
from the Markov chain over the four types' counts
(:func:`analysis.theory.moran_ladder_takeover`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.theory import moran_ladder_takeover
from simulation import validate
from simulation.engine import World, build_config
from simulation.risk import combine, estimate_risk, splitting_interval

LEVELS = (0.4, 0.4 + 0.2, 0.4 + 0.2 + 0.2, 1.0)  # the drives the step kernel makes


def ladder(u: float, horizon: int, seed: int = 7, n: int = 20, replicates: int = 20):
    return validate({
        "seed": seed, "horizon": horizon, "replicates": replicates,
        "record_every": horizon, "record_clones": False,
        "agent": {"dynamics": "moran", "capacity": n, "initial_size": n,
                  "initial_traits": {"drive": 0.4, "loyalty": 0.0}, "drive_advantage": 1.0,
                  "loyalty_cost": 0.0, "escape_threshold": 0.9, "takeover_fraction": 0.5},
        "landscape": {"type": "rugged", "ruggedness": 0.5, "peaks": 1},
        "copy": {"error_rate": u, "traits": ["drive"],
                 "kernel": {"type": "step", "size": 0.2, "direction": "up"}},
        "immune": {"surveillance": 0.0},
        "stop": {"on": ["takeover"]}})


def exact(u: float, horizon: int, n: int = 20) -> float:
    w = [1 + d + 0.5 * math.sin(2 * math.pi * d) for d in LEVELS]
    return float(moran_ladder_takeover(n, w, u, horizon, 3, 0.5)[-1])


def test_the_exact_ladder_chain_agrees_with_direct_simulation():
    """The chain and the engine's moran dynamics, where direct simulation
    reaches: u = 0.03, T = 40, exact 0.0699; 4000 replicates (seed 7) in
    compiled batches; |p_hat - exact| <= 4 SE (SE from the exact value)."""
    from simulation.run import run_scenario

    truth = exact(0.03, 40)
    assert truth == pytest.approx(0.0699, abs=5e-4)
    runs = run_scenario(ladder(0.03, 40, replicates=4000), show_progress=False).runs
    p = float(runs["takeover"].mean())
    assert abs(p - truth) <= 4 * math.sqrt(truth * (1 - truth) / 4000), (p, truth)


def _score(sc, kind):
    world = World(sc, seed=1, config=build_config(sc, "takeover", kind))
    return float(world.status["score"])


def test_scores_by_hand_before_any_defector():
    """Tick 0 of 15 residents at drive 0.1 and 5 seeded at 0.3 (threshold
    0.5): d0 = (15 x 0.1 + 5 x 0.3) / 20 = 0.15, x = (0.3 - 0.15) / 0.35,
    y = log(6) / log(21). fraction: 0 (no defector); drive: x / 2; lineage:
    x (1 + y) / 4; both scaled by 1 - 1e-6 (the tie-breaking term is 0 at
    tick 0)."""
    sc = validate({
        "seed": 1, "horizon": 10, "record_every": 10,
        "agent": {"capacity": 40, "initial_size": 20, "initial_traits": {"drive": 0.1},
                  "escape_threshold": 0.5,
                  "seed_clones": [{"count": 5, "traits": {"drive": 0.3}}]},
        "copy": {"error_rate": 0.0}})
    x = (0.3 - 0.15) / 0.35
    y = math.log(6) / math.log(21)
    assert _score(sc, "fraction") == 0.0
    assert _score(sc, "drive") == pytest.approx((1 - 1e-6) * x / 2, rel=1e-12)
    assert _score(sc, "lineage") == pytest.approx((1 - 1e-6) * x * (1 + y) / 4, rel=1e-12)


def _reach(distance, mu, sd):
    from scipy.stats import norm

    return max(mu ** k * norm.sf(distance / (sd * math.sqrt(k))) for k in range(1, 9))


def test_the_hazard_score_by_hand():
    """The hazard score at tick 0 of 15 residents at drive 0.1 and 5 seeded
    (of 20) at 0.3 (threshold 0.5, normal kernel sd 0.08, error rate 1e-3): h = 15
    r(0.4) + 5 r(0.2), r(D) = max_k mu^k Q(D / (sd sqrt k)) (scipy's normal
    tail); xi = (1 - 1e-6) phi(log10 h) / 2, phi(x) = 1/2 + atan((x + 20) /
    10) / pi. With one defector (drive 0.8, loyalty 0, no immune system:
    birth 0.2 (1 + 0.8) g, removal 0.1) the progress is 1/2 + phi(log10(n
    pi)) / 2 with pi the Galton-Watson escape of analysis.theory."""
    from analysis.theory import galton_watson_escape

    base = {"seed": 1, "horizon": 10, "record_every": 10,
            "copy": {"error_rate": 1e-3, "kernel": {"type": "normal", "sd": 0.08}}}
    sc = validate({**base, "agent": {
        "capacity": 40, "initial_size": 20, "initial_traits": {"drive": 0.1},
        "escape_threshold": 0.5, "seed_clones": [{"count": 5, "traits": {"drive": 0.3}}]}})
    h = 15 * _reach(0.4, 1e-3, 0.08) + 5 * _reach(0.2, 1e-3, 0.08)

    def phi(x):
        return 0.5 + math.atan((x + 20) / 10) / math.pi

    assert _score(sc, "hazard") == pytest.approx((1 - 1e-6) * phi(math.log10(h)) / 2,
                                                 rel=1e-9)
    one = validate({**base, "immune": {"surveillance": 0.0}, "agent": {
        "capacity": 40, "initial_size": 20, "escape_threshold": 0.5, "drive_advantage": 1.0,
        "loyalty_cost": 0.0, "birth_rate": 0.2, "death_rate": 0.1, "initial_traits": {"drive": 0.1, "loyalty": 0.0},
        "seed_clones": [{"count": 1, "traits": {"drive": 0.8, "loyalty": 0.0}}]}})
    g = 1 - 20 / (10 * 40)  # escape headroom 10: the defector's growth control
    pi = galton_watson_escape(0.2 * 1.8 * g, 0.1)
    assert _score(one, "hazard") == pytest.approx(
        (1 - 1e-6) * (0.5 + phi(math.log10(pi)) / 2), rel=1e-9)


def test_the_default_score_recovers_the_exact_gradual_probability():
    """u = 1e-3, T = 30: exact 1.69e-6, three copy errors away. Splitting with
    the default (hazard) score and tilt, 100 particles x 10 repetitions, seed
    7: the 95% interval holds the exact value, and the estimate is within 3
    SE of it. The fraction score without a tilt cannot see this path before
    the first defector: it degenerates to plain Monte Carlo (one iteration
    at level 0) and, with no hit, reports the exact 0-event bound, not [0, 0]."""
    truth = exact(1e-3, 30)
    assert truth == pytest.approx(1.69e-6, rel=0.01)
    sc = ladder(1e-3, 30)
    result = estimate_risk(sc, "takeover", "splitting", 100, 10, show_progress=False,
                           calibrate=False)
    assert result["score"] == "hazard"
    assert result["low"] <= truth <= result["high"], result
    assert abs(result["p"] - truth) <= 3 * result["se"], result
    blind = estimate_risk(sc, "takeover", "splitting", 100, 10, show_progress=False,
                          score="fraction", tilt=1.0, calibrate=False)
    assert blind["iterations_mean"] <= 1.0 and blind["p"] == 0.0
    assert blind["high"] == pytest.approx(1 - 0.025 ** (1 / 1000))


def test_the_defaults_reach_the_exact_gradual_case_near_1e_8():
    """u = 1e-4, T = 50: exact 6.4e-9, where direct Monte Carlo would need
    ~1.6e10 paths for a relative error of 0.1. One estimate at the defaults
    (100 particles x 20 repetitions, hazard score, front tilt; seed 7, ~15
    s): its 95% interval holds the exact value (the slow test measures the
    coverage over 20 seeds)."""
    truth = exact(1e-4, 50)
    assert truth == pytest.approx(6.4e-9, rel=0.01)
    result = estimate_risk(ladder(1e-4, 50), "takeover", show_progress=False,
                           calibrate=False)
    assert result["low"] <= truth <= result["high"], result
    assert result["high"] / result["low"] < 1e3  # an interval that says something


@pytest.mark.slow
@pytest.mark.parametrize("u", [1e-4, 1e-5])
def test_gradual_intervals_cover_the_exact_value_at_the_defaults(u):
    """Coverage at the defaults (100 particles x 20 repetitions, hazard
    score, the front tilt resolve_tilt chooses) over 20 independent seeds
    (5000..5019, as benchmarks/risk_coverage.py), T = 50: exact 6.4e-9
    (u = 1e-4) and 6.4e-12 (u = 1e-5). At least 16 of 20 intervals hold the
    exact value: a 95% interval falls to 15 or fewer with probability 0.3%.
    (Without the tilt: 11 of 20 at u = 1e-4, measured in the round before.)"""
    truth = exact(u, 50)
    covered = []
    for i in range(20):
        result = estimate_risk(ladder(u, 50, seed=5000 + i), "takeover",
                               show_progress=False, calibrate=False)
        assert result["tilt"] is not None and result["low"] is not None, result["interval"]
        covered.append(result["low"] <= truth <= result["high"])
    assert sum(covered) >= 16, covered


def test_the_default_tilt_by_hand():
    """The ladder at u = 1e-4 (one copied trait: p = 1e-4 per newborn), N =
    20 Moran, T = 50: the front's births err at 3e-3 (factor 30); a path has
    B = 20 x 50 = 1000 births, p B = 0.1 < 1, so while no clone deviates
    every birth is tilted by 1 / (p B) = 10. The flagship (four copied
    traits at 1e-3: p = 4.0e-3 > 3e-3, and p B >> 1) is not tilted, nor is
    fixation (no copy errors) or direct Monte Carlo."""
    from simulation import load_scenario
    from simulation.risk import Tilt, resolve_tilt

    tilt = resolve_tilt(ladder(1e-4, 50), "takeover", "splitting")
    assert tilt == Tilt(pytest.approx(30.0), 0.0, pytest.approx(10.0))
    flagship = load_scenario("scenarios/singleton_baseline.yaml", [])
    assert resolve_tilt(flagship, "takeover", "splitting") is None
    assert resolve_tilt(ladder(1e-4, 50), "takeover", "direct") is None
    assert resolve_tilt(ladder(1e-4, 50), "takeover", "splitting", 1.0) is None
    assert resolve_tilt(ladder(1e-4, 50), "takeover", "splitting", 5.0) == Tilt(5.0)


def test_the_tilt_factor_of_each_clone_by_hand():
    """kernels.clones.tilt_factor: the front (largest drive, here 0.8,
    reference 0.4) is tilted, the clones behind it are not; while no clone
    lies above the reference every birth takes the resident factor; while a
    defector lives nothing is tilted; without a band every birth is."""
    from simulation.kernels.clones import tilt_factor, tilt_front

    sc = ladder(1e-4, 50)
    p = build_config(sc, "takeover", "lineage", (30.0, 0.0, 10.0)).params[0]
    assert tilt_factor(0.8, 0.4, 0.8, p) == 30.0
    assert tilt_factor(0.6, 0.4, 0.8, p) == 1.0 and tilt_factor(0.4, 0.4, 0.8, p) == 1.0
    assert tilt_factor(0.4, 0.4, 0.4, p) == 10.0
    assert tilt_factor(0.8, 0.4, np.inf, p) == 1.0
    every = build_config(sc, "takeover", "lineage", 30.0).params[0]
    assert tilt_factor(0.4, 0.4, tilt_front(World(sc, seed=1).clones, every), every) == 30.0
    world = World(sc, seed=1)
    assert tilt_front(world.clones, p) == pytest.approx(0.4)  # only residents at tick 0


def test_the_default_front_tilt_is_unbiased_on_the_ladder():
    """The likelihood ratio of the front tilt is exact: at u = 1e-3, T = 30
    (exact 1.69e-6) the mean of 40 repetitions at the defaults (100
    particles, seed 11) lies within 3 SE of the exact value, and the weights
    have not degenerated (effective sample size above 30)."""
    truth = exact(1e-3, 30)
    result = estimate_risk(ladder(1e-3, 30, seed=11), "takeover", "splitting", 100, 40,
                           show_progress=False, calibrate=False)
    assert result["tilt_from"] == 0.0 and result["effective_sample_size"] > 30
    x = np.array(result["repeat_estimates"])
    assert abs(x.mean() - truth) <= 3 * x.std(ddof=1) / math.sqrt(x.size), (x.mean(), truth)


def test_no_event_gives_the_exact_zero_event_bound_not_zero():
    """All R = 10 repetitions of n = 100 at 0: the first generations were
    1000 direct paths without an event, so the interval is [0, 1 -
    0.025^(1/1000)] = [0, 3.68e-3] (Clopper-Pearson), never [0, 0]."""
    reps = [{"estimate": 0.0, "hits": 0, "ticks": 50, "first_generation_ticks": 50,
             "iterations": 1}] * 10
    out = combine("splitting", 100, reps)
    assert out["low"] == 0.0
    assert out["high"] == pytest.approx(3.682e-3, rel=1e-3)
    assert "0 events" in out["interval"]


def test_no_weighted_path_at_the_event_gives_no_interval_not_zero():
    """Tilted paths (importance, or weighted splitting) of which none reached
    the event: the likelihood ratios of the paths not seen bound nothing, so
    no interval is reported (not [0, 0]), and the reason is given."""
    reps = [{"estimate": 0.0, "hits": 0, "ticks": 50, "first_generation_ticks": 50,
             "iterations": 0, "weights": []}] * 10
    for method in ("importance", "splitting"):
        out = combine(method, 100, reps)
        assert out["p"] == 0.0 and out["low"] is None and out["high"] is None, out
        assert "no weighted path reached the event" in out["interval"]


def test_an_upper_end_beyond_the_direct_paths_bound_is_capped():
    """Ten repetitions whose logarithms spread over 20 decades put Cox's
    upper end at 1; the 1000 first-generation paths saw no event, so the
    upper end is the exact 99.5% bound of 0 in 1000, 1 - 0.005^(1/1000) =
    5.28e-3 (what direct paths alone can say)."""
    estimates = [10.0 ** -k for k in range(4, 24, 2)]
    reps = [{"estimate": e, "hits": 1, "ticks": 50, "first_generation_ticks": 50,
             "first_generation_hits": 0, "iterations": 9} for e in estimates]
    out = combine("splitting", 100, reps)
    assert out["high"] == pytest.approx(1 - 0.005 ** (1 / 1000), rel=1e-9)
    assert "capped" in out["interval"]
    low, high, _ = splitting_interval(estimates, 1000)
    assert high == 1.0  # without the count: Cox's upper end reaches 1


def test_the_log_normal_interval_covers_a_skewed_mean():
    """Cox's interval for the mean of R = 10 log-normal estimates (sigma 1,
    as right-skewed as splitting repetitions at a poor score) over 4000
    synthetic samples (seed 3): coverage within 0.93-0.975 of nominal 0.95
    (SE of a coverage of 0.95 over 4000 samples is 0.0034; Cox's interval is
    slightly conservative at R = 10). The Student t interval on the same
    samples undercovers (below 0.92), the failure this replaces."""
    from scipy.stats import t as student_t

    rng = np.random.default_rng(3)
    mean = math.exp(-20 + 0.5)  # estimates of a probability near 1e-9
    cox = student = 0
    for _ in range(4000):
        x = rng.lognormal(-20.0, 1.0, 10)
        low, high, _how = splitting_interval(x, 1000)
        cox += low <= mean <= high
        half = student_t.ppf(0.975, 9) * x.std(ddof=1) / math.sqrt(10)
        student += x.mean() - half <= mean <= x.mean() + half
    assert 0.93 <= cox / 4000 <= 0.975, cox / 4000
    assert student / 4000 < 0.92, student / 4000


def test_speedup_is_measured_against_compiled_batches():
    """The wall-clock speedup divides the seconds direct compiled batches
    would need for the same relative error by the seconds splitting took;
    the seconds per direct path are measured in the same run."""
    sc = ladder(1e-2, 30)  # exact 1.6e-3
    result = estimate_risk(sc, "takeover", "splitting", 20, 3, show_progress=False)
    per_path = result["direct_seconds_per_path"]
    assert 0 < per_path < 0.05
    assert result["direct_equivalent_seconds"] == pytest.approx(
        result["direct_equivalent_replicates"] * per_path)
    assert result["speedup"] == pytest.approx(
        result["direct_equivalent_seconds"] / result["seconds_simulated"])


def _flagship(**changes):
    from simulation import load_scenario
    from simulation.scenario import point_scenario

    from analysis.scaling import sized

    base = load_scenario("scenarios/singleton_baseline.yaml", [])
    data = base.model_dump(mode="json")
    size = changes.pop("size")
    sc = point_scenario(data, {"agent.capacity": size, "agent.initial_size": 1, **changes},
                        "<test>", "test")
    return sized(sc, size)


def test_the_single_hit_theory_refuses_gradual_defection():
    """The flagship's normal kernel (sd 0.08, drive 0.1 -> threshold 0.5) makes
    defectors through sub-threshold intermediates far more often than in one
    5-sd jump: the theory is not applicable there (it had claimed 0.6647 at
    N = T = 10^6, which simulation contradicts), nor for the issue's
    500-subcomponent case (it had claimed 0.0, 'trusted'). The step kernel
    of defence_scaling (0.1 -> 1.0 in one error) has no intermediate: ratio
    0, applicable, the same efficacy as before."""
    from analysis.hazard import defence_needed
    from analysis.scaling import sized
    from simulation import load_scenario

    flagship = defence_needed(_flagship(size=10**6), 1e-6, 10**6)
    assert not flagship["applicable"] and not flagship["trusted"]
    assert flagship["multi_hit_ratio"] > 1e3
    small = defence_needed(_flagship(**{
        "size": 500, "copy.error_rate": 0.003, "agent.birth_rate": 0.25,
        "agent.drive_advantage": 1.5}), 0.01, 1000)
    assert not small["applicable"] and not small["trusted"]
    step = defence_needed(sized(load_scenario("scenarios/defence_scaling.yaml", []), 10**6),
                          1e-6, 10**6)
    assert step["applicable"] and step["multi_hit_ratio"] == 0.0
    assert step["efficacy"] == pytest.approx(0.23709, abs=5e-5)  # the header: critical 0.23709


def test_the_study_on_gradual_physics_needs_simulated_points(tmp_path):
    """``substrate study`` on the flagship's physics without simulated points
    refuses in one line (exit 2): the single-hit theory does not apply there,
    and the gradual study's theory needs a simulated background; nothing is
    written. (The gradual study itself: tests/test_study_gradual.py.)"""
    from click.testing import CliRunner

    from substrate.cli import cli

    text = open("scenarios/singleton_baseline.yaml").read() + (
        "study: {target: 1.0e-6, sizes: [10000, 1000000], horizons: [1000, 1000000]}\n")
    path = tmp_path / "flagship_study.yaml"
    path.write_text(text)
    res = CliRunner().invoke(cli, ["study", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "several copy errors" in res.output and "study.simulate" in res.output
    assert "0.66" not in res.output and not (tmp_path / "o").exists()


def test_importance_sampling_agrees_with_direct_and_flags_a_bad_tilt():
    """The small birth_death singleton of test_risk.mission (K = 100, one
    copy error of +0.5 makes a defector, P(takeover by 200) ~ 1.8e-2):
    40000 direct paths in compiled batches against 4000 importance-sampled
    paths at twice the error probability (seed 5); they agree within 3
    combined SE. A tilt of 100 (about 160 errors a path where the event
    needs one) leaves a handful of paths carrying the estimate: the
    effective sample size falls below 30 and no interval is reported."""
    from tests.test_risk import mission

    from simulation.risk import risk_scenario
    from simulation.run import run_scenario

    sc = mission()
    runs = run_scenario(risk_scenario(sc, "takeover").model_copy(
        update={"replicates": 40000}), show_progress=False).runs
    direct = float(runs["takeover"].mean())
    se_direct = math.sqrt(direct * (1 - direct) / 40000)
    weighted = estimate_risk(sc, "takeover", "importance", 2000, 2, show_progress=False,
                             tilt=2.0, calibrate=False)
    assert weighted["effective_sample_size"] >= 30 and weighted["low"] is not None
    assert abs(weighted["p"] - direct) <= 3 * math.hypot(weighted["se"], se_direct), (
        weighted["p"], direct)
    bad = estimate_risk(sc, "takeover", "importance", 2000, 2, show_progress=False,
                        tilt=100.0, calibrate=False)
    assert bad["effective_sample_size"] < 30
    assert bad["low"] is None and bad["high"] is None
    assert "degenerated" in bad["interval"]


def test_weighted_splitting_recovers_the_exact_ladder_value():
    """Splitting with weighted particles (copy errors at twice their
    probability, each branch inheriting its parent's likelihood ratio) on the
    ladder at u = 1e-2, T = 30 (exact 1.64e-3): 50 particles x 10
    repetitions, seed 7, within 3 SE of the exact value."""
    truth = exact(1e-2, 30)
    result = estimate_risk(ladder(1e-2, 30), "takeover", "splitting", 50, 10,
                           show_progress=False, tilt=2.0, calibrate=False)
    assert result["tilt"] == 2.0 and result["effective_sample_size"] > 30
    assert abs(result["p"] - truth) <= 3 * result["se"], (result["p"], truth)


@pytest.mark.slow
@pytest.mark.parametrize("efficacy, paths", [(0.6, 8000), (0.8, 200_000)])
def test_gradual_flagship_physics_splitting_agrees_with_direct(efficacy, paths):
    """The flagship's own physics (normal kernel sd 0.08 from drive 0.1 to the
    threshold 0.5, immune surveillance 0.3, tolerance 0.25) at 500 residents
    (capacity 1000), T = 2000: P(takeover) ~ 2e-2 at efficacy 0.6 and ~1e-4
    at 0.8 (benchmarks/risk_flagship.py agree, seed 1: direct 0.0295 of 4000
    paths, splitting 0.0248; splitting 6e-5 to 1.1e-4). Splitting at the
    defaults (100 particles x 20, seed 1) and ``paths`` direct paths in
    compiled batches agree within 3 combined SE. At 1e-4, splitting reaches
    a relative error of 0.3 in less CPU time than direct batches would (its
    rel^2 x CPU seconds / 0.09 against (1 - p) / (0.09 p) paths at the CPU
    seconds per path measured here; measured 41-78 s against 355 s). ~15
    minutes of CPU."""
    import time

    import scenarios
    from simulation import load_scenario
    from simulation.risk import risk_scenario
    from simulation.run import run_scenario

    sc = load_scenario(scenarios.path("singleton_baseline"), [
        "agent.capacity=1000", "agent.initial_size=500", f"immune.efficacy={efficacy}",
        "seed=1"])
    started = time.process_time()
    runs = run_scenario(risk_scenario(sc, "takeover").model_copy(
        update={"replicates": paths}), show_progress=False, threads=1).runs
    per_path = (time.process_time() - started) / paths
    direct = float(runs["takeover"].mean())
    se_direct = math.sqrt(direct * (1 - direct) / paths)
    split = estimate_risk(sc, "takeover", show_progress=False, calibrate=False)
    assert abs(split["p"] - direct) <= 3 * math.hypot(split["se"], se_direct), (
        split["p"], direct)
    if efficacy == 0.8:
        p = split["p"]
        splitting_cpu = split["rel_error"] ** 2 * split["cpu_seconds_simulated"] / 0.09
        assert splitting_cpu < (1 - p) / (0.09 * p) * per_path, (splitting_cpu, per_path)


@pytest.mark.slow
@pytest.mark.parametrize("score, tilt", [("lineage", 1.0), ("hazard", None), ("lineage", None)])
def test_splitting_is_unbiased_on_the_ladder_whatever_the_score(score, tilt):
    """The mean of 200 repetitions (100 particles, seed 11) at u = 1e-3,
    T = 30 (exact 1.69e-6) within 3 SE of the exact value: the estimator is
    unbiased whatever the score and the tilt, however skewed its
    repetitions (measured without a tilt, lineage: mean 1.86e-6, z = 0.47;
    median 0.35 of the exact value, largest 34 times it)."""
    truth = exact(1e-3, 30)
    result = estimate_risk(ladder(1e-3, 30, seed=11), "takeover", "splitting", 100, 200,
                           show_progress=False, calibrate=False, score=score, tilt=tilt)
    x = np.array(result["repeat_estimates"])
    assert abs(x.mean() - truth) <= 3 * x.std(ddof=1) / math.sqrt(x.size), (x.mean(), truth)
