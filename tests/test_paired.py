"""Common random numbers across sweep points, and paired comparisons.

The paired interval against published values and a coverage measurement;
a real sweep whose points differ in an inert key (they draw identically:
identical tables, a paired difference of exactly 0 with an interval around
it) and in a key with a real effect (an interval that excludes 0); seeds
that are independent give no pairs (the unpaired interval).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import analysis
from analysis.paired import newcombe_difference, paired_difference
from simulation import AnalysisError, load_scenario, run_scenario
from substrate.cli import cli

CRN_SWEEP = """\
name: crn
agent: {capacity: 400, initial_size: 200, birth_rate: 0.2, death_rate: 0.1,
        drive_advantage: 2.0, escape_threshold: 0.3}
copy: {error_rate: 0.05, traits: [drive], kernel: {type: normal, sd: 0.08}}
seed: 11
replicates: 8
horizon: 300
record_every: 50
immune: {surveillance: 0.3, tolerance: 0.25, efficacy: 0.6}
stop: {on: [takeover]}
sweep:
  grid:
    copy.error_rate: [0.0, 0.05]
    stop.convergence_drive: [0.97, 0.99]
"""


def test_paired_interval_matches_the_published_example():
    # Fagerland, Lydersen and Laake (2014), Cavo et al. (2012): 59 pairs with
    # the response at both times, 6 before only, 16 after only, 80 at neither:
    # estimate -0.0621, Newcombe 95% CI -0.1186 to -0.0046; McNemar exact
    # p = 0.052.
    out = paired_difference(59, 6, 16, 80)
    assert out["difference"] == pytest.approx(-0.0621, abs=5e-5)
    assert out["low"] == pytest.approx(-0.1186, abs=5e-5)
    assert out["high"] == pytest.approx(-0.0046, abs=5e-5)
    assert out["p_value"] == pytest.approx(0.0525, abs=5e-4)


def test_unpaired_interval_matches_newcombe_1998a():
    # Newcombe (1998a), method 10 on 56/70 vs 48/80: 0.0524 to 0.3339.
    low, high = newcombe_difference(56 / 70, 70, 48 / 80, 80)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_paired_interval_never_collapses_and_narrows_with_agreement():
    # All pairs agree (difference 0): an interval about +-z^2/(n + z^2)
    # around 0, never [0, 0]; the agreeing pairs narrow it.
    none = paired_difference(0, 0, 0, 100)
    assert none["low"] < 0 < none["high"] and none["high"] == pytest.approx(
        1.96 ** 2 / (100 + 1.96 ** 2), rel=1e-3)
    agree = paired_difference(25, 0, 0, 75)
    loose = newcombe_difference(0.25, 100, 0.25, 100)  # the same margins, unpaired
    assert agree["low"] < 0 < agree["high"]
    assert agree["high"] - agree["low"] < 0.4 * (loose[1] - loose[0])


@pytest.mark.parametrize("n, cells", [
    (30, (0.2, 0.1, 0.3, 0.4)),     # both, first only, second only, neither
    (60, (0.05, 0.02, 0.08, 0.85)),  # rare events, strongly paired
    (100, (0.45, 0.05, 0.05, 0.45)),  # no difference, high agreement
])
def test_paired_interval_coverage(n, cells):
    # Seed 20261205, 2000 tables per case: the Newcombe paired interval covers
    # the true difference (cells[1] - cells[2]) in at least 93% of them.
    # Newcombe (1998b) reports method 10's coverage near 0.95 with dips
    # below it at small n; 0.93 is three binomial standard errors (0.005
    # each at 2000 repeats) under 0.945.
    rng = np.random.default_rng(20261205)
    truth = cells[1] - cells[2]
    tables = rng.multinomial(n, cells, size=2000)
    covered = 0
    for a, b, c, d in tables:
        out = paired_difference(a, b, c, d)
        covered += out["low"] <= truth <= out["high"]
    assert covered / 2000 >= 0.93, covered / 2000


@pytest.fixture(scope="module")
def crn(tmp_path_factory):
    """The CRN sweep (4 points x 8 replicates), run once by the CLI."""
    folder = tmp_path_factory.mktemp("crn")
    path = folder / "crn.yaml"
    path.write_text(CRN_SWEEP)
    out = CliRunner().invoke(cli, ["sweep", str(path), "--workers", "1",
                                   "--out", str(folder / "out")])
    assert out.exit_code == 0, out.output
    return path, folder / "out"


def _without_point(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["point", "stop.convergence_drive"]).reset_index(drop=True)


def test_points_differing_in_an_inert_key_draw_identically(crn):
    # stop.convergence_drive 0.97 vs 0.99: mean drive never comes near
    # either within 300 ticks here, so the key changes no draw; with common
    # seeds the two points' tables are identical, every replicate.
    _, folder = crn
    results = analysis.load(folder)
    runs, ts = results.runs, results.timeseries()
    for rate in (0.0, 0.05):
        a = runs[(runs["copy.error_rate"] == rate) & (runs["stop.convergence_drive"] == 0.97)]
        b = runs[(runs["copy.error_rate"] == rate) & (runs["stop.convergence_drive"] == 0.99)]
        assert len(a) == len(b) == 8
        pd.testing.assert_frame_equal(_without_point(a), _without_point(b))
        ta = ts[ts.point == a.point.iloc[0]]
        tb = ts[ts.point == b.point.iloc[0]]
        pd.testing.assert_frame_equal(_without_point(ta), _without_point(tb))
    # Each replicate k has one seed at every point: that of replicate k of
    # the base scenario's plain run.
    assert runs.groupby("replicate")["seed"].nunique().eq(1).all()


def test_a_point_is_a_plain_run_of_its_scenario(crn):
    # Common seeds: point (0.05, 0.99)'s replicates are those of a plain run
    # of the file with its two values set.
    path, folder = crn
    runs = analysis.load(folder).runs
    point = runs[(runs["copy.error_rate"] == 0.05) & (runs["stop.convergence_drive"] == 0.99)]
    sc = load_scenario(path, ["copy.error_rate=0.05", "stop.convergence_drive=0.99"])
    sc.sweep = None
    plain = run_scenario(sc, show_progress=False).runs
    columns = [c for c in plain.columns if c != "point"]
    pd.testing.assert_frame_equal(point[columns].reset_index(drop=True), plain[columns])


def test_paired_interval_contains_zero_for_an_inert_key_and_excludes_it_for_a_real_one(crn):
    _, folder = crn
    results = analysis.load(folder)
    inert = analysis.compare(results, "stop.convergence_drive", 0.97, 0.99,
                             events=["takeover"])
    assert len(inert) == 2 and inert["paired"].all()
    assert (inert["difference"] == 0).all() and (inert["identical_pairs"] == 8).all()
    assert ((inert["low"] < 0) & (inert["high"] > 0)).all()
    # Copy errors 0 -> 0.05 with defectors above drive 0.3: takeover in
    # (nearly) every replicate with errors and never without.
    real = analysis.compare(results, "copy.error_rate", 0, 0.05, events=["takeover"])
    assert len(real) == 2 and real["paired"].all()
    assert (real["low"] > 0).all() and (real["p_a"] == 0).all(), real
    assert (real["identical_pairs"] == 0).all()


def test_summarize_compare_prints_the_paired_difference(crn):
    _, folder = crn
    out = CliRunner().invoke(cli, ["summarize", str(folder), "--compare",
                                   "stop.convergence_drive=0.97,0.99"])
    assert out.exit_code == 0, out.output
    assert "replicates paired by seed" in out.output
    assert "difference +0.000" in out.output and "8 identical" in out.output
    csv = CliRunner().invoke(cli, ["summarize", str(folder), "--compare",
                                   "copy.error_rate=0,0.05", "--format", "csv"])
    assert csv.exit_code == 0 and csv.output.startswith("stop.convergence_drive,key,a,b")
    bad = CliRunner().invoke(cli, ["summarize", str(folder), "--compare", "copy.error_rate=1"])
    assert bad.exit_code == 2 and bad.output.startswith("error: --compare")
    missing = CliRunner().invoke(cli, ["summarize", str(folder), "--compare",
                                       "copy.error_rate=0,0.5"])
    assert missing.exit_code == 2 and "no replicate has that value" in missing.output


def test_independent_seeds_give_no_pairs(tmp_path):
    # sweep.seeds: independent: each point's replicates their own seeds; the
    # comparison is then unpaired (Newcombe's hybrid score interval).
    path = tmp_path / "ind.yaml"
    path.write_text(CRN_SWEEP.replace("replicates: 8", "replicates: 4")
                    .replace("  grid:", "  seeds: independent\n  grid:"))
    out = CliRunner().invoke(cli, ["sweep", str(path), "--workers", "1",
                                   "--out", str(tmp_path / "out")])
    assert out.exit_code == 0, out.output
    results = analysis.load(tmp_path / "out")
    assert results.runs.groupby("replicate")["seed"].nunique().eq(4).all()
    table = analysis.compare(results, "stop.convergence_drive", 0.97, 0.99,
                             events=["takeover"])
    assert not table["paired"].any() and (table["pairs"] == 0).all()
    assert ((table["low"] <= table["difference"]) & (table["difference"] <= table["high"])).all()


def _runs(seeds, ticks, stops, events):
    return pd.DataFrame({"seed": seeds, "ticks": ticks, "stop_reason": stops,
                         "convergence_tick": pd.array(events, dtype="Int64"),
                         "extinction_tick": pd.array([None] * len(seeds), dtype="Int64")})


def test_compare_runs_pairs_by_seed_and_bounds_stopped_pairs():
    # Four pairs (seeds 1-4, rows in different orders): convergence at A in
    # seed 1, at B in seeds 1 and 2; seed 4 at B was stopped at tick 50 by
    # another event (takeover) before T = 100: its outcome is unknown.
    a = _runs([1, 2, 3, 4], [100] * 4, ["horizon"] * 4, [30, None, None, None])
    b = _runs([4, 3, 2, 1], [50, 100, 100, 100], ["takeover", "horizon", "horizon",
                                                  "horizon"], [None, None, 60, 20])
    row = analysis.compare_runs(a, b, 100, ["convergence"]).iloc[0]
    assert row["paired"] and row["pairs"] == 4 and row["bounded"]
    assert (row["both"], row["only_a"], row["only_b"], row["neither"]) == (1, 0, 1, 2)
    assert row["difference"] == pytest.approx(0.25)
    # The bounds: seed 4 at B "no" for the low end, "yes" for the high end.
    assert row["low"] == pytest.approx(paired_difference(1, 1, 0, 2)["low"])
    assert row["high"] == pytest.approx(paired_difference(1, 2, 0, 1)["high"])
    with pytest.raises(AnalysisError, match="repeat a seed"):
        analysis.compare_runs(pd.concat([a, a]), b, 100, ["convergence"])
