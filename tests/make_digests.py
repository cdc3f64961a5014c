"""Content digests of seeded outputs: what a refactoring must leave bit for bit.

Every bundled scenario runs with a fixed seed at a short horizon and a few
replicates (a sweep: its first, middle and last points), and each output
table (runs, timeseries, clones, clone_counts, agents, as the writer gets
them from :class:`simulation.run.RunResult`) is hashed by content: column
names, dtypes and values, not file bytes (which carry run ids, times and
versions). A small study (``simulation.study``) and the pieces of a small
gradual study (``simulation.gradual``), a small splitting estimate
(``simulation.risk``) and the validation tier's quick checks at fewer
replicates are hashed too.

``tests/test_digests.py`` compares these digests with ``tests/data/digests.json``.
Regenerate the file only when a change is meant to alter seeded numbers (and
say so in its commit)::

    python -m tests.make_digests            # writes tests/data/digests.json
    python -m tests.make_digests --check    # prints the cases that differ
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

PATH = Path(__file__).resolve().parent / "data" / "digests.json"

SEED = 20261204
REPLICATES = 3
HORIZON = 300
SWEEP_HORIZON = 1000
RECORD_EVERY = 10
SWEEP_REPLICATES = 2
TABLES = ("runs", "timeseries", "clones", "clone_counts", "agents")


def frame_digest(df: pd.DataFrame) -> str:
    """SHA-256 of a table's content: row count, then each column's name,
    dtype and values (numeric columns by their bytes, others by repr)."""
    h = hashlib.sha256(f"rows={len(df)}".encode())
    for name in df.columns:
        column = df[name]
        h.update(f"|{name}:{column.dtype}|".encode())
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufc":
            h.update(np.ascontiguousarray(column.to_numpy()).tobytes())
        else:
            h.update("\x1f".join(repr(v) for v in column.to_numpy(dtype=object)).encode())
    return h.hexdigest()


def value_digest(value) -> str:
    """SHA-256 of a JSON-able value (floats by repr: exact)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=repr).encode()).hexdigest()


def _run_digests(scenario, point: int = 0, seeds: int | None = None) -> dict:
    from simulation import run_scenario

    result = run_scenario(scenario, point=point, show_progress=False, seed_point=seeds)
    return {name: frame_digest(getattr(result, name)) for name in TABLES
            if getattr(result, name) is not None}


def scenario_cases() -> dict:
    """Case name -> a function returning that case's digests, one per
    bundled scenario (and per chosen sweep point)."""
    import scenarios
    from simulation import load_scenario

    cases = {}
    for name in scenarios.names():
        def case(name=name):
            sc = load_scenario(scenarios.path(name), seed=SEED, replicates=REPLICATES,
                               horizon=HORIZON, record_every=RECORD_EVERY)
            return _run_digests(sc)
        cases[f"scenario/{name}"] = case
        sc = load_scenario(scenarios.path(name), seed=SEED)
        if sc.sweep is not None:
            from simulation.sweep import design_values
            n = len(design_values(sc))
            for point in sorted({0, n // 2, n - 1}):
                def sweep_case(name=name, point=point):
                    from simulation.sweep import point_scenarios, seed_point
                    base = load_scenario(scenarios.path(name), seed=SEED,
                                         replicates=SWEEP_REPLICATES, horizon=SWEEP_HORIZON,
                                         record_every=RECORD_EVERY)
                    return _run_digests(point_scenarios(base)[point], point,
                                        seed_point(base, point))
                cases[f"sweep/{name}/{point}"] = sweep_case
    return cases


def study_case() -> dict:
    """A few founded lineages of the study in defence_scaling (simulation.study)."""
    import scenarios
    from simulation import load_scenario
    from simulation.study import simulate_lineages

    base = load_scenario(scenarios.path("defence_scaling"), seed=SEED)
    out = simulate_lineages(base, 1000, 999, 0.9, "immune.efficacy", [0.0, 0.2],
                            paths=20, horizon=200, seed=SEED)
    return {"lineages": value_digest(out)}


def gradual_case() -> dict:
    """The gradual study's pieces on defence_flagship at capacity 2000
    (simulation.gradual): at two values, the background (2 replicates, 300
    ticks), its founders (1 per stratum) and their lineages (4 particles,
    100 ticks)."""
    import scenarios
    from analysis.scaling import sized
    from simulation import load_scenario
    from simulation.gradual import study_size

    base = load_scenario(scenarios.path("defence_flagship"), [
        "study.horizons=[100,300]", "study.simulate.values=[0.2,0.3]",
        "study.simulate.founders=1", "study.simulate.particles=4",
        "study.simulate.horizon=100", "study.simulate.background.replicates=2",
        "study.simulate.background.horizon=300", "study.simulate.background.every=50"],
        seed=SEED)
    points = study_size(sized(base, 2000), base.study, SEED)["points"]
    return {part: value_digest([point[part] for point in points])
            for part in ("background", "founders", "lineages")}


def risk_case() -> dict:
    """Two repetitions of a small splitting estimate (simulation.risk)."""
    import scenarios
    from simulation import load_scenario
    from simulation.risk import risk_scenario, run_repeat

    sc = load_scenario(scenarios.path("singleton_baseline"), seed=SEED, horizon=60)
    data = risk_scenario(sc, "takeover").model_dump(mode="json")

    def repeat(k, score):  # (its wall-clock and CPU seconds, fields added since aside)
        out = run_repeat(data, "takeover", "splitting", 8, SEED, k, score)
        out.pop("seconds"), out.pop("cpu_seconds"), out.pop("first_generation_hits")
        out.pop("hit_ticks")
        return value_digest(out)

    # The fraction score (the default until the lineage score) keeps the
    # digests of its time; the lineage score is pinned as well.
    return {**{f"repeat{k}": repeat(k, "fraction") for k in range(2)},
            **{f"lineage{k}": repeat(k, "lineage") for k in range(2)}}


def bound_case() -> dict:
    """A clone above 2^17 members (the tick that leaves the compiled loop,
    driver.FAST_LIMIT), with and without copy errors."""
    import scenarios
    from simulation import load_scenario

    out = {}
    for rate in (0.0, 0.001):
        for clones in (True, False):  # World.advance; run_batch
            sc = load_scenario(scenarios.path("singleton_baseline"), seed=SEED, replicates=2,
                               horizon=20, record_every=5, record_clones=clones,
                               overrides=["agent.initial_size=135000", "agent.capacity=270000",
                                          f"copy.error_rate={rate}"])
            out.update({f"{rate}/{clones}/{k}": v for k, v in _run_digests(sc).items()})
    return out


def _fewer(fn, kwargs: dict) -> dict:
    kwargs = dict(kwargs)
    if fn.__name__ == "mutation_selection_balance":
        kwargs.update(replicates=min(kwargs["replicates"], 20), burn_in=60, generations=60)
    if "replicates" in kwargs:
        kwargs["replicates"] = min(kwargs["replicates"], 2000)
    if "size" in kwargs:
        kwargs["size"] = min(kwargs["size"], 20000)
    return kwargs


def validation_cases() -> dict:
    """The validation tier's quick checks (analysis.validation.plan) at
    fewer replicates: their results but the time taken."""
    from analysis import validation

    cases = {}
    for k, (fn, kwargs) in enumerate(validation.plan("quick")):
        def case(fn=fn, kwargs=kwargs):
            result = dataclasses.asdict(fn(**_fewer(fn, kwargs)))
            result.pop("seconds", None)
            return {"result": value_digest(result)}
        cases[f"validation/{k}-{fn.__name__}"] = case
    return cases


def cases() -> dict:
    return {**scenario_cases(), "study/defence_scaling": study_case,
            "gradual/defence_flagship": gradual_case,
            "risk/singleton_baseline": risk_case, "bound/singleton_baseline": bound_case,
            **validation_cases()}


def compute(only=None) -> dict:
    return {name: case() for name, case in cases().items() if only is None or name in only}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    digests = compute()
    if "--check" in argv:
        stored = json.loads(PATH.read_text())
        differ = [k for k in sorted(set(stored) | set(digests)) if stored.get(k) != digests.get(k)]
        for k in differ:
            print("differs:", k)
        return 1 if differ else 0
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    print(f"{len(digests)} cases -> {PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
