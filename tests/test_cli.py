"""The command line: outputs, reproducibility, and one clear line per mistake."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from simulation.io import content_digest
from substrate.cli import cli
from tests.scenario_texts import SMALL



@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_run_writes_outputs_and_summary(small, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", small, "--out", out, "--figure")
    assert result.exit_code == 0, result.output
    assert "P(takeover by 40)" in result.output and "Wilson" in result.output
    assert "small: 3 replicate(s), horizon 40 ticks, seed 5" in result.output
    assert "median takeover tick" in result.output
    for name in ("runs.parquet", "timeseries.parquet", "clones.parquet",
                 "clone_counts.parquet", "scenario.yaml", "manifest.json", "overview.png"):
        assert (out / name).is_file(), name
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs.replicate) == [0, 1, 2]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and len(manifest["replicates"]) == 3
    assert manifest["versions"]["numba"] and manifest["command"][0] == "substrate"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    import stat
    assert stat.S_IMODE((out / "runs.parquet").stat().st_mode) & 0o044  # readable by others
    # The resolved scenario runs again to the same result.
    again = tmp_path / "again"
    assert invoke("run", out / "scenario.yaml", "--out", again, "--no-figure").exit_code == 0
    assert content_digest(again / "runs.parquet") == content_digest(out / "runs.parquet")


def test_same_seed_gives_identical_tables(small, tmp_path):
    for name in ("a", "b"):
        assert invoke("run", small, "--out", tmp_path / name, "--no-figure").exit_code == 0
    for table in ("runs.parquet", "timeseries.parquet", "clones.parquet"):
        assert content_digest(tmp_path / "a" / table) == content_digest(tmp_path / "b" / table)
    assert invoke("run", small, "--out", tmp_path / "c", "--seed", 6, "--no-figure").exit_code == 0
    assert content_digest(tmp_path / "c" / "timeseries.parquet") != content_digest(
        tmp_path / "a" / "timeseries.parquet")


def test_replicate_reruns_one_replicate_identically(small, tmp_path):
    invoke("run", small, "--out", tmp_path / "all", "--no-figure")
    result = invoke("run", small, "--out", tmp_path / "one", "--replicate", 1, "--no-figure")
    assert result.exit_code == 0, result.output
    full = pd.read_parquet(tmp_path / "all" / "runs.parquet")
    one = pd.read_parquet(tmp_path / "one" / "runs.parquet")
    pd.testing.assert_frame_equal(full[full.replicate == 1].reset_index(drop=True), one)
    ts_full = pd.read_parquet(tmp_path / "all" / "timeseries.parquet")
    ts_one = pd.read_parquet(tmp_path / "one" / "timeseries.parquet")
    pd.testing.assert_frame_equal(ts_full[ts_full.replicate == 1].reset_index(drop=True), ts_one)


def test_overrides_and_top_level_options(small, tmp_path):
    out = tmp_path / "o"
    result = invoke("run", small, "--out", out, "--no-figure", "--horizon", 12,
                    "--replicates", 2, "--set", "copy.kernel.type=cauchy",
                    "--set", "stop.on=[takeover]")
    assert result.exit_code == 0, result.output
    text = (out / "scenario.yaml").read_text()
    assert "horizon: 12" in text and "type: cauchy" in text and "- takeover" in text
    assert len(pd.read_parquet(out / "runs.parquet")) == 2


BAD_FILES = {
    "typo_key": ("agent:\n  capacty: 10\n", "agent.capacty: unknown key; did you mean 'agent.capacity'?"),
    "wrong_type": ("horizon: many\n", "horizon = 'many'"),
    "rate_above_one": ("copy:\n  error_rate: 1.5\n",
                       "copy.error_rate = 1.5: out of range (allowed: 0.0 <= value <= 1.0)"),
    "negative_rate": ("agent:\n  death_rate: -0.1\n", "agent.death_rate = -0.1"),
    "negative_size": ("agent:\n  initial_size: -5\n", "agent.initial_size = -5"),
    "even_redundancy": ("copy:\n  redundancy: 4\n", "copy.redundancy = 4: must be odd"),
    "zero_horizon": ("horizon: 0\n", "horizon = 0: out of range (allowed: 1 <= value <= 10^9)"),
    "unknown_kernel": ("copy:\n  kernel: {type: gaussian}\n", "copy.kernel.type = 'gaussian'"),
    "unknown_trait": ("copy:\n  traits: [drive, greed]\n", "copy.traits.1 = 'greed'"),
    "unknown_seed_trait": ("agent:\n  seed_clones: [{count: 1, traits: {greed: 1}}]\n",
                           "unknown trait 'greed'"),
    "unused_kernel_key": ("copy:\n  kernel: {type: cauchy, sd: 0.1}\n",
                          "key 'sd' is not used by kernel type 'cauchy'"),
    "bad_yaml": ("agent: [1, 2\n", "not valid YAML at line"),
    "not_a_mapping": ("- 1\n- 2\n", "must be a mapping"),
    "transmission_range": ("world:\n  transmission: 1.5\n",
                           "world.transmission = 1.5: out of range (allowed: 0.0 <= value <= 1.0)"),
    "reproduction_needs_income": ("world:\n  reproduction: {threshold: 10}\n",
                                  "world: reproduction.threshold needs world.income"),
    "cost_needs_income": ("immune:\n  cost: 0.2\n", "immune.cost needs world.income"),
    "max_agents_below_agents": ("world: {agents: 5, max_agents: 2}\n",
                                "max_agents (2) is below agents (5)"),
    "bad_reference": ("world:\n  reproduction: {reference: parent}\n",
                      "world.reproduction.reference = 'parent'"),
    "not_finite": ("copy:\n  kernel: {bias: .nan}\n",
                   "copy.kernel.bias = nan: must be a finite number"),
    "infinite": ("agent:\n  drive_advantage: .inf\n", "agent.drive_advantage = inf"),
    "huge_redundancy": ("copy:\n  redundancy: 1031\n",
                        "copy.redundancy = 1031: out of range (allowed: 1 <= value <= 99)"),
    "world_typo": ("world:\n  incom: 10\n", "world.incom: unknown key; did you mean 'world.income'?"),
    "stop_event": ("stop:\n  on: [armageddon]\n", "stop.on.0 = 'armageddon'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_scenario_gives_one_line_and_exit_2(case, tmp_path):
    text, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = invoke("run", path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {path}"), lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args,expected", [
    (["--set", "copy.error_rate=2"], "copy.error_rate = 2"),
    (["--set", "nonsense"], "expected key.path=value"),
    (["--set", "horizon.x=1"], "horizon is 40, not a section"),
    (["--replicate", "7"], "--replicate 7: the scenario has 3 replicates"),
])
def test_bad_options(small, tmp_path, args, expected):
    result = invoke("run", small, "--out", tmp_path / "o", *args)
    assert result.exit_code == 2
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_missing_scenario_file(tmp_path):
    result = invoke("run", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'nope.yaml'}: no such scenario file"


def test_unreadable_file(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    result = invoke("run", path)
    assert result.exit_code == 2 and "cannot read the file" in result.output


def test_missing_output_parent(small, tmp_path):
    result = invoke("run", small, "--out", tmp_path / "no" / "such" / "dir")
    assert result.exit_code == 2
    assert "parent folder" in result.output and "does not exist" in result.output


def test_unwritable_output_folder(small):
    # /proc refuses new files even to root, unlike a chmod-ed folder.
    result = invoke("run", small, "--out", "/proc")
    assert result.exit_code == 2
    assert result.output.startswith("error: output folder /proc: is not writable")


def test_output_path_is_a_file(small, tmp_path):
    result = invoke("run", small, "--out", small)
    assert result.exit_code == 2 and "not a folder" in result.output


def test_scenarios_lists_bundled_with_questions():
    import scenarios

    result = invoke("scenarios")
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == len(scenarios.names()) >= 6
    assert all("?" in line for line in lines)
    assert any(line.startswith("singleton_baseline ") for line in lines)


def test_console_script_end_to_end(small, tmp_path):
    """The installed ``substrate`` command, in a real process: no traceback."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    bad = subprocess.run([sys.executable, "-m", "substrate", "run", str(small), "--set",
                          "agent.escape_threshold=7"], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"error: {small}: agent.escape_threshold = 7: "
        "out of range (allowed: 0.0 <= value <= 1.0)"]
    ok = subprocess.run([sys.executable, "-m", "substrate", "run", str(small), "--horizon",
                         "5"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "results" / "small" / "manifest.json").is_file()


def test_unwritable_default_results_folder(small, tmp_path, monkeypatch):
    (tmp_path / "results").write_text("a file where the folder would go")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", small)
    assert result.exit_code == 2 and "give --out DIR" in result.output


def test_incomplete_output_folder_is_refused(small, tmp_path):
    out = tmp_path / "o"
    assert invoke("run", small, "--out", out).exit_code == 0
    (out / "manifest.json").unlink()  # as if the run had been killed mid-write
    result = invoke("summarize", out)
    assert result.exit_code == 2 and "has not finished" in result.output


# --- hostile input (issue 12): one line, exit 2, nothing written -------------

def _bomb(levels=9):
    lines = ["name: bomb", "l0: &l0 [lol]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines + [f"description: *l{levels - 1}"]) + "\n"


HOSTILE_FILES = {
    "alias_bomb": (_bomb(), "values (aliases counted expanded)"),
    "deep_list": ("name: d\ndescription: " + "[" * 5000 + "]" * 5000 + "\n",
                  "nested more than 32 levels deep"),
    "duplicate_section": ("name: d\nagent: {capacity: 10}\nagent: {initial_size: 5}\n",
                          "line 3, column 1: duplicate key 'agent' (first at line 2)"),
    "bool_rate": ("name: b\ncopy: {error_rate: true}\n",
                  "copy.error_rate = true: must be a number"),
    "bool_capacity": ("name: b\nagent: {capacity: true}\n",
                      "agent.capacity = true: must be a whole number"),
    "empty": ("# nothing but a comment\n", "empty scenario"),
    "capacity_1e19": ("name: c\nagent: {capacity: 10000000000000000000}\n",
                      "<= 10^12: counts are int64"),
    "capacity_1e18": ("name: c\nagent: {capacity: 1000000000000000000}\n", "<= 10^12"),
    "replicates_1e9": ("name: r\nreplicates: 1000000000\n", "replicates = 1000000000"),
    "replicates_1e12": ("name: r\nreplicates: 1000000000000\n", "<= 10^6"),
    "horizon_1e15": ("name: h\nhorizon: 1000000000000000\n", "<= 10^9"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_hostile_file_gives_one_line_and_exit_2(case, tmp_path):
    import time

    text, expected = HOSTILE_FILES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    started = time.perf_counter()
    result = invoke("run", path, "--out", tmp_path / "out")
    assert time.perf_counter() - started < 5
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.output
    assert expected in lines[0] and len(lines[0]) < 400
    assert not (tmp_path / "out").exists()


def test_dev_zero_gives_one_line():
    result = invoke("run", "/dev/zero")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: /dev/zero: not a regular file (a device, "
                                     "fifo or socket); give a scenario file")


@pytest.mark.parametrize("value", ["../escaped", "/tmp/anywhere", ".hidden"])
def test_name_cannot_leave_the_results_folder(small, tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", small, "--set", f"name={value}")
    assert result.exit_code == 2 and "a name is 1 to 100 letters" in result.output
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "results").exists()


def test_alias_bomb_through_set_gives_one_line(small, tmp_path):
    result = invoke("run", small, "--out", tmp_path / "o", "--set",
                    "description=" + _bomb().split("\n", 1)[1].replace("description: ", "d: "))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "aliases counted expanded" in result.output


def test_memory_budget_refuses_before_running(small, tmp_path):
    result = invoke("run", small, "--out", tmp_path / "o", "--max-memory", "1G",
                    "--set", "agent.capacity=1000000", "--set", "agent.initial_size=1000000",
                    "--set", "copy.error_rate=0.5", "--set", "record_every=1",
                    "--set", "horizon=100000")
    assert result.exit_code == 2, result.output
    line, = result.output.strip().splitlines()
    assert line.startswith(f"error: {small}: the run needs an estimated ")
    assert "more than the budget given (1 GiB)" in line and "record_clones: false" in line
    assert not (tmp_path / "o").exists()


def test_memory_budget_lets_a_small_run_through(small, tmp_path):
    result = invoke("run", small, "--out", tmp_path / "o", "--max-memory", "2G")
    assert result.exit_code == 0, result.output


def test_bad_memory_size(small, tmp_path):
    result = invoke("run", small, "--out", tmp_path / "o", "--max-memory", "lots")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: memory size 'lots': expected")


def test_sweep_memory_budget(small, tmp_path):
    path = tmp_path / "sw.yaml"
    path.write_text(SMALL + "sweep: {grid: {copy.error_rate: [0.0, 0.5]}}\n")
    result = invoke("sweep", path, "--out", tmp_path / "o", "--max-memory", "2G",
                    "--set", "record_every=1", "--set", "horizon=1000000",
                    "--set", "replicates=100000")
    assert result.exit_code == 2, result.output
    line, = result.output.strip().splitlines()
    assert "the sweep needs an estimated" in line and "more than the budget given (2 GiB)" in line
    assert "most of it is timeseries" in line and "raise record_every" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["run", "singleton_baseline", "--threads", "0"], "'--threads': 0 is not in the range"),
    (["run", "singleton_baseline", "--bogus"], "No such option '--bogus'"),
    (["run"], "Missing argument 'SCENARIO'"),
    (["bogus"], "No such command 'bogus'"),
])
def test_a_bad_option_is_one_error_line(args, message):
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_an_unforeseen_exception_is_one_line_and_its_traceback_on_demand(tmp_path,
                                                                          monkeypatch):
    """A bug (an exception no check foresaw) is one line naming it as a bug,
    exit status 2; SUBSTRATE_DEBUG=1 lets its traceback through."""
    import substrate.commands

    def broken(*args, **kwargs):
        raise AttributeError("'list' object has no attribute 'get'")

    monkeypatch.setattr(substrate.commands, "summarize_command", broken)
    monkeypatch.delenv("SUBSTRATE_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["summarize", str(tmp_path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.output == ("error: unexpected failure, a bug in substrate (AttributeError: "
                             "'list' object has no attribute 'get'); please report it with "
                             "the command line (SUBSTRATE_DEBUG=1 shows the traceback)\n")
    monkeypatch.setenv("SUBSTRATE_DEBUG", "1")
    result = CliRunner().invoke(cli, ["summarize", str(tmp_path)])
    assert isinstance(result.exception, AttributeError)
