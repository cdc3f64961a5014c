"""Coverage of splitting intervals at the defaults, on the exact cases.

For each seed, one estimate of ``substrate risk``'s defaults (what
:func:`simulation.risk.estimate_risk` does when only the scenario and event
are given) on a case whose exact value is known, and whether its 95%
interval holds that value. The cases:

- ``ladder8``, ``ladder12``: the gradual ladder of tests/test_gradual.py
  (Moran of 20, three copy errors from a defector, two intermediate levels
  deleterious; T = 50), copy-error rate 1e-4 (exact 6.4e-9) and 1e-5
  (6.4e-12), from the exact Markov chain;
- ``moran40``, ``moran90``: fixation of one deleterious mutant (r = 1/1.3)
  in a Moran population of 40 (exact 8.31e-6) and 90 (1.67e-11), closed form.

Seeds are 5000 + i (i = 0 .. --seeds - 1). With --keep, each estimate's
repetitions and interval are kept in a JSON file, and seeds already there
are not run again (the script resumes).

    nice -n 10 python benchmarks/risk_coverage.py ladder8 --seeds 20 --keep cov-ladder8.json
    nice -n 10 python benchmarks/risk_coverage.py moran90 --seeds 20 --keep cov-moran90.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = ("ladder8", "ladder12", "moran40", "moran90")


def case(name: str, seed: int):
    """(scenario, event, exact value) of a case at a seed."""
    from analysis.theory import moran_fixation
    from tests.test_gradual import exact, ladder
    from tests.test_risk import moran

    if name.startswith("ladder"):
        u = {"ladder8": 1e-4, "ladder12": 1e-5}[name]
        return ladder(u, 50, seed=seed), "takeover", exact(u, 50)
    n = {"moran40": 40, "moran90": 90}[name]
    return moran(n, 1 / 1.3, seed=seed), "fixation", moran_fixation(1 / 1.3, n)


def wilson(k: int, n: int) -> tuple:
    from analysis.estimators import wilson_interval

    return wilson_interval(k, n, 0.95)


def main():
    from simulation.risk import estimate_risk

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=CASES)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="JSON file keeping each seed's estimate")
    args = parser.parse_args()
    kept = json.loads(args.keep.read_text()) if args.keep and args.keep.exists() else {}
    rows = kept.setdefault("rows", {})
    for i in range(args.seeds):
        seed = 5000 + i
        if str(seed) in rows:
            continue
        sc, event, exact = case(args.case, seed)
        started = time.process_time()
        result = estimate_risk(sc, event, show_progress=False, calibrate=False)
        rows[str(seed)] = {
            "p": result["p"], "low": result["low"], "high": result["high"],
            "particles": result["particles"], "repeats": result["repeats"],
            "interval": result["interval"], "cpu_seconds": time.process_time() - started,
            "ticks": result["ticks_simulated"], "repeat_estimates": result["repeat_estimates"]}
        kept["exact"] = exact
        if args.keep:
            args.keep.write_text(json.dumps(kept))
        r = rows[str(seed)]
        held = r["low"] is not None and r["low"] <= exact <= r["high"]
        print(f"seed {seed}: p = {r['p']:.3g} [{r['low']:.3g}, {r['high']:.3g}] "
              f"({'holds' if held else 'misses'} {exact:.3g}), {r['particles']} particles x "
              f"{r['repeats']}, {r['cpu_seconds']:.0f} s CPU", flush=True)
    exact = kept["exact"]
    held = [r["low"] is not None and r["low"] <= exact <= r["high"] for r in rows.values()]
    below = sum(r["high"] is not None and r["high"] < exact for r in rows.values())
    ratio = [r["p"] / exact for r in rows.values()]
    k, n = sum(held), len(held)
    _, lo, hi = wilson(k, n)
    print(f"{args.case}: exact {exact:.3g}; {k} of {n} intervals hold it "
          f"(coverage {k / n:.2f}, Wilson 95% [{lo:.2f}, {hi:.2f}]); {below} of the misses "
          f"lie below; mean estimate / exact {sum(ratio) / n:.3f}, "
          f"CPU {sum(r['cpu_seconds'] for r in rows.values()) / n:.0f} s per estimate; "
          f"seeds 5000..{5000 + n - 1}")


if __name__ == "__main__":
    main()
