"""Benchmark: a singleton of 10^6 subcomponents at copy error rate 1e-5, 1000 ticks.

    python benchmarks/singleton.py [--size 1000000] [--error-rate 1e-5] [--ticks 1000]

Prints and writes JSON: wall time of the run (after a warm-up that loads or
compiles the kernels), subcomponent-ticks and clone-ticks per second, peak
memory, and the warm-up (compile or cache-load) time.
"""

from __future__ import annotations

import argparse
import time

from _common import peak_rss_mib, report

from simulation import kernels as K
from simulation import validate
from simulation.model import World


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10**6)
    parser.add_argument("--error-rate", type=float, default=1e-5)
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="JSON file [default: benchmarks/results/singleton-SIZE.json]")
    args = parser.parse_args()

    scenario = validate({
        "seed": args.seed, "horizon": args.ticks,
        "agent": {"capacity": 2 * args.size, "initial_size": args.size,
                  "birth_rate": 0.2, "death_rate": 0.1},
        "copy": {"error_rate": args.error_rate},
        "immune": {"surveillance": 0.3, "tolerance": 0.25, "efficacy": 0.6},
    })
    started = time.perf_counter()
    warm = World(scenario, seed=0)
    warm.step()  # compiles the kernels, or loads them from numba's cache
    warmup = time.perf_counter() - started

    world = World(scenario, seed=args.seed)
    subcomponent_ticks = clone_ticks = 0
    started = time.perf_counter()
    for _ in range(args.ticks):
        subcomponent_ticks += int(world.reduced[:, K.R_SIZE].sum())
        clone_ticks += int(world.reduced[:, K.R_CLONES].sum())
        world.step()
    seconds = time.perf_counter() - started
    report(f"singleton-{args.size}", {
        "size": args.size, "error_rate": args.error_rate, "ticks": args.ticks,
        "seconds": round(seconds, 3),
        "ms_per_tick": round(1000 * seconds / args.ticks, 3),
        "subcomponent_ticks_per_s": f"{subcomponent_ticks / seconds:.3g}",
        "clone_ticks_per_s": f"{clone_ticks / seconds:.3g}",
        "mean_clones": round(clone_ticks / args.ticks, 1),
        "clones_founded": int(world.state.next_id),
        "final_size": int(world.size),
        "warmup_seconds": round(warmup, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }, args.out)


if __name__ == "__main__":
    main()
