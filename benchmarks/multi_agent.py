"""Benchmark: 1000 agents of about 1000 subcomponents for 1000 ticks.

    python benchmarks/multi_agent.py [--agents 1000] [--size 1000] [--ticks 1000]

The world has an economy (income shared by size and drive, immune cost),
transmission of defectors, oversight and takeover kills, so every
world-level mechanism runs each tick. Prints and writes JSON: wall time,
subcomponent-ticks and clone-ticks per second, peak memory, warm-up time.
"""

from __future__ import annotations

import argparse
import time

from _common import peak_rss_mib, report

from simulation import validate
from simulation.engine import World


def scenario(agents, size, ticks, seed):
    return validate({
        "seed": seed, "horizon": ticks,
        "world": {"agents": agents, "income": 2.4 * agents * size, "upkeep": 1.0,
                  "initial_reserve": 100.0, "acquisition_bias": 0.5,
                  "transmission": 0.001, "oversight": 0.01, "oversight_threshold": 0.5,
                  "takeover_kills": True},
        "agent": {"capacity": int(2.5 * size), "initial_size": size, "birth_rate": 0.2,
                  "death_rate": 0.1},
        "copy": {"error_rate": 1e-4},
        "immune": {"surveillance": 0.3, "tolerance": 0.25, "efficacy": 0.6, "cost": 0.1},
    })


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args()
    sc = scenario(args.agents, args.size, args.ticks, args.seed)
    started = time.perf_counter()
    warm = World(scenario(3, 100, 2, 0), seed=0)
    warm.step()
    warmup = time.perf_counter() - started
    world = World(sc, seed=args.seed)
    subcomponent_ticks = clone_ticks = 0
    started = time.perf_counter()
    for _ in range(args.ticks):
        subcomponent_ticks += int(world.agents.size[: world.n_agents].sum())
        clone_ticks += int(world.agents.clones[: world.n_agents].sum())
        world.step()
    seconds = time.perf_counter() - started
    report(f"multi_agent-{args.agents}x{args.size}", {
        "agents": args.agents, "size_per_agent": args.size, "ticks": args.ticks,
        "seconds": round(seconds, 2), "ms_per_tick": round(1000 * seconds / args.ticks, 2),
        "subcomponent_ticks_per_s": f"{subcomponent_ticks / seconds:.3g}",
        "clone_ticks_per_s": f"{clone_ticks / seconds:.3g}",
        "mean_clones": round(clone_ticks / args.ticks, 1),
        "final_agents": world.living_agents, "final_size": world.size,
        "warmup_seconds": round(warmup, 2), "peak_rss_mib": round(peak_rss_mib(), 1),
    }, args.out)


if __name__ == "__main__":
    main()
