"""One line on stderr whatever fails (issue 25, item 7): what Dask, its worker
processes and multiprocessing print is kept off the terminal.

Real processes throughout: a sweep (local cluster and ``--scheduler``), a
risk estimate on workers and a study on a real full file system, and sweeps
stopped by SIGTERM or SIGINT sent to the command alone or to its whole
process group (as a terminal's Ctrl-C or a service manager does, reaching
the worker processes too). Each asserts exactly one line on stderr, the exit
status, the time it took, and that the finished work is still there.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import nullcontext

import pytest

from simulation import io
from substrate.cli import BUG
from tests.conftest import fill
from tests.scenario_texts import SLOW_SWEEP, SWEEP
from tests.test_reliability import made, substrate  # noqa: F401  (made: a fixture)
from tests.test_sweep import dask_cluster

def only_line(err: str) -> str:
    """The one line of stderr, with no traceback or log line around it."""
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err and BUG not in err, err
    return lines[0]


# --- a full disk ----------------------------------------------------------------

@pytest.mark.parametrize("where", ["local", "scheduler"])
def test_a_sweep_on_a_full_disk_is_one_line_and_keeps_its_units(made, tmp_path, small_disk,
                                                                  where):
    """An interrupted sweep (2 of its 6 units unfinished) resumed on a full
    disk: the worker cannot write its part. Before: 8 lines, a Dask worker's
    traceback among them."""
    folder = small_disk / "sweep"
    (tmp_path / "sw.yaml").write_text(SWEEP)
    shutil.copytree(made / "sweep", folder)
    for unit in ("p000001-b000000", "p000002-b000001"):  # not finished
        (folder / "parts" / f"{unit}-runs.parquet").unlink()
    (folder / "manifest.json").unlink()
    kept = {p.name: p.read_bytes() for p in (folder / "parts").iterdir()}
    fill(small_disk, 4 * 4096)  # the lock and scenario.yaml fit; a part (> 15 kB) does not
    args = ["sweep", "sw.yaml", "--out", folder, "--block-size", 1, "--resume"]
    with (dask_cluster(tmp_path) if where == "scheduler" else nullcontext()) as cluster:
        scheduler = ["--scheduler", cluster[0]] if cluster else []
        started = time.monotonic()
        status, _, err = substrate(*args, *scheduler, cwd=tmp_path)
        seconds = time.monotonic() - started
        line = only_line(err)
        assert status == 2 and line.startswith("error: a unit failed on the cluster: "), err
        assert "No space left on device" in line and "4 finished unit(s) kept" in line, line
        assert seconds < 120
        assert {p.name: p.read_bytes() for p in (folder / "parts").iterdir()} == kept
        assert not (folder / io.LOCK).exists()
        (small_disk / "filler").unlink()
        status, out, err = substrate(*args, *scheduler, cwd=tmp_path)
    assert status == 0 and "2 of 6 units run now" in out, err
    assert len(io.load(folder).runs) == 6
    for name, data in kept.items():
        assert (folder / "parts" / name).read_bytes() == data


@pytest.mark.parametrize("command", [
    ["risk", "singleton_baseline", "--repeats", 2, "--particles", 20, "--workers", 1],
    ["study", "defence_scaling", "--set", "study.sizes=[1000]", "--set", "study.horizons=[1000]",
     "--set", "study.simulate.sizes=[1000]", "--set", "study.simulate.values=[0.0, 0.2]",
     "--set", "study.simulate.paths=20", "--set", "study.simulate.horizon=1000"],
], ids=["risk on workers", "study"])
def test_risk_and_study_on_a_full_disk_are_one_line(tmp_path, small_disk, command):
    earlier = small_disk / "earlier"
    earlier.mkdir()
    (earlier / "kept.txt").write_text("an earlier result")
    fill(small_disk, 2 * 4096)  # the lock and risk's marker fit; a part does not
    started = time.monotonic()
    status, _, err = substrate(*command, "--out", small_disk / "o", cwd=tmp_path)
    line = only_line(err)
    assert status == 2 and line.startswith("error: "), err
    assert "No space left on device" in line, line
    assert time.monotonic() - started < 120
    assert (earlier / "kept.txt").read_text() == "an earlier result"
    assert not (small_disk / "o" / io.LOCK).exists()


# --- signals ----------------------------------------------------------------------

def started_sweep(tmp_path, out, workers=2):
    """A slow sweep (20 units of ~1 s) in its own process group."""
    (tmp_path / "slow.yaml").write_text(SLOW_SWEEP)
    return subprocess.Popen([sys.executable, "-m", "substrate", "sweep", "slow.yaml",
                             "--workers", str(workers), "--block-size", "1", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)


def wait_until(condition, proc, seconds=300):
    deadline = time.time() + seconds
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("signum, status, group", [
    (signal.SIGTERM, 143, False), (signal.SIGTERM, 143, True), (signal.SIGINT, 130, True)],
    ids=["SIGTERM", "SIGTERM to the group", "SIGINT to the group"])
def test_a_sweep_stopped_mid_way_is_one_line(tmp_path, signum, status, group):
    """Stopped with units finished and others running on two workers; to the
    group, the workers are stopped by the signal too (their tracebacks, and
    multiprocessing's resource tracker, used to reach the terminal)."""
    out = tmp_path / "o"
    proc = started_sweep(tmp_path, out)
    wait_until(lambda: len(list(out.glob("parts/*-runs.parquet"))) >= 2, proc)
    (os.killpg if group else os.kill)(proc.pid, signum)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert time.monotonic() - sent < 30
    line = only_line(err)
    assert proc.returncode == status, err
    assert line.startswith("interrupted: ") and f"finished unit(s) kept in {out}/parts" in line
    assert sorted(p.name for p in out.rglob(".*")) == []  # no temporary file, no lock


def importing_workers(pid: int) -> bool:
    """Whether a worker process of ``pid`` is importing its libraries (has
    loaded one compiled module of site-packages)."""
    import psutil

    for child in psutil.Process(pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()) and any(
                    "site-packages" in m.path for m in child.memory_maps()):
                return True
        except (psutil.Error, OSError):
            continue
    return False


def test_a_sweep_stopped_while_its_workers_start_is_one_line(tmp_path):
    """Ctrl-C (SIGINT to the group) while the worker processes import: each
    worker used to print its KeyboardInterrupt traceback."""
    out = tmp_path / "o"
    proc = started_sweep(tmp_path, out)
    wait_until(lambda: importing_workers(proc.pid), proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    line = only_line(err)
    assert proc.returncode == 130, err
    assert line.startswith(f"interrupted: nothing written to {out}; to start again: "), line
    assert not out.exists()


def catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler of its own for ``signum``."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signum - 1) & 1)


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_command_starts_is_one_line(tmp_path, signum, status):
    """As soon as the command line is up, before the engine is imported
    (numba and pandas: a second or more): SIGTERM used to end the process
    without a word, SIGINT to print a KeyboardInterrupt traceback."""
    (tmp_path / "sw.yaml").write_text(SWEEP)
    proc = subprocess.Popen([sys.executable, "-m", "substrate", "sweep", "sw.yaml", "--out",
                             "o"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    wait_until(lambda: catches(proc.pid, signal.SIGTERM), proc, seconds=60)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    # (on a fast machine the signal may come after the folder was claimed)
    assert only_line(err) in ("interrupted: nothing was written",
                              "interrupted: nothing written to o; to start again: "
                              "substrate sweep sw.yaml --out o"), err
    assert not (tmp_path / "o").exists()


# --- what is kept off, and where it goes -------------------------------------------

KEPT_OFF = r"""import logging, subprocess, sys, warnings
import distributed
from simulation.cluster_log import kept_off_stderr
with kept_off_stderr() as said:
    subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('a child process\\n')"])
    logging.getLogger("distributed.worker").error("a Dask log line")
    logging.getLogger("asyncio").error("an unhandled log line")
    warnings.warn("a warning")
    print("the terminal", file=sys.stderr)
    said.keep(sys.argv[1])
print("the terminal again", file=sys.stderr)
"""


def test_kept_off_stderr_keeps_children_logs_and_warnings_in_the_log(tmp_path):
    (tmp_path / "kept.py").write_text(KEPT_OFF)
    proc = subprocess.run([sys.executable, "kept.py", "cluster.log"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "the terminal\nthe terminal again\n"
    log = (tmp_path / "cluster.log").read_text()
    for said in ("a child process", "a Dask log line", "an unhandled log line", "a warning"):
        assert said in log, log
    assert "the terminal" not in log
