"""The scaling of the defence needed: theory grid, simulated points, figure.

``substrate study`` computes, for every system size N (``agent.capacity``)
and horizon T of a scenario's ``study`` block, the immune efficacy at which
P(takeover by T) meets the target: from the branching approximation
(:func:`analysis.hazard.defence_needed`) everywhere, and from simulated
founded lineages (:mod:`simulation.study`) at the sizes listed under
``study.simulate``. docs/model.md ("The scaling of the defence needed")
states the equations and assumptions.

Simulated P(takeover by T). Lineages are founded as a Poisson process of
rate nu over [0, T]; one founded at s takes over by T with probability
pi(T - s), pi(u) = P(its takeover tick <= u). Lineages rarely meet (nu T pi
<< 1 at the target), so P(by T) = 1 - exp(-nu I(T)) with
I(T) = int_0^T pi(u) du = E[(T - tau)^+] (tau the takeover tick, infinite
without takeover), estimated by the mean over the simulated paths, with
its standard error. Beyond the paths' horizon H, I(T) = I(H) + int_H^T pi:
pi(u) >= pi(H) (takeovers by H) gives the estimate and its lower end
(the stationary-hazard assumption of :func:`analysis.hazard.extrapolate_hazard`:
no more takeovers founded after H than by H), and pi(u) <= pi(H) + (alive at H)
its upper end; both ends also carry the 95% Wilson bounds of those
fractions. For T <= H the ends are I +- 1.96 SE (and at most T times the
Wilson upper bound of pi(T), which stays informative with few takeovers).
"""

from __future__ import annotations

import math

import numpy as np

from analysis.estimators import wilson_interval

from .hazard import defence_needed

Z95 = 1.959964


def sized(base, size: int):
    """The study's scenario at system size N (capacity N, residents at N*)."""
    from simulation.scenario import point_scenario

    data = base.model_dump(mode="json")
    data.pop("study", None)
    probe = point_scenario(data, {"agent.capacity": size, "agent.initial_size": 1},
                           "<study>", f"study size {size}")
    residents = defence_needed(probe, 0.5, 1)["resident_size"]
    return point_scenario(data, {"agent.capacity": size,
                                 "agent.initial_size": max(1, round(residents))},
                          "<study>", f"study size {size}")


def theory_rows(base, study) -> list[dict]:
    """:func:`analysis.hazard.defence_needed` at every (N, T) of the study."""
    rows = []
    for size in study.sizes:
        sc = sized(base, size)
        for T in study.horizons:
            rows.append(defence_needed(sc, study.target, T))
    return rows


def exposure(point: dict, T: int, horizon: int) -> tuple[float, float, float]:
    """(I, low, high): E[(T - tau)^+] over one value's paths, and its ends
    (module docstring)."""
    M = point["paths"]
    taus = np.asarray(point["takeover_ticks"], dtype=float)
    within = min(T, horizon)
    gains = np.clip(within - taus, 0.0, None)
    I = float(gains.sum() / M)
    var = (((gains - I) ** 2).sum() + (M - taus.size) * I * I) / (M - 1) if M > 1 else 0.0
    se = math.sqrt(var / M)
    hits = int((taus <= within).sum())
    high = min(I + Z95 * se, within * wilson_interval(hits, M)[2]) if hits < M else I + Z95 * se
    high = max(high, I)
    low = max(0.0, I - Z95 * se)
    if T > horizon:
        extra = T - horizon
        hits_h = taus.size
        I += extra * hits_h / M
        low += extra * wilson_interval(hits_h, M)[1]
        high += extra * wilson_interval(min(M, hits_h + point["alive"]), M)[2]
    return I, low, high


def _crossing(values, probabilities, target):
    """The smallest value from which the (noisy, decreasing) curve stays at
    or below ``target``: interpolated in log P between the last grid value
    above the target and the next (linear in P when the next is 0);
    ``values[0]`` if none is above, None
    (beyond the grid) if the last one is."""
    above = [j for j, p in enumerate(probabilities) if p > target]
    if not above:
        return values[0]
    j = above[-1]
    if j == len(values) - 1:
        return None
    p0, p1 = probabilities[j], probabilities[j + 1]
    if p1 <= 0:  # no takeover at the next value: linear in P
        f = (p0 - target) / p0
    else:
        f = (math.log(p0) - math.log(target)) / (math.log(p0) - math.log(p1))
    return values[j] + f * (values[j + 1] - values[j])


def simulated_defence(points: list[dict], founding_rate: float, T: int, horizon: int,
                      target: float) -> dict:
    """The efficacy needed at (N, T) from one size's simulated lineages:
    ``efficacy`` (from the estimate), ``low``/``high`` (from the ends of
    I: the low-risk curve needs less), ``extrapolated`` (T > the paths'
    horizon) and the curve itself (``values``, ``p``, ``p_low``, ``p_high``)."""
    values = [p["value"] for p in points]
    curves = {"p": [], "p_low": [], "p_high": []}
    for point in points:
        I, low, high = exposure(point, T, horizon)
        for name, x in (("p", I), ("p_low", low), ("p_high", high)):
            curves[name].append(-math.expm1(-founding_rate * x))
    efficacy = _crossing(values, curves["p"], target)
    low = _crossing(values, curves["p_low"], target)
    high = _crossing(values, curves["p_high"], target)
    # The three interpolations need not nest; the range keeps the estimate.
    if efficacy is not None:
        low = min(low, efficacy)
        high = None if high is None else max(high, efficacy)
    else:
        high = None
    return {"horizon": T, "efficacy": efficacy, "low": low, "high": high,
            "extrapolated": T > horizon, "values": values, **curves}
