"""The estimators against lifelines, against hand computation, and on real runs.

lifelines is a test dependency only: the package never imports it.
"""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import estimators
from analysis.estimators import aalen_johansen, estimate_event, value_at

lifelines = pytest.importorskip("lifelines")


def _at(curve, ticks, column="incidence"):
    """Our step function read at lifelines' time points."""
    return estimators._steps_at(curve, np.asarray(ticks, dtype=float))[column].to_numpy()


def _fit_aj(time, cause):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns when it jitters ties
        return lifelines.AalenJohansenFitter(calculate_variance=True, seed=0).fit(
            time, cause, event_of_interest=1)


# --- against lifelines -------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_aalen_johansen_matches_lifelines_without_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 120))
    time = rng.exponential(10.0, n)
    cause = rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3])
    ours = aalen_johansen(time, cause)
    ref = _fit_aj(time, cause)
    points = ref.cumulative_density_.index.to_numpy()
    np.testing.assert_allclose(_at(ours, points), ref.cumulative_density_.iloc[:, 0],
                               atol=1e-12)
    # lifelines leaves the variance undefined (0 * inf) after the last at risk
    # fails; it is 0 there, as F no longer moves.
    known = ~np.isnan(ref.variance_.to_numpy())
    assert known[:-1].all()
    np.testing.assert_allclose(_at(ours, points, "variance")[known],
                               ref.variance_.to_numpy()[known], atol=1e-12)
    # lifelines labels its two limits the other way round; compare as a set.
    ci = np.sort(ref.confidence_interval_.to_numpy(), axis=1)
    defined = ~np.isnan(ci).any(axis=1)
    np.testing.assert_allclose(_at(ours, points, "low")[defined], ci[defined, 0], atol=1e-10)
    np.testing.assert_allclose(_at(ours, points, "high")[defined], ci[defined, 1], atol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_aalen_johansen_matches_lifelines_with_ties(seed):
    # Integer ticks with many ties between causes and with censoring. lifelines
    # jitters tied event times (by 1e-4); the estimate does not depend on the
    # order of events within a tick, and censoring at a tick comes after its
    # events in both when lifelines sees the censoring half a tick later.
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(30, 150))
    time = rng.integers(1, 15, n).astype(float)
    cause = rng.choice([0, 1, 2], size=n, p=[0.25, 0.45, 0.3])
    ours = aalen_johansen(time, cause)
    ref = _fit_aj(np.where(cause == 0, time + 0.5, time), cause)
    ticks = np.arange(0, 16)
    theirs = ref.cumulative_density_.iloc[:, 0]
    expected = [theirs[theirs.index <= t + 0.25].iloc[-1] for t in ticks]
    np.testing.assert_allclose(_at(ours, ticks), expected, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_one_cause_is_one_minus_kaplan_meier(seed):
    # Without competing events the cumulative incidence is 1 - Kaplan-Meier and
    # its variance is Greenwood's; lifelines' KM handles ties itself.
    rng = np.random.default_rng(200 + seed)
    n = 80
    time = rng.integers(1, 20, n).astype(float)
    cause = rng.choice([0, 1], size=n, p=[0.3, 0.7])
    ours = aalen_johansen(time, cause)
    km = lifelines.KaplanMeierFitter().fit(time, cause)
    ticks = km.survival_function_.index.to_numpy()
    np.testing.assert_allclose(_at(ours, ticks), 1 - km.survival_function_.iloc[:, 0],
                               atol=1e-12)
    table = km.event_table
    greenwood = np.cumsum(np.where(
        table.at_risk > table.observed,
        table.observed / (table.at_risk * (table.at_risk - table.observed)), 0.0))
    expected = km.survival_function_.iloc[:, 0].to_numpy() ** 2 * greenwood
    np.testing.assert_allclose(_at(ours, ticks, "variance"), expected, atol=1e-12)


def test_all_cause_survival_matches_kaplan_meier():
    rng = np.random.default_rng(7)
    time = rng.integers(1, 12, 60).astype(float)
    cause = rng.choice([0, 1, 2], size=60)
    ours = aalen_johansen(time, cause)
    km = lifelines.KaplanMeierFitter().fit(time, cause > 0)
    ticks = km.survival_function_.index.to_numpy()
    np.testing.assert_allclose(_at(ours, ticks, "survival"), km.survival_function_.iloc[:, 0],
                               atol=1e-12)


# --- by hand -----------------------------------------------------------------

# Five replicates: the event at 2, a competing event and the event at 3,
# censored at 5, the event at 7.
TIME = [2, 3, 3, 5, 7]
CAUSE = [1, 2, 1, 0, 1]


def test_aalen_johansen_by_hand():
    # t=2: 5 at risk, F = 1/5, S = 4/5. t=3: 4 at risk, one of each cause:
    # F += 4/5 * 1/4 -> 2/5, S = 4/5 * 2/4 = 2/5. t=5 censored. t=7: 1 at
    # risk: F += 2/5 -> 4/5. 1 - Kaplan-Meier (the competing event taken as
    # censoring) would say 1.
    curve = aalen_johansen(TIME, CAUSE)
    assert list(curve.tick) == [0, 2, 3, 5, 7]
    np.testing.assert_allclose(curve.incidence, [0, 0.2, 0.4, 0.4, 0.8])
    np.testing.assert_allclose(curve.survival, [1, 0.8, 0.4, 0.4, 0.0])
    np.testing.assert_allclose(curve.at_risk, [5, 5, 4, 2, 1])
    # One event among 5 at risk: the binomial variance 0.2 * 0.8 / 5.
    assert curve.variance[1] == pytest.approx(0.032)
    km = analysis.kaplan_meier(pd.array([2, None, 3, None, 7], dtype="Int64"), TIME)
    assert 1 - km.sf.probabilities[-1] == pytest.approx(1.0)
    assert estimators.median_tick(curve) == 7
    assert value_at(curve, 4) == pytest.approx(0.4) and value_at(curve, 100) == 0.8
    assert (curve.low <= curve.incidence + 1e-12).all()
    assert (curve.high >= curve.incidence - 1e-12).all()


def test_median_undefined_below_one_half():
    curve = aalen_johansen([3, 4, 9, 9], [1, 2, 0, 0])
    assert curve.incidence.max() == 0.25 and math.isnan(estimators.median_tick(curve))


def test_hazard_by_hand():
    # 3 events over 2 + 3 + 3 + 5 + 7 = 20 replicate-ticks at risk.
    rate, low, high = estimators.cause_specific_hazard(TIME, CAUSE)
    assert rate == pytest.approx(3 / 20)
    assert low == pytest.approx(0.618672 / 20, rel=1e-5)
    assert high == pytest.approx(8.767273 / 20, rel=1e-5)


def _table(ticks, reasons, takeover, extinction=None):
    n = len(ticks)
    return pd.DataFrame({
        "ticks": ticks, "stop_reason": reasons,
        "takeover_tick": pd.array(takeover, dtype="Int64"),
        "convergence_tick": pd.array([None] * n, dtype="Int64"),
        "extinction_tick": pd.array(extinction or [None] * n, dtype="Int64"),
        "final_mean_drive": [0.0] * n, "final_mean_loyalty": [1.0] * n})


def test_extinction_competes_with_takeover():
    # 10 replicates: 4 go extinct early (ticks 1-4), 3 are taken over (ticks
    # 10, 20, 30), 3 reach the horizon 50. P(takeover by 50) = 3/10, not the
    # 3/6 of Kaplan-Meier that treats the extinct as censored.
    runs = _table([1, 2, 3, 4, 10, 20, 30, 50, 50, 50],
                  ["extinction"] * 4 + ["takeover"] * 3 + ["horizon"] * 3,
                  [None] * 4 + [10, 20, 30] + [None] * 3,
                  [1, 2, 3, 4] + [None] * 6)
    est = estimate_event(runs, "takeover", 50)
    assert est["p"] == pytest.approx(0.3) and not est["bounded"]
    assert (est["low"], est["high"]) == pytest.approx(analysis.wilson_interval(3, 10)[1:])
    assert math.isnan(est["median"])
    assert est["hazard"] == pytest.approx(3 / (1 + 2 + 3 + 4 + 10 + 20 + 30 + 150))
    km = analysis.kaplan_meier(runs.takeover_tick, runs.ticks)
    assert 1 - km.sf.probabilities[-1] == pytest.approx(0.5)
    assert estimate_event(runs, "takeover", 25)["p"] == pytest.approx(0.2)


def test_stopped_event_is_bounded():
    # stop.on [takeover]: 4 of 10 stopped by takeover before 50; convergence
    # seen in 1 (at 40, on its own, then the horizon). The truth lies in
    # [1/10, 5/10] whatever the stopped would have done; widened by Wilson.
    runs = _table([10, 20, 30, 45, 50, 50, 50, 50, 50, 50],
                  ["takeover"] * 4 + ["horizon"] * 6,
                  [10, 20, 30, 45] + [None] * 6)
    runs["convergence_tick"] = pd.array([None] * 4 + [40] + [None] * 5, dtype="Int64")
    est = estimate_event(runs, "convergence", 50)
    assert est["bounded"]
    assert est["low"] == pytest.approx(analysis.wilson_interval(1, 10)[1])
    assert est["high"] == pytest.approx(analysis.wilson_interval(5, 10)[2])
    assert est["low"] <= 0.1 and est["high"] >= 0.5
    bounds = analysis.stop_bounds(*estimators.event_status(runs, "convergence"), 50)
    assert (bounds["seen"], bounds["stopped"]) == (1, 4)
    # Before the first stop nothing is bounded.
    assert not estimate_event(runs, "convergence", 10)["bounded"]
    # By tick 25 two were stopped (at 10 and 20): bound 0 + 2 of 10.
    early = analysis.stop_bounds(*estimators.event_status(runs, "convergence"), 25)
    assert (early["seen"], early["stopped"]) == (0, 2)
    curve = estimators.incidence_curve(runs, "convergence")
    assert value_at(curve, 25, "bound_high") == pytest.approx(0.2)
    assert value_at(curve, 20, "bound_high") == pytest.approx(0.1)  # stopped at 20: no event by 20
    assert value_at(curve, 50, "bound_low") == pytest.approx(0.1)


def test_estimators_do_not_import_lifelines():
    import subprocess
    import sys

    code = ("import sys, analysis, analysis.plots; "
            "sys.exit(int('lifelines' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_aalen_johansen_rejects_bad_input():
    from simulation.errors import AnalysisError

    with pytest.raises(AnalysisError, match="no replicates"):
        aalen_johansen([], [])
    with pytest.raises(AnalysisError, match=r"got \[3\]"):
        aalen_johansen([1, 2], [1, 3])
    with pytest.raises(AnalysisError, match="some are missing"):
        aalen_johansen([1, np.nan], [1, 0])


def test_unknown_event_is_an_analysis_error():
    from simulation.errors import AnalysisError

    with pytest.raises(AnalysisError, match="unknown event 'nope'"):
        estimate_event(_table([5], ["horizon"], [None]), "nope", 5)


# --- the audit's two failures, reproduced with real runs ---------------------

# The flagship with three founders in a small agent: about a fifth of the
# replicates go extinct within a few ticks (before any takeover), most of the
# rest are taken over by tick 300, and mean drive reaches 0.53 shortly after
# a takeover (so a stop at takeover cuts convergence short).
AUDIT = ["agent.initial_size=3", "agent.capacity=1000", "copy.error_rate=0.01",
         "agent.initial_traits.drive=0.34", "agent.death_rate=0.17",
         "stop.convergence_drive=0.53"]
AUDIT_SEED, AUDIT_HORIZON = 20261121, 300


def _audit_runs(replicates, stop_on):
    import scenarios
    from simulation import load_scenario, run_scenario

    sc = load_scenario(scenarios.path("singleton_baseline"), AUDIT + [f"stop.on={stop_on}"],
                       seed=AUDIT_SEED, replicates=replicates, horizon=AUDIT_HORIZON)
    return run_scenario(sc, show_progress=False).runs


def _check_extinction_competes(runs):
    """Item 1: with extinction and no other early end, P(takeover by T) is the
    plain fraction taken over (equal up to rounding: nothing is censored
    before T, so the Aalen-Johansen product telescopes to k/n), and the
    median is the first tick at which that fraction reaches 1/2."""
    n, horizon = len(runs), AUDIT_HORIZON
    extinct = int(runs.extinct.sum())
    assert extinct >= 5, "the check needs replicates that go extinct"
    assert set(runs.stop_reason) <= {"takeover", "extinction", "horizon"}
    row = analysis.summarize(runs, horizon=horizon).iloc[0]
    taken = runs.takeover_tick.dropna().to_numpy(dtype=float)
    assert row.p_takeover == pytest.approx(len(taken) / n, abs=1e-12)
    assert not row.p_takeover_bounded
    assert (row.p_takeover_low, row.p_takeover_high) == pytest.approx(
        analysis.wilson_interval(len(taken), n)[1:])
    fraction_by = np.searchsorted(np.sort(taken), np.arange(horizon + 1), side="right") / n
    reached = np.flatnonzero(fraction_by >= 0.5)
    expected_median = float(reached[0]) if reached.size else math.nan
    assert row.median_takeover_tick == pytest.approx(expected_median, nan_ok=True)
    # Cause-specific hazard: takeovers over replicate-ticks until takeover,
    # extinction or the horizon (the last tick of each replicate here).
    assert row.takeover_hazard == pytest.approx(len(taken) / runs.ticks.sum())
    # What the old estimator said: Kaplan-Meier took the extinct as censored
    # (as if they could still be taken over) and put 1 - S(T) above the
    # fraction actually taken over.
    km = analysis.kaplan_meier(runs.takeover_tick, runs.ticks)
    assert 1 - km.sf.probabilities[-1] > row.p_takeover
    return row


def _check_stop_bounds(free, stopped):
    """Item 2: the same replicates with and without stop.on [takeover] (same
    seeds: identical up to the stop). The bounds from the stopped run contain
    the fraction converged by T without the stop, for this very sample
    (k/n <= truth <= (k + m)/n), and so does the Wilson-widened interval."""
    n, horizon = len(free), AUDIT_HORIZON
    pd.testing.assert_series_equal(free.takeover_tick, stopped.takeover_tick)
    truth = int((free.convergence_tick <= horizon).sum())
    assert truth > 0, "the check needs convergence without the stop"
    assert int(stopped.converged.sum()) < truth  # counting the stopped as "no" is wrong
    row = analysis.summarize(stopped, horizon=horizon).iloc[0]
    assert row.p_convergence_bounded
    bounds = analysis.stop_bounds(*estimators.event_status(stopped, "convergence"), horizon)
    assert bounds["low_point"] <= truth / n <= bounds["high_point"]
    assert row.p_convergence_low <= truth / n <= row.p_convergence_high
    assert not analysis.summarize(free, horizon=horizon).p_convergence_bounded[0]


def test_audit_failures_fast():
    # 100 replicates: about 20 extinct, 70 taken over (a few seconds).
    free, stopped = _audit_runs(100, "[]"), _audit_runs(100, "[takeover]")
    _check_extinction_competes(stopped)
    _check_stop_bounds(free, stopped)


@pytest.mark.slow
def test_audit_failures_many_replicates():
    # 1000 replicates: the same checks, and the Kaplan-Meier bias is many
    # standard errors (sqrt(p(1 - p)/n) ~ 0.015) wide.
    free, stopped = _audit_runs(1000, "[]"), _audit_runs(1000, "[takeover]")
    row = _check_extinction_competes(stopped)
    _check_stop_bounds(free, stopped)
    km = analysis.kaplan_meier(stopped.takeover_tick, stopped.ticks)
    se = math.sqrt(row.p_takeover * (1 - row.p_takeover) / len(stopped))
    assert (1 - km.sf.probabilities[-1]) - row.p_takeover > 5 * se


# --- against a naive reference, and invariants (hypothesis) ------------------

def naive_aalen_johansen(time, cause):
    """Obviously-correct loop: walk the distinct ticks, count who is at risk."""
    out = {}
    survival, incidence = 1.0, 0.0
    for t in sorted(set(time)):
        at_risk = sum(1 for ti in time if ti >= t)
        d1 = sum(1 for ti, ci in zip(time, cause) if ti == t and ci == 1)
        d2 = sum(1 for ti, ci in zip(time, cause) if ti == t and ci == 2)
        incidence += survival * d1 / at_risk
        survival *= 1 - (d1 + d2) / at_risk
        out[t] = (incidence, survival)
    return out


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

replicate_outcomes = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)),
                              min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(replicate_outcomes)
def test_aalen_johansen_invariants(outcomes):
    time = np.array([t for t, _ in outcomes], dtype=float)
    cause = np.array([c for _, c in outcomes])
    curve = aalen_johansen(time, cause)
    reference = naive_aalen_johansen(list(time), list(cause))
    for row in curve[curve.tick.isin(list(reference))].itertuples():
        assert row.incidence == pytest.approx(reference[row.tick][0], abs=1e-12)
        assert row.survival == pytest.approx(reference[row.tick][1], abs=1e-12)
    inc = curve.incidence.to_numpy()
    assert curve.tick[0] == 0 and inc[0] == pytest.approx(((time == 0) & (cause == 1)).mean())
    assert np.all(np.diff(inc) >= -1e-12) and inc[-1] <= 1 + 1e-12
    assert np.all(curve.low <= inc + 1e-12) and np.all(curve.high >= inc - 1e-12)
    assert np.all(curve.variance >= 0)
    # The two causes' incidences and the all-cause survival add up to 1.
    other = aalen_johansen(time, np.where(cause == 0, 0, 3 - cause)).incidence.to_numpy()
    np.testing.assert_allclose(inc + other + curve.survival.to_numpy(), 1.0, atol=1e-12)
    # With nothing censored, the incidence is the fraction of events so far.
    if not (cause == 0).any():
        seen = np.searchsorted(np.sort(time[cause == 1]), curve.tick, side="right")
        np.testing.assert_allclose(inc, seen / len(time), atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(replicate_outcomes, st.integers(0, 30))
def test_bounds_contain_every_completion(outcomes, horizon):
    # Whatever the stopped replicates would have done, the fraction with the
    # event by the horizon lies between the two point bounds: try the two
    # extremes and a random completion.
    time = np.array([t for t, _ in outcomes], dtype=float)
    cause = np.array([c for _, c in outcomes])
    stopped = cause == 0
    bounds = analysis.stop_bounds(time, cause, stopped, horizon)
    rng = np.random.default_rng(len(outcomes))
    for later in (np.zeros(len(time), bool), np.ones(len(time), bool),
                  rng.random(len(time)) < 0.5):
        # A stopped replicate that "would have" had the event gets it at t + 1.
        happened = ((cause == 1) & (time <= horizon)) | (
            stopped & later & (time + 1 <= horizon))
        fraction = happened.mean()
        assert bounds["low_point"] - 1e-12 <= fraction <= bounds["high_point"] + 1e-12
    assert bounds["low"] <= bounds["low_point"] and bounds["high"] >= bounds["high_point"]


# --- the pointwise band never collapses (issue 24, item 1) --------------------

Z = 1.959963984540054


def _runs_table(ticks, takeover, extinction=None, horizon_reason="horizon"):
    """A runs table: per replicate its last tick and takeover (and
    extinction) tick, None when it did not happen."""
    n = len(ticks)
    extinction = extinction or [None] * n
    reasons = ["takeover" if t is not None else "extinction" if e is not None
               else horizon_reason for t, e in zip(takeover, extinction)]
    return pd.DataFrame({"ticks": ticks, "stop_reason": reasons,
                         "takeover_tick": pd.array(takeover, dtype="Int64"),
                         "extinction_tick": pd.array(extinction, dtype="Int64"),
                         "final_mean_drive": 0.1, "final_mean_loyalty": 0.9})


def test_band_at_zero_and_at_all_events_by_hand():
    # Ten replicates, nothing censored before the horizon 20: takeovers at
    # 5 (x4) and 9 (x6). Before the first event the Wilson band of 0 of 10
    # is [0, z^2/(n + z^2)], after the last [n/(n + z^2), 1]: never [0, 0]
    # or [1, 1].
    n = 10
    runs = _runs_table([5] * 4 + [9] * 6, [5] * 4 + [9] * 6)
    curve = estimators.incidence_curve(runs, "takeover")
    start, end = curve[curve.tick < 5], curve[curve.tick >= 9]
    assert len(start) and len(end)
    np.testing.assert_allclose(start.low, 0.0)
    np.testing.assert_allclose(start.high, Z * Z / (n + Z * Z), rtol=1e-12)
    np.testing.assert_allclose(end.low, n / (n + Z * Z), rtol=1e-12)
    np.testing.assert_allclose(end.high, 1.0)
    middle = curve[curve.tick == 5].iloc[0]
    assert (middle.low, middle.high) == pytest.approx(analysis.wilson_interval(4, n)[1:],
                                                      rel=1e-12)


def test_band_under_censoring_by_hand():
    # Ten replicates: two censored at tick 3 (not stopped: observed to 3
    # only), the other eight taken over at 6 (x2) and 8 (x6). F = 0 to tick
    # 5 and 1 from 8 on. Up to tick 3 the two were observed: Wilson 0 of 10;
    # from 4, their outcome is unknown: Wilson 0 of 8; at 8, all 8 known
    # replicates had the event: [8/(8 + z^2), 1]. In between, the log(-log)
    # delta-method band of the Aalen-Johansen estimate.
    runs = _runs_table([3, 3] + [6, 6] + [8] * 6, [None, None, 6, 6] + [8] * 6,
                       horizon_reason="horizon")
    time, cause, _ = estimators.event_status(runs, "takeover")
    ticks = np.arange(0, 10)
    low, high = estimators.incidence_band(time, cause, ticks)
    up_to_3, from_4 = ticks <= 3, (ticks >= 4) & (ticks < 6)
    np.testing.assert_allclose(low[ticks < 6], 0.0)
    np.testing.assert_allclose(high[up_to_3], Z * Z / (10 + Z * Z), rtol=1e-12)
    np.testing.assert_allclose(high[from_4], Z * Z / (8 + Z * Z), rtol=1e-12)
    np.testing.assert_allclose(low[ticks >= 8], 8 / (8 + Z * Z), rtol=1e-12)
    np.testing.assert_allclose(high[ticks >= 8], 1.0)
    curve = aalen_johansen(time, cause)
    at_6 = curve[curve.tick == 6].iloc[0]
    assert at_6.incidence == pytest.approx(0.25)
    assert (low[6], high[6]) == pytest.approx((at_6.low, at_6.high), rel=1e-12)
    # The curve carries the widening at tick 4 (a row after the censoring).
    table = estimators.incidence_curve(runs, "takeover")
    assert value_at(table, 3, "high") == pytest.approx(Z * Z / (10 + Z * Z))
    assert value_at(table, 4, "high") == pytest.approx(Z * Z / (8 + Z * Z))


def _check_band_is_the_summary(runs, horizon, event="takeover"):
    """At every tick up to the horizon, the curve's band is the interval
    that summarize(at=...) prints, and at the horizon the summary's own."""
    curve = analysis.incidence_curves(runs, event)
    ticks = list(range(0, horizon + 1))
    table = analysis.summarize(runs, events=(event,), horizon=horizon, at=ticks)
    np.testing.assert_allclose(table[f"p_{event}"], _at(curve, ticks), atol=1e-12)
    bounded = _at(curve, ticks, "bounded").astype(bool)
    assert (table[f"p_{event}_bounded"].to_numpy() == bounded).all()
    low = np.where(bounded, _at(curve, ticks, "bound_ci_low"), _at(curve, ticks, "low"))
    high = np.where(bounded, _at(curve, ticks, "bound_ci_high"), _at(curve, ticks, "high"))
    np.testing.assert_allclose(table[f"p_{event}_low"], low, atol=1e-12)
    np.testing.assert_allclose(table[f"p_{event}_high"], high, atol=1e-12)
    row = analysis.summarize(runs, events=(event,), horizon=horizon).iloc[0]
    last = table.iloc[-1]
    assert (row[f"p_{event}_low"], row[f"p_{event}_high"]) == (
        last[f"p_{event}_low"], last[f"p_{event}_high"])
    assert (np.asarray(table[f"p_{event}_high"]) > 0).all()
    assert (np.asarray(table[f"p_{event}_low"]) < 1).all()
    return table


def test_band_equals_the_summary_interval_on_a_real_run():
    # The audit's flagship (extinction competes, no stops): 100 replicates.
    runs = _audit_runs(100, "[]")
    assert runs.takeover.any() and runs.extinct.any()
    table = _check_band_is_the_summary(runs, AUDIT_HORIZON)
    first = runs.takeover_tick.min()
    before = table[table["at"] < first]
    assert len(before) and (before.p_takeover == 0).all()
    np.testing.assert_allclose(before.p_takeover_high, Z * Z / (100 + Z * Z), rtol=1e-12)


def test_interval_equals_the_summary_interval_with_stops():
    # stop.on [takeover] cuts convergence short: the summary gives the stop
    # bounds, and the curve carries them (bound_ci_low, bound_ci_high).
    runs = _audit_runs(100, "[takeover]")
    table = _check_band_is_the_summary(runs, AUDIT_HORIZON, "convergence")
    assert table.p_convergence_bounded.any() and not table.p_convergence_bounded.all()


def test_band_equals_the_summary_interval_under_censoring():
    # Censoring before the horizon that is not a stop (shorter replicates).
    runs = _runs_table([3, 3, 6, 6, 8, 8, 8, 8, 8, 12], [None, None, 6, 6, 8, 8, 8, 8, 8, None],
                       extinction=[None] * 9 + [12])
    _check_band_is_the_summary(runs, 12)


def test_summarize_at_rejects_ticks_past_the_horizon():
    from simulation.errors import AnalysisError

    runs = _runs_table([5, 9], [5, None])
    with pytest.raises(AnalysisError, match="from 0 to the horizon 9"):
        analysis.summarize(runs, horizon=9, events=("takeover",), at=[3, 10])


# --- bounded means: an interval in [0, 1] that does not collapse (item 2) -----

COVERAGE_SEED, COVERAGE_REPEATS = 20261204, 2000
# The measured coverage of a 95% interval over R repeats has standard error
# sqrt(0.95 * 0.05 / R) = 0.0049 at R = 2000; 3 of them below 0.95 fails.
COVERAGE_FLOOR = 0.95 - 3 * math.sqrt(0.95 * 0.05 / COVERAGE_REPEATS)

# (name, draw(rng, n): one group's replicate values, true mean, n, units each)
COVERAGE_CASES = [
    # one agent per replicate: the fraction lost is 0 or 1 (P(loss) 0.05)
    ("singleton", lambda rng, n: (rng.random(n) < 0.05).astype(float), 0.05, 40, 1),
    # 10 agents lost independently with probability 0.02: often all 0
    ("binomial", lambda rng, n: rng.binomial(10, 0.02, n) / 10, 0.02, 20, 10),
    # the same with a share that varies between worlds (beta-binomial)
    ("overdispersed", lambda rng, n: rng.binomial(10, rng.beta(0.5, 9.5, n)) / 10,
     0.05, 30, 10),
    ("overdispersed, middle", lambda rng, n: rng.binomial(20, rng.beta(2, 2, n)) / 20,
     0.5, 10, 20),
    # worlds of 5 agents lost all together or not at all (P 0.03)
    ("all or nothing", lambda rng, n: (rng.random(n) < 0.03).astype(float), 0.03, 40, 5),
    # a continuous share (as goal output lost), no cap
    ("continuous", lambda rng, n: rng.beta(2, 8, n), 0.2, 10, None),
]


def _coverage(interval, draw, truth, n, units, repeats=COVERAGE_REPEATS):
    rng = np.random.default_rng(COVERAGE_SEED)
    hits = 0
    for _ in range(repeats):
        _, low, high = interval(draw(rng, n), units)
        hits += low <= truth <= high
    return hits / repeats


def _bounded(values, units):
    return estimators.bounded_mean_interval(
        values, 0.0, 1.0, None if units is None else np.full(len(values), units))


@pytest.mark.parametrize("case", COVERAGE_CASES, ids=[c[0] for c in COVERAGE_CASES])
def test_bounded_mean_interval_coverage(case):
    # Seed 20261204, 2000 repeats per case: the coverage of the 95% interval
    # is at least 0.95 - 3 standard errors (0.935).
    _, draw, truth, n, units = case
    assert _coverage(_bounded, draw, truth, n, units) >= COVERAGE_FLOOR


def test_student_t_interval_undercovers_where_replicates_agree():
    # What the fix replaces: clipped Student t reads [0, 0] whenever no
    # replicate lost anything, and misses the truth in those samples.
    def student(values, units):
        mean, low, high = estimators.mean_interval(values)
        return mean, max(low, 0.0), min(high, 1.0)

    _, draw, truth, n, units = COVERAGE_CASES[-2]  # all or nothing, P 0.03
    assert _coverage(student, draw, truth, n, units, repeats=500) < COVERAGE_FLOOR
    assert _bounded(np.zeros(n), units)[2] == pytest.approx(Z * Z / (n + Z * Z))


def test_bounded_mean_interval_by_hand():
    # All-agreeing replicates never give a point: Wilson of n trials at m.
    mean, low, high = estimators.bounded_mean_interval([0.3] * 8)
    assert mean == pytest.approx(0.3)
    assert (low, high) == pytest.approx(estimators.wilson_limits(0.3, 8))
    assert 0 < low < 0.3 < high < 1
    assert estimators.bounded_mean_interval([1.0] * 5)[1:] == pytest.approx(
        (5 / (5 + Z * Z), 1.0))
    # 0/1 values: exactly Wilson's interval of the count.
    values = [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert estimators.bounded_mean_interval(values, units=[1] * 10) == \
        analysis.wilson_interval(2, 10)
    # Other bounds: the interval is mapped back (goal output lost in [-1, 1]).
    mean, low, high = estimators.bounded_mean_interval([-1.0, 1.0], -1.0, 1.0)
    assert mean == 0.0 and (low, high) == pytest.approx(
        tuple(-1 + 2 * np.asarray(analysis.wilson_interval(1, 2)[1:])))
    assert all(math.isnan(v) for v in estimators.bounded_mean_interval([]))


def test_singleton_fraction_lost_is_p_total_loss():
    # A singleton agent's fraction lost is 0 or 1: the same number with the
    # same (Wilson) interval as P(total loss), on a real run.
    runs = _audit_runs(100, "[]")
    assert (runs.agents_founded == 1).all() and 0 < runs.total_loss.sum() < 100
    row = analysis.summarize(runs, horizon=AUDIT_HORIZON).iloc[0]
    assert row.mean_fraction_lost == pytest.approx(row.p_total_loss, abs=1e-12)
    assert (row.mean_fraction_lost_low, row.mean_fraction_lost_high) == (
        row.p_total_loss_low, row.p_total_loss_high)
