"""Types scenarios against exact results (docs/validation.md, "Types"):
the Moran chain of a type ladder, the Luria-Delbrueck culture stopped at a
size, the waiting time to the k-th hit, and splitting on a type event.

Each check states its seed and replicates; a simulated probability or mean
passes within 4 standard errors of the exact value (a false alarm about
once in 16 000 checks), as in analysis/validation.py.
"""

import math

import numpy as np
import pytest
from scipy import stats

from analysis.theory import luria_delbruck_stopped, moran_ladder_takeover
from simulation import run_scenario, validate
from simulation.risk import estimate_risk

TOLERANCE_SE = 4.0


def ladder(n, fitness, rates, horizon, replicates, seed, **stop):
    """A Moran population of n on the ladder T0 -> T1 -> ... (no immune system)."""
    names = [f"T{k}" for k in range(len(fitness))]
    return validate({
        "seed": seed, "replicates": replicates, "horizon": horizon,
        "record_every": horizon, "record_clones": False,
        "agent": {"dynamics": "moran", "capacity": n, "initial_size": n,
                  "drive_advantage": 0.0, "loyalty_cost": 0.0},
        "immune": {"surveillance": 0.0},
        "types": {name: {"birth": w} for name, w in zip(names, fitness)},
        "mutations": [{"from": a, "to": b, "rate": u}
                      for a, b, u in zip(names, names[1:], rates)],
        "stop": {"type": names[-1], **stop}})


def event_ticks(runs, column):
    return runs[column].astype("float").to_numpy()  # NaN: not by the horizon


def assert_curve_and_mean(ticks, exact, horizon, checkpoints):
    """P(T <= t) at the checkpoints and E[min(T, horizon)] within 4 SE."""
    n = ticks.size
    for t in checkpoints:
        p = float(np.mean(ticks <= t))
        se = math.sqrt(max(exact[t] * (1 - exact[t]), 1e-12) / n)
        assert abs(p - exact[t]) <= TOLERANCE_SE * se, (t, p, exact[t], se)
    capped = np.where(np.isnan(ticks), horizon, np.minimum(ticks, horizon))
    mean_exact = float((1 - exact[:horizon]).sum())  # E[min(T, H)] = sum_{t<H} P(T > t)
    se = capped.std(ddof=1) / math.sqrt(n)
    assert abs(capped.mean() - mean_exact) <= TOLERANCE_SE * se, (capped.mean(), mean_exact)


def test_moran_ladder_fixation_against_the_exact_chain():
    """N = 5, fitness 1, 1.2, 1.5, u = 0.02 per step: P(top type fixed by t)
    and the mean waiting time to its fixation (truncated at 150) against
    the exact chain of the engine's Moran tick (seed 8, 1500 replicates)."""
    horizon = 150
    sc = ladder(5, [1.0, 1.2, 1.5], [0.02, 0.02], horizon, 1500, 8,
                on=["type_fixation"])
    runs = run_scenario(sc, show_progress=False).runs
    exact = moran_ladder_takeover(5, [1.0, 1.2, 1.5], [0.02, 0.02], horizon, 2, 1.0)
    assert 0.3 < exact[60] < 0.9
    assert_curve_and_mean(event_ticks(runs, "type_fixation_tick"), exact, horizon,
                          (20, 60, 150))


def test_kth_hit_waiting_time_against_the_chain_and_the_sequential_regime():
    """The first tick a cell carries k = 3 hits (type T3 present), neutral
    Moran N = 5, u = 1e-3 per hit: against the exact chain (4 SE; seed 3,
    400 replicates to 6000 ticks), and the chain against the sequential-
    fixation asymptote of Schweinsberg (2008, Electron. J. Probab. 13: 1442,
    Theorem 2 part 1: for u << N^-2 each of the k - 1 first hits fixes at
    rate u, the k-th appears at rate N u): E[T] ~ (k - 1)/u + 1/(N u), within
    10% (N^2 u = 0.025: tunnelling and fixation times add a few percent)."""
    horizon, n, u = 6000, 5, 1e-3
    exact = moran_ladder_takeover(n, [1.0] * 4, [u] * 3, horizon, 3, 1.0 / n)
    mean_exact = float((1 - exact[:horizon]).sum())
    asymptote = 2 / u + 1 / (n * u)
    assert abs(mean_exact - asymptote) <= 0.10 * asymptote, (mean_exact, asymptote)
    sc = ladder(n, [1.0] * 4, [u] * 3, horizon, 400, 3, type_count=1,
                on=["type_reached"])
    runs = run_scenario(sc, show_progress=False).runs
    assert_curve_and_mean(event_ticks(runs, "type_reached_tick"), exact, horizon,
                          (1000, 2200, 4000))


def luria_delbruck_culture(replicates, seed):
    return validate({
        "seed": seed, "replicates": replicates, "horizon": 200, "record_every": 200,
        "record_clones": False,
        "agent": {"capacity": 10**12, "initial_size": 1, "birth_rate": 0.5,
                  "death_rate": 0.0, "drive_advantage": 0.0, "loyalty_cost": 0.0},
        "immune": {"surveillance": 0.0},
        "types": {"W": {}, "M": {}},
        "mutations": [{"from": "W", "to": "M", "rate": 0.01}],
        "stop": {"size": 64, "on": ["size_reached"]}})


def test_luria_delbruck_culture_stopped_at_a_size():
    """One cell grows (birth 0.5 per tick, no death) until the culture holds
    64 or more; mutants W -> M at 0.01 per division. p0 and the law of the
    mutant count against the exact recursion for the engine's tick
    (analysis.theory.luria_delbruck_stopped): p0 within 4 SE, and a
    chi-square test over the counts 0..7 and 8+ at level 1e-3 (seed 1943,
    20000 cultures; the growth control 1 - N/K, K = 10^12, moves the birth
    probability by under 1e-10)."""
    sc = luria_delbruck_culture(20000, 1943)
    runs = run_scenario(sc, show_progress=False).runs
    assert (runs.stop_reason == "size_reached").all()
    assert (runs.final_size >= 64).all() and (runs.final_size < 128).all()
    counts = runs.final_count_M.to_numpy()
    law = luria_delbruck_stopped(1, 64, 0.5, 0.01)
    n = counts.size
    p0 = float(np.mean(counts == 0))
    assert abs(p0 - law[0]) <= TOLERANCE_SE * math.sqrt(law[0] * (1 - law[0]) / n)
    # p0 = E[(1 - u)^(N_stop - 1)]: below the Lea-Coulson exp(-u (64 - 1)),
    # because the culture overshoots the stopping size (N_stop >= 64)
    assert law[0] < math.exp(-0.01 * 63)
    observed = np.array([np.sum(counts == k) for k in range(8)] + [np.sum(counts >= 8)])
    expected = n * np.append(law[:8], law[8:].sum())
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_splitting_on_a_type_event_recovers_the_exact_chain():
    """P(top type fixed by 60) on a ladder N = 8, fitness 1, 1, 1.3,
    u = 2e-3 then 1e-3: a rare event (the exact chain: about 1e-3), by
    splitting on the type_fixation score (100 particles x 10 repetitions,
    seed 21), within 4 of its standard errors of the chain."""
    horizon = 60
    exact = moran_ladder_takeover(8, [1.0, 1.0, 1.3], [2e-3, 1e-3], horizon, 2, 1.0)
    assert 1e-5 < exact[horizon] < 1e-2
    sc = ladder(8, [1.0, 1.0, 1.3], [2e-3, 1e-3], horizon, 1, 21)
    result = estimate_risk(sc, "type_fixation", "splitting", particles=100, repeats=10,
                           show_progress=False)
    assert abs(result["p"] - exact[horizon]) <= TOLERANCE_SE * result["se"], (
        result["p"], result["se"], exact[horizon])
    assert result["rel_error"] < 0.5


@pytest.mark.slow
def test_moran_ladder_fixation_against_the_exact_chain_at_more_replicates():
    """As the fast test, N = 6 and 20000 replicates (seed 9), to 300 ticks."""
    horizon = 300
    sc = ladder(6, [1.0, 1.1, 1.4], [0.01, 0.02], horizon, 20000, 9,
                on=["type_fixation"])
    runs = run_scenario(sc, show_progress=False).runs
    exact = moran_ladder_takeover(6, [1.0, 1.1, 1.4], [0.01, 0.02], horizon, 2, 1.0)
    assert_curve_and_mean(event_ticks(runs, "type_fixation_tick"), exact, horizon,
                          (30, 100, 200, 300))
