"""Rare events on gradual paths: splitting scores and importance sampling
against exact values and against the engine's compiled direct route.

Two parts (run one, or both by default):

- ``scores``: the exact gradual ladder of tests/test_gradual.py (a Moran
  population of 20, three copy errors from a defector, two intermediate
  levels deleterious; exact P(takeover by 50) = 6.4e-9 at u = 1e-4) estimated
  with each takeover score (100 particles x 10 repetitions, seed 7), and
  with importance sampling alone at tilts 5 and 200 (the second deliberately
  bad). Columns: the estimate and its interval, the relative error, the
  seconds, the work-normalised variance rel^2 x seconds (smaller is better:
  the basis of the default score), and the wall-clock speedup over compiled
  direct batches for the same relative error.
- ``flagship``: the flagship's physics (normal kernel sd 0.08, drive 0.1 ->
  threshold 0.5, immune surveillance 0.3, tolerance 0.25) at N subcomponents
  (``--size``, default 2000 residents of capacity 4000), T = 2000 and immune
  efficacy ``--efficacy``: splitting with the lineage and fraction scores and,
  with ``--direct N``, direct compiled batches of N paths.

    python benchmarks/risk_gradual.py scores
    python benchmarks/risk_gradual.py flagship --efficacy 0.75 --direct 20000
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def row(name, result):
    rel = result["rel_error"]
    work = rel * rel * result["seconds_simulated"] if math.isfinite(rel) else math.inf
    interval = (f"[{result['low']:.3g}, {result['high']:.3g}]" if result["low"] is not None
                else "(no interval)")
    speedup = f"{result['speedup']:.3g}x" if result.get("speedup") else "-"
    extra = (f"  ESS {result['effective_sample_size']:.3g}, largest share "
             f"{result['largest_weight_share']:.2g}" if result.get("tilt") else "")
    print(f"{name:<22} {result['p']:<10.3g} {interval:<24} {rel:<6.2f} "
          f"{result['seconds_simulated']:<8.1f} {work:<10.3g} {speedup}{extra}", flush=True)


def header(what):
    print(what)
    print(f"{'':<22} {'p':<10} {'95% interval':<24} {'rel':<6} {'seconds':<8} "
          f"{'rel^2 s':<10} wall-clock speedup over compiled direct")


def scores():
    from simulation.risk import estimate_risk
    from tests.test_gradual import exact, ladder

    truth = exact(1e-4, 50)
    header(f"exact gradual ladder, u = 1e-4, T = 50: exact P = {truth:.3g}")
    sc = ladder(1e-4, 50)
    for score in ("lineage", "drive", "fraction"):
        row(f"splitting {score}", estimate_risk(sc, "takeover", "splitting", 100, 10,
                                                show_progress=False, score=score))
    for tilt in (5.0, 200.0):
        row(f"importance tilt {tilt:g}", estimate_risk(sc, "takeover", "importance", 2000, 10,
                                                       show_progress=False, tilt=tilt))
    row("splitting + tilt 5", estimate_risk(sc, "takeover", "splitting", 100, 10,
                                            show_progress=False, tilt=5.0))


def flagship(size, efficacy, direct, particles, repeats):
    import scenarios
    from simulation import load_scenario
    from simulation.risk import estimate_risk

    sc = load_scenario(scenarios.path("singleton_baseline"), [
        f"agent.capacity={2 * size}", f"agent.initial_size={size}",
        f"immune.efficacy={efficacy}", "seed=1"])
    header(f"flagship physics, {size} subcomponents (capacity {2 * size}), T = 2000, "
           f"efficacy {efficacy}")
    for score in ("lineage", "fraction"):
        row(f"splitting {score}", estimate_risk(sc, "takeover", "splitting", particles,
                                                repeats, show_progress=False, score=score))
    if direct:
        from simulation.run import run_scenario
        from simulation.risk import risk_scenario

        started = time.perf_counter()
        runs = run_scenario(risk_scenario(sc, "takeover").model_copy(
            update={"replicates": direct}), show_progress=False).runs
        seconds = time.perf_counter() - started
        hits = int(runs["takeover"].sum())
        from analysis.estimators import wilson_interval

        p, low, high = wilson_interval(hits, direct)
        rel = math.sqrt((1 - p) / (p * direct)) if hits else math.inf
        print(f"{'direct (compiled)':<22} {p:<10.3g} [{low:.3g}, {high:.3g}]{'':<6} "
              f"{rel:<6.2f} {seconds:<8.1f} {rel * rel * seconds:<10.3g}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=("scores", "flagship", "all"), default="all")
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--efficacy", type=float, default=0.75)
    parser.add_argument("--direct", type=int, default=0)
    parser.add_argument("--particles", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if args.part in ("scores", "all"):
        scores()
    if args.part in ("flagship", "all"):
        flagship(args.size, args.efficacy, args.direct, args.particles, args.repeats)


if __name__ == "__main__":
    main()
