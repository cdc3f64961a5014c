"""Benchmark: every figure of the engine core, and the table of docs/performance.md from them.

    python benchmarks/engine_core.py [--skip-run] [--scaling]

Runs, each as its own process (so each peak memory is its own, and numba's
cache is shared): ``naive_ratio.py`` (1000 x 300 x 200 and 10^4
subcomponents against the naive Mesa model), ``singleton.py`` at 10^9
subcomponents (error rate 1e-5), ``wright_fisher.py`` (N = 10^5, 10^6),
``startup.py`` (warm and cold ``substrate run``) and, with ``--scaling``,
``multi_agent.py --scaling 1e3 1e4 1e5 1e6`` (both of its worlds, 20-30 minutes). Then prints
the rows of docs/performance.md (markdown) from the JSON they wrote to
``benchmarks/results/``; ``--skip-run`` only prints them from the last
results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import HERE
from multi_agent import scaling_table

RUNS = [
    ["naive_ratio.py"],
    ["singleton.py", "--sizes", "1e9", "--error-rates", "1e-5"],
    ["wright_fisher.py"],
    ["startup.py", "--repeat", "5"],
]
SCALING = ["multi_agent.py", "--scaling", "1e3", "1e4", "1e5", "1e6"]


def result(name: str) -> dict:
    path = HERE / "results" / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run this script without --skip-run")
    return json.loads(path.read_text())


def table() -> str:
    ratio = result("naive_ratio")["cases"]
    short, large = ratio
    singleton = next(c for c in result("singleton")["cases"] if c["size"] >= 1e9)
    wf = {c["size"]: c for c in result("wright_fisher")["cases"]}
    start = result("startup")
    rows = [
        ("many short paths: 1000 replicates x 300 ticks of 200 subcomponents, error rate "
         "1e-3, through `run_scenario`", "`python benchmarks/naive_ratio.py`",
         f"one thread: **{short['seconds']} s** ({short['us_per_tick']} us per tick, "
         f"everything included), {short['engine_subcomponent_ticks_per_s']:.2g} vs "
         f"{short['naive_subcomponent_ticks_per_s']:.2g} subcomponent-ticks/s for the naive "
         f"Mesa model: **{short['ratio']}x**; in {short.get('threads', 1)} threads (as "
         f"`substrate run` runs them): {short.get('seconds_threads', short['seconds'])} s, "
         f"**{short.get('ratio_threads', short['ratio'])}x** (target 1000x)"),
        ("one larger system: 10^4 subcomponents, error rate 1e-3, 1000 ticks after burn-in",
         "same", f"{large['seconds']} s ({large['us_per_tick']} us per tick, "
         f"{large['clones_alive']} clones); **{large['ratio']}x** (target 1000x)"),
        ("singleton of 10^9 subcomponents, error rate 1e-5, 1000 ticks",
         "`python benchmarks/singleton.py`",
         f"**{singleton['seconds']} s** (target < 60 s); "
         f"{singleton['subcomponent_ticks_per_s']:.2g} subcomponent-ticks/s, "
         f"{singleton['mean_clones_alive']} clones alive, {singleton['peak_rss_mib']} MiB"),
        ("`wright_fisher`, N = 10^6 (10^5), 1000 generations, s = 0.05, mu = 1e-5",
         "`python benchmarks/wright_fisher.py`",
         f"**{wf[1000000]['seconds']} s** ({wf[100000]['seconds']} s; target < 5 s)"),
        ("warm `substrate run` of a small scenario (2 replicates x 100 ticks)",
         "`python benchmarks/startup.py`",
         f"**{start['warm_seconds_median']} s** median, {start['warm_seconds_max']} s max "
         f"(target < 2 s); cold (kernels compiled): {start['cold_seconds']} s"),
    ]
    lines = ["| what | command | figure |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    try:
        scaling = result("multi_agent_scaling")
    except FileNotFoundError:
        return "\n".join(lines)
    ticks, size = scaling["ticks"], scaling["size_per_agent"]
    lines += ["", f"Worlds of agents of {size} subcomponents, {ticks} ticks "
              "(`python benchmarks/multi_agent.py --scaling 1e3 1e4 1e5 1e6`):", "",
              scaling_table(scaling["cases"], size, ticks)]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-run", action="store_true")
    parser.add_argument("--scaling", action="store_true")
    args = parser.parse_args()
    if not args.skip_run:
        for run in RUNS + ([SCALING] if args.scaling else []):
            print(f"$ python benchmarks/{' '.join(run)}", flush=True)
            subprocess.run([sys.executable, str(HERE / run[0]), *run[1:]], check=True)
    print()
    try:
        print(table())
    except FileNotFoundError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
