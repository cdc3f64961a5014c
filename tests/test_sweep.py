"""Sweeps: designs, bad input, Dask execution, worker-count invariance,
a real scheduler with worker processes on loopback, and kill -9 then resume."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from simulation import validate
from simulation.io import content_digest
from simulation.sweep import design, point_scenarios
from substrate.cli import cli
from tests.scenario_texts import SLOW_SWEEP

SWEEP = """\
name: sw
seed: 3
replicates: 5
horizon: 60
record_every: 20
agent: {capacity: 1000, initial_size: 500, birth_rate: 0.2, death_rate: 0.1}
copy: {error_rate: 0.003}
sweep:
  grid:
    copy.error_rate: [0.001, 0.01]
    immune.efficacy: [0.3, 0.6, 0.9]
"""


@pytest.fixture
def sweep_file(tmp_path):
    path = tmp_path / "sw.yaml"
    path.write_text(SWEEP)
    return path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_grid_design_is_the_product_first_key_slowest():
    sc = validate({"seed": 1, "sweep": {"grid": {"copy.error_rate": [0.1, 0.2],
                                                 "copy.kernel.type": ["normal", "cauchy"]}}})
    assert design(sc) == [
        {"copy.error_rate": 0.1, "copy.kernel.type": "normal"},
        {"copy.error_rate": 0.1, "copy.kernel.type": "cauchy"},
        {"copy.error_rate": 0.2, "copy.kernel.type": "normal"},
        {"copy.error_rate": 0.2, "copy.kernel.type": "cauchy"}]
    kernels = [s.copy.kernel.type for s in point_scenarios(sc)]
    assert kernels == ["normal", "cauchy", "normal", "cauchy"]


@pytest.mark.parametrize("kind", ["random", "latin_hypercube"])
def test_sampled_designs_respect_ranges_and_seed(kind):
    spec = {kind: {"n": 40, "ranges": {
        "copy.error_rate": {"low": 1e-5, "high": 1e-2, "log": True},
        "agent.capacity": {"low": 100, "high": 200},
        "immune.efficacy": {"low": 0.2, "high": 0.4}}}}
    points = design(validate({"seed": 7, "sweep": spec}))
    again = design(validate({"seed": 7, "sweep": spec}))
    other = design(validate({"seed": 8, "sweep": spec}))
    assert points == again and points != other and len(points) == 40
    rates = [p["copy.error_rate"] for p in points]
    assert all(1e-5 <= r <= 1e-2 for r in rates)
    assert sum(r < 3.2e-4 for r in rates) >= 10  # log-uniform: half below the geometric middle
    assert all(isinstance(p["agent.capacity"], int) and 100 <= p["agent.capacity"] <= 200
               for p in points)
    if kind == "latin_hypercube":  # one point in each of the 40 strata of each axis
        strata = sorted(int((p["immune.efficacy"] - 0.2) / 0.2 * 40) for p in points)
        assert strata == list(range(40))


@pytest.mark.parametrize("sweep,expected", [
    ({"grid": {"copy.eror_rate": [0.1]}}, "sweep.grid.copy.eror_rate: not a sweepable "
                                          "parameter path; did you mean 'copy.error_rate'?"),
    ({"grid": {"copy.error_rate": [0.1, 3]}}, "sweep.grid.copy.error_rate: copy.error_rate = 3"),
    ({"grid": {"copy.error_rate": []}}, "sweep.grid.copy.error_rate"),
    ({"random": {"n": 3, "ranges": {"immune.efficacy": {"low": 0.9, "high": 0.1}}}},
     "low (0.9) must be below high (0.1)"),
    ({"random": {"n": 3, "ranges": {"immune.efficacy": {"low": 0.5, "high": 2}}}},
     "sweep.random.ranges.immune.efficacy: immune.efficacy = 2"),
    ({"latin_hypercube": {"n": 3, "ranges": {"copy.error_rate": {"low": 0, "high": 1,
                                                                 "log": True}}}},
     "log: true needs low > 0"),
    ({"grid": {"seed": [1, 2]}}, "sweep.grid.seed: not a sweepable parameter path"),
    ({"grid": {"copy.traits": [["drive"], ["stealth"]]}}, "a list or mapping cannot be swept"),
    ({"grid": {"x": [1]}, "random": {"n": 1, "ranges": {"immune.efficacy": {"low": 0, "high": 1}}}},
     "give exactly one design"),
])
def test_bad_sweeps_are_one_line_errors(tmp_path, sweep, expected):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"seed": 1, "sweep": sweep}))
    result = invoke("sweep", path, "--out", tmp_path / "o")
    assert result.exit_code == 2, result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_sweep_without_sweep_section(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text("seed: 1\n")
    result = invoke("sweep", path, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "has no sweep section" in result.output


def test_sweep_outputs_and_worker_invariance(sweep_file, tmp_path):
    one = invoke("sweep", sweep_file, "--workers", 1, "--out", tmp_path / "one")
    assert one.exit_code == 0, one.output
    assert "6 points x 5 replicates" in one.output and "P(takeover)" in one.output
    two = invoke("sweep", sweep_file, "--workers", 2, "--block-size", 2,
                 "--out", tmp_path / "two")
    assert two.exit_code == 0, two.output
    for table in ("runs.parquet", "timeseries.parquet"):
        assert content_digest(tmp_path / "one" / table) == content_digest(tmp_path / "two" / table)
    runs = pd.read_parquet(tmp_path / "one" / "runs.parquet")
    assert len(runs) == 30 and not runs.duplicated(["point", "replicate"]).any()
    assert {"copy.error_rate", "immune.efficacy"} <= set(runs.columns)
    assert runs.groupby("point")["immune.efficacy"].nunique().eq(1).all()
    ts = pd.read_parquet(tmp_path / "one" / "timeseries.parquet")
    assert "copy.error_rate" in ts.columns
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["parameters"] == ["copy.error_rate", "immune.efficacy"]
    # A (point, replicate) re-run alone with 'substrate run' is the same row.
    alone = invoke("run", sweep_file, "--point", 4, "--replicate", 3, "--out", tmp_path / "a")
    assert alone.exit_code == 0, alone.output
    row = runs[(runs.point == 4) & (runs.replicate == 3)].reset_index(drop=True)
    again = pd.read_parquet(tmp_path / "a" / "runs.parquet")[row.columns]
    pd.testing.assert_frame_equal(row, again)
    # The folder is this sweep's: a different one is refused, this one needs --resume.
    other = invoke("sweep", sweep_file, "--seed", 4, "--out", tmp_path / "one")
    assert other.exit_code == 2 and "holds a different sweep" in other.output
    same = invoke("sweep", sweep_file, "--out", tmp_path / "one")
    assert same.exit_code == 2 and "--resume" in same.output
    done = invoke("sweep", sweep_file, "--out", tmp_path / "one", "--resume")
    assert done.exit_code == 0 and "0 of 6 units run now" in done.output
    block = invoke("sweep", sweep_file, "--out", tmp_path / "two", "--resume")
    assert block.exit_code == 2 and "block size 2" in block.output
    assert "(option --block-size)" in block.output


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_command():
    return shutil.which("dask") or os.path.join(os.path.dirname(sys.executable), "dask")


def _wait_for_workers(address, n, deadline=60):
    from distributed import Client

    until = time.time() + deadline
    while True:
        try:
            with Client(address, timeout="5s") as client:
                if len(client.scheduler_info()["workers"]) == n:
                    return
        except OSError:
            pass
        assert time.time() < until, "scheduler and workers did not come up"
        time.sleep(0.5)


def test_real_cluster_survives_a_killed_worker(tmp_path):
    """`dask scheduler` and two `dask worker` processes on loopback, as on a
    cluster; the sweep runs through `substrate sweep --scheduler` (its own
    process), one worker is killed (SIGKILL, nanny and all) mid-sweep, and
    the sweep still completes with the tables of a one-worker local run."""
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_SWEEP)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with dask_cluster(tmp_path, workers=2, env=env) as (address, workers):
        out = tmp_path / "c"
        sweep = subprocess.Popen([sys.executable, "-m", "substrate", "sweep", str(path),
                                  "--scheduler", address, "--block-size", "1",
                                  "--out", str(out)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
        deadline = time.time() + 60
        while len(list((out / "parts").glob("*-runs.parquet"))) < 2 \
                if (out / "parts").exists() else True:
            assert sweep.poll() is None, sweep.communicate()
            assert time.time() < deadline
            time.sleep(0.05)
        os.killpg(workers[0].pid, signal.SIGKILL)  # one worker, mid-sweep
        killed_at = len(list((out / "parts").glob("*-runs.parquet")))
        stdout, stderr = sweep.communicate(timeout=120)
        assert sweep.returncode == 0, stderr
        assert killed_at < 20, "the worker was killed after the sweep had finished"
        assert "20 of 20 units run now" in stdout
        local = invoke("sweep", path, "--workers", 1, "--block-size", 1, "--out", tmp_path / "l")
        assert local.exit_code == 0, local.output
        for table in ("runs.parquet", "timeseries.parquet"):
            assert content_digest(out / table) == content_digest(tmp_path / "l" / table)


@contextlib.contextmanager
def dask_cluster(tmp_path, workers=1, env=None):
    """`dask scheduler` and ``workers`` `dask worker` processes (one thread
    each, each killable alone) on loopback, as on a cluster, their output
    to /dev/null (on a cluster it is on other machines): yields the
    scheduler's address and the worker processes."""
    dask = _dask_command()
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                 start_new_session=True, cwd=tmp_path)
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], **quiet)]
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1",
                                           "--nthreads", "1", "--no-dashboard"], **quiet))
        _wait_for_workers(address, workers)
        yield address, procs[1:]
    finally:
        for proc in procs[::-1]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)


@pytest.mark.parametrize("address, message", [
    ("tcp://127.0.0.1:{free}", "cannot connect"),
    ("tcp://no-such-host.invalid:8786", "cannot connect"),
    ("127.0.0.1:8786", "expected tcp://HOST:PORT"),
    ("tcp://127.0.0.1:{silent}", "did not answer as a Dask scheduler"),
])
def test_bad_scheduler_address_fails_in_seconds(sweep_file, tmp_path, address, message):
    """One line, exit status 2, within seconds, nothing written; also for a
    port where something listens that is not Dask."""
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = address.format(free=_free_port(), silent=silent.getsockname()[1])
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "substrate", "sweep", str(sweep_file),
                                 "--scheduler", address, "--out", str(tmp_path / "o")],
                                capture_output=True, text=True, cwd=tmp_path)
        seconds = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert seconds < 30, seconds  # the connect timeout is 5 s; the rest is start-up
    assert not (tmp_path / "o" / "sweep.json").exists()


def test_kill_minus_9_then_resume_loses_and_repeats_nothing(tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_SWEEP)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "substrate", "sweep", str(path), "--workers", "1",
           "--block-size", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=tmp_path)
    parts = out / "parts"
    deadline = time.time() + 120
    while len(list(parts.glob("*-runs.parquet"))) < 3 if parts.exists() else True:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its worker processes
    proc.wait()
    finished = {p.name for p in parts.glob("*-runs.parquet")}
    assert 3 <= len(finished) < 20, "kill the sweep mid-way, not before or after"
    stamps = {name: (parts / name).stat().st_mtime_ns for name in finished}
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{20 - len(finished)} of 20 units run now" in resumed.stdout
    for name, stamp in stamps.items():  # finished units were not run again
        assert (parts / name).stat().st_mtime_ns == stamp
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 20 and not runs.duplicated(["point", "replicate"]).any()
    clean = subprocess.run(cmd[:-1] + [str(tmp_path / "clean")], capture_output=True,
                           text=True, cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    for table in ("runs.parquet", "timeseries.parquet"):
        assert content_digest(out / table) == content_digest(tmp_path / "clean" / table)


def test_a_sweep_without_seed_resumes_with_its_own_seed(sweep_file, tmp_path):
    path = tmp_path / "noseed.yaml"
    path.write_text(SWEEP.replace("seed: 3\n", ""))
    first = invoke("sweep", path, "--out", tmp_path / "n")
    assert first.exit_code == 0, first.output
    again = invoke("sweep", path, "--out", tmp_path / "n", "--resume")
    assert again.exit_code == 0, again.output
    assert "0 of 6 units run now" in again.output
    # The drawn seed is recorded: the resolved scenario re-runs any replicate.
    held = json.loads((tmp_path / "n" / "sweep.json").read_text())["seed"]
    assert f"seed: {held}" in (tmp_path / "n" / "scenario.yaml").read_text()
    alone = invoke("run", tmp_path / "n" / "scenario.yaml", "--point", 1, "--replicate", 2,
                   "--out", tmp_path / "one")
    assert alone.exit_code == 0, alone.output
    runs = pd.read_parquet(tmp_path / "n" / "runs.parquet")
    row = runs[(runs.point == 1) & (runs.replicate == 2)].reset_index(drop=True)
    pd.testing.assert_frame_equal(row, pd.read_parquet(tmp_path / "one" / "runs.parquet")[row.columns])


def test_sampled_designs_round_optional_ints_and_odd_redundancy():
    points = design(validate({"seed": 2, "sweep": {"latin_hypercube": {"n": 20, "ranges": {
        "world.max_agents": {"low": 1, "high": 9}, "copy.redundancy": {"low": 1, "high": 9}}}}}))
    assert all(isinstance(p["world.max_agents"], int) for p in points)
    assert all(p["copy.redundancy"] % 2 == 1 and 1 <= p["copy.redundancy"] <= 9 for p in points)
    point_scenarios(validate({"seed": 2, "sweep": {"latin_hypercube": {"n": 20, "ranges": {
        "copy.redundancy": {"low": 1, "high": 9}}}}}))  # every point validates


def test_null_grid_values_are_their_own_group():
    import analysis

    runs = pd.DataFrame({"world.max_agents": [None, None, 5.0], "ticks": [10, 10, 10],
                         "takeover_tick": pd.array([None, 3, None], dtype="Int64"),
                         "convergence_tick": pd.array([None] * 3, dtype="Int64"),
                         "final_mean_drive": [0.1] * 3, "final_mean_loyalty": [0.9] * 3})
    df = analysis.summarize(runs, by=["world.max_agents"], horizon=10)
    assert len(df) == 2 and sorted(df.replicates) == [1, 2]


def test_parts_only_sweep_reads_lazily_and_equals_the_consolidated_one(sweep_file, tmp_path,
                                                                        monkeypatch):
    """--no-consolidate keeps the timeseries as parts only (a partitioned
    dataset, one file per point and block); the reader opens them lazily and
    gives the same tables, summaries and figure data as the consolidated
    file; the traits figure reads one group's points at a time."""
    import analysis
    from analysis import plots
    from simulation.io import Results

    one = invoke("sweep", sweep_file, "--block-size", 2, "--out", tmp_path / "one")
    assert one.exit_code == 0, one.output
    lazy = invoke("sweep", sweep_file, "--block-size", 2, "--no-consolidate",
                  "--out", tmp_path / "lazy")
    assert lazy.exit_code == 0, lazy.output
    assert not (tmp_path / "lazy" / "timeseries.parquet").exists()
    assert len(list((tmp_path / "lazy" / "parts").glob("*-timeseries.parquet"))) == 18
    full, parts = analysis.load(tmp_path / "one"), analysis.load(tmp_path / "lazy")
    assert parts.has("timeseries") and not parts.consolidated("timeseries")
    pd.testing.assert_frame_equal(full.timeseries(), parts.timeseries())
    pd.testing.assert_frame_equal(full.timeseries(["tick", "size"], points=[2, 4]),
                                  parts.timeseries(["tick", "size"], points=[2, 4]))
    assert set(parts.timeseries(["point"], points=[4]).point) == {4}
    pd.testing.assert_frame_equal(analysis.summarize(full), analysis.summarize(parts))
    asked = []
    table = Results.table

    def spy(self, name, columns=None, points=None):
        asked.append(points)
        return table(self, name, columns, points)

    monkeypatch.setattr(Results, "table", spy)
    pd.testing.assert_frame_equal(plots.traits_data(full), plots.traits_data(parts))
    assert asked and all(len(p) == 1 for p in asked)  # a point per group (two parameters)
    by_rate = plots.traits_data(parts, by=["copy.error_rate"])
    assert sorted(len(p) for p in asked[-2:]) == [3, 3]  # three points per error rate
    pd.testing.assert_frame_equal(by_rate, plots.traits_data(full, by=["copy.error_rate"]))
    pd.testing.assert_frame_equal(plots.price_data(full), plots.price_data(parts),
                                  check_exact=False, rtol=1e-12)
    report = invoke("report", tmp_path / "lazy")
    assert report.exit_code == 0, report.output
    # A part of another run is refused when the table is read.
    victim = tmp_path / "lazy" / "parts" / "p000001-b000000-timeseries.parquet"
    shutil.copy(tmp_path / "one" / "parts" / victim.name, victim)
    with pytest.raises(Exception, match="comes from another run"):
        analysis.load(tmp_path / "lazy").timeseries(points=[1])


def test_progress_bar_advances_per_unit_with_replicates(sweep_file, tmp_path, capsys):
    from simulation import io, load_scenario
    from simulation.sweep import run_sweep

    sc = load_scenario(sweep_file)
    with io.claim(tmp_path / "o") as owner:
        run_sweep(sc, owner, workers=1, block_size=2, show_progress=True)
    err = capsys.readouterr().err
    assert "18/18" in err and "replicates 30/30" in err, err
    with io.claim(tmp_path / "q") as owner:
        run_sweep(sc, owner, workers=1, block_size=2, show_progress=False)
    assert "replicates" not in capsys.readouterr().err


def test_a_worker_that_does_not_see_the_folder_says_so(tmp_path):
    """A worker writes into the driver's folder: where it does not find the
    sweep there (no shared file system), its unit fails with that reason
    before anything runs."""
    from simulation.errors import OutputError
    from simulation.sweep import write_unit

    sc = validate({"seed": 1, "horizon": 5})
    args = ({}, sc.model_dump(mode="json"), 0, 0, [0], {})
    with pytest.raises(OutputError, match="not visible from the worker on .*shared file system"):
        write_unit(str(tmp_path / "elsewhere"), "r1", *args)
    (tmp_path / "parts").mkdir()
    (tmp_path / "sweep.json").write_text(json.dumps({"run_id": "r0"}))  # another sweep
    with pytest.raises(OutputError, match="not visible from the worker"):
        write_unit(str(tmp_path), "r1", *args)
    (tmp_path / "sweep.json").write_text(json.dumps({"run_id": "r1"}))
    assert write_unit(str(tmp_path), "r1", *args) == {"runs": 1, "timeseries": 2}
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == [
        "p000000-b000000-runs.parquet", "p000000-b000000-timeseries.parquet"]


# --- sweeps that vary structure: zip groups and whole mappings -----------------

KERNELS = [{"type": "normal", "sd": 0.05}, {"type": "cauchy", "scale": 0.01}]


def test_zip_groups_vary_together_and_mappings_are_categories():
    import json as _json

    sc = validate({"seed": 1, "copy": {"kernel": {"type": "step", "size": 0.2}},
                   "sweep": {"grid": {"copy.kernel": KERNELS},
                             "zip": [{"agent.capacity": [400, 4000],
                                      "agent.initial_size": [200, 2000]}]}})
    points = design(sc)
    # grid keys first (slowest), then the zip group: one axis of 2, not 2 x 2
    assert [(p["agent.capacity"], p["agent.initial_size"]) for p in points] == [
        (400, 200), (4000, 2000)] * 2
    labels = [p["copy.kernel"] for p in points]
    assert labels == [_json.dumps(KERNELS[0])] * 2 + [_json.dumps(KERNELS[1])] * 2
    assert [_json.loads(x) for x in labels[::2]] == KERNELS  # readable and exact
    scenarios = point_scenarios(sc)
    # A whole mapping replaces the section: the base's step kernel is gone.
    default = validate({"seed": 1}).copy.kernel
    assert [(s.copy.kernel.type, s.copy.kernel.sd, s.copy.kernel.scale, s.copy.kernel.size)
            for s in scenarios[::2]] == [("normal", 0.05, default.scale, default.size),
                                         ("cauchy", default.sd, 0.01, default.size)]
    assert default.size != 0.2
    assert [(s.agent.capacity, s.agent.initial_size) for s in scenarios] == [
        (400, 200), (4000, 2000)] * 2
    # zip alone is a grid of linked axes
    alone = validate({"seed": 1, "sweep": {"zip": [{"agent.capacity": [400, 800],
                                                    "agent.initial_size": [100, 300]}]}})
    assert design(alone) == [{"agent.capacity": 400, "agent.initial_size": 100},
                             {"agent.capacity": 800, "agent.initial_size": 300}]


@pytest.mark.parametrize("sweep,expected", [
    ({"zip": [{"agent.capacity": [400, 800], "agent.initial_size": [100, 200, 300]}]},
     "sweep.zip[0]: lists of different lengths (agent.capacity: 2, "
     "agent.initial_size: 3)"),
    ({"zip": [{"agent.capcity": [400], "agent.initial_size": [100]}]},
     "sweep.zip[0].agent.capcity: not a sweepable parameter path; did you mean "
     "'agent.capacity'?"),
    ({"grid": {"copy.kernel": [0.1]}},
     "sweep.grid.copy.kernel: copy.kernel = 0.1: copy.kernel is a section; each of its "
     "values must be a mapping"),
    ({"grid": {"copy.kernel": [{"type": "cauchy", "sd": 0.1}]}},
     "sweep.grid.copy.kernel: copy.kernel: key 'sd' is not used by kernel type 'cauchy'"),
    ({"grid": {"copy.kernel": KERNELS, "copy.kernel.sd": [0.1]}},
     "sweep.grid.copy.kernel.sd: copy.kernel.sd is swept already by sweep.grid.copy.kernel"),
    ({"grid": {"agent.capacity": [400]},
      "zip": [{"agent.capacity": [500], "agent.initial_size": [100]}]},
     "sweep.zip[0].agent.capacity: agent.capacity is swept already by "
     "sweep.grid.agent.capacity"),
    ({"zip": [{"agent.capacity": [400, 800], "agent.initial_size": [100, -5]}]},
     "sweep.zip[0]: agent.initial_size = -5"),
    ({"zip": [{"agent.capacity": [400]}],
      "random": {"n": 1, "ranges": {"immune.efficacy": {"low": 0, "high": 1}}}},
     "sweep: zip groups combine with a grid only, not with random"),
    ({"zip": {"agent.capacity": [400]}}, "sweep.zip = "),
])
def test_bad_structure_sweeps_are_one_line_errors(tmp_path, sweep, expected):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"seed": 1, "sweep": sweep}))
    result = invoke("sweep", path, "--out", tmp_path / "o")
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1, line
    assert str(path) in line and expected in line, line


STRUCTURE_SWEEP = """\
name: structure
seed: 5
replicates: 2
horizon: 40
record_every: 20
agent: {capacity: 400, initial_size: 200, birth_rate: 0.2, death_rate: 0.1}
copy: {error_rate: 0.05}
sweep:
  grid:
    copy.kernel: [{type: normal, sd: 0.05}, {type: cauchy, scale: 0.2}]
  zip:
    - {agent.capacity: [400, 800], agent.initial_size: [200, 400]}
"""


def test_a_structure_sweep_runs_summarizes_and_plots_by_its_labels(tmp_path):
    import analysis

    path = tmp_path / "structure.yaml"
    path.write_text(STRUCTURE_SWEEP)
    done = invoke("sweep", path, "--workers", 1, "--out", tmp_path / "s")
    assert done.exit_code == 0, done.output
    runs = pd.read_parquet(tmp_path / "s" / "runs.parquet")
    assert runs["copy.kernel"].map(type).eq(str).all()
    assert sorted(runs["copy.kernel"].unique()) == [
        '{"type": "cauchy", "scale": 0.2}', '{"type": "normal", "sd": 0.05}']
    assert runs.groupby("point")[["agent.capacity", "agent.initial_size"]].first() \
        .values.tolist() == [[400, 200], [800, 400]] * 2
    assert (runs["agent.initial_size"] * 2 == runs["agent.capacity"]).all()
    table = analysis.summarize(analysis.load(tmp_path / "s"), by=["copy.kernel"])
    assert table.replicates.tolist() == [4, 4]
    text = invoke("summarize", tmp_path / "s", "--by", "copy.kernel")
    assert text.exit_code == 0 and '{"type": "cauchy", "scale": 0.2}' in text.output
    assert "homogeneity across copy.kernel (Pearson chi-square" in text.output  # issue 24
    assert "takeover     chi2 = " in text.output and "df = 1" in text.output
    figure = invoke("plot", tmp_path / "s", "--kind", "survival", "--by", "copy.kernel",
                    "--out", tmp_path / "k.png")
    assert figure.exit_code == 0, figure.output
    phase = invoke("plot", tmp_path / "s", "--kind", "phase", "--out", tmp_path / "p.png")
    assert phase.exit_code == 0, phase.output  # a label on an axis of the heatmap
    # a point re-run alone carries the same label
    alone = invoke("run", path, "--point", 3, "--replicate", 1, "--out", tmp_path / "a")
    assert alone.exit_code == 0, alone.output
    row = runs[(runs.point == 3) & (runs.replicate == 1)].reset_index(drop=True)
    again = pd.read_parquet(tmp_path / "a" / "runs.parquet")[row.columns]
    pd.testing.assert_frame_equal(row, again)
