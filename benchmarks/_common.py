"""Shared helpers of the benchmark scripts: timing, peak memory, JSON output."""

from __future__ import annotations

import importlib.util
import os
import platform
import resource
import sys
from pathlib import Path

from simulation.io import write_json

HERE = Path(__file__).resolve().parent


def from_tests(name: str):
    """A helper module of ``tests/`` (e.g. the naive reference ``naive_mesa``),
    loaded from its file: the benchmarks run as scripts
    (``python benchmarks/X.py``) and leave ``sys.path`` alone."""
    spec = importlib.util.spec_from_file_location(f"tests.{name}",
                                                  HERE.parent / "tests" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform()}


def report(name: str, result: dict, out: str | None) -> None:
    """Print the result and write it as JSON (default benchmarks/results/NAME.json)."""
    result = {"benchmark": name, **result, "machine": machine()}
    path = Path(out) if out else HERE / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(result, path)  # atomically, like every output
    for key, value in result.items():
        if key != "machine":
            print(f"{key:>28}: {value}")
    print(f"{'written':>28}: {path}", file=sys.stderr)
