"""Benchmark: sweep throughput with 1 and 2 local Dask workers.

    python benchmarks/sweep.py [--scenario sweep_error_immune] [--workers 1 2]

Runs the bundled sweep (20 points x 20 replicates x 1000 ticks) once per
worker count into a temporary folder, from a fresh process each time (the
cluster's start-up included), and reports wall time, replicates per second
and replicate-ticks per second, and checks that the tables hold identical
data (``content_digest``: the files differ only in their run identity).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _common import report

from simulation import io
from simulation.io import content_digest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="sweep_error_immune")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out")
    args = parser.parse_args()
    result = {"scenario": args.scenario}
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.workers:
            out = Path(tmp) / f"w{n}"
            started = time.perf_counter()
            subprocess.run(["substrate", "sweep", args.scenario, "--workers", str(n),
                            "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
            runs = io.load(out).runs
            tables.append([content_digest(out / t) for t in ("runs.parquet",
                                                             "timeseries.parquet")])
            result[f"workers_{n}_seconds"] = round(seconds, 1)
            result[f"workers_{n}_replicates_per_s"] = round(len(runs) / seconds, 2)
            result[f"workers_{n}_replicate_ticks_per_s"] = f"{runs.ticks.sum() / seconds:.3g}"
        result["replicates"] = len(runs)
        result["identical_across_worker_counts"] = all(t == tables[0] for t in tables)
    if len(args.workers) > 1:
        first, last = args.workers[0], args.workers[-1]
        result["speedup"] = round(result[f"workers_{first}_seconds"]
                                  / result[f"workers_{last}_seconds"], 2)
    report("sweep", result, args.out)


if __name__ == "__main__":
    main()
