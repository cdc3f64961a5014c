"""No silent centuries (issue 25, item 6): a long run or sweep says how long
it will take, and reports progress as plain lines when stderr is not a
terminal."""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulation import load_scenario, run_scenario
from simulation.cost import (ANNOUNCE_SECONDS, PlainProgress, announcement, estimate_seconds,
                             format_seconds)
from simulation.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent

CENTURIES = """\
name: centuries
replicates: 1
horizon: 1000000000
record_every: 10000000
agent: {capacity: 1000000000000, initial_size: 1000}
copy: {error_rate: 0}
record_clones: false
"""


def test_the_cost_model_tells_minutes_from_days():
    flagship = load_scenario(ROOT / "scenarios" / "singleton_baseline.yaml")
    assert estimate_seconds(flagship) < ANNOUNCE_SECONDS  # ~20 s measured
    assert announcement("x", estimate_seconds(flagship)) is None
    big = Scenario.model_validate(__import__("yaml").safe_load(CENTURIES))
    line = announcement("centuries.yaml: the run", estimate_seconds(big))
    assert line.startswith("centuries.yaml: the run will take about ") and "days" in line
    assert estimate_seconds(flagship, threads=4) < estimate_seconds(flagship)
    assert format_seconds(90) == "1.5 min" and format_seconds(1e20) == \
        "more than a million years"


def test_the_cost_model_is_the_right_order_on_this_machine():
    sc = load_scenario(ROOT / "scenarios" / "singleton_baseline.yaml", replicates=4,
                       horizon=500)
    run_scenario(sc, replicates=[0], show_progress=False)  # compiled
    started = time.perf_counter()
    run_scenario(sc, show_progress=False, threads=1)
    measured = time.perf_counter() - started
    assert 0.05 < measured / estimate_seconds(sc) < 20


def test_plain_progress_lines():
    out = io.StringIO()
    bar = PlainProgress("x", 1000, every=0.0, stream=out)
    bar.update(250)
    line, = out.getvalue().splitlines()
    assert line.startswith("x: 25% (250 of 1e+03 ticks), ") and "left" in line


@pytest.mark.parametrize("scenario", [
    {"name": "batched", "replicates": 3, "horizon": 300},
    {"name": "agents", "replicates": 2, "horizon": 300, "world": {"agents": 3},
     "record_every": 7},
])
def test_reporting_within_replicates_draws_the_same(scenario):
    """Pausing between ticks to report draws nothing: the same tables."""
    sc = Scenario.model_validate({"seed": 5, **scenario,
                                  "agent": {"capacity": 2000, "initial_size": 1000},
                                  "copy": {"error_rate": 0.01}})
    plain = run_scenario(sc, show_progress=False)
    reported = run_scenario(sc, show_progress=False, progress_every=1e-6)
    assert plain.runs.equals(reported.runs)
    assert plain.timeseries.equals(reported.timeseries)
    assert (plain.clones is None) == (reported.clones is None)
    if plain.clones is not None:
        assert plain.clones.equals(reported.clones)
        assert plain.clone_counts.equals(reported.clone_counts)


def first_stderr_lines(tmp_path, *args, count=3):
    """The first ``count`` stderr lines of ``substrate ARGS`` (stderr a pipe,
    progress every second), then SIGINT."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), SUBSTRATE_PROGRESS_SECONDS="1")
    proc = subprocess.Popen([sys.executable, "-m", "substrate", *args],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 120
        while len(lines) < count and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    return [line for line in lines
            if not line.startswith("note: compiling the simulation kernels")]


def test_a_centuries_run_says_so_and_reports_progress(tmp_path):
    """Before: no line at all, however long (stderr not a terminal)."""
    (tmp_path / "c.yaml").write_text(CENTURIES)
    lines = first_stderr_lines(tmp_path, "run", "c.yaml", "--out", "o", count=4)
    assert len(lines) >= 3 and lines[0].startswith("note: c.yaml: the run will take about "), lines
    assert "days" in lines[0] or "years" in lines[0]
    assert all(l.startswith("centuries: ") and "ticks)" in l and "elapsed" in l
               for l in lines[1:3]), lines


@pytest.mark.slow  # ~40 s: Dask's start and three 1-second beats
def test_a_centuries_sweep_says_so_and_reports_progress_while_its_units_run(tmp_path):
    """A sweep's plain progress beats while no unit has finished (units of
    days would otherwise leave stderr silent for days)."""
    (tmp_path / "c.yaml").write_text(CENTURIES + "sweep: {grid: {copy.error_rate: [0, 0.0]}}\n")
    lines = first_stderr_lines(tmp_path, "sweep", "c.yaml", "--out", "o", "--workers", "1",
                               count=4)
    assert len(lines) >= 3, lines
    assert lines[0].startswith("note: c.yaml: the sweep will take about "), lines
    assert "days" in lines[0] or "years" in lines[0]
    assert all(l.startswith("centuries: 0% (0 of 2 units)") and "elapsed" in l
               for l in lines[1:3]), lines


def test_a_sweep_estimate_comes_from_its_corners():
    from simulation.sweep import sweep_seconds

    base = {"name": "s", "seed": 1, "replicates": 10, "horizon": 1000}
    one = Scenario.model_validate({**base, "sweep": {"grid": {"copy.error_rate": [0.001],
                                                              "agent.capacity": [20000]}}})
    many = Scenario.model_validate({**base, "sweep": {"grid": {
        "copy.error_rate": [0.001] * 50, "agent.capacity": [20000] * 40}}})
    assert sweep_seconds(many) == pytest.approx(2000 * sweep_seconds(one))
    assert sweep_seconds(many, workers=4) == pytest.approx(sweep_seconds(many) / 4)
