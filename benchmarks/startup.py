"""Benchmark: wall time of `substrate run` on a small scenario, cold and warm.

    python benchmarks/startup.py [--repeat 5]

Cold: a fresh numba cache folder (NUMBA_CACHE_DIR), so the kernels compile.
Warm: the same command again, the kernels loaded from that cache. Each is a
new process, as a user would run it. Wall-clock seconds (the figures of the
README, taken on a quiet machine), and the CPU seconds of the process (user
+ sys), which hold on a loaded one.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import report

SMALL = "name: small\nseed: 1\nreplicates: 2\nhorizon: 100\n"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, env, cwd, cpu=None):
    """Wall seconds of ``cmd``; its CPU seconds appended to ``cpu``."""
    started, cpu_started = time.perf_counter(), children_cpu()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    if cpu is not None:
        cpu.append(children_cpu() - cpu_started)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "small.yaml").write_text(SMALL)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp, "numba-cache")))
        cmd = ["substrate", "run", "small.yaml", "--out", "out"]
        cold_cpu, warm_cpu = [], []
        cold = timed(cmd, env, tmp, cold_cpu)
        warm = [timed(cmd, env, tmp, warm_cpu) for _ in range(args.repeat)]
        figure = [timed(cmd + ["--figure"], env, tmp) for _ in range(args.repeat)]
    report("startup", {
        "cold_seconds": round(cold, 2),
        "warm_seconds_median": round(statistics.median(warm), 2),
        "warm_seconds_max": round(max(warm), 2),
        "warm_with_figure_seconds_median": round(statistics.median(figure), 2),
        "cold_cpu_seconds": round(cold_cpu[0], 2),
        "warm_cpu_seconds_median": round(statistics.median(warm_cpu), 2),
        "repeat": args.repeat,
    }, args.out)


if __name__ == "__main__":
    main()
