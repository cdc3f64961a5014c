"""Hostile and mistaken input (issue 12): each gives one ScenarioError line
naming the file, the key, a short excerpt of the value and what is allowed,
within seconds and bounded memory."""

import math
import os
import resource
import subprocess
import sys
import time

import pytest

from simulation.budget import (check_memory, check_sweep_memory, estimate_memory,
                               format_bytes, parse_size)
from simulation.errors import ScenarioError
from simulation.loading import (EXCERPT, MAX_DEPTH, MAX_FILE_BYTES, excerpt,
                                parse_override, read_yaml, safe_load)
from simulation.scenario import Scenario, load_scenario, safe_name

OK = "name: ok\nhorizon: 20\nreplicates: 2\nagent: {capacity: 400, initial_size: 200}\n"


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path, text, overrides=(), name="s.yaml"):
    """The one-line message that loading ``text`` gives."""
    path = write(tmp_path, text, name)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, list(overrides))
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    return message


def alias_bomb(levels=9, width=9):
    """A 'billion laughs' document: width**levels strings from a few lines."""
    lines = ["name: bomb", "l0: &l0 [lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"description: [" + ", ".join([f"*l{levels - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# --- the YAML reader -------------------------------------------------------

def test_alias_bomb_is_refused_while_reading(tmp_path):
    started = time.perf_counter()
    message = error_of(tmp_path, alias_bomb())
    assert time.perf_counter() - started < 2
    assert "refused" in message and "aliases counted expanded" in message and "line" in message


def test_alias_bomb_through_the_cli_within_time_and_memory(tmp_path):
    """The whole command in a process limited to 3 GiB and 60 s of CPU."""
    path = write(tmp_path, alias_bomb())

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))

    for args in (["run", str(path)],
                 ["run", str(write(tmp_path, OK, "ok.yaml")), "--set",
                  "description=" + alias_bomb().replace("\n", "\n")]):
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "substrate", *args, "--out",
                               str(tmp_path / "out")], capture_output=True, text=True,
                              preexec_fn=limits, timeout=120, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
        assert "aliases counted expanded" in lines[0] or "alias uses" in lines[0]
        assert time.perf_counter() - started < 60


def test_many_aliases_are_refused():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 200) + "]\n"
    with pytest.raises(ScenarioError, match="more than 100 alias uses"):
        safe_load(text, "f.yaml")


def test_a_few_aliases_and_merge_keys_still_work():
    data = safe_load("base: &b {sd: 0.1}\nk: {<<: *b, sd: 0.2}\nl: *b\n")
    assert data["k"] == {"sd": 0.2} and data["l"] == {"sd": 0.1}


@pytest.mark.parametrize("text", ["description: " + "[" * 5000 + "]" * 5000,
                                  "description:\n" + "".join(" " * i + "- \n"
                                                             for i in range(200))])
def test_deep_nesting_is_refused(tmp_path, text):
    message = error_of(tmp_path, "name: deep\n" + text + "\n")
    assert f"nested more than {MAX_DEPTH} levels deep" in message


def test_nesting_within_the_limit_is_read():
    assert safe_load("a: " + "[" * 10 + "]" * 10) == {"a": [[[[[[[[[[]]]]]]]]]]}


@pytest.mark.parametrize("text, key, first", [
    ("name: a\nhorizon: 5\nhorizon: 6\n", "'horizon'", 2),
    ("agent: {capacity: 10}\nhorizon: 5\nagent: {initial_size: 5}\n", "'agent'", 1),
    ("agent:\n  capacity: 10\n  capacity: 20\n", "'capacity'", 2),
])
def test_duplicate_keys_are_refused(tmp_path, text, key, first):
    message = error_of(tmp_path, text)
    assert f"duplicate key {key} (first at line {first})" in message
    assert message.startswith(str(tmp_path / "s.yaml"))


def test_dev_zero_is_refused_at_once():
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario("/dev/zero")
    assert time.perf_counter() - started < 1


def test_fifo_and_folder_are_refused(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        read_yaml(fifo)  # would block forever if it were opened for a plain read
    with pytest.raises(ScenarioError, match="is a folder"):
        read_yaml(tmp_path)
    with pytest.raises(ScenarioError, match="no such scenario file"):
        read_yaml(tmp_path / "missing.yaml")


def test_oversize_file_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndescription: " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ScenarioError, match="larger than 256 KiB"):
        read_yaml(path)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n", "{}\n",
                                  "---\n"])
def test_empty_scenario_is_an_error(tmp_path, text):
    assert "empty scenario" in error_of(tmp_path, text)


def test_unreadable_scalars_are_one_line(tmp_path):
    assert "a value cannot be read" in error_of(tmp_path, "seed: !!timestamp 2001-13-45\n")
    assert "a value cannot be read" in error_of(tmp_path, "seed: " + "7" * 5000 + "\n")
    assert "not valid YAML" in error_of(tmp_path, "seed: !!python/object:os.system x\n")


def test_numbers_are_yaml_1_2():
    """YAML 1.2's core schema; a leading zero (12 in YAML 1.2, octal 10 in
    YAML 1.1) stays text, so that it is refused rather than read otherwise
    by one of the two."""
    data = safe_load("a: 1e-4\nb: 1e6\nc: 0123\nd: 1:30\ne: no\nf: 0x10\ng: 1_000\n"
                     "h: 0o17\ni: 2024-06-01\nj: .5\nk: -.inf\nl: 0b101\nm: 1_000.5\n"
                     "n: On\no: 1.\np: +7\nq: ~\nr: =\n")
    assert data == {"a": 1e-4, "b": 1e6, "c": "0123", "d": "1:30", "e": "no", "f": 16,
                    "g": "1_000", "h": 15, "i": "2024-06-01", "j": 0.5, "k": -math.inf,
                    "l": "0b101", "m": "1_000.5", "n": "On", "o": 1.0, "p": 7, "q": None,
                    "r": "="}


@pytest.mark.parametrize("text, expected", [
    ("agent: {capacity: 1_000}", "agent.capacity = '1_000': must be a whole number "
     "(1 <= value <= 10^12), not text ('1_000' is 1000 in YAML 1.1 only; scenario files "
     "are YAML 1.2: write 1000)"),
    ("copy: {error_rate: 1_0.5e-3}", "copy.error_rate = '1_0.5e-3': must be a number "
     "(0.0 <= value <= 1.0), not text ('1_0.5e-3' is 0.0105 in YAML 1.1 only"),
    ("agent: {capacity: 012}", "agent.capacity = '012': must be a whole number (1 <= value "
     "<= 10^12), not text ('012' is 10 in YAML 1.1 (octal) and 12 in YAML 1.2: write 12, "
     "or 0o12 for octal 10)"),
    ("horizon: 1:20", "horizon = '1:20': must be a whole number (1 <= value <= 10^9), not "
     "text ('1:20' is 80 in YAML 1.1 only; scenario files are YAML 1.2: write 80)"),
    ("horizon: 0b101", "('0b101' is 5 in YAML 1.1 only; scenario files are YAML 1.2: "
     "write 5)"),
    ("record_clones: yes", "record_clones = 'yes': must be true or false, not text ('yes' "
     "is true in YAML 1.1 only; scenario files are YAML 1.2: write true)"),
    ("record_clones: Off", "not text ('Off' is false in YAML 1.1 only; scenario files are "
     "YAML 1.2: write false)"),
    ("horizon: yes", "horizon = 'yes': must be a whole number (1 <= value <= 10^9), not "
     "text (write numbers without quotes)"),  # no boolean suggested for a number
])
def test_yaml_1_1_readings_are_refused_with_what_to_write(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text + "\n")


def test_yaml_1_2_text_is_kept_where_text_is_allowed(tmp_path):
    sc = load_scenario(write(tmp_path, "name: 2024-06-01\ndescription: yes\n"))
    assert sc.name == "2024-06-01" and sc.description == "yes"


# --- types and bounds --------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("copy: {error_rate: true}", "copy.error_rate = true: must be a number (0.0 <= value "
                                 "<= 1.0), not true/false"),
    ("agent: {capacity: true}", "agent.capacity = true: must be a whole number"),
    ("agent: {capacity: '100'}", "agent.capacity = '100': must be a whole number"),
    ("copy: {error_rate: '0.5'}", "not text (write numbers without quotes)"),
    ("agent: {capacity: 10.5}", "agent.capacity = 10.5: must be a whole number"),
    ("record_clones: 1", "record_clones = 1: must be true or false, not int"),
    ("record_clones: 'yes'", "must be true or false"),
    ("name: 12", "name = 12: must be text"),
    ("agent: 5", "agent = 5: must be a section"),
])
def test_no_silent_coercion(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text + "\n")


def test_integral_numbers_are_integers_and_integers_are_numbers(tmp_path):
    sc = load_scenario(write(tmp_path, OK + "copy: {error_rate: 0, redundancy: 3.0}\n"
                             "world: {agents: 2e0}\n"))
    assert sc.copy.error_rate == 0.0 and isinstance(sc.copy.error_rate, float)
    assert sc.copy.redundancy == 3 and isinstance(sc.copy.redundancy, int)
    assert sc.world.agents == 2 and isinstance(sc.world.agents, int)


@pytest.mark.parametrize("text, expected", [
    ("agent: {capacity: 10000000000000000000}", "<= 10^12: counts are int64"),
    ("agent: {capacity: 1000000000000000000}", "<= 10^12: counts are int64"),
    ("agent: {initial_size: 1e13}", "agent.initial_size = 10000000000000.0: out of range"),
    ("replicates: 1000000000", "replicates = 1000000000: out of range (allowed: 1 <= value"
                               " <= 10^6: every replicate's results are held"),
    ("replicates: 1000000000000", "<= 10^6"),
    ("horizon: 1000000000000000", "horizon = 1000000000000000: out of range (allowed: "
                                  "1 <= value <= 10^9"),
    ("record_every: 1e10", "<= 10^9"),
    ("world: {agents: 10000000}", "world.agents = 10000000: out of range (allowed: 1 <= value"
                                  " <= 10^6: every agent has its own arrays"),
    ("world: {income: 1, reproduction: {threshold: 5, bottleneck: 1e13}}",
     "world.reproduction.bottleneck"),
    ("copy: {mutator_strength: 1000}", "<= 100.0: exp(100)"),
    ("landscape: {type: rugged, peaks: 10000000000}", "landscape.peaks"),
    ("seed: 9223372036854775808", "seed = 9223372036854775808: out of range"),
    ("world: {agents: 100000}\nagent: {capacity: 1000000000000, escape_headroom: 100}",
     "x agent.escape_headroom (100) = 1e+19 subcomponents could exceed 2^62"),
    ("sweep: {grid: {copy.error_rate: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],"
     " agent.birth_rate: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], agent.death_rate: [0, 0.1, 0.2, 0.3,"
     " 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], immune.surveillance: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6,"
     " 0.7, 0.8, 0.9], immune.efficacy: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]}}",
     "sweep.grid: 110000 points (the product of the list lengths); at most 10^5"),
])
def test_numbers_beyond_what_can_run_are_refused(tmp_path, text, expected):
    assert expected in error_of(tmp_path, "name: big\n" + text + "\n")


@pytest.mark.parametrize("text, expected", [
    ("true: 1", "(top level): key true must be text"),
    ("agent: {3.5: 1}", "agent: key 3.5 must be text"),
    ("name: x\nsweep: {grid: {1: [1]}}", "sweep.grid: key 1 must be text"),
])
def test_keys_must_be_text(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text + "\n")


def test_a_file_name_too_long_is_one_line(tmp_path):
    from substrate.commands import resolve_scenario

    with pytest.raises(ScenarioError, match="File name too long"):
        load_scenario(resolve_scenario("a" * 5000))


@pytest.mark.parametrize("text, expected", [
    ("agent: {seed_clones: [{count: true}]}",
     "agent.seed_clones.0.count = true: must be a whole number (1 <= value <= 10^12)"),
    ("sweep: {random: {n: 1e9, ranges: {copy.error_rate: {low: 0, high: 1}}}}",
     "sweep.random.n = 1000000000.0: out of range (allowed: 1 <= value <= 10^5: every sweep"),
    ("stop: {on: takeover}", "stop.on = 'takeover': must be a list, not text"),
    ("agent: {seed_clones: [{cont: 1}]}", "agent.seed_clones.0.cont: unknown key; did you "
                                          "mean 'agent.seed_clones.0.count'?"),
    ("sweep: {random: {n: 5, ranges: {copy.error_rate: {low: 0, hgh: 1}}}}",
     "ranges.copy.error_rate.hgh: unknown key; did you mean"),
])
def test_messages_inside_lists_and_optional_sections(tmp_path, text, expected):
    """Bounds and hints reach keys inside lists, mappings and optional
    sections; a typo is reported before the missing key it causes."""
    assert expected in error_of(tmp_path, "name: x\n" + text + "\n")


# --- names and excerpts --------------------------------------------------------

@pytest.mark.parametrize("name", ["../escaped", "/tmp/anywhere", ".hidden", "a/b", "",
                                  "x" * 101, "spa ce"])
def test_name_is_a_file_name(tmp_path, name):
    message = error_of(tmp_path, OK, [f"name={name}"] if name else ["name=''"])
    assert "a name is 1 to 100 letters, digits" in message


def test_default_name_is_a_safe_file_stem(tmp_path):
    sc = load_scenario(write(tmp_path, "horizon: 20\n", "my scenario (v2).yaml"))
    assert sc.name == "my_scenario__v2_"
    assert safe_name("...") == "scenario" and safe_name(".x") == "x"


@pytest.mark.parametrize("text", [
    "description: [" + ", ".join(["long value " * 20] * 50) + "]",
    "agent: {capacity: '" + "9" * 10000 + "'}",
    "agent: {" + "k" * 5000 + ": 1}",
    "copy: {traits: [" + "x" * 5000 + "]}",
    "sweep: {grid: {" + "q" * 5000 + ": [1]}}",
])
def test_messages_quote_only_an_excerpt(tmp_path, text):
    message = error_of(tmp_path, "name: x\n" + text + "\n")
    longest_run = max(len(word) for word in message.replace("'", " ").split())
    assert longest_run <= EXCERPT + len(str(tmp_path)) + 20, message


def test_excerpt_is_short_for_huge_and_shared_values():
    shared = ["x" * 1000]
    for _ in range(30):
        shared = [shared] * 9  # 9**30 leaves, printed in no time
    started = time.perf_counter()
    for value in (shared, "y" * 10**6, {str(i): i for i in range(10**5)}, 10**4000, True):
        assert len(excerpt(value)) <= EXCERPT
    assert time.perf_counter() - started < 1
    assert excerpt(True) == "true" and excerpt(None) == "null"


# --- overrides -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("nonsense", "expected key.path=value"),
    ("a..b=1", "empty key path"),
    (".".join(["a"] * 20) + "=1", "a key path is up to 8 dotted names"),
    ("copy.error rate=1", "a key path is up to 8 dotted names"),
    ("description=" + "[" * 5000, "nested more than 32 levels deep"),
    ("description=" + alias_bomb().replace("\n", "\n"), "refused"),
    ("horizon=" + "1" * 300000, "longer than 256 KiB"),
])
def test_override_limits(text, expected):
    with pytest.raises(ScenarioError, match=expected.replace("(", r"\(")) as info:
        parse_override(text)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert "--set" not in str(info.value)  # library messages name no flag


def test_override_types_are_strict(tmp_path):
    assert "copy.error_rate = true: must be a number" in error_of(
        tmp_path, OK, ["copy.error_rate=true"])
    assert "horizon is 20, not a section" in error_of(tmp_path, OK, ["horizon.x=1"])


# --- the memory budget -------------------------------------------------------------

def test_estimate_grows_with_what_it_counts():
    base = Scenario(name="x")
    e = estimate_memory(base)
    assert e["total"] == sum(e[k] for k in ("clone_slots", "lineage", "clone_counts",
                                            "timeseries", "agents", "runs", "base"))
    more_errors = estimate_memory(base.model_copy(update={"copy": base.copy.model_copy(
        update={"error_rate": 0.1})}))
    assert more_errors["clones_founded"] > 100 * e["clones_founded"]
    no_lineage = estimate_memory(base.model_copy(update={"record_clones": False}))
    assert no_lineage["lineage"] == 0 and no_lineage["total"] < e["total"]
    dense = estimate_memory(base.model_copy(update={"record_every": 1}))
    assert dense["records"] == 1002 and dense["timeseries"] > 9 * e["timeseries"]
    multi = Scenario(name="m", world={"agents": 10})
    assert estimate_memory(multi)["agents"] > 0 and e["agents"] == 0


def test_estimate_is_the_right_order_for_the_clones_founded():
    """Births (one per death at capacity) times P(a newborn mutates)."""
    sc = Scenario(name="x", horizon=100, agent={"capacity": 1000, "initial_size": 1000,
                                                "birth_rate": 0.1},
                  copy={"error_rate": 0.01, "traits": ["drive"]})
    e = estimate_memory(sc)
    assert e["clones_per_tick"] == pytest.approx(1000 * 0.05 * 0.01)
    assert e["clones_founded"] == pytest.approx(1 + 100 * 0.5)
    lifetime = (1 + math.log(1 + 0.05 * 100)) / 0.05
    assert e["clones_alive"] == pytest.approx(1 + 0.5 * lifetime)


@pytest.mark.parametrize("update, advice", [
    ({"agent": {"capacity": 10**6, "initial_size": 10**6}, "copy": {"error_rate": 0.3},
      "record_every": 1}, "set record_clones: false"),
    ({"horizon": 10**9, "record_every": 1, "record_clones": False},
     "raise record_every, or lower replicates or horizon"),
    ({"agent": {"capacity": 10**12}, "record_clones": False},
     "lower agent.capacity, copy.error_rate"),
])
def test_memory_budget_refuses_with_estimate_and_advice(update, advice):
    sc = Scenario(name="x", **update)
    with pytest.raises(ScenarioError) as info:
        check_memory(sc, max_memory=4 * 2**30)
    message = str(info.value)
    assert message.startswith("x: the run needs an estimated ") and advice in message
    assert "more than the budget given (4 GiB)" in message


def test_memory_budget_lets_small_runs_through():
    estimate = check_memory(Scenario(name="x"), max_memory=2**30)
    assert estimate["total"] < 2**30
    check_memory(Scenario(name="x"))  # the default budget: half the machine


def test_sweep_budget_counts_workers_and_the_loaded_summary():
    # The driver holds one point's time series at a time (2 x 1000 x 1001 x
    # 26 x 8 bytes = 416 MB here, with 300 MB of base), however many points.
    points = [Scenario(name="s", replicates=1000, horizon=1000, record_every=1)] * 100
    with pytest.raises(ScenarioError, match="the sweep needs an estimated"):
        check_sweep_memory(points, max_memory=600 * 2**20)
    from simulation.budget import RUN_ROW_BYTES

    many = check_sweep_memory(points, max_memory=2**31)["total"]
    few = check_sweep_memory(points[:3], max_memory=2**31)["total"]
    assert many - few == pytest.approx(97 * 1000 * RUN_ROW_BYTES)  # only the runs table grows
    small = [Scenario(name="s")] * 3
    one = check_sweep_memory(small, max_memory=2**33, workers=1)["total"]
    four = check_sweep_memory(small, max_memory=2**33, workers=4)["total"]
    assert four > 3 * one
    with pytest.raises(ScenarioError, match="use fewer workers"):
        check_sweep_memory(small, max_memory=2**30, workers=8)


@pytest.mark.parametrize("text, value", [("4G", 4 * 2**30), ("512M", 512 * 2**20),
                                         ("1.5GiB", 3 * 2**29), ("2097152", 2**21),
                                         ("3 gb", 3 * 2**30)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "four", "4X", "-1G", "10", "2E"])
def test_parse_size_refuses(text):
    with pytest.raises(ScenarioError, match="memory size"):
        parse_size(text)


def test_format_bytes():
    assert format_bytes(3 * 2**30) == "3 GiB" and format_bytes(500) == "500 B"
    assert format_bytes(1e30) == "more than 1000 PiB"


@pytest.mark.parametrize("text", [
    "name: x\ndescription: [" + ",".join(["1"] * 120000) + "]\n",
    "name: x\ncopy:\n  traits:\n" + "".join("  - q\n" for _ in range(40000)),
])
def test_long_lists_are_refused_as_soon_as_they_pass_the_limit(tmp_path, text):
    started = time.perf_counter()
    assert "more than 10000 values" in error_of(tmp_path, text)
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("text", ["1e6", "0o17", "no", "on", "1e-4", "0123", "1:30", "null",
                                  "true", "", ".inf", "x: y"])
def test_resolved_scenario_reads_back_the_same(tmp_path, text):
    """scenario.yaml quotes what either YAML reader would not read as text."""
    import yaml

    from simulation.scenario import to_yaml

    sc = Scenario(name="1e6" if text == "" else "n", description=text)
    dumped = to_yaml(sc)
    assert yaml.safe_load(dumped)["description"] == text
    again = load_scenario(write(tmp_path, dumped), resolve_seed=False)
    assert again == sc
