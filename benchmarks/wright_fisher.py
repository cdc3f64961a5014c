"""Benchmark: wright_fisher at N = 10^5 and 10^6 for 1000 generations.

    python benchmarks/wright_fisher.py [--sizes 1e5 1e6] [--generations 1000]

One defector trait: drive mutates 0 -> 1 (a step of 1) at rate 1e-5 per
birth, and a defector has relative fitness 1.05 (drive_advantage 0.05,
s = 0.05); no immune system; lineages not recorded. Prints and writes JSON.
"""

from __future__ import annotations

import argparse
import time

from _common import peak_rss_mib, report

from simulation import validate
from simulation.engine import World


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--out")
    args = parser.parse_args()
    cases = []
    for size in map(int, args.sizes):
        sc = validate({
            "seed": 1, "horizon": args.generations, "record_clones": False,
            "agent": {"dynamics": "wright_fisher", "capacity": size, "initial_size": size,
                      "initial_traits": {"drive": 0.0}, "drive_advantage": 0.05,
                      "loyalty_cost": 0.0},
            "copy": {"error_rate": 1e-5, "traits": ["drive"],
                     "kernel": {"type": "step", "size": 1.0, "direction": "up"}},
            "immune": {"surveillance": 0.0}})
        started = time.perf_counter()
        World(sc, seed=0).step()
        first = time.perf_counter() - started
        world = World(sc, seed=1)
        clones = 0
        started = time.perf_counter()
        for _ in range(args.generations):
            world.step()
            clones += int(world.agents.clones[: world.n_agents].sum())
        seconds = time.perf_counter() - started
        case = {"size": size, "generations": args.generations, "seconds": round(seconds, 3),
                "first_generation_seconds": round(first, 3),
                "subcomponent_generations_per_s": float(f"{size * args.generations / seconds:.3g}"),
                "clone_generations_per_s": float(f"{clones / seconds:.3g}"),
                "mean_clones_alive": round(clones / args.generations),
                "final_defector_fraction": round(float(world.agents.defectors[0]
                                                       / world.size), 4)}
        print(case, flush=True)
        cases.append(case)
    report("wright_fisher", {"cases": cases, "peak_rss_mib": round(peak_rss_mib(), 1)}, args.out)


if __name__ == "__main__":
    main()
