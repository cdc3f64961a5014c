"""Benchmark: the bound of a tick at the compiled loop's limit (driver.FAST_LIMIT, 2^17).

    python benchmarks/bound.py [--sizes 125000 135000] [--replicates 20] [--ticks 3000]

A singleton without copy errors (one clone, near its equilibrium size) run
as a sweep runs it (compiled batches, lineages not recorded), just below and
just above 2^17 members. Without copy errors no newborn can found a clone,
so a tick's worst case is one clone however large: both sizes must stay in
the compiled loop (before the bound counted only possible mutants, every
tick above 2^17 members ran alone: 9.2 s against 0.21 s). Each case runs in
a fresh process after one warm-up run (the kernels loaded or compiled).
Prints and writes JSON: seconds per case and their ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import report

CASE = r'''
import json, sys, time
from simulation import run_scenario, validate
size, replicates, ticks = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def scenario(replicates, ticks):
    return validate({"seed": 1, "replicates": replicates, "horizon": ticks,
                     "record_every": ticks, "record_clones": False,
                     "agent": {"capacity": 2 * size, "initial_size": size,
                               "birth_rate": 0.2, "death_rate": 0.1, "loyalty_cost": 0.0,
                               "initial_traits": {"drive": 0.0}},
                     "copy": {"error_rate": 0.0}})
run_scenario(scenario(1, 2), show_progress=False)  # kernels loaded
started = time.perf_counter()
result = run_scenario(scenario(replicates, ticks), show_progress=False)
seconds = time.perf_counter() - started
print(json.dumps({"size": size, "replicates": replicates, "ticks": ticks,
                  "seconds": round(seconds, 3),
                  "final_size_mean": round(float(result.runs.final_size.mean()))}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[125_000, 135_000])
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=3000)
    parser.add_argument("--out")
    args = parser.parse_args()
    cases = []
    for size in args.sizes:
        done = subprocess.run([sys.executable, "-c", CASE, str(size), str(args.replicates),
                               str(args.ticks)], capture_output=True, text=True, check=True)
        case = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{size} members: {case['seconds']} s for {args.replicates} replicates of "
              f"{args.ticks} ticks", flush=True)
        cases.append(case)
    result = {"cases": cases}
    if len(cases) == 2:
        result["ratio"] = round(cases[1]["seconds"] / max(cases[0]["seconds"], 1e-9), 2)
    report("bound", result, args.out)


if __name__ == "__main__":
    main()
