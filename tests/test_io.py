"""The one writer and the one reader: atomic files, run identity, one owner
per output folder, interrupts, and faults of the cluster during sweeps."""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import analysis
from simulation import OutputError, io
from substrate.cli import cli
from tests.scenario_texts import SLOW_SWEEP, SMALL, SWEEP


# Long enough to be interrupted: tens of seconds on one core.
LONG_RUN = """\
name: long
seed: 7
replicates: 200
horizon: 3000
record_every: 100
agent: {capacity: 20000, initial_size: 10000, birth_rate: 0.2, death_rate: 0.1}
copy: {error_rate: 0.001}
"""



def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def substrate(*args, cwd, env=None):
    """`substrate ...` as its own process (and process group)."""
    return subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "substrate",
                             *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=cwd,
                            env=None if env is None else dict(os.environ, **env))


def wait_for(condition, proc=None, seconds=120):
    deadline = time.time() + seconds
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"ended too early: {proc.communicate()}")
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def leftovers(folder):
    """Temporary files and locks left in a folder (and its parts)."""
    return sorted(p.name for p in folder.rglob(".*"))


# --- the writer ------------------------------------------------------------

def test_every_table_carries_the_run_identity_of_the_manifest(tmp_path):
    small = write(tmp_path, "small.yaml", SMALL)
    assert invoke("run", small, "--out", tmp_path / "a").exit_code == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["kind"] == "run" and len(manifest["run_id"]) == 16
    tables = [f for f in manifest["files"] if f.endswith(".parquet")]
    assert {"runs.parquet", "timeseries.parquet", "clones.parquet"} <= set(tables)
    for name in tables:
        assert io.run_id_of(tmp_path / "a" / name) == manifest["run_id"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(manifest["files"])
    # A second run of the same scenario: same data, another identity.
    assert invoke("run", small, "--out", tmp_path / "b").exit_code == 0
    assert analysis.load(tmp_path / "b").run_id != manifest["run_id"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "x.txt"
    io.write_text("old", path)

    def full(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OutputError, match=r"cannot write x.txt \(No space left on device\)"):
        io.atomic_write(path, full)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["x.txt"]
    with pytest.raises(KeyboardInterrupt):
        io.atomic_write(path, lambda tmp: (_ for _ in ()).throw(KeyboardInterrupt))
    assert os.listdir(tmp_path) == ["x.txt"]


# --- the reader ------------------------------------------------------------

def test_the_reader_refuses_a_folder_that_mixes_two_runs(tmp_path):
    small = write(tmp_path, "small.yaml", SMALL)
    for name in ("a", "b"):
        assert invoke("run", small, "--out", tmp_path / name).exit_code == 0
    assert len(analysis.load(tmp_path / "a").runs) == 3
    shutil.copy(tmp_path / "b" / "timeseries.parquet", tmp_path / "a" / "timeseries.parquet")
    with pytest.raises(OutputError, match="timeseries.parquet comes from another run.*mixes"):
        analysis.load(tmp_path / "a")
    result = invoke("summarize", tmp_path / "a")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    (tmp_path / "b" / "clones.parquet").unlink()
    with pytest.raises(OutputError, match="clones.parquet is missing"):
        analysis.load(tmp_path / "b")


def test_analysis_load_is_the_simulation_reader():
    assert analysis.load is io.load and analysis.Results is io.Results


# --- one owner per folder --------------------------------------------------

def test_a_second_owner_is_refused_and_a_stale_lock_taken_over(tmp_path):
    with io.claim(tmp_path / "o", ["first"]) as owner:
        with pytest.raises(OutputError, match=rf"in use by pid {os.getpid()} on .*: first"):
            io.claim(tmp_path / "o", ["second"])
        assert (tmp_path / "o" / ".lock").exists()
    assert not (tmp_path / "o" / ".lock").exists()  # released
    # A lock whose process is gone, on this host, and a half-written file.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "o" / ".lock").write_text(json.dumps(
        {"pid": gone.pid, "host": socket.gethostname(), "started": "then",
         "command": ["substrate", "run"]}))
    (tmp_path / "o" / ".runs.parquet.abc.tmp").write_text("half")
    with io.claim(tmp_path / "o") as owner:
        assert f"took over the stale lock of pid {gone.pid}" in owner.note
        assert "removed 1 unfinished temporary file" in owner.note
        assert leftovers(tmp_path / "o") == [".lock"]
    # Another host's lock cannot be checked: refused.
    (tmp_path / "o" / ".lock").write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(OutputError, match="another host"):
        io.claim(tmp_path / "o")
    # A lock that names no process is not guessed at.
    for text in ("", "{}", '{"pid": -1, "host": "%s"}' % socket.gethostname()):
        (tmp_path / "o" / ".lock").write_text(text)
        with pytest.raises(OutputError, match="lock file .lock is unreadable"):
            io.claim(tmp_path / "o")


def test_a_stale_lock_taken_over_meanwhile_by_another_process_is_left_to_it(
        tmp_path, monkeypatch):
    out = tmp_path / "o"
    out.mkdir()
    stale = {"pid": 999999999, "host": socket.gethostname(), "started": "then"}
    (out / ".lock").write_text(json.dumps(stale))
    fresh = {"pid": os.getppid(), "host": socket.gethostname(), "started": "now",
             "command": ["other"]}

    def another_process_takes_over(pid):
        # Between our reading the stale lock and moving it aside, another
        # process takes the folder over.
        (out / ".lock").write_text(json.dumps(fresh))
        return False

    monkeypatch.setattr(io.lock, "_alive", another_process_takes_over)
    with pytest.raises(OutputError, match=f"in use by pid {os.getppid()} .*: other"):
        io.claim(out)
    assert json.loads((out / ".lock").read_text()) == fresh  # left to its owner
    assert leftovers(out) == [".lock"]


def test_the_command_line_takes_over_a_stale_lock_with_a_note(tmp_path):
    small = write(tmp_path, "small.yaml", SMALL)
    out = tmp_path / "o"
    out.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (out / ".lock").write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(),
                                           "started": "then", "command": ["substrate"]}))
    (out / ".timeseries.parquet.x.tmp").write_text("half")
    result = invoke("run", small, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"note: {out}: took over the stale lock of pid {gone.pid}" in result.output
    assert leftovers(out) == [] and len(analysis.load(out).runs) == 3


def test_a_lock_of_a_reused_pid_is_taken_over_and_a_live_one_says_how_to_clear_it(
        tmp_path):
    """A lock records its process's start time (/proc) and the boot's id: a
    pid alive but started at another time (reused by another process), or
    a lock from before the machine restarted, is stale; a lock whose process
    really runs is refused with the file to remove if it does not."""
    small = write(tmp_path, "small.yaml", SMALL)
    out = tmp_path / "o"
    out.mkdir()
    other = subprocess.Popen(["sleep", "120"])  # alive, not substrate
    try:
        started = io.process_start(other.pid)
        assert started is not None and io.boot_id(), "needs Linux's /proc"
        lock = {"pid": other.pid, "host": socket.gethostname(), "started": "then",
                "command": ["substrate", "run"], "pid_started": started,
                "boot_id": io.boot_id()}
        # Its real owner, alive: refused, in one line that says what to remove.
        (out / ".lock").write_text(json.dumps(lock))
        proc = substrate("run", small, "--out", out, cwd=tmp_path)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2 and err.count("\n") == 1, err
        assert err.startswith(f"error: output folder {out}: in use by pid {other.pid} ")
        assert err.rstrip().endswith(f"(if that command no longer runs, remove {out}/.lock)")
        # The same pid, started at another time: a reused pid.
        (out / ".lock").write_text(json.dumps(lock | {"pid_started": started - 100}))
        proc = substrate("run", small, "--out", out, cwd=tmp_path)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert err == (f"note: {out}: took over the stale lock of pid {other.pid} on "
                       f"{socket.gethostname()}, started then: substrate run (that process "
                       f"is gone; pid {other.pid} is now another process)\n")
        assert leftovers(out) == [] and len(analysis.load(out).runs) == 3
        # A lock from an earlier boot of the machine.
        (out / ".lock").write_text(json.dumps(lock | {"boot_id": "an earlier boot"}))
        with io.claim(out) as owner:
            assert "(the machine has restarted since)" in owner.note
            held = json.loads((out / ".lock").read_text())
            assert held["pid_started"] == io.process_start(os.getpid())
            assert held["boot_id"] == io.boot_id()
    finally:
        other.kill()
        other.wait()


def test_two_runs_into_one_folder_at_once(tmp_path):
    long = write(tmp_path, "long.yaml", LONG_RUN)
    small = write(tmp_path, "small.yaml", SMALL)
    out = tmp_path / "o"
    first = substrate("run", long, "--replicates", 60, "--out", out, cwd=tmp_path)
    try:
        wait_for(lambda: (out / ".lock").exists(), first)
        second = substrate("run", small, "--out", out, cwd=tmp_path)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2
        assert err.startswith(f"error: output folder {out}: in use by pid {first.pid}")
        assert err.count("\n") == 1 and first.poll() is None
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    finally:
        first.kill()
    results = analysis.load(out)
    assert results.scenario["name"] == "long" and len(results.runs) == 60


def test_resume_while_the_sweep_still_runs_is_refused(tmp_path):
    path = write(tmp_path, "slow.yaml", SLOW_SWEEP)
    out = tmp_path / "o"
    args = ("sweep", path, "--workers", 1, "--block-size", 1, "--out", out)
    first = substrate(*args, cwd=tmp_path)
    try:
        wait_for(lambda: len(list(out.glob("parts/*-runs.parquet"))) >= 1, first)
        again = substrate(*args, "--resume", cwd=tmp_path)
        _, err = again.communicate(timeout=120)
        assert again.returncode == 2 and f"in use by pid {first.pid}" in err
        _, err = first.communicate(timeout=600)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    runs = analysis.load(out).runs
    assert len(runs) == 20 and not runs.duplicated(["point", "replicate"]).any()


# --- interrupts ------------------------------------------------------------

@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_says_so_and_leaves_no_temporary(tmp_path, signum, status):
    long = write(tmp_path, "long.yaml", LONG_RUN)
    out = tmp_path / "o"
    proc = substrate("run", long, "--out", out, cwd=tmp_path)
    wait_for(lambda: (out / ".lock").exists(), proc)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert err.startswith(f"interrupted: {out} holds no complete run; to run again: "
                          "substrate run ") and err.count("\n") == 1
    assert leftovers(out) == []  # no temporary file, lock released


def test_a_sweep_stopped_by_sigterm_resumes(tmp_path):
    path = write(tmp_path, "slow.yaml", SLOW_SWEEP)
    out = tmp_path / "o"
    args = ("sweep", path, "--workers", 1, "--block-size", 1, "--out", out)
    proc = substrate(*args, cwd=tmp_path)
    wait_for(lambda: len(list(out.glob("parts/*-runs.parquet"))) >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    line = err.splitlines()  # one line: Dask's and multiprocessing's output kept off
    assert len(line) == 1 and line[0].startswith("interrupted: "), err
    assert f"finished unit(s) kept in {out}/parts" in line[0]
    assert line[0].endswith(f"--out {out} --resume")
    assert leftovers(out) == []
    kept = len(list(out.glob("parts/*-runs.parquet")))
    resumed = substrate(*args, "--resume", cwd=tmp_path)
    text, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"{20 - kept} of 20 units run now" in text


# --- faults of the cluster and the disk ------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, expected", [
    ("127.0.0.1:8786", "expected tcp://HOST:PORT"),
    ("tcp://127.0.0.1", "expected tcp://HOST:PORT"),
    ("udp://127.0.0.1:8786", "expected tcp://HOST:PORT"),
    ("tls://127.0.0.1:8786", "TLS needs a CA file and a client certificate"),
    ("tcp://127.0.0.1:PORT", "cannot connect"),
])
def test_a_bad_scheduler_is_refused_before_anything_is_written(tmp_path, address, expected):
    path = write(tmp_path, "sw.yaml", SWEEP)
    out = tmp_path / "o"
    address = address.replace("PORT", str(_free_port()))
    started = time.time()
    result = invoke("sweep", path, "--scheduler", address, "--out", out)
    assert result.exit_code == 2 and expected in result.output
    assert result.output.count("\n") == 1 and time.time() - started < 10
    assert not out.exists()
    # Retrying (here on local workers) needs no --resume.
    assert invoke("sweep", path, "--out", out).exit_code == 0


def test_a_listener_that_is_not_dask_is_refused(tmp_path):
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer():  # like a web server or proxy on that port
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    path = write(tmp_path, "sw.yaml", SWEEP)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        result = invoke("sweep", path, "--scheduler", address, "--out", tmp_path / "o")
    finally:
        server.close()
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert f"error: scheduler {address}: " in result.output
    assert not (tmp_path / "o" / "sweep.json").exists()


def test_a_full_disk_is_one_line_and_resumable(tmp_path, monkeypatch):
    path = write(tmp_path, "sw.yaml", SWEEP)
    out = tmp_path / "o"
    real = io.write_parquet
    written = []

    def fills_up(df, where, *args, **kwargs):
        if len(written) == 4:
            raise io.files._write_error(where, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        written.append(where)
        return real(df, where, *args, **kwargs)

    monkeypatch.setattr(io, "write_parquet", fills_up)
    # The workers write the parts: here a worker thread of this process (so
    # that it sees the full disk), behind a scheduler address.
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      protocol="tcp", host="127.0.0.1", dashboard_address=":0") as cluster:
        result = invoke("sweep", path, "--out", out, "--block-size", 1,
                        "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "No space left on device" in result.output
    assert "2 finished unit(s) kept" in result.output and "--resume" in result.output
    monkeypatch.setattr(io, "write_parquet", real)
    assert leftovers(out) == []
    resumed = invoke("sweep", path, "--out", out, "--block-size", 1, "--resume")
    assert resumed.exit_code == 0 and "4 of 6 units run now" in resumed.output


def _dask(*args, cwd):
    dask = shutil.which("dask") or os.path.join(os.path.dirname(sys.executable), "dask")
    return subprocess.Popen([dask, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=cwd,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))


def _scheduler(tmp_path, *tls):
    port = _free_port()
    proc = _dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                 *tls, cwd=tmp_path)
    address = f"{'tls' if tls else 'tcp'}://127.0.0.1:{port}"

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(up, proc, 60)
    return proc, address


def test_no_live_worker_ends_the_sweep(tmp_path):
    path = write(tmp_path, "sw.yaml", SWEEP)
    scheduler, address = _scheduler(tmp_path)
    try:
        started = time.time()
        result = invoke("sweep", path, "--scheduler", address, "--worker-timeout", 2,
                        "--out", tmp_path / "o")
        assert result.exit_code == 2, result.output
        assert f"no live worker for 2 s on the scheduler {address}" in result.output
        assert "--resume" in result.output and time.time() - started < 60
    finally:
        scheduler.terminate()
        scheduler.wait(30)


def test_losing_the_scheduler_ends_the_sweep(tmp_path):
    path = write(tmp_path, "slow.yaml", SLOW_SWEEP)
    scheduler, address = _scheduler(tmp_path)
    worker = _dask("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                   cwd=tmp_path)
    out = tmp_path / "o"
    proc = substrate("sweep", path, "--scheduler", address, "--block-size", 1, "--out", out,
                     cwd=tmp_path)
    try:
        wait_for(lambda: len(list(out.glob("parts/*-runs.parquet"))) >= 1, proc, 180)
        scheduler.kill()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, err
        line = [x for x in err.splitlines() if x.startswith("error: ")]
        assert len(line) == 1 and f"lost the scheduler {address}" in line[0], err
        assert line[0].endswith("--resume")
        assert leftovers(out) == []
    finally:
        for p in (proc, worker, scheduler):
            if p.poll() is None:
                p.kill()
            p.wait(30)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_a_tls_scheduler_works_with_the_dask_security_settings(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    tls = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    scheduler, address = _scheduler(tmp_path, "--protocol", "tls", *tls)
    worker = _dask("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                   *tls, cwd=tmp_path)
    path = write(tmp_path, "sw.yaml", SWEEP)
    try:
        settings = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(cert),
                    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(cert),
                    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(key)}
        proc = substrate("sweep", path, "--scheduler", address, "--out", tmp_path / "o",
                         cwd=tmp_path, env=settings)
        text, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert "3 of 3 units run now" in text
        assert analysis.load(tmp_path / "o").manifest["scheduler"] == address
    finally:
        for p in (worker, scheduler):
            p.terminate()
            p.wait(30)


MANY_AGENTS = """\
name: many
seed: 5
replicates: 2
horizon: 40
record_every: 10
world: {agents: 30, income: 9000.0, transmission: 0.01, takeover_kills: true,
        reproduction: {threshold: 50.0}, max_agents: 40}
agent: {capacity: 200, initial_size: 100}
copy: {error_rate: 0.01}
"""


def test_agent_records_are_written_a_record_at_a_time(tmp_path):
    # `substrate run` appends each record's agent rows to agents.parquet as
    # it is taken (one row group per record), so a huge world's records are
    # never held whole; the table equals the one built in memory.
    import pyarrow.parquet as pq
    from simulation import load_scenario, run_scenario

    path = write(tmp_path, "many.yaml", MANY_AGENTS)
    done = invoke("run", path, "--out", tmp_path / "out")
    assert done.exit_code == 0, done.output
    written = tmp_path / "out" / "agents.parquet"
    assert pq.ParquetFile(written).metadata.num_row_groups == 2 * 5  # replicates x records
    assert io.run_id_of(written) == io.load(tmp_path / "out").run_id
    expected = run_scenario(load_scenario(path), show_progress=False).agents
    got = io.load(tmp_path / "out").table("agents")
    assert got.shape[0] > 2 * 5 * 30
    assert (got.agent.max() >= 30) and (got.death_cause != "alive").any()
    import pandas as pd
    pd.testing.assert_frame_equal(got, expected)
    assert leftovers(tmp_path / "out") == []


def test_an_unfinished_appended_table_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with io.TableAppender(tmp_path / "t.parquet", "r1") as table:
            table.append({"a": [1, 2]})
            assert leftovers(tmp_path) != []
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_parts_concatenate_streaming_with_unified_types(tmp_path):
    """write_parquet_parts: the parts in order, one file, the run identity
    in it; a column all null in one part takes the others' type; parts with
    other columns are refused."""
    import pandas as pd

    from simulation import io

    a = pd.DataFrame({"point": [0, 0], "mode": [None, None], "x": [1.5, 2.5]})
    b = pd.DataFrame({"point": [1], "mode": ["cancer"], "x": [3.5]})
    paths = [io.write_parquet(df, tmp_path / f"{i}.parquet", "r0") for i, df in enumerate([a, b])]
    io.write_parquet_parts(paths, tmp_path / "all.parquet", "r1", {"kind": "sweep"},
                           rows_per_group=1)
    out = pd.read_parquet(tmp_path / "all.parquet")
    assert out.point.tolist() == [0, 0, 1] and out.x.tolist() == [1.5, 2.5, 3.5]
    assert out["mode"].tolist() == [None, None, "cancer"]
    assert io.run_id_of(tmp_path / "all.parquet") == "r1"
    assert io.part_info(tmp_path / "all.parquet") == ("r1", 3)
    io.write_parquet(pd.DataFrame({"point": [2]}), tmp_path / "2.parquet", "r0")
    with pytest.raises(io.OutputError, match="other columns"):
        io.write_parquet_parts(paths + [tmp_path / "2.parquet"], tmp_path / "bad.parquet", "r1")
