"""Benchmark: worlds of many agents, up to 10^6 agents of 100 subcomponents.

    python benchmarks/multi_agent.py [--world mechanisms|flagship] [--agents 1000]
                                     [--size 100] [--ticks 1000]
    python benchmarks/multi_agent.py --scaling 1e3 1e4 1e5 1e6 [--worlds mechanisms flagship]

Two worlds, each with an economy, transmission of defectors and takeover
kills, and agent reproduction while fewer than ``--agents`` are alive (so
dead agents are replaced); every world-level mechanism runs each tick:

- ``mechanisms`` (the default): copy error rate 1e-4, income shared by
  size and drive, an immune cost, oversight, reproduction at a reserve of 20
  subcomponents' upkeep;
- ``flagship``: the flagship's copy error rate, 1e-3, so about ten times
  the mutant clones: income 100 per agent, upkeep 1, initial reserve 5,
  capacity 120, reproduction at reserve 50 (bottleneck 10), transmission
  0.001, the default immune system and rates. ``--world flagship --agents
  1000000`` runs just the million-agent case (issue 21's target: under
  600 s and 8 GiB).

Prints and writes JSON: wall and CPU time (user + sys of this process: the
wall time of a loaded machine is not the engine's), subcomponent-ticks and
clone-ticks per second, ns per clone-tick, bytes per clone slot, peak
memory, clones alive, agents born and lost. It runs through
``run_scenario`` as ``substrate run`` does, agent records (every 100 ticks)
appended to a Parquet file as they are taken.

``--scaling`` runs each world size of each world in its own process (so that
each peak memory is its own) and prints the scaling table of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, peak_rss_mib, report

from simulation import run_scenario, validate
from simulation.engine import World
from simulation.io import TableAppender
from simulation.state import new_state


def mechanisms(agents, size, ticks, seed):
    """Every world mechanism at copy error rate 1e-4."""
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


def flagship(agents, size, ticks, seed):
    """The flagship's copy error rate, 1e-3, in a world of ``agents`` agents."""
    return validate({
        "seed": seed, "replicates": 1, "horizon": ticks, "record_every": 100,
        "record_clones": False,
        "world": {"agents": agents, "max_agents": agents, "income": 100.0 * agents,
                  "upkeep": 1.0, "initial_reserve": 5.0, "transmission": 0.001,
                  "takeover_kills": True,
                  "reproduction": {"threshold": 50.0, "bottleneck": 10}},
        "agent": {"capacity": 120, "initial_size": size},
        "copy": {"error_rate": 1e-3},
    })


WORLDS = {"mechanisms": mechanisms, "flagship": flagship}


def slot_bytes() -> int:
    """Bytes of one clone slot: the clone table, the event buffers and the
    Price snapshot's per-slot columns (simulation/state.py's dtypes)."""
    state = new_state(1, 1, 1)
    per_slot = [*state.clones._asdict().items(), *state.events._asdict().items(),
                *((k, v) for k, v in state.snapshot._asdict().items()
                  if k not in ("agent_sums", "meta"))]
    total = 0
    for name, column in per_slot:
        if name != "meta":
            width = column.shape[1] if column.ndim > 1 else 1
            total += column.dtype.itemsize * width
    return total


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(world: str, agents: int, size: int, ticks: int, seed: int) -> dict:
    scenario = WORLDS[world]
    started = time.perf_counter()
    World(scenario(3, 100, 2, 0), seed=0).advance(2)  # compile (or load the cache),
    World(scenario(3, 30000, 2, 0), seed=0).advance(2)  # ticks alone included
    warmup = time.perf_counter() - started
    sc = scenario(agents, size, ticks, seed)
    with tempfile.TemporaryDirectory() as folder, \
            TableAppender(Path(folder) / "agents.parquet", "benchmark") as sink:
        # As `substrate run` does: agent records appended to their file.
        started = time.perf_counter()
        cpu = cpu_seconds()
        result = run_scenario(sc, show_progress=False, agent_sink=sink)
        sink.commit()
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        agent_rows = sink.rows
    ts = result.timeseries
    run = result.runs.iloc[0]
    # Records every 100 ticks: the mean of the recorded rows stands for each tick.
    mean_size = float(ts["size"][1:].mean())
    mean_clones = float(ts["clones"][1:].mean())
    return {
        "world": world, "error_rate": sc.copy.error_rate,
        "agents": agents, "size_per_agent": size, "ticks": int(run.ticks),
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
        "ms_per_tick": round(1000 * seconds / ticks, 2),
        "ns_per_clone_tick_cpu": round(1e9 * cpu / (mean_clones * ticks)),
        "clone_slot_bytes": slot_bytes(),
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


def scaling_table(rows, size, ticks) -> str:
    """The markdown table of docs/performance.md from the cases' JSON rows."""
    lines = ["| world | error rate | agents | subcomponents | seconds | CPU s | ns per "
             "clone-tick (CPU) | peak MiB | clones alive | agents born |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r.get('world', 'mechanisms')} | {r.get('error_rate', 1e-4):g} "
            f"| {r['agents']:.0e} | {r['agents'] * size:.0e} | {r['seconds']} "
            f"| {r.get('cpu_seconds', '')} | {r.get('ns_per_clone_tick_cpu', '')} "
            f"| {r['peak_rss_mib']} | {r['mean_clones_alive']} | {r['agents_born']} |")
    return "\n".join(lines)


def scaling(worlds, sizes, size, ticks, seed, out):
    rows = []
    for world in worlds:
        for agents in sizes:
            # One process per case: each peak memory is that case's own.
            done = subprocess.run(
                [sys.executable, __file__, "--world", world, "--agents", str(agents),
                 "--size", str(size), "--ticks", str(ticks), "--seed", str(seed), "--json"],
                check=True, capture_output=True, text=True)
            row = json.loads(done.stdout)
            rows.append(row)
            print(f"{world:>10} {agents:>9} agents: {row['seconds']:8.2f} s "
                  f"({row['cpu_seconds']:.2f} s CPU), {row['peak_rss_mib']:8.1f} MiB, "
                  f"{row['mean_clones_alive']} clones, "
                  f"{row['ns_per_clone_tick_cpu']} ns per clone-tick", flush=True)
    print()
    print(scaling_table(rows, size, ticks))
    report("multi_agent_scaling", {"size_per_agent": size, "ticks": ticks, "cases": rows}, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=sorted(WORLDS), default="mechanisms")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scaling", type=float, nargs="+",
                        help="world sizes (agents), each in its own process")
    parser.add_argument("--worlds", nargs="+", choices=sorted(WORLDS),
                        default=["mechanisms", "flagship"], help="the worlds of --scaling")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.scaling:
        scaling(args.worlds, [int(a) for a in args.scaling], args.size, args.ticks,
                args.seed, args.out)
        return
    result = measure(args.world, args.agents, args.size, args.ticks, args.seed)
    if args.json:
        print(json.dumps({**result, "machine": machine()}))
        return
    name = "multi_agent" if args.world == "mechanisms" else f"multi_agent_{args.world}"
    report(f"{name}-{args.agents}x{args.size}", result, args.out)


if __name__ == "__main__":
    main()
