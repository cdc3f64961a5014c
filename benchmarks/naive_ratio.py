"""Benchmark: the engine against a naive Mesa model (one mesa.Agent per
subcomponent, tests/naive_mesa.py) on the same singleton of 10^4.

    python benchmarks/naive_ratio.py [--size 10000] [--error-rates 1e-5 1e-3]
                                     [--naive-ticks 20] [--ticks 1000]

For each error rate both run the same scenario (immune system on) in this
process; throughput is subcomponent-ticks per second (the engine after 200
ticks of burn-in, so that its clones have accumulated); the naive model runs
fewer ticks (it is slow). The engine's cost follows its live clones, which
the error rate sets; the naive model's does not. Prints and writes JSON.
"""

from __future__ import annotations

import argparse
import time

from _common import from_tests, report

from simulation import kernels as K
from simulation import validate
from simulation.model import World

NaiveWorld = from_tests("naive_mesa").NaiveWorld


def throughput(world, ticks, size_of):
    sub = 0
    started = time.perf_counter()
    for _ in range(ticks):
        sub += size_of(world)
        world.step()
    return sub / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--naive-ticks", type=int, default=20)
    parser.add_argument("--error-rates", type=float, nargs="+", default=[1e-5, 1e-3])
    parser.add_argument("--out")
    args = parser.parse_args()
    cases = []
    for mu in args.error_rates:
        sc = validate({"seed": 1, "record_clones": False,
                       "agent": {"capacity": 2 * args.size, "initial_size": args.size,
                                 "birth_rate": 0.2, "death_rate": 0.1},
                       "copy": {"error_rate": mu},
                       "immune": {"surveillance": 0.3, "tolerance": 0.25, "efficacy": 0.6}})
        world = World(sc, seed=1)
        for _ in range(200):  # burn-in (also loads the kernels)
            world.step()
        clones = int(world.reduced[:, K.R_CLONES].sum())
        engine = throughput(world, args.ticks, lambda w: int(w.reduced[:, K.R_SIZE].sum()))
        naive = throughput(NaiveWorld(sc, seed=1), args.naive_ticks, lambda w: len(w.agents))
        case = {"error_rate": mu, "engine_clones_alive": clones,
                "engine_subcomponent_ticks_per_s": float(f"{engine:.3g}"),
                "naive_subcomponent_ticks_per_s": float(f"{naive:.3g}"),
                "ratio": round(engine / naive)}
        print(case, flush=True)
        cases.append(case)
    report("naive_ratio", {"size": args.size, "engine_ticks": args.ticks,
                           "naive_ticks": args.naive_ticks, "cases": cases}, args.out)


if __name__ == "__main__":
    main()
