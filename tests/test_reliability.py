"""Reliability, second round (issue 25): damaged folders read as one line,
nothing overwritten silently, every long command interruptible, the wording.

Each test runs the ``substrate`` command line as a real subprocess and
checks the promise: exit status 2 (128 + the signal for an interrupt), one
``error:`` line on stderr and no traceback, and that earlier results are
left whole.
"""

import json
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from simulation import io
from simulation.errors import DamagedError, OutputError
from substrate.cli import BUG
from tests.conftest import fill
from tests.scenario_texts import SMALL, SWEEP


def substrate(*args, cwd, timeout=300):
    """`substrate ...` as its own process: (exit status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "substrate", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def refused(args, cwd) -> str:
    """`substrate ARGS` refused as promised: one ``error:`` line, exit 2, in
    seconds (60 allows a loaded CI machine; measured: about 2 s) and bounded
    memory (its own peak below 1 GiB, under a 3 GiB address-space cap:
    tests.test_memory.capped). The line."""
    from tests.test_memory import capped

    proc, seconds, _ = capped(["-m", "substrate", *map(str, args)], cwd)
    assert seconds < 60, (args, seconds)
    return one_error_line(proc.returncode, proc.stderr)


def one_error_line(status, err):
    """Exit 2, one line ``error: ...`` on stderr, no traceback: the line."""
    assert status == 2, err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert BUG not in lines[0], err  # a typed error, not the catch-all
    return lines[0]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A complete run and a complete sweep (block size 1: 6 units), made once."""
    where = tmp_path_factory.mktemp("made")
    (where / "small.yaml").write_text(SMALL)
    (where / "sw.yaml").write_text(SWEEP)
    status, _, err = substrate("run", "small.yaml", "--out", "run", cwd=where)
    assert status == 0, err
    status, _, err = substrate("sweep", "sw.yaml", "--out", "sweep", "--block-size", 1,
                               cwd=where)
    assert status == 0, err
    return where


def copy(made, tmp_path, name):
    shutil.copytree(made / name, tmp_path / name)
    for scenario in ("small.yaml", "sw.yaml"):
        shutil.copy(made / scenario, tmp_path / scenario)
    return tmp_path / name


def truncate(path, size=500):
    path.write_bytes(path.read_bytes()[:size])


def flip_bytes(path):
    data = bytearray(path.read_bytes())
    for i in range(100, len(data) - 100, 37):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def damage_data_pages(path):
    """Spoil the first column's pages, leaving the footer whole: a file whose
    metadata reads but whose data does not."""
    column = pq.read_metadata(path).row_group(0).column(0)
    data = bytearray(path.read_bytes())
    start = column.data_page_offset
    for i in range(start + 2, start + column.total_compressed_size):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    pq.read_metadata(path)


def edit_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(change(manifest)))


# --- every reader guards its input -----------------------------------------

DAMAGES = {
    # name: (damage, what the line must say)
    "truncated runs": (lambda f: truncate(f / "runs.parquet"), "runs.parquet is damaged"),
    "empty runs": (lambda f: (f / "runs.parquet").write_bytes(b""), "runs.parquet is damaged"),
    "flipped timeseries": (lambda f: flip_bytes(f / "timeseries.parquet"),
                           "timeseries.parquet is damaged"),
    "spoilt clone pages": (lambda f: damage_data_pages(f / "clones.parquet"),
                           "clones.parquet is damaged"),
    "runs replaced by timeseries": (
        lambda f: shutil.copy(f / "timeseries.parquet", f / "runs.parquet"), "runs table"),
    "manifest a list": (lambda f: (f / "manifest.json").write_text("[1, 2]"),
                        "manifest.json is not a manifest (a JSON list"),
    "manifest truncated": (lambda f: truncate(f / "manifest.json", 40),
                           "manifest.json is unreadable"),
    "manifest lacks keys": (lambda f: edit_manifest(f, lambda m: {
        k: v for k, v in m.items() if k not in ("files", "kind")}),
        "manifest.json lacks kind, files"),
    "manifest outside": (lambda f: edit_manifest(f, lambda m: m | {
        "files": m["files"] + ["../../../etc/passwd"]}),
        "'../../../etc/passwd', a path outside the folder"),
    "scenario broken": (lambda f: (f / "scenario.yaml").write_text("horizon: [40\n"),
                        "scenario.yaml is not valid YAML"),
    "scenario a list": (lambda f: (f / "scenario.yaml").write_text("- 1\n"),
                        "scenario.yaml holds no resolved scenario"),
}


@pytest.mark.parametrize("case", list(DAMAGES))
def test_a_damaged_run_folder_is_one_line_for_every_reader(made, tmp_path, case):
    folder = copy(made, tmp_path, "run")
    damage, expected = DAMAGES[case]
    damage(folder)
    before = sorted(p.name for p in folder.iterdir())
    commands = [("summarize", folder), ("report", folder, "--out", tmp_path / "r.html"),
                ("plot", folder, "--kind", "survival", "--out", tmp_path / "s.png")]
    if case == "spoilt clone pages":  # read by the muller plot (and the report) only
        commands = [("plot", folder, "--kind", "muller", "--out", tmp_path / "m.png"),
                    commands[1]]
    for args in commands:
        line = refused(args, tmp_path)
        assert expected in line, (args, line)
        assert f"output folder {folder}" in line or "runs table" in line, line
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


def test_the_reader_raises_a_typed_error_naming_the_file(made, tmp_path):
    folder = copy(made, tmp_path, "run")
    truncate(folder / "timeseries.parquet")
    with pytest.raises(DamagedError, match="timeseries.parquet is damaged") as caught:
        io.load(folder)
    assert caught.value.path == folder / "timeseries.parquet"
    assert isinstance(caught.value, OutputError)


def test_a_symlink_out_of_the_folder_is_refused(made, tmp_path):
    folder = copy(made, tmp_path, "run")
    (folder / "passwd").symlink_to("/etc/passwd")
    edit_manifest(folder, lambda m: m | {"files": m["files"] + ["passwd"]})
    with pytest.raises(OutputError, match="'passwd', a path outside the folder"):
        io.load(folder)


def test_a_damaged_sweep_part_is_one_line_for_the_readers(made, tmp_path):
    folder = copy(made, tmp_path, "sweep")
    truncate(folder / "parts" / "p000001-b000000-timeseries.parquet")
    (folder / "timeseries.parquet").unlink()  # the parts are read
    edit_manifest(folder, lambda m: m | {"files": [f for f in m["files"]
                                                   if f != "timeseries.parquet"]})
    status, _, err = substrate("plot", folder, "--kind", "traits", "--out",
                               tmp_path / "t.png", cwd=tmp_path)
    line = one_error_line(status, err)
    assert "parts/p000001-b000000-timeseries.parquet is damaged" in line


def test_resume_runs_again_the_units_of_damaged_parts(made, tmp_path):
    folder = copy(made, tmp_path, "sweep")
    truncate(folder / "parts" / "p000001-b000000-runs.parquet")
    (folder / "parts" / "p000002-b000001-timeseries.parquet").write_bytes(b"")
    status, out, err = substrate("sweep", "sw.yaml", "--out", "sweep", "--block-size", 1,
                                 "--resume", cwd=tmp_path)
    assert status == 0, err
    assert "2 of 6 units run now" in out
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: ") and \
        "2 finished unit(s) have a damaged or unreadable part (p000001-b000000, " \
        "p000002-b000001): run again" in lines[0], err
    assert len(io.load(folder).runs) == 6


def test_a_part_damaged_past_its_footer_fails_in_one_line_and_resumes(made, tmp_path):
    folder = copy(made, tmp_path, "sweep")
    damage_data_pages(folder / "parts" / "p000001-b000001-timeseries.parquet")
    args = ("sweep", "sw.yaml", "--out", "sweep", "--block-size", 1, "--resume")
    status, _, err = substrate(*args, cwd=tmp_path)
    line = one_error_line(status, err)
    assert "parts/p000001-b000001-timeseries.parquet is damaged" in line
    assert "resume the sweep to run that unit again" in line
    assert "5 finished unit(s) kept" in line
    status, out, err = substrate(*args, cwd=tmp_path)
    assert status == 0 and "1 of 6 units run now" in out, err
    assert len(io.load(folder).table("timeseries")) > 0


STUDY = ["--set", "study.sizes=[1000, 10000]", "--set", "study.horizons=[1000]",
         "--set", "study.simulate.sizes=[1000, 10000]",
         "--set", "study.simulate.values=[0.0, 0.2]", "--set", "study.simulate.paths=50",
         "--set", "study.simulate.horizon=1000"]


@pytest.mark.parametrize("damage", ["empty", "a list"])
def test_study_resume_simulates_a_damaged_part_again_and_says_so(tmp_path, damage):
    status, _, err = substrate("study", "defence_scaling", "--out", "st", *STUDY,
                               cwd=tmp_path)
    assert status == 0, err
    part = tmp_path / "st" / "parts" / "size-1000.json"
    kept = tmp_path / "st" / "parts" / "size-10000.json"
    whole, before = part.read_text(), kept.stat().st_mtime_ns
    part.write_text("" if damage == "empty" else "[1, 2]")
    status, _, err = substrate("study", "defence_scaling", "--out", "st", "--resume",
                               *STUDY, cwd=tmp_path)
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: ") and \
        "parts/size-1000.json is damaged" in lines[0] and \
        "size 1000 is simulated again" in lines[0], err
    assert json.loads(part.read_text()) == json.loads(whole)
    assert kept.stat().st_mtime_ns == before


# --- nothing overwritten silently -------------------------------------------

@pytest.mark.parametrize("kind", ["sweep", "study", "risk", "validation"])
def test_a_run_into_a_folder_of_another_command_is_refused(made, tmp_path, kind):
    if kind == "sweep":
        folder = copy(made, tmp_path, "sweep")
    else:
        copy(made, tmp_path, "run")
        folder = tmp_path / kind
        folder.mkdir()
        marker = {"study": "study.json", "risk": "risk-run.json",
                  "validation": "validation.parquet"}[kind]
        (folder / marker).write_text("{}")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    status, _, err = substrate("run", "small.yaml", "--out", folder, cwd=tmp_path)
    line = one_error_line(status, err)
    assert f"holds a {kind} output" in line and "not a run" in line, line
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("kind", ["run", "sweep"])
def test_a_validation_into_a_folder_of_another_command_is_refused(made, tmp_path, kind):
    folder = copy(made, tmp_path, kind)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    status, _, err = substrate("validate", "--out", folder, cwd=tmp_path)
    line = one_error_line(status, err)
    assert f"holds a {kind} output" in line and "not a validation" in line, line
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_a_run_replacing_a_run_swaps_it_in_whole(made, tmp_path):
    folder = copy(made, tmp_path, "run")
    (folder / "survival.png").write_bytes(b"a figure drawn from the earlier run")
    earlier = io.load(folder).run_id
    status, out, err = substrate("run", "small.yaml", "--out", folder, "--seed", 9,
                                 cwd=tmp_path)
    assert status == 0 and err == "", err
    results = io.load(folder)
    assert results.run_id != earlier and results.scenario["seed"] == 9
    assert (folder / "survival.png").exists()  # kept, as a run in place keeps it
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_a_run_replacing_the_current_folder_is_written_in_place(made, tmp_path):
    folder = copy(made, tmp_path, "run")
    status, _, err = substrate("run", "../small.yaml", "--out", ".", "--seed", 9, cwd=folder)
    assert status == 0, err
    assert err.startswith("note: output folder .: is (or holds) the current folder") and \
        err.count("\n") == 1, err
    assert io.load(folder).scenario["seed"] == 9


def test_a_full_disk_leaves_the_earlier_run_whole_and_says_so(made, tmp_path, small_disk):
    shutil.copy(made / "small.yaml", tmp_path / "small.yaml")
    folder = small_disk / "run"
    shutil.copytree(made / "run", folder)
    earlier = {p.name: p.read_bytes() for p in folder.iterdir()}
    fill(small_disk, 30_000)
    status, _, err = substrate("run", "small.yaml", "--out", folder, "--seed", 9,
                               cwd=tmp_path)
    line = one_error_line(status, err)
    assert "No space left on device" in line, line
    assert line.endswith(f"{folder} still holds its earlier complete run, untouched"), line
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == earlier
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "run"]
    assert io.load(folder).scenario["seed"] == 5


def signalled(args, cwd, signum, ready, after=0.5, seconds=300):
    """Start `substrate ARGS`, send ``signum`` ``after`` s once ``ready()``,
    and check it ends within 10 s: (the process, its stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "substrate", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd, start_new_session=True)
    deadline = time.time() + seconds
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)
    time.sleep(after)
    proc.send_signal(signum)
    sent = time.time()
    _, err = proc.communicate(timeout=60)
    assert time.time() - sent < 10
    return proc, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_run_replacing_a_run_stopped_mid_way_leaves_the_earlier_run_whole(
        made, tmp_path, signum):
    """Stopped while it computes into its staging folder: SIGTERM says so in
    one line and removes the staging folder; after kill -9 the next writer
    removes it. The earlier run is whole either way."""
    from tests.test_io import LONG_RUN

    folder = copy(made, tmp_path, "run")
    earlier = {p.name: p.read_bytes() for p in folder.iterdir()}
    (tmp_path / "long.yaml").write_text(LONG_RUN)
    proc, err = signalled(["run", "long.yaml", "--out", "run"], tmp_path, signum,
                          lambda: list(tmp_path.glob(".run.staging-*.tmp")), after=1.0)
    assert {p.name: p.read_bytes() for p in folder.iterdir()
            if p.name != io.LOCK} == earlier
    assert io.load(folder).scenario["name"] == "small"
    if signum == signal.SIGTERM:
        assert proc.returncode == 143 and err.count("\n") == 1, err
        assert err == ("interrupted: run still holds its earlier complete run; to run "
                       "again: substrate run long.yaml --out run\n")
        assert list(tmp_path.glob(".run.*")) == [] and not (folder / io.LOCK).exists()
    else:
        assert list(tmp_path.glob(".run.staging-*.tmp"))  # left by the killed process
        status, _, err = substrate("run", "small.yaml", "--out", "run", "--seed", 9,
                                   cwd=tmp_path)
        assert status == 0 and "removed 1 unfinished temporary file(s)" in err, err
        assert list(tmp_path.glob(".run.*")) == [] and io.load(folder).scenario["seed"] == 9


MIXED_SWEEP = SWEEP.replace("immune.efficacy: [0.3, 0.6, 0.9]",
                            "copy.kernel.bias: [0.0, {drive: -0.02}]")


def test_section_values_of_mixed_types_become_a_label_column(tmp_path):
    from simulation import validate
    from simulation.sweep import design

    (tmp_path / "mix.yaml").write_text(MIXED_SWEEP)
    status, out, err = substrate("sweep", "mix.yaml", "--out", "mix", cwd=tmp_path)
    assert status == 0, err
    runs = io.load(tmp_path / "mix").runs
    assert sorted(set(runs["copy.kernel.bias"])) == ['0.0', '{"drive": -0.02}']
    status, out, err = substrate("summarize", "mix", cwd=tmp_path)
    assert status == 0 and '{"drive": -0.02}' in out, err
    # Numbers alone stay numbers.
    sc = validate({"seed": 1, "sweep": {"grid": {"copy.kernel.bias": [0, 0.5]}}})
    assert [p["copy.kernel.bias"] for p in design(sc)] == [0, 0.5]


# --- study interruptible ----------------------------------------------------

# Two simulated sizes of ~10 s each on one core.
LONG_STUDY = ["--set", "study.sizes=[1000, 10000]", "--set", "study.horizons=[1000]",
              "--set", "study.simulate.sizes=[1000, 10000]",
              "--set", "study.simulate.values=[0.0, 0.15, 0.17, 0.18, 0.19, 0.2, 0.22]",
              "--set", "study.simulate.paths=1500"]


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_study_stops_on_a_signal_in_one_line_and_resumes(tmp_path, signum, status):
    out = tmp_path / "st"
    args = ["study", "defence_scaling", "--out", out, *LONG_STUDY]
    proc, err = signalled(args, tmp_path, signum,
                          lambda: (out / "parts" / "size-1000.json").exists())
    assert proc.returncode == status, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"interrupted: 1 simulated size(s) kept in {out}/parts; to go on: "
                          "substrate study defence_scaling"), err
    assert err.rstrip().endswith(" --resume")
    assert not (out / ".lock").exists() and not (out / "study.json").exists()
    assert [p.name for p in out.rglob(".*")] == []
    kept = (out / "parts" / "size-1000.json").stat().st_mtime_ns
    status, text, err = substrate(*args, "--resume", cwd=tmp_path)
    assert status == 0, err
    assert (out / "parts" / "size-1000.json").stat().st_mtime_ns == kept
    assert (out / "study.json").exists()


def without_compile_notice(err: str) -> str:
    """stderr without the compile notice a cold kernel cache prints first."""
    return "".join(line for line in err.splitlines(keepends=True)
                   if not line.startswith("note: compiling the simulation kernels"))


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_risk_stops_on_a_signal_in_one_line_keeping_its_folder(tmp_path, signum, status):
    """risk stopped while its repetitions run: one line naming what was kept
    and the command to go on, the signal's status, the lock released, the
    run's identity file left for --resume."""
    out = tmp_path / "r"
    args = ["risk", "singleton_baseline", "--particles", "200", "--repeats", "400",
            "--out", out]
    proc, err = signalled(args, tmp_path, signum, lambda: (out / "parts").exists(),
                          after=1.0)
    err = without_compile_notice(err)
    assert proc.returncode == status, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("interrupted: "), err
    assert err.rstrip().endswith("--out " + str(out) + " --resume"), err
    assert not (out / ".lock").exists() and (out / "risk-run.json").exists()


@pytest.mark.slow  # (the same handling as run's and risk's, tested in the fast tier)
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_validate_stops_on_a_signal_in_one_line_leaving_no_folder(tmp_path, signum, status):
    """validate stopped while it checks: one line, the signal's status, and no
    half-written folder (it held no complete validation)."""
    out = tmp_path / "v"
    proc, err = signalled(["validate", "--tier", "full", "--out", out], tmp_path, signum,
                          lambda: (out / ".lock").exists(), after=1.0)
    err = without_compile_notice(err)
    assert proc.returncode == status, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err == (f"interrupted: {out} holds no complete validation; to run again: "
                   f"substrate validate --tier full --out {out}\n"), err
    assert not out.exists()


# --- wording ------------------------------------------------------------------

@pytest.mark.parametrize("override, expected", [
    ("agent.capacity=1e19", "agent.capacity = 1e+19: out of range (allowed: 1 <= value "
     "<= 10^12)"),
    ("seed=1e19", "seed = 1e+19: out of range (allowed: 0 <= value < 2^63)"),
    ("horizon=-.inf", "horizon = -inf: out of range (allowed: 1 <= value <= 10^9)"),
    ("copy.error_rate=", "copy.error_rate = null: must be a number (0.0 <= value <= 1.0), "
     "not an empty value (null)"),
    ("horizon=" + "9" * 5000, "a value cannot be read (an integer of more than 4300 "
     "digits)"),
    ("agent.capacity=1_000", "agent.capacity = '1_000': must be a whole number (1 <= value "
     "<= 10^12), not text ('1_000' is 1000 in YAML 1.1 only; scenario files are YAML 1.2: "
     "write 1000)"),
])
def test_wording_of_bad_values(tmp_path, override, expected):
    (tmp_path / "small.yaml").write_text(SMALL)
    line = refused(["run", "small.yaml", "--out", "o", "--set", override], tmp_path)
    assert expected in line, line
    assert "NoneType" not in line and "not float" not in line
    assert not (tmp_path / "o").exists()


def test_sweeping_the_seed_is_explained_not_corrected_to_itself(tmp_path):
    (tmp_path / "sw.yaml").write_text(SWEEP)
    status, _, err = substrate("sweep", "sw.yaml", "--out", "o", "--set",
                               "sweep.grid.seed=[1, 2]", cwd=tmp_path)
    line = one_error_line(status, err)
    assert "did you mean" not in line
    assert "sweep.grid.seed: not a sweepable parameter path (seed is the sweep's own" in line


def test_a_long_message_is_cut_at_a_word():
    from simulation.loading import cut

    text = "Exceeds the limit (4300 digits) for integer string conversion: value has"
    assert cut(text, 60) == "Exceeds the limit (4300 digits) for integer string ..."
    assert cut("short", 60) == "short"


def test_a_failed_scheduler_start_leaves_no_output_folder(tmp_path):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer():  # greets like Dask (a small length header), then hangs up
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"\x10" + b"\0" * 7)
            time.sleep(0.2)
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    (tmp_path / "sw.yaml").write_text(SWEEP)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        status, _, err = substrate("sweep", "sw.yaml", "--out", "o", "--scheduler", address,
                                   cwd=tmp_path, timeout=120)
    finally:
        server.close()
    line = one_error_line(status, err)
    assert f"scheduler {address}: " in line
    assert not (tmp_path / "o").exists()


# --- fuzz: damaged result folders -------------------------------------------

def test_summarize_plot_and_report_of_a_fuzzed_damaged_folder_are_one_line(made, tmp_path):
    """Truncate, flip bytes of or replace one file of a run folder (at
    random): ``summarize``, ``plot`` and ``report`` either work or give one
    line of a typed error, never another exception."""
    from click.testing import CliRunner
    from hypothesis import HealthCheck, Phase, example, given, settings
    from hypothesis import strategies as st

    from substrate.cli import cli

    names = sorted(p.name for p in (made / "run").iterdir())

    @settings(max_examples=30, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: minutes
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @example("clone_counts.parquet", "replace", 0, "clones.parquet", "report")
    @example("clones.parquet", "replace", 0, "clone_counts.parquet", "report")
    @given(st.sampled_from(names), st.sampled_from(["truncate", "flip", "replace", "empty"]),
           st.integers(0, 2**16), st.sampled_from(names),
           st.sampled_from(["summarize", "plot", "report"]))
    def check(name, how, at, other, command):
        folder = tmp_path / "f"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(made / "run", folder)
        path = folder / name
        data = bytearray(path.read_bytes())
        if how == "truncate":
            data = data[:at % max(len(data), 1)]
        elif how == "flip":
            for i in range(at % 97, len(data), 97):
                data[i] ^= 1 + at % 255
        elif how == "replace":
            data = (folder / other).read_bytes()
        else:
            data = b""
        path.write_bytes(bytes(data))
        args = {"summarize": ["summarize", folder],
                "plot": ["plot", folder, "--kind", "traits", "--out", tmp_path / "t.png"],
                "report": ["report", folder, "--out", tmp_path / "r.html"]}[command]
        result = CliRunner().invoke(cli, [str(a) for a in args])
        if result.exit_code != 0:
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                name, how, result.exception)
            assert result.exit_code == 2, (name, how, result.output)
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (name, how, lines)
            assert BUG not in lines[0], (name, how, lines)  # typed, not a bug caught

    check()
