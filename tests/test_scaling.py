"""The scaling study (``substrate study``, analysis/scaling.py, simulation/study.py).

The theory line is checked against a hand computation; the simulated
points against the theory where the bundled scenario's header says they
agree (a reduced grid by default, the whole bundled study under slow).
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

import scenarios
from analysis.hazard import defence_needed
from analysis.scaling import exposure, sized
from analysis.theory import galton_watson_escape
from simulation import load_scenario
from substrate.cli import cli


def bundled():
    return load_scenario(scenarios.path("defence_scaling"))


def test_theory_line_by_hand():
    """N = 10^6, T = 10^4, target 1e-6, the bundled parameters: every step
    of docs/model.md's closed form done by hand."""
    b0 = 0.2 * (1 + 1.0 * 0.1) * (1 - 0.2 * 0.9)            # resident birth: 0.1804
    resident = 1e6 * (1 - 0.1 / b0)                         # N* = 445 676
    nu = resident * 0.1 * 1e-12                             # founding rate
    needed = -math.log1p(-1e-6) / (nu * 1e4)                # pi* = 0.00224
    b = 0.2 * 2.0 * (1 - 0.2 * 0.9) * (1 - resident / (10 * 1e6))
    x = (1 - needed) * b / (1 - b)
    efficacy = (x / (1 + x) - 0.1) / 0.9
    out = defence_needed(sized(bundled(), 10**6), 1e-6, 10**4)
    assert out["escape_needed"] == pytest.approx(needed, rel=1e-9)
    assert 0.002 < needed < 0.0025
    assert out["efficacy"] == pytest.approx(efficacy, rel=1e-9)
    assert out["efficacy"] == pytest.approx(0.23655, abs=1e-5)  # the header's 1e10 value
    assert out["critical"] == pytest.approx((b - 0.1) / 0.9, rel=1e-9)
    # the efficacy found gives the escape needed, and P(by T) = target
    death = 0.1 + 0.9 * out["efficacy"]
    assert galton_watson_escape(b, death) == pytest.approx(needed, rel=1e-9)
    assert -math.expm1(-nu * needed * 1e4) == pytest.approx(1e-6, rel=1e-9)
    assert not out["trusted"]  # ln(F N*) / growth = 12 866 ticks > T / 10


def check_header_theory():
    """The header's theory values: 0 for N T <= 2.9e7, 0.1794 at N T = 1e8,
    0.2317 at 1e9, 0.2366 at 1e10, critical 0.23709."""
    base = bundled()
    for size, T, efficacy in ((1000, 10000, 0.0), (10**5, 10**3, 0.1794),
                              (10**6, 10**3, 0.2317), (10**6, 10**4, 0.2366)):
        out = defence_needed(sized(base, size), 1e-6, T)
        assert out["efficacy"] == pytest.approx(efficacy, abs=1e-4), (size, T, out)
        assert out["critical"] == pytest.approx(0.23709, abs=1e-5)
    # e = 0 ends just below N T = 2.9e7
    assert defence_needed(sized(base, 1000), 1e-6, 28_000)["efficacy"] == 0.0
    assert defence_needed(sized(base, 1000), 1e-6, 30_000)["efficacy"] > 0.0


def test_theory_needs_no_defence_for_small_systems_and_tends_to_critical():
    """N x T = 10^6: P(by T) at efficacy 0 is 3.4e-8 < 1e-6 (no defence
    needed); N x T = 10^15: within 1e-6 of the critical efficacy."""
    small = defence_needed(sized(bundled(), 1000), 1e-6, 1000)
    assert small["efficacy"] == 0.0
    assert small["escape_at_zero"] * small["founding_rate"] * 1000 < 1e-6
    huge = defence_needed(sized(bundled(), 10**9), 1e-6, 10**6)
    assert 0 < huge["critical"] - huge["efficacy"] < 1e-6


def test_exposure_by_hand():
    """Four paths, takeovers at ticks 10 and 50, one alive at the horizon 100:
    I(100) = (90 + 50) / 4 = 35; beyond, 35 + 900 x 2/4 (stationary hazard),
    and the upper end counts the alive path as a takeover to come."""
    point = {"paths": 4, "takeover_ticks": [10, 50], "alive": 1}
    I, low, high = exposure(point, 100, 100)
    assert I == pytest.approx(35.0)
    assert low < I < high
    I2, low2, high2 = exposure(point, 1000, 100)
    assert I2 == pytest.approx(35.0 + 900 * 0.5)
    assert low2 < I2 < high2
    assert high2 - high >= 900 * 0.75 - 1e-9  # at least the point share of hits + alive


def reduced(tmp_path):
    """The bundled study on a reduced grid: N = 10^3 (and 10^6 theory only),
    T = 10^3 and 10^5, 1500 lineages at 7 efficacies (~10 s)."""
    return ["--set", "study.sizes=[1000, 1000000]", "--set", "study.horizons=[1000, 100000]",
            "--set", "study.simulate.sizes=[1000]",
            "--set", "study.simulate.values=[0.0, 0.15, 0.17, 0.18, 0.19, 0.2, 0.22]",
            "--set", "study.simulate.paths=1500"]


def test_reduced_study_agrees_with_theory_where_the_header_says(tmp_path):
    """N = 10^3, T = 10^5 (theory trusted, efficacy 0.1794): the simulated
    95% range contains the theory value, and is informative (narrower than
    0.05). T = 10^3: no defence needed, in theory and simulation. Seed: the
    file's (2718); 1500 lineages give ~240 takeovers at efficacy 0.18, a
    relative error of ~7% on I, which moves the crossing by ~0.005."""
    out = tmp_path / "study"
    runner = CliRunner()
    res = runner.invoke(cli, ["study", "defence_scaling", "--out", str(out), *reduced(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "study.json").read_text())
    theory = {(r["size"], r["horizon"]): r for r in data["theory"]}
    (sim,) = data["simulated"]
    by_t = {d["horizon"]: d for d in sim["defence"]}
    t = theory[(1000, 100000)]
    assert t["trusted"] and t["efficacy"] == pytest.approx(0.17939, abs=1e-4)
    d = by_t[100000]
    assert d["extrapolated"] and d["low"] <= t["efficacy"] <= d["high"], d
    assert d["high"] - d["low"] < 0.05
    assert theory[(1000, 1000)]["efficacy"] == 0.0 and by_t[1000]["efficacy"] == 0.0
    # the figure of that folder
    png = tmp_path / "scaling.png"
    res = runner.invoke(cli, ["plot", str(out), "--kind", "scaling", "--out", str(png)])
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 10_000
    # resuming keeps the simulated part (same work: the file is not rewritten)
    part = out / "parts" / "size-1000.json"
    before = part.stat().st_mtime_ns
    res = runner.invoke(cli, ["study", "defence_scaling", "--out", str(out), "--resume",
                              *reduced(tmp_path)])
    assert res.exit_code == 0, res.output
    assert part.stat().st_mtime_ns == before
    assert json.loads((out / "study.json").read_text())["simulated"] == data["simulated"]


@pytest.mark.parametrize("override, message", [
    ("study.simulate.sizes=[5]", "are not among sizes"),
    ("study.simulate.values=[0.2, 0.1]", "must increase strictly"),
    ("study.target=2", "0.0 < value < 1.0"),
    ("study.solve=copy.error_rate", "immune.efficacy"),
    # the defector's birth probability capped at 1 (1 - b = 0 in the theory)
    ("agent.birth_rate=0.7", "needs it below 1"),
    # the theory knows no systematic error: refused, not silently ignored
    ("copy.systematic.rate=0.5", "systematic error"),
])
def test_bad_study_is_one_error_line(tmp_path, override, message):
    res = CliRunner().invoke(cli, ["study", "defence_scaling", "--out", str(tmp_path / "o"),
                                   "--set", override])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_a_study_refuses_a_folder_of_another_command(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "runs.parquet").write_text("not the study's")
    res = CliRunner().invoke(cli, ["study", "defence_scaling", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "holds other files (runs.parquet)" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["runs.parquet"]


def test_a_scenario_without_a_study_is_one_error_line(tmp_path):
    res = CliRunner().invoke(cli, ["study", "singleton_baseline", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.output.startswith("error: ")
    assert "no study block" in res.output and len(res.output.strip().splitlines()) == 1


def test_plot_scaling_of_a_run_folder_is_one_error_line(tmp_path):
    res = CliRunner().invoke(cli, ["plot", str(tmp_path), "--kind", "scaling"])
    assert res.exit_code == 2 and "no study.json" in res.output


def check_bundled_study(tmp_path):
    """The whole bundled study (~1 minute, up to 4 under load; the file's seed): the header's
    outcome. Agreement: at N = 10^3 and 10^4, wherever the simulated range
    is resolved, the simulated efficacy is within 0.01 of the theory (the
    Monte Carlo error of a crossing is ~0.003; a miss by 0.01 would be a
    3-sigma bias), and the range holds the theory in all but at most one
    cell. Breakdown: at T = 10^3 and N >= 10^5 (theory untrusted) the
    simulated upper end is below the theory by more than 0.005.
    Unresolved: N = 10^6, T = 10^6 has no simulated upper end. Run by
    tests/test_scenario_claims.py (slow)."""
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, ["study", "defence_scaling", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "study.json").read_text())
    theory = {(r["size"], r["horizon"]): r for r in data["theory"]}
    sim = {(s["size"], d["horizon"]): d for s in data["simulated"] for d in s["defence"]}
    agree = [(k, d) for k, d in sim.items() if k[0] <= 10**4 and d["high"] is not None]
    assert len(agree) == 8
    for k, d in agree:
        assert abs(d["efficacy"] - theory[k]["efficacy"]) <= 0.01, (k, d)
    missed = [k for k, d in agree if not d["low"] - 1e-9 <= theory[k]["efficacy"]
              <= d["high"] + 1e-9]
    assert len(missed) <= 1, missed
    for size in (10**5, 10**6):
        t, d = theory[(size, 1000)], sim[(size, 1000)]
        assert not t["trusted"] and d["high"] < t["efficacy"] - 0.005, (size, d)
    assert sim[(10**6, 10**6)]["high"] is None
