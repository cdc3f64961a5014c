"""Fuzzing the input side: random YAML documents and random overrides give
either a valid Scenario or one short ScenarioError line, never any other
exception, and each quickly."""

import string
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulation.errors import ScenarioError
from simulation.scenario import Scenario, key_rows, load_scenario

MAX_MESSAGE = 500
DEFAULTS = {path: default for path, _, default, _ in key_rows()}
PATHS = list(DEFAULTS)
SECTIONS = sorted({p.split(".")[0] for p in PATHS})

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**70, max_value=2**70),
    st.sampled_from([0, 1, 2, 3, 10**12, 10**13, 2**63, -1, 10**19]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 0.5, 1.0, 1.5, 1e-4, 1e6, 1e300]),
    st.text(max_size=30),
    st.sampled_from(["true", "yes", "no", "1e-4", "0x10", "../x", "/abs", ".hidden",
                     "normal", "cauchy", "takeover", "drive", "birth_death"]),
)
keys = st.one_of(st.sampled_from(SECTIONS), st.sampled_from([p.split(".")[-1] for p in PATHS]),
                 st.text(max_size=12), st.integers(-5, 5), st.booleans(), st.none(),
                 st.floats(allow_nan=False))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=20)


def nest(path: str, value):
    """{'a': {'b': value}} for 'a.b'."""
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


@st.composite
def scenario_like(draw):
    """A mapping built from real key paths, some with odd values."""
    data = {}
    for path in draw(st.lists(st.sampled_from(PATHS), max_size=6)):
        node = data
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:  # mostly valid values, so that valid scenarios come up too
            valid = DEFAULTS[path]
            node[parts[-1]] = draw(st.one_of(st.just(valid), st.just(valid), values))
    return data


def dumped(data) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


raw_yaml = st.text(alphabet=string.printable + "&*!|>-[]{}:,#'\"%@`", max_size=200)
deep = st.integers(1, 3000).map(lambda n: "description: " + "[" * n + "]" * n + "\n")


@st.composite
def aliased(draw):
    """Anchors and aliases, some nested into a bomb."""
    width = draw(st.integers(1, 12))
    levels = draw(st.integers(1, 10))
    lines = ["name: a", "l0: &l0 [" + draw(st.sampled_from(["x", "1", "true", "{}"])) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    key = draw(st.sampled_from(["description", "horizon", "agent", "copy.traits", "x"]))
    lines.append(f"{key}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


documents = st.one_of(scenario_like().map(dumped), values.map(dumped), raw_yaml, deep,
                      aliased(),
                      st.tuples(scenario_like().map(dumped), scenario_like().map(dumped))
                      .map("".join))  # may repeat keys

FOLDER = Path(tempfile.mkdtemp(prefix="substrate-fuzz-"))
FUZZ = settings(max_examples=300, deadline=3000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check(call):
    """call() returns a Scenario or raises one short ScenarioError line."""
    try:
        result = call()
    except ScenarioError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        assert len(message) <= MAX_MESSAGE, message
        assert "Traceback" not in message
        return None
    assert isinstance(result, Scenario)
    return result


@FUZZ
@given(documents)
@example(text="? '\n\n'")  # an unknown key that is a newline (found by this test in CI)
def test_random_documents_load_or_fail_in_one_line(text):
    path = FOLDER / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(lambda: load_scenario(path, resolve_seed=False))


override_text = st.one_of(
    st.tuples(st.sampled_from(PATHS + ["x.y", "agent.capacity.x", "a..b"]),
              st.one_of(values.map(lambda v: yaml.safe_dump(v).strip()
                                   .replace("\n", " ")), raw_yaml, deep, aliased()))
    .map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.text(max_size=60),
)


@FUZZ
@given(st.lists(override_text, min_size=1, max_size=3))
def test_random_overrides_load_or_fail_in_one_line(overrides):
    path = FOLDER / "base.yaml"
    path.write_text("name: base\nhorizon: 20\nagent: {capacity: 400, initial_size: 200}\n")
    check(lambda: load_scenario(path, overrides, resolve_seed=False))


@FUZZ
@given(scenario_like())
def test_valid_results_round_trip(data):
    """Whatever is accepted is dumped and accepted again unchanged."""
    data.setdefault("name", "x")
    path = FOLDER / "rt.yaml"
    path.write_text(dumped(data))
    scenario = check(lambda: load_scenario(path, resolve_seed=False))
    if scenario is not None:
        again = Scenario.model_validate(scenario.model_dump(mode="json"))
        assert again == scenario
