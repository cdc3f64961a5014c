"""Coverage of splitting intervals on the exact Moran fixation cases.

For each seed, one splitting estimate of P(fixation) of a deleterious mutant
(r = 1/1.3) in a Moran population of N (exact value from the closed form)
is run with ``--repeats`` repetitions of ``--particles`` particles; its
repetitions are kept, and the 95% intervals of the first R = 10 and of all
R = 20 are scored against the exact value: Cox's log-normal interval (what
``substrate risk`` reports), Student t (the interval of earlier rounds) and
a log-scale delta interval, for comparison.

    python benchmarks/risk_coverage.py --n 90 --seeds 16
    python benchmarks/risk_coverage.py --n 40 --seeds 24

Measured (100 particles; seeds 5000 + 0..): N = 40 (exact 8.31e-6), 48
intervals of R = 10: Cox 0.917, t 0.917; N = 90 (exact 1.67e-11), 32
intervals of R = 10: Cox 0.906, t 0.781; 16 of R = 20: Cox 0.938, t 0.688.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def scored(rows, exact, R):
    from scipy.stats import t as student_t

    from simulation.risk import splitting_interval

    hits = {"cox": 0, "student_t": 0, "log_delta": 0}
    count = 0
    for estimates in rows:
        for start in range(0, len(estimates) - R + 1, R):
            x = np.asarray(estimates[start:start + R])
            count += 1
            low, high, _ = splitting_interval(x, 100 * R)
            hits["cox"] += low <= exact <= high
            mean, se = x.mean(), x.std(ddof=1) / math.sqrt(R)
            q = student_t.ppf(0.975, R - 1)
            hits["student_t"] += mean - q * se <= exact <= mean + q * se
            if mean > 0:
                rel = se / mean
                hits["log_delta"] += mean * math.exp(-q * rel) <= exact <= mean * math.exp(q * rel)
    return {k: v / count for k, v in hits.items()}, count


def main():
    from analysis.theory import moran_fixation
    from simulation.risk import estimate_risk
    from tests.test_risk import moran

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=90)
    parser.add_argument("--particles", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="JSON file to keep the repetitions in")
    args = parser.parse_args()
    exact = moran_fixation(1 / 1.3, args.n)
    rows = []
    for seed in range(args.seeds):
        result = estimate_risk(moran(args.n, 1 / 1.3, seed=5000 + seed), "fixation",
                               "splitting", args.particles, args.repeats,
                               show_progress=False, calibrate=False)
        rows.append(result["repeat_estimates"])
        print(f"seed {seed}: p = {result['p']:.3g} [{result['low']:.3g}, "
              f"{result['high']:.3g}]", flush=True)
        if args.keep:
            args.keep.write_text(json.dumps({"n": args.n, "exact": exact, "rows": rows}))
    print(f"N = {args.n}, exact {exact:.3g}, {args.particles} particles")
    for R in sorted({10, args.repeats}):
        if R <= args.repeats:
            coverage, count = scored(rows, exact, R)
            print(f"R = {R}: {count} intervals, coverage "
                  + ", ".join(f"{k} {v:.3f}" for k, v in coverage.items()))


if __name__ == "__main__":
    main()
