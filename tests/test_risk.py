"""Rare-event estimation (simulation/risk.py, ``substrate risk``).

Tolerances. A splitting estimate from R repetitions has a standard error SE
(from the repetitions' spread); the checks below accept |estimate - truth|
<= 3 SE, which a correct estimator meets with probability about 99.7% (normal
approximation; with R = 10 repetitions the t quantile at 99.7% is 3.96, so
3 SE is slightly stricter than a 99.7% t interval, about 98.5%). The seeds
are fixed: a given version passes or fails always; the margin says how
unlikely it is that a correct version drew a failing seed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from analysis.theory import moran_fixation
from simulation import ScenarioError, validate
from simulation.risk import TIMINGS, combine, estimate_risk, risk_scenario, run_repeat
from substrate.cli import cli

TOLERANCE_SE = 3.0


def moran(n: int, r: float, seed: int = 11, horizon: int = 1000):
    """One seeded mutant of relative fitness r < 1 among n in ``moran``
    dynamics: w = 1 + drive (drive_advantage 1, loyalty_cost 0), resident
    drive 1/r - 1, mutant drive 0, so w_mutant / w_resident = r. No copy
    errors, no immune system; escape_threshold 1 so nothing is a defector.
    The horizon (1000 ticks of n events) is far beyond absorption (the
    conditional fixation time is a few tens of ticks), so P(fixation by T)
    is the eventual fixation probability to within far less than 1e-12."""
    return validate({
        "seed": seed, "horizon": horizon,
        "agent": {"dynamics": "moran", "capacity": n, "initial_size": n,
                  "initial_traits": {"drive": 1 / r - 1, "loyalty": 0.0},
                  "drive_advantage": 1.0, "loyalty_cost": 0.0, "escape_threshold": 1.0,
                  "seed_clones": [{"count": 1, "traits": {"drive": 0.0}}]},
        "copy": {"error_rate": 0.0}, "immune": {"surveillance": 0.0}})


def mission(seed: int = 5, efficacy: float = 0.17, horizon: int = 200):
    """A small birth_death singleton (K = 100) whose copy errors (rate 1e-3,
    drive steps up by 0.5) make defectors that an imperfect immune system
    (efficacy 0.17) usually removes: P(takeover by 200) is about 2e-2."""
    return validate({
        "seed": seed, "horizon": horizon,
        "agent": {"capacity": 100, "initial_size": 80, "initial_traits": {"drive": 0.1},
                  "birth_rate": 0.2, "death_rate": 0.1, "escape_threshold": 0.5,
                  "takeover_fraction": 0.5},
        "copy": {"error_rate": 1e-3, "traits": ["drive"],
                 "kernel": {"type": "step", "size": 0.5, "direction": "up"}},
        "immune": {"surveillance": 1.0, "efficacy": efficacy, "tolerance": 0.2,
                   "traits": ["drive"]}})


def close_to(result: dict, truth: float) -> bool:
    return abs(result["p"] - truth) <= TOLERANCE_SE * result["se"]


def test_splitting_recovers_the_exact_moran_fixation_probability():
    """N = 40, r = 1/1.3: exact 8.3e-6, beyond direct Monte Carlo at this
    cost (1500 direct paths would almost surely see no fixation). Seed 11,
    100 particles, 10 repetitions (~10 s)."""
    sc = moran(40, 1 / 1.3)
    exact = moran_fixation(1 / 1.3, 40)
    result = estimate_risk(sc, "fixation", "splitting", particles=100, repeats=10)
    assert 1e-6 < exact < 1e-4
    assert close_to(result, exact), (result["p"], result["se"], exact)
    assert result["low"] <= exact <= result["high"]
    assert result["rel_error"] < 0.3  # it measured something: not a vacuous interval
    assert result["direct_equivalent_replicates"] > 1e6
    assert result["speedup"] > 10


def test_direct_method_runs_the_same_paths_without_splitting():
    """The direct method is the splitting code's first generation: at a
    common probability (N = 8, r = 1/1.3: 0.046) 2000 paths estimate it
    within 3 SE, and repetition r's paths are splitting's first generation
    (the same first-generation ticks)."""
    sc = risk_scenario(moran(8, 1 / 1.3), "fixation")
    exact = moran_fixation(1 / 1.3, 8)
    result = estimate_risk(moran(8, 1 / 1.3), "fixation", "direct", particles=500,
                           repeats=4)
    assert close_to(result, exact), (result["p"], result["se"], exact)
    data = sc.model_dump(mode="json")
    direct = run_repeat(data, "fixation", "direct", 50, 3, 0)
    split = run_repeat(data, "fixation", "splitting", 50, 3, 0)
    assert direct["iterations"] == 0 and split["iterations"] > 0
    assert direct["first_generation_ticks"] == split["first_generation_ticks"]
    assert direct["ticks"] < split["ticks"]


def test_mission_splitting_and_direct_agree():
    """A birth_death singleton with copy errors and an immune system:
    splitting (100 particles x 10) and direct Monte Carlo (4000 paths)
    estimate the same P(takeover by 200), within 3 combined SE."""
    sc = mission()
    split = estimate_risk(sc, "takeover", "splitting", particles=100, repeats=10)
    direct = estimate_risk(sc, "takeover", "direct", particles=2000, repeats=2)
    assert 1e-3 < direct["p"] < 5e-2
    gap = abs(split["p"] - direct["p"])
    assert gap <= TOLERANCE_SE * math.hypot(split["se"], direct["se"]), (split, direct)


def test_same_seed_same_estimate_whatever_the_workers(tmp_path):
    """Same seed, same risk.json numbers, in this process or on a Dask
    cluster of two workers; another seed gives another estimate."""
    runner = CliRunner()
    args = ["risk", "--particles", "20", "--repeats", "4", "--horizon", "100"]
    outputs = []
    for extra, folder in (([], "serial"), (["--workers", "2"], "dask"),
                          (["--seed", "6"], "other")):
        path = tmp_path / "mission.yaml"
        path.write_text(scenario_yaml())
        res = runner.invoke(cli, args + [str(path), "--out", str(tmp_path / folder)] + extra)
        assert res.exit_code == 0, res.output
        assert "P(takeover by 100)" in res.output
        data = json.loads((tmp_path / folder / "risk.json").read_text())
        for key in TIMINGS + ("command", "provenance"):  # when, how, the folder's id
            data.pop(key)
        outputs.append(data)
    serial, dask, other = outputs
    assert serial == dask
    assert other["repeat_estimates"] != serial["repeat_estimates"]
    for key in ("event", "horizon", "method", "p", "low", "high", "rel_error",
                "ticks_simulated", "direct_equivalent_replicates", "particles",
                "repeats", "seed", "scenario", "versions"):
        assert key in serial


def scenario_yaml() -> str:
    from simulation.scenario import to_yaml

    return to_yaml(mission())


@pytest.mark.parametrize("extra, message", [
    (["--event", "apocalypse"], "unknown event 'apocalypse'"),
    (["--method", "guess"], "unknown method 'guess'"),
    (["--event", "fixation"], "needs a seeded lineage"),
    (["--particles", "1"], "at least 2"),
    (["--repeats", "1"], "at least 2 independent repetitions"),
    (["--solve", "name", "--target", "0.1"], "not a numeric parameter"),
    (["--solve", "immune.nonsense", "--target", "0.1"], "not a scenario parameter"),
    (["--solve", "immune.efficacy", "--target", "1.0"], "strictly between 0 and 1"),
    (["--solve", "immune.efficacy", "--target", "0"], "strictly between 0 and 1"),
    (["--solve", "immune.efficacy"], "strictly between 0 and 1"),
    (["--rel-error", "0"], "must be positive"),
    (["--score", "bogus"], "unknown score 'bogus' for the takeover event"),
    (["--event", "fixation", "--score", "lineage"], "unknown score"),
    (["--method", "importance"], "needs a tilt"),
    (["--method", "importance", "--tilt", "0.5"], "finite factor of at least 1"),
    (["--method", "importance", "--tilt", "nan"], "finite factor of at least 1"),
    (["--method", "importance", "--tilt", "1"], "needs a tilt"),
    (["--tilt-from", "0.1"], "needs a tilt of the copy-error rate"),
    (["--tilt", "3", "--tilt-from", "-1"], "must be a finite deviation"),
    (["--method", "direct", "--tilt", "3"], "needs the importance or splitting method"),
    (["--tilt", "3", "--set", "copy.error_rate=0"], "needs copy errors"),
])
def test_bad_input_is_one_error_line(tmp_path, extra, message):
    path = tmp_path / "mission.yaml"
    path.write_text(scenario_yaml())
    res = CliRunner().invoke(cli, ["risk", str(path), "--out", str(tmp_path / "o")] + extra)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "--" not in lines[0]  # library messages name no flag


def test_solve_brackets_the_efficacy_that_meets_the_target():
    """P(takeover by 200) falls with immune efficacy: 0.18 at 0.1, ~2e-2
    at 0.17, < 2e-3 at 0.3 (test_mission). Bisection for target 1e-2 must
    return a bracket whose ends' estimates straddle the target."""
    from simulation.defence import solve_defence

    result = solve_defence(mission(), "immune.efficacy", 1e-2, particles=30, repeats=3,
                           steps=4)
    s = result["solve"]
    assert s["met"] and 0.0 < s["low"] < s["high"] < 1.0
    assert s["high"] - s["low"] <= 1.0 / 2 ** 4 + 1e-12
    by_value = {v["value"]: v["p"] for v in s["values"]}
    assert by_value[s["high"]] <= 1e-2 < by_value[s["low"]]
    assert s["safe_value"] == s["high"] and result["p"] == by_value[s["high"]]
    assert s["uncertain_low"] <= s["low"] and s["uncertain_high"] >= s["high"]


def test_solve_on_the_command_line_writes_the_bracket(tmp_path):
    """``--solve`` end to end: a bracket in risk.json and in the summary."""
    path = tmp_path / "mission.yaml"
    path.write_text(scenario_yaml())
    res = CliRunner().invoke(cli, ["risk", str(path), "--out", str(tmp_path / "o"),
                                   "--solve", "immune.efficacy", "--target", "1e-2",
                                   "--particles", "10", "--repeats", "2", "--steps", "2"])
    assert res.exit_code == 0, res.output
    solve = json.loads((tmp_path / "o" / "risk.json").read_text())["solve"]
    assert solve["met"] and solve["evaluations"] == 4
    assert f"between {solve['low']:g} and {solve['high']:g}" in res.output


def test_convergence_splitting_agrees_with_direct():
    """The convergence score (mean drive / convergence_drive): a K = 100
    singleton whose copy errors (rate 0.02, normal steps of sd 0.1, no
    immune system) raise the mean drive from 0.1; P(mean drive reaches 0.3
    by 150) by splitting (100 x 10) and direct (4000 paths) agree within 3
    combined SE."""
    sc = validate({
        "seed": 3, "horizon": 150,
        "agent": {"capacity": 100, "initial_size": 80, "birth_rate": 0.2,
                  "death_rate": 0.1},
        "copy": {"error_rate": 0.02, "traits": ["drive"], "kernel": {"sd": 0.1}},
        "immune": {"surveillance": 0.0}, "stop": {"convergence_drive": 0.3}})
    split = estimate_risk(sc, "convergence", "splitting", particles=100, repeats=10)
    direct = estimate_risk(sc, "convergence", "direct", particles=2000, repeats=2)
    assert 1e-3 < direct["p"] < 0.5, direct["p"]
    gap = abs(split["p"] - direct["p"])
    assert gap <= TOLERANCE_SE * math.hypot(split["se"], direct["se"]), (split, direct)


def test_a_relative_error_target_is_met_by_two_stages():
    """With a target relative error, the first ``repeats`` repetitions are a
    pilot that only sets R = ceil(R0 (e0 / e)^2); the estimate is the plain
    estimate of the R repetitions after the pilot (indices continuing), so
    its mean is not biased by when the error happened to look small."""
    import math as m

    from simulation.risk import pilot_repeats, run_repeats

    sc = mission()
    pilot = estimate_risk(sc, "takeover", "direct", particles=300, repeats=2,
                          calibrate=False)
    assert pilot["rel_error"] > 0.2  # ~6 hits in 600 paths: the target needs more
    R = m.ceil(2 * (pilot["rel_error"] / 0.2) ** 2)
    assert pilot_repeats(pilot, 2, 0.2) == R
    met = estimate_risk(sc, "takeover", "direct", particles=300, repeats=2, rel_error=0.2,
                        calibrate=False)
    assert met["pilot_repeats"] == 2 and met["repeats"] == R
    later = run_repeats(risk_scenario(sc, "takeover"), "takeover", "direct", 300,
                        range(2, 2 + R), sc.seed)
    assert met["repeat_estimates"] == [r["estimate"] for r in later]
    assert met["p"] == sum(r["hits"] for r in later) / (300 * R)
    assert met["rel_error"] <= 0.25  # the pilot's error estimate is itself noisy


def test_combine_direct_uses_wilson_and_equivalents():
    repeats = [{"estimate": 0.01, "hits": 1, "ticks": 100, "first_generation_ticks": 100}
               for _ in range(4)]
    out = combine("direct", 100, repeats)
    assert out["p"] == pytest.approx(0.01)
    assert out["low"] < 0.01 < out["high"]
    # direct: the relative error of n paths gives back n paths
    assert out["direct_equivalent_replicates"] == pytest.approx(400)
    assert out["speedup_ticks"] == pytest.approx(1.0)
    assert out["speedup"] is None  # no measured direct cost given


def test_combine_splitting_interval_stays_within_0_and_1():
    # Two repetitions far apart: p +- t_1 SE would reach past 1 (t_1 = 12.7).
    # The log-normal (Cox) interval of two positive estimates, and the Student
    # t interval where one repetition is 0, are both clipped to [0, 1].
    for values in ((0.3, 0.85), (0.0, 0.85)):
        repeats = [{"estimate": e, "ticks": 100, "first_generation_ticks": 100}
                   for e in values]
        out = combine("splitting", 20, repeats)
        assert out["p"] == pytest.approx(sum(values) / 2)
        assert 0.0 <= out["low"] < min(values) + 1e-12 and out["high"] == 1.0


def test_risk_refuses_a_folder_of_another_command(tmp_path):
    path = tmp_path / "mission.yaml"
    path.write_text(scenario_yaml())
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "notes.txt").write_text("mine")
    for extra in ([], ["--resume"]):
        res = CliRunner().invoke(cli, ["risk", str(path), "--out", str(tmp_path / "o"),
                                       "--particles", "10", "--repeats", "2"] + extra)
        assert res.exit_code == 2 and "holds other files (notes.txt)" in res.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["notes.txt"]


def test_no_seed_is_refused():
    sc = mission()
    sc.seed = None
    with pytest.raises(ScenarioError, match="no seed"):
        estimate_risk(sc, particles=10, repeats=2)


@pytest.mark.slow
@pytest.mark.parametrize("n, seeds", [(40, range(20)), (90, range(10))])
def test_splitting_intervals_cover_the_exact_value(n, seeds):
    """Coverage over independent seeds: the 95% intervals (200 particles x
    10 repetitions) must contain the exact Moran value in at least 80% of
    seeds (nominal 95%; 20 seeds, a correct 95% interval falls below 80% with
    probability 1.6%, binomial; for 10 seeds below 70% with probability 1%).
    N = 90 gives 1.7e-11, below 1e-10. Measured: 19/20 (N = 40) and 10/10
    (N = 90); about 15 minutes each on 2 shared cores."""
    exact = moran_fixation(1 / 1.3, n)
    covered = []
    for seed in seeds:
        result = estimate_risk(moran(n, 1 / 1.3, seed=1000 + seed), "fixation",
                               "splitting", particles=200, repeats=10)
        covered.append(result["low"] <= exact <= result["high"])
    assert np.mean(covered) >= (0.8 if len(covered) >= 20 else 0.7), covered


def test_hazard_extrapolation_is_exact_for_a_constant_hazard():
    """P(by t) = 1 - exp(-lambda (t - t0)) at two horizons gives back lambda,
    t0 and P at a third; overlapping intervals leave a zero hazard possible."""
    from analysis.hazard import extrapolate_hazard

    lam, t0 = 2e-6, 40.0

    def at(t, spread=0.0):
        p = -math.expm1(-lam * (t - t0))
        return {"event": "takeover", "horizon": t, "p": p, "low": p * (1 - spread),
                "high": p * (1 + spread)}

    out = extrapolate_hazard(at(300), at(600), 10**6)
    assert out["hazard"] == pytest.approx(lam, rel=1e-9)
    assert out["onset"] == pytest.approx(t0, rel=1e-6)
    assert out["p"] == pytest.approx(at(10**6)["p"], rel=1e-9)
    loose = extrapolate_hazard(at(300, 0.8), at(600, 0.8), 10**6)
    assert loose["hazard_low"] == 0.0 and loose["low"] <= out["p"] <= loose["high"]


def test_branching_approximation_single_hit_and_where_it_breaks():
    """Single hit (a copy error takes drive 0.1 -> 1.0): nu and pi by hand;
    two hits (the mission's 0.1 -> 0.6 defector is subcritical): pi = 0,
    the approximation says nothing (splitting measures 2e-2 there)."""
    from analysis.hazard import branching_hazard
    from analysis.theory import galton_watson_escape

    data = mission().model_dump(mode="json")
    data["copy"].update(error_rate=1e-5, kernel={"type": "step", "size": 0.9,
                                                 "direction": "up"})
    data["immune"]["efficacy"] = 0.2
    out = branching_hazard(validate(data))
    b0 = 0.2 * 1.1 * (1 - 0.2 * 0.9)
    resident = 100 * (1 - 0.1 / b0)
    assert out["resident_size"] == pytest.approx(resident)
    assert out["founding_rate"] == pytest.approx(resident * 0.1 * 1e-5)
    birth = 0.2 * 2.0 * (1 - 0.2 * 0.9) * (1 - resident / 1000)
    assert out["escape"] == pytest.approx(galton_watson_escape(birth, 0.1 + 0.9 * 0.2))
    assert 0.1 < out["escape"] < 0.2
    assert branching_hazard(mission())["escape"] == 0.0


def test_a_branch_starts_where_its_parent_first_passed_the_level():
    """The replay that finds a branching point follows the parent's path
    exactly (same end), stops at the first tick whose score exceeds the
    level (one tick earlier it had not), and that state continued on the
    parent's own stream ends where the parent ended."""
    from simulation.risk import RISK_STREAM, _Paths

    # (the lineage score is 0 at tick 0, so half a path's score is a level it
    # passed later)
    paths = _Paths(risk_scenario(mission(), "takeover"), "takeover", 5, 0, "lineage")
    checked = 0
    for i in range(400):
        score = paths.run(paths.root, (0, i))
        end = paths.world.tick
        if score < 0.2:
            continue
        level = score / 2
        snap = paths.crossing(paths.root, (0, i), level)
        crossed = paths.world.tick
        assert paths.world.status["score"] > level
        paths.world.advance(paths.horizon, stop_score=1.0)  # same stream, continued
        assert (paths.world.tick, float(paths.world.status["score"])) == (end, score)
        paths.world.restore(paths.root, rng=np.random.default_rng(
            np.random.SeedSequence(5, spawn_key=(RISK_STREAM, 0, 0, i))))
        paths.world.advance(crossed - 1)
        assert paths.world.status["score"] <= level
        assert snap[0].status[0]["tick"] == crossed
        checked += 1
    assert checked >= 5


def _numbers(folder):
    """risk.json without what differs between runs of one request (when, how,
    the folder's identity)."""
    data = json.loads((folder / "risk.json").read_text())
    for key in TIMINGS + ("command", "provenance"):
        data.pop(key)
    return data


def test_kept_repetitions_are_read_not_run_and_change_nothing(tmp_path):
    """In a job folder, each repetition is a part of the folder; an estimate
    that finds some already there (an interrupted earlier call) runs only
    the others and equals an estimate made in one go without parts."""
    from simulation import io
    from simulation.jobs import RISK, JobFolder
    from simulation.risk import RISK_MARKER, resolve_tilt, run_repeats

    sc = mission(horizon=100)
    (tmp_path / "parts").mkdir()
    (tmp_path / RISK_MARKER).write_text(json.dumps({"run_id": "r1"}))
    parts = JobFolder(RISK, io.Claim(tmp_path, "r1"))
    tilt = resolve_tilt(sc, "takeover", "splitting")  # as estimate_risk runs it
    first = run_repeats(risk_scenario(sc, "takeover"), "takeover", "splitting", 20,
                        [1, 3], sc.seed, parts=parts, tilt=tilt)
    kept = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert len(kept) == 2 and all(name.endswith(("r000001.json", "r000003.json"))
                                  for name in kept)
    stamps = {n: (tmp_path / "parts" / n).stat().st_mtime_ns for n in kept}
    resumed = estimate_risk(sc, "takeover", "splitting", 20, 5, parts=parts,
                            show_progress=False)
    plain = estimate_risk(sc, "takeover", "splitting", 20, 5, show_progress=False)
    for name, stamp in stamps.items():
        assert (tmp_path / "parts" / name).stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "parts").iterdir())) == 5
    assert [first[0]["estimate"], first[1]["estimate"]] == [
        plain["repeat_estimates"][1], plain["repeat_estimates"][3]]
    for key in TIMINGS:
        resumed.pop(key), plain.pop(key)
    assert resumed == plain
    # A part of another run is not kept: run again (and said), like a damaged one.
    notes = []
    (tmp_path / RISK_MARKER).write_text(json.dumps({"run_id": "r2"}))
    again = run_repeats(risk_scenario(sc, "takeover"), "takeover", "splitting", 20, [1],
                        sc.seed, parts=JobFolder(RISK, io.Claim(tmp_path, "r2"), notes.append),
                        tilt=tilt)
    assert again[0]["estimate"] == first[0]["estimate"]
    assert len(notes) == 1 and "1 finished repetition(s) have a damaged or unreadable " \
        "part (r000001): run again" in notes[0]
    stamp = stamps[next(n for n in stamps if n.endswith("r000001.json"))]
    assert (tmp_path / "parts" / kept[0]).stat().st_mtime_ns != stamp


@pytest.mark.slow
def test_kill_minus_9_then_resume_on_two_workers_gives_the_same_estimate(tmp_path):
    """Repetitions are kept as parts as they finish: an estimate killed
    (SIGKILL) after a few repetitions resumes (here on a local cluster of two
    workers) running only the missing ones, and its risk.json equals that of
    an uninterrupted run in this process. A second start without resume is
    refused; a different request in the folder is refused. About 35 s
    (four processes start, one of them a local cluster)."""
    path = tmp_path / "mission.yaml"
    path.write_text(scenario_yaml())
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "substrate", "risk", str(path), "--particles", "100",
           "--repeats", "10", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=tmp_path)
    parts = out / "parts"
    deadline = time.time() + 120
    while len(list(parts.glob("risk-*.json"))) < 2 if parts.exists() else True:
        assert proc.poll() is None, "the estimate ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in parts.glob("risk-*.json")}
    assert 2 <= len(kept) < 10 and not (out / "risk.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 2 and "already holds this risk estimate" in again.stderr
    other = subprocess.run(cmd[:-4] + ["--repeats", "11", "--out", str(out), "--resume"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert other.returncode == 2 and "holds a different risk estimate" in other.stderr
    resumed = subprocess.run(cmd + ["--resume", "--workers", "2"], capture_output=True,
                             text=True, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    for name, stamp in kept.items():  # kept repetitions were not run again
        assert (parts / name).stat().st_mtime_ns == stamp
    assert len(list(parts.glob("risk-*.json"))) == 10
    clean = subprocess.run(cmd[:-1] + [str(tmp_path / "clean")], capture_output=True,
                           text=True, cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert _numbers(out) == _numbers(tmp_path / "clean")
