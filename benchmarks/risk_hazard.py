"""Long horizons: hazard extrapolation and the branching approximation against splitting.

    PYTHONPATH=. python benchmarks/risk_hazard.py [--particles 100] [--repeats 10]

A single-hit birth_death singleton (the tests' mission with one copy error
taking drive from 0.1 to 1.0, error rate 1e-5, immune efficacy 0.2, so a
founded defector escapes with probability ~0.15): splitting estimates
P(takeover by T) at T = 300, 600 and 1200; the stationary-hazard
extrapolation from (300, 600) predicts 1200; the branching approximation
(analysis/hazard.py) predicts all three. The two-hit mission of the tests
(step 0.5: a first defector is subcritical) is where the branching
approximation gives 0 and breaks. Prints and writes JSON
(benchmarks/results/risk_hazard.json).
"""

from __future__ import annotations

import argparse

from _common import report
from analysis.hazard import branching_hazard, extrapolate_hazard
from simulation import validate
from simulation.risk import estimate_risk
from tests.test_risk import mission


def single_hit(horizon: int):
    data = mission(horizon=horizon).model_dump(mode="json")
    data["copy"].update(error_rate=1e-5, kernel={"type": "step", "size": 0.9,
                                                 "direction": "up"})
    data["immune"]["efficacy"] = 0.2
    return validate(data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    result = {}
    estimates = {}
    for T in (300, 600, 1200):
        est = estimate_risk(single_hit(T), "takeover", "splitting", args.particles,
                            args.repeats)
        estimates[T] = est
        bp = branching_hazard(single_hit(T))
        result[f"T{T}_splitting"] = [est["p"], est["low"], est["high"]]
        result[f"T{T}_branching"] = bp["p"]
    result["branching_hazard"] = bp["hazard"]
    result["branching_escape"] = bp["escape"]
    result["branching_founding_rate"] = bp["founding_rate"]
    ext = extrapolate_hazard(estimates[300], estimates[600], 1200)
    result["extrapolated_hazard"] = [ext["hazard"], ext["hazard_low"], ext["hazard_high"]]
    result["extrapolated_onset"] = ext["onset"]
    result["T1200_extrapolated"] = [ext["p"], ext["low"], ext["high"]]
    two_hit = branching_hazard(mission())
    result["two_hit_mission_branching_escape"] = two_hit["escape"]
    report("risk_hazard", result, args.out)


if __name__ == "__main__":
    main()
