"""Benchmark: worlds of many agents, up to 10^6 agents of 100 subcomponents.

    python benchmarks/multi_agent.py [--agents 1000] [--size 100] [--ticks 1000]
    python benchmarks/multi_agent.py --scaling 1e3 1e4 1e5 1e6 [--size 100] [--ticks 1000]

The world has an economy (income shared by size and drive, immune cost),
transmission of defectors, oversight, takeover kills and agent reproduction
(an agent whose reserve reaches the threshold founds a child while fewer
than ``--agents`` are alive, so dead agents are replaced), so every
world-level mechanism runs each tick. Prints and writes JSON: wall
time, subcomponent-ticks and clone-ticks per second, peak memory, clones
alive, agents born and lost. It runs through ``run_scenario`` as ``substrate
run`` does, agent records (every 100 ticks) appended to a Parquet file as
they are taken.

``--scaling`` runs each world size in its own process (so that each peak
memory is its own) and prints the scaling table of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, peak_rss_mib, report

from simulation import run_scenario, validate
from simulation.engine import World
from simulation.io import TableAppender


def scenario(agents, size, ticks, seed):
    return validate({
        "seed": seed, "replicates": 1, "horizon": ticks, "record_every": 100,
        "record_clones": False,
        "world": {"agents": agents, "max_agents": agents, "income": 2.4 * agents * size,
                  "upkeep": 1.0, "initial_reserve": 100.0, "acquisition_bias": 0.5,
                  "transmission": 0.001, "oversight": 0.01, "oversight_threshold": 0.5,
                  "takeover_kills": True,
                  "reproduction": {"threshold": 20.0 * size, "bottleneck": 10}},
        "agent": {"capacity": int(2.5 * size), "initial_size": size, "birth_rate": 0.2,
                  "death_rate": 0.1},
        "copy": {"error_rate": 1e-4},
        "immune": {"surveillance": 0.3, "tolerance": 0.25, "efficacy": 0.6, "cost": 0.1},
    })


def measure(agents: int, size: int, ticks: int, seed: int) -> dict:
    started = time.perf_counter()
    World(scenario(3, 100, 2, 0), seed=0).advance(2)  # compile (or load the cache),
    World(scenario(3, 30000, 2, 0), seed=0).advance(2)  # ticks alone included
    warmup = time.perf_counter() - started
    sc = scenario(agents, size, ticks, seed)
    with tempfile.TemporaryDirectory() as folder, \
            TableAppender(Path(folder) / "agents.parquet", "benchmark") as sink:
        # As `substrate run` does: agent records appended to their file.
        started = time.perf_counter()
        result = run_scenario(sc, show_progress=False, agent_sink=sink)
        sink.commit()
        seconds = time.perf_counter() - started
        agent_rows = sink.rows
    ts = result.timeseries
    run = result.runs.iloc[0]
    # Records every 100 ticks: the mean of the recorded rows stands for each tick.
    mean_size = float(ts["size"][1:].mean())
    mean_clones = float(ts["clones"][1:].mean())
    return {
        "agents": agents, "size_per_agent": size, "ticks": int(run.ticks),
        "seconds": round(seconds, 2), "ms_per_tick": round(1000 * seconds / ticks, 2),
        "subcomponent_ticks_per_s": float(f"{mean_size * ticks / seconds:.3g}"),
        "clone_ticks_per_s": float(f"{mean_clones * ticks / seconds:.3g}"),
        "mean_clones_alive": round(mean_clones),
        "final_agents": int(run.final_agents), "final_size": int(run.final_size),
        "agents_born": int(run.agents_born),
        "agents_lost_to_takeover": int(run.agents_lost_to_takeover),
        "agent_deaths": int(ts["agent_deaths"].sum()),
        "agent_rows_written": int(agent_rows),
        "warmup_seconds": round(warmup, 2), "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def scaling(sizes, size, ticks, seed, out):
    rows = []
    for agents in sizes:
        # One process per case: each peak memory is that case's own.
        done = subprocess.run(
            [sys.executable, __file__, "--agents", str(agents), "--size", str(size),
             "--ticks", str(ticks), "--seed", str(seed), "--json"],
            check=True, capture_output=True, text=True)
        row = json.loads(done.stdout)
        rows.append(row)
        print(f"{agents:>9} agents: {row['seconds']:8.2f} s, {row['peak_rss_mib']:8.1f} MiB, "
              f"{row['mean_clones_alive']} clones, "
              f"{1e9 * row['seconds'] / (agents * ticks):.0f} ns per agent-tick", flush=True)
    print("\n| agents | subcomponents | seconds | ns per agent-tick | peak MiB | clones alive "
          "| agents born |\n|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['agents']:.0e} | {r['agents'] * size:.0e} | {r['seconds']} "
              f"| {1e9 * r['seconds'] / (r['agents'] * ticks):.0f} | {r['peak_rss_mib']} "
              f"| {r['mean_clones_alive']} | {r['agents_born']} |")
    report("multi_agent_scaling", {"size_per_agent": size, "ticks": ticks, "cases": rows}, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scaling", type=float, nargs="+",
                        help="world sizes (agents), each in its own process")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.scaling:
        scaling([int(a) for a in args.scaling], args.size, args.ticks, args.seed, args.out)
        return
    result = measure(args.agents, args.size, args.ticks, args.seed)
    if args.json:
        print(json.dumps({**result, "machine": machine()}))
        return
    report(f"multi_agent-{args.agents}x{args.size}", result, args.out)


if __name__ == "__main__":
    main()
