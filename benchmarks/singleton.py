"""Benchmark: singletons of 10^4, 10^6 and 10^9 subcomponents at copy error
rates 1e-5 and 1e-3 (the birth_death tick, lineages not recorded, as in sweeps).

    python benchmarks/singleton.py [--sizes 1e4 1e6 1e9] [--error-rates 1e-5 1e-3]
                                   [--ticks 1000] [--heavy-ticks 50]

Each case runs in a fresh process (so peak memory is the case's own): the
first tick loads the kernels from numba's cache or compiles them
(`first_tick_seconds`), then `ticks` more ticks are timed. The 10^9 x 1e-3
case founds ~4e5 clones a tick and runs only `--heavy-ticks` ticks. Prints
and writes JSON: seconds, subcomponent-ticks and clone-ticks per second,
clones alive, peak memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


from _common import report

CASE = r'''
import json, resource, sys, time
from simulation import validate
from simulation.engine import World
size, mu, ticks = int(float(sys.argv[1])), float(sys.argv[2]), int(sys.argv[3])
sc = validate({"seed": 1, "horizon": ticks, "record_clones": False,
               "agent": {"capacity": 2 * size, "initial_size": size,
                         "birth_rate": 0.2, "death_rate": 0.1},
               "copy": {"error_rate": mu},
               "immune": {"surveillance": 0.3, "tolerance": 0.25, "efficacy": 0.6}})
world = World(sc, seed=1)
started = time.perf_counter()
world.step()
first = time.perf_counter() - started
sub = clones = 0
started = time.perf_counter()
for _ in range(ticks):
    sub += int(world.agents.size[: world.n_agents].sum())
    clones += int(world.agents.clones[: world.n_agents].sum())
    world.step()
seconds = time.perf_counter() - started
print(json.dumps({"size": size, "error_rate": mu, "ticks": ticks,
                  "seconds": round(seconds, 3), "first_tick_seconds": round(first, 3),
                  "ms_per_tick": round(1000 * seconds / ticks, 3),
                  "subcomponent_ticks_per_s": float(f"{sub / seconds:.3g}"),
                  "clone_ticks_per_s": float(f"{clones / seconds:.3g}"),
                  "mean_clones_alive": round(clones / ticks),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e4, 1e6, 1e9])
    parser.add_argument("--error-rates", type=float, nargs="+", default=[1e-5, 1e-3])
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--heavy-ticks", type=int, default=50)
    parser.add_argument("--out")
    args = parser.parse_args()
    cases = []
    for size in args.sizes:
        for mu in args.error_rates:
            ticks = args.heavy_ticks if size >= 1e9 and mu >= 1e-3 else args.ticks
            done = subprocess.run([sys.executable, "-c", CASE, str(size), str(mu), str(ticks)],
                                  capture_output=True, text=True, check=True)
            case = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"size {size:.0e}, error rate {mu:g}: {case['seconds']} s for "
                  f"{ticks} ticks, {case['subcomponent_ticks_per_s']:.3g} subcomponent-ticks/s, "
                  f"{case['mean_clones_alive']} clones, {case['peak_rss_mib']} MiB", flush=True)
            cases.append(case)
    report("singleton", {"cases": cases}, args.out)


if __name__ == "__main__":
    main()
