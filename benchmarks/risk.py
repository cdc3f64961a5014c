"""Benchmark: adaptive multilevel splitting against direct Monte Carlo.

    PYTHONPATH=. python benchmarks/risk.py [--particles 100] [--repeats 10] [--direct-paths 20000]

For each case, splitting's estimate, relative error, ticks simulated and wall
time, against what direct Monte Carlo would need for the same relative error:
``direct_equivalent_replicates`` = (1 - p) / (p rel_error^2) paths, times the
mean ticks of a direct path (measured on splitting's first generation), at
the direct method's measured ticks per second (``--direct-paths`` direct
paths of the same scenario, timed). Cases (scenario builders of
tests/test_risk.py):

- **moran**: the exact case, one mutant of relative fitness 1/1.3 among
  N = 60 in ``moran`` dynamics: (1 - 1/r) / (1 - r^-N) = 4.3e-8;
- **mission**: the birth_death singleton of the tests with immune efficacy
  raised until P(takeover by 200) is near 1e-8 (no exact value; splitting's
  own interval).

In-process, one core. Prints and writes JSON (benchmarks/results/risk.json).
"""

from __future__ import annotations

import argparse
import time

from _common import report
from analysis.theory import moran_fixation
from simulation.risk import estimate_risk
from tests.test_risk import mission, moran


def case(name, scenario, event, particles, repeats, direct_paths, exact=None) -> dict:
    estimate_risk(scenario, event, "direct", particles=2, repeats=2)  # warm-up: kernels loaded
    started = time.perf_counter()
    split = estimate_risk(scenario, event, "splitting", particles=particles, repeats=repeats)
    split_seconds = time.perf_counter() - started
    started = time.perf_counter()
    direct = estimate_risk(scenario, event, "direct", particles=direct_paths // 2, repeats=2)
    direct_seconds = time.perf_counter() - started
    ticks_per_second = direct["ticks_simulated"] / direct_seconds
    equivalent_ticks = split["direct_equivalent_ticks"]
    out = {
        f"{name}_exact": exact,
        f"{name}_p": split["p"], f"{name}_interval": [split["low"], split["high"]],
        f"{name}_rel_error": split["rel_error"],
        f"{name}_splitting_ticks": split["ticks_simulated"],
        f"{name}_splitting_seconds": round(split_seconds, 2),
        f"{name}_direct_equivalent_replicates": split["direct_equivalent_replicates"],
        f"{name}_direct_equivalent_ticks": equivalent_ticks,
        f"{name}_direct_ticks_per_second": round(ticks_per_second),
        f"{name}_direct_equivalent_seconds": equivalent_ticks / ticks_per_second,
        f"{name}_tick_ratio": equivalent_ticks / split["ticks_simulated"],
        f"{name}_time_ratio": equivalent_ticks / ticks_per_second / split_seconds,
    }
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--direct-paths", type=int, default=20000)
    ap.add_argument("--mission-efficacy", type=float, default=0.37)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    result = {"particles": args.particles, "repeats": args.repeats}
    result.update(case("moran", moran(60, 1 / 1.3), "fixation", args.particles,
                       args.repeats, args.direct_paths, exact=moran_fixation(1 / 1.3, 60)))
    result["mission_efficacy"] = args.mission_efficacy
    result.update(case("mission", mission(efficacy=args.mission_efficacy), "takeover",
                       args.particles, args.repeats, args.direct_paths))
    report("risk", result, args.out)


if __name__ == "__main__":
    main()
