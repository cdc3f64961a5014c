"""Rare events on gradual paths: the splitting estimator's settings against
the exact gradual ladder, and the cost against the compiled direct route.

The exact ladder of tests/test_gradual.py: a Moran population of 20, three
copy errors from a defector, the two intermediate levels deleterious;
exact P(takeover by 50) = 6.4e-9 at u = 1e-4 (``--u 1e-5``: 6.4e-12), from
the Markov chain. Each setting runs ``--repeats`` repetitions of 100
particles (seed ``--seed``) and prints the mean of the repetitions over the
exact value with its standard error, their median and largest (over the
exact value), how many are 0, the standard deviation of their logarithms,
the relative variance of one repetition Var(p_r) / p^2 (from the exact p)
and the work-normalised variance: that times the CPU seconds of one
repetition (smaller is better: the basis of the defaults). Then one estimate
at the defaults with its interval, CPU seconds, and the speedup over the
engine's compiled direct batches for the same relative error (their CPU
seconds per path measured here: CPU time is what a loaded machine can
measure; on a quiet machine the wall-clock figure is the same).

    nice -n 10 python benchmarks/risk_gradual.py
    nice -n 10 python benchmarks/risk_gradual.py --u 1e-5 --repeats 100
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: (name, score, tilt): None is the default (resolve_tilt), 1.0 no tilt.
SETTINGS = (("defaults (lineage, front tilt)", None, None),
            ("hazard, front tilt", "hazard", None),
            ("lineage, no tilt", "lineage", 1.0),
            ("hazard, no tilt", "hazard", 1.0))


def distribution(u: float, repeats: int, seed: int) -> None:
    from simulation.risk import resolve_tilt, risk_scenario, run_repeat
    from tests.test_gradual import exact, ladder

    truth = exact(u, 50)
    sc = ladder(u, 50, seed=seed)
    data = risk_scenario(sc, "takeover").model_dump(mode="json")
    print(f"exact ladder, u = {u:g}, T = 50: exact P = {truth:.3g}; {repeats} repetitions "
          f"of 100 particles, seed {seed}")
    print(f"{'':<32} {'mean/exact':<14} {'median':<8} {'largest':<8} {'zeros':<6} "
          f"{'sd log':<7} {'rel var':<8} {'CPU s':<7} rel var x CPU s")
    for name, score, tilt in SETTINGS:
        resolved = resolve_tilt(sc, "takeover", "splitting", tilt)
        started = time.process_time()
        x = np.array([run_repeat(data, "takeover", "splitting", 100, seed, r, score,
                                 resolved)["estimate"] for r in range(repeats)]) / truth
        cpu = (time.process_time() - started) / repeats
        positive = x[x > 0]
        sdlog = float(np.log(positive).std(ddof=1)) if positive.size > 1 else math.nan
        rel_var = float(((x - 1.0) ** 2).mean())
        print(f"{name:<32} {x.mean():.3f} +- {x.std(ddof=1) / math.sqrt(repeats):<5.3f} "
              f"{np.median(x):<8.3f} {x.max():<8.3g} {int((x == 0).sum()):<6} {sdlog:<7.2f} "
              f"{rel_var:<8.3g} {cpu:<7.2f} {rel_var * cpu:.3g}", flush=True)


def defaults(u: float, seed: int) -> None:
    from simulation.risk import direct_cost, estimate_risk, risk_scenario
    from tests.test_gradual import exact, ladder

    truth = exact(u, 50)
    sc = ladder(u, 50, seed=seed)
    r = estimate_risk(sc, "takeover", show_progress=False, calibrate=False)
    cpu = r["cpu_seconds_simulated"]
    per_path = direct_cost(risk_scenario(sc, "takeover"), budget=5.0, clock=time.process_time)
    direct = r["direct_equivalent_replicates"] * per_path
    print(f"defaults, seed {seed}: p = {r['p']:.3g} [{r['low']:.3g}, {r['high']:.3g}] (exact "
          f"{truth:.3g}), rel. error {r['rel_error']:.2f}, {r['particles']} x {r['repeats']}, "
          f"tilt {r['tilt']:g} (residents {r['resident_tilt']:g}), ESS "
          f"{r['effective_sample_size']:.3g}; {cpu:.1f} CPU s. Direct compiled batches: "
          f"{per_path:.3g} CPU s per path, {r['direct_equivalent_replicates']:.3g} paths "
          f"for the same relative error = {direct:.3g} CPU s: speedup {direct / cpu:.3g}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--u", type=float, default=1e-4)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    distribution(args.u, args.repeats, args.seed)
    defaults(args.u, 7)


if __name__ == "__main__":
    main()
