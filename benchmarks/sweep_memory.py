"""Benchmark: the sweep driver's memory stays flat as the number of units grows.

    python benchmarks/sweep_memory.py [--units 1000 10000] [--workers 2]

For each size, a fresh process runs a sweep of tiny units (a world of 20
subcomponents for 20 ticks; one replicate per unit, so units = points x
replicates with 10 replicates per point) on a local Dask cluster of
``--workers`` processes, through :func:`simulation.sweep.run_sweep` as
``substrate sweep`` does. A thread samples the driver's resident memory
(RSS, every 20 ms); the report gives the driver's RSS before the sweep (the
libraries loaded), its peak during the sweep, and the growth, with the wall
time and units per second, and the peak of the units phase alone (before
the driver streams the parts into the consolidated tables). The driver is the process that called run_sweep;
with a local cluster it also hosts the Dask scheduler (whose task state is
bounded by the window of units in flight), the workers are separate
processes. Peak memory of the workers is not the driver's and is not
reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import report

SCENARIO = {
    "name": "tiny", "seed": 1, "horizon": 20, "record_every": 10,
    "agent": {"capacity": 40, "initial_size": 20, "birth_rate": 0.2, "death_rate": 0.1},
    "copy": {"error_rate": 0.001},
}
REPLICATES = 10


def one(units: int, workers: int) -> dict:
    """Run one sweep of ``units`` units in this process; its figures."""
    import numpy as np
    import psutil

    from simulation import io, validate
    from simulation.sweep import run_sweep

    points = units // REPLICATES
    data = dict(SCENARIO, replicates=REPLICATES, sweep={"grid": {
        "immune.efficacy": [round(float(v), 6) for v in np.linspace(0, 1, points)]}})
    scenario = validate(data)
    me = psutil.Process()
    peak = [me.memory_info().rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            time.sleep(0.02)

    # The peak up to the consolidation (the units phase): taken when the
    # driver starts writing the consolidated tables.
    phase = {}
    consolidate = io.write_parquet_parts

    def marked(*args, **kwargs):
        phase.setdefault("units_peak", peak[0])
        return consolidate(*args, **kwargs)

    io.write_parquet_parts = marked
    with tempfile.TemporaryDirectory() as tmp:
        with io.claim(Path(tmp) / "out", ["benchmark"]) as owner:
            before = me.memory_info().rss
            peak[0] = before
            thread = threading.Thread(target=sample, daemon=True)
            thread.start()
            started = time.perf_counter()
            result = run_sweep(scenario, owner, workers=workers, block_size=1,
                               show_progress=False)
            seconds = time.perf_counter() - started
            stop.set()
            thread.join()
        parts = len(list((Path(tmp) / "out" / "parts").iterdir()))
    mib = 2 ** 20
    return {"units": result["units"], "points": points, "replicates": result["replicates"],
            "timeseries_rows": result["timeseries_rows"], "parts": parts,
            "workers": workers, "seconds": round(seconds, 1),
            "units_per_s": round(result["units"] / seconds, 1),
            "driver_rss_before_mib": round(before / mib, 1),
            "driver_rss_peak_mib": round(peak[0] / mib, 1),
            "driver_rss_peak_units_phase_mib": round(phase["units_peak"] / mib, 1),
            "driver_rss_growth_mib": round((peak[0] - before) / mib, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child's size
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.workers)))
        return
    rows = []
    for units in args.units:  # a fresh process each: peaks do not carry over
        done = subprocess.run([sys.executable, __file__, "--one", str(units),
                               "--workers", str(args.workers)], check=True,
                              capture_output=True, text=True, env=os.environ)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    result = {"sizes": rows}
    if len(rows) > 1:
        result["peak_ratio_largest_to_smallest"] = round(
            rows[-1]["driver_rss_peak_mib"] / rows[0]["driver_rss_peak_mib"], 3)
    report("sweep_memory", result, args.out)


if __name__ == "__main__":
    main()
