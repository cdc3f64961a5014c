"""Statistics against small cases computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import analysis
from analysis.summary import hazard_rate
from substrate.cli import cli


def test_wilson_interval_known_values():
    # 3 of 10: p = 0.3, Wilson 95%: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    p, low, high = analysis.wilson_interval(3, 10)
    z = 1.959963984540054
    centre = (0.3 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.3 * 0.7 / 10 + z * z / 400) / (1 + z * z / 10)
    assert p == 0.3
    assert low == pytest.approx(centre - half, rel=1e-9)
    assert high == pytest.approx(centre + half, rel=1e-9)
    assert analysis.wilson_interval(0, 5)[1] == 0.0
    assert all(math.isnan(v) for v in analysis.wilson_interval(0, 0))


# Four replicates: events at ticks 2, 5 and 8; one censored at tick 6.
EVENTS = pd.array([2, 5, None, 8], dtype="Int64")
CENSOR = [2, 5, 6, 8]


def test_kaplan_meier_by_hand():
    # S(2) = 3/4; S(5) = 3/4 * 2/3 = 1/2; unchanged at the censoring at 6;
    # S(8) = 1/2 * 0/1 = 0. (SciPy lists censoring times among the steps.)
    km = analysis.kaplan_meier(EVENTS, CENSOR)
    np.testing.assert_allclose(km.sf.quantiles, [2, 5, 6, 8])
    np.testing.assert_allclose(km.sf.probabilities, [0.75, 0.5, 0.5, 0.0])
    assert analysis.median_event_tick(EVENTS, CENSOR) == 5
    assert analysis.median_event_tick(pd.array([None, None], dtype="Int64"), [9, 9]) is None
    assert analysis.median_event_tick(pd.array([3, None, None], dtype="Int64"), [3, 9, 9]) is None


def test_hazard_rate_by_hand():
    # 3 events over 2 + 5 + 6 + 8 = 21 replicate-ticks at risk.
    rate, low, high = hazard_rate(EVENTS, CENSOR)
    assert rate == pytest.approx(3 / 21)
    # Garwood's exact Poisson interval for 3 events: chi2(0.025, 6)/2 and chi2(0.975, 8)/2.
    assert low == pytest.approx(0.618672 / 21, rel=1e-5)
    assert high == pytest.approx(8.767273 / 21, rel=1e-5)
    assert hazard_rate(pd.array([None], dtype="Int64"), [10])[0] == 0.0


def _runs():
    # Replicate 2 of point 0 reaches the horizon (10) without takeover; the
    # others stop at their takeover.
    return pd.DataFrame({
        "point": [0, 0, 0, 0, 1, 1], "replicate": [0, 1, 2, 3, 0, 1],
        "copy.error_rate": [0.1, 0.1, 0.1, 0.1, 0.2, 0.2],
        "ticks": [2, 5, 10, 8, 10, 4],
        "stop_reason": ["takeover", "takeover", "horizon", "takeover", "horizon",
                        "takeover"],
        "takeover_tick": pd.array([2, 5, None, 8, None, 4], dtype="Int64"),
        "convergence_tick": pd.array([None] * 6, dtype="Int64"),
        "takeover": [True, True, False, True, False, True],
        "converged": [False] * 6,
        "final_mean_drive": [0.1, 0.2, 0.3, 0.4, 0.5, 0.7],
        "final_mean_loyalty": [0.9] * 6})


def test_summarize_groups():
    df = analysis.summarize(_runs(), by=["copy.error_rate"], horizon=10)
    assert list(df["copy.error_rate"]) == [0.1, 0.2]
    assert list(df.replicates) == [4, 2]
    assert list(df.p_takeover) == [0.75, 0.5]
    assert df.median_takeover_tick[0] == 5
    assert df.takeover_hazard[1] == pytest.approx(1 / 14)
    # Convergence was cut short by the takeover stops: bounds, never a bare 0.
    assert list(df.p_convergence_bounded) == [True, True]
    assert not df.p_takeover_bounded.any()
    assert df.p_convergence_low[0] == 0.0
    assert df.p_convergence_high[0] == pytest.approx(analysis.wilson_interval(3, 4)[2])
    assert df.mean_final_drive[1] == pytest.approx(0.6)
    whole = analysis.summarize(_runs(), horizon=10)
    assert len(whole) == 1 and whole.replicates[0] == 6


def test_incidence_curves_long_form():
    curves = analysis.incidence_curves(_runs(), by=["copy.error_rate"])
    first = curves[curves["copy.error_rate"] == 0.1]
    assert list(first.tick) == [0, 2, 5, 8, 10]
    np.testing.assert_allclose(first.incidence, [0, 0.25, 0.5, 0.75, 0.75])
    assert (first.low <= first.incidence + 1e-12).all()
    assert (first.high >= first.incidence - 1e-12).all()
    # Nothing was stopped before its takeover: the bounds are the curve.
    np.testing.assert_allclose(first.bound_low, first.incidence)


def test_summarize_command_on_a_run_folder(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("seed: 2\nreplicates: 4\nhorizon: 30\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["run", str(path), "--out", str(tmp_path / "r")]).exit_code == 0
    table = runner.invoke(cli, ["summarize", str(tmp_path / "r")])
    assert table.exit_code == 0 and "P(takeover)" in table.output
    as_json = runner.invoke(cli, ["summarize", str(tmp_path / "r"), "--format", "json"])
    import json
    record = json.loads(as_json.output)[0]
    assert record["replicates"] == 4
    # Every event carries its interval and whether that interval is a bound.
    assert {"p_takeover", "p_takeover_low", "p_takeover_high", "p_takeover_bounded",
            "median_takeover_tick", "p_convergence_bounded"} <= set(record)
    assert record["p_takeover_bounded"] is False
    bad = runner.invoke(cli, ["summarize", str(tmp_path / "r"), "--by", "nonsense"])
    assert bad.exit_code == 2 and "cannot group by nonsense: not a column" in bad.output
    missing = runner.invoke(cli, ["summarize", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_summarize_at_ticks_in_every_format(tmp_path):
    # Issue 24, item 1: P(event by T) at chosen ticks, in table, CSV and JSON;
    # the row at the horizon repeats the summary's own interval.
    import io
    import json

    path = tmp_path / "s.yaml"
    path.write_text("seed: 3\nreplicates: 6\nhorizon: 40\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["run", str(path), "--out", str(tmp_path / "r")]).exit_code == 0
    folder = str(tmp_path / "r")
    table = runner.invoke(cli, ["summarize", folder, "--at", "0,20,40"])
    assert table.exit_code == 0, table.output
    assert "P(takeover by T) [95% CI]" in table.output
    assert "0.000 [0.000, 0.390]" in table.output  # Wilson 0 of 6: z^2/(6 + z^2)
    csv = pd.read_csv(io.StringIO(runner.invoke(
        cli, ["summarize", folder, "--at", "0,20,40", "--format", "csv"]).output))
    assert list(csv["at"]) == [0, 20, 40] and (csv.replicates == 6).all()
    records = json.loads(runner.invoke(
        cli, ["summarize", folder, "--at", "40", "--format", "json"]).output)
    whole = json.loads(runner.invoke(cli, ["summarize", folder, "--format", "json"]).output)[0]
    for key in ("p_takeover", "p_takeover_low", "p_takeover_high", "p_total_loss_high"):
        assert records[0][key] == pytest.approx(whole[key])
    bad = runner.invoke(cli, ["summarize", folder, "--at", "41"])
    assert bad.exit_code == 2 and "from 0 to the horizon 40" in bad.output


# --- competing ends as columns, and the homogeneity test (issue 24, item 6) ---

def test_chi_square_homogeneity_by_hand():
    # 30 of 50 vs 5 of 50: E = [[17.5, 17.5], [32.5, 32.5]], X^2 = 12.5^2 *
    # (2/17.5 + 2/32.5) = 27.4725..., 1 df.
    from scipy import stats

    test = analysis.chi_square_homogeneity([30, 5], [50, 50])
    chi2 = 12.5 ** 2 * (2 / 17.5 + 2 / 32.5)
    assert test["chi2"] == pytest.approx(chi2, rel=1e-12) and test["dof"] == 1
    assert test["p_value"] == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-9)
    assert test["min_expected"] == pytest.approx(17.5)
    # No event anywhere: nothing can differ.
    assert analysis.chi_square_homogeneity([0, 0, 0], [10, 20, 30])["p_value"] == 1.0


def test_chi_square_homogeneity_rejects_at_its_level():
    # Calibration under homogeneity: 4 groups of 50 replicates, P 0.3, seed
    # 20261204, 2000 tables: the rejection rate at 5% is 0.05 within three
    # standard errors (sqrt(0.05 * 0.95 / 2000) = 0.0049).
    rng = np.random.default_rng(20261204)
    repeats = 2000
    rejected = sum(analysis.chi_square_homogeneity(rng.binomial(50, 0.3, 4), [50] * 4)
                   ["p_value"] < 0.05 for _ in range(repeats))
    assert abs(rejected / repeats - 0.05) <= 3 * math.sqrt(0.05 * 0.95 / repeats)


def _seeded_runs(overrides, seed, key, label, replicates=60):
    import scenarios
    from simulation import load_scenario, run_scenario
    from tests.test_estimators import AUDIT, AUDIT_HORIZON

    sc = load_scenario(scenarios.path("singleton_baseline"), AUDIT + ["stop.on=[]"] + overrides,
                       seed=seed, replicates=replicates, horizon=AUDIT_HORIZON)
    runs = run_scenario(sc, show_progress=False).runs
    runs[key] = label
    return runs


def test_homogeneity_on_real_runs():
    # Known heterogeneous: initial drive 0.34 against 0.2 (takeover in ~75%
    # against none). Known homogeneous: one scenario under four seeds
    # (20261121 + 0..3), 60 replicates each: every event's p > 0.05.
    from tests.test_estimators import AUDIT_HORIZON, AUDIT_SEED

    different = pd.concat([_seeded_runs([f"agent.initial_traits.drive={d}"], AUDIT_SEED,
                                        "drive", d) for d in (0.34, 0.2)])
    tests = analysis.homogeneity(different, ["drive"], horizon=AUDIT_HORIZON).set_index("event")
    assert tests.loc["takeover", "p_value"] < 1e-6
    same = pd.concat([_seeded_runs([], AUDIT_SEED + i, "seed", i) for i in range(4)])
    tests = analysis.homogeneity(same, ["seed"], horizon=AUDIT_HORIZON)
    assert list(tests.event) == ["takeover", "convergence", "extinction"]
    assert (tests.p_value > 0.05).all() and (tests.dof == 3).all()
    # Extinction and how each replicate ended are columns of the summary.
    table = analysis.summarize(same, by=["seed"], horizon=AUDIT_HORIZON)
    assert {"p_extinction", "p_extinction_low", "p_extinction_high"} <= set(table.columns)
    counts = table[[f"ended_{r}" for r in ("horizon", "extinction", "takeover",
                                          "convergence", "fixation", "loss")]]
    assert (counts.sum(axis=1) == table.replicates).all()
    # A singleton's total loss is its takeover or its extinction, whichever
    # comes first: the extinction column accounts for P(total loss) above
    # P(takeover).
    assert (table.p_total_loss <= table.p_takeover + table.p_extinction + 1e-12).all()


def test_homogeneity_is_not_made_on_censored_counts():
    runs = _runs()  # takeover stops cut convergence short
    tests = analysis.homogeneity(runs, ["copy.error_rate"], events=("convergence",),
                                 horizon=10)
    assert math.isnan(tests.p_value[0]) and "censored" in tests.note[0]
