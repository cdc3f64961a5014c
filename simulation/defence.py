"""The defence needed: the value of a scenario key at which the risk of an
event by the horizon meets a target, by bisection on estimates of
:func:`simulation.risk.estimate_risk` (``substrate risk --solve``)."""

from __future__ import annotations

import math

from .errors import ScenarioError
from .jobs import JobFolder
from .risk import check_request, estimate_risk
from .scenario import Scenario, parameter_field, point_scenario

#: Numeric keys --solve knows a default range and scale for: (low, high, scale).
SOLVE_KEYS = {
    "immune.efficacy": (0.0, 1.0, "linear"),
    "immune.surveillance": (0.0, 1.0, "linear"),
    "copy.error_rate": (1e-9, 1e-1, "log"),
    "copy.redundancy": (1, 15, "odd"),
}


def _solve_grid(key: str):
    """(low, high, scale) of a solvable key; refuses others."""
    field = parameter_field(key) if isinstance(key, str) else None
    if field is None:
        raise ScenarioError(f"cannot solve for {key!r}: not a scenario parameter "
                            f"(solvable: {', '.join(SOLVE_KEYS)})")
    if field.annotation not in (int, float) and key not in SOLVE_KEYS:
        raise ScenarioError(f"cannot solve for {key!r}: not a numeric parameter "
                            f"(solvable: {', '.join(SOLVE_KEYS)})")
    if key not in SOLVE_KEYS:
        raise ScenarioError(f"cannot solve for {key!r}: no known monotone range for it "
                            f"(solvable: {', '.join(SOLVE_KEYS)})")
    return SOLVE_KEYS[key]


def check_solve(key: str, target) -> tuple:
    """Refuse a key that cannot be solved for or a target outside (0, 1);
    the key's (low, high, scale)."""
    grid = _solve_grid(key)
    if target is None or not 0.0 < float(target) < 1.0:
        raise ScenarioError(f"target probability {target}: must lie strictly between 0 and 1")
    return grid


def _middle(low, high, scale):
    if scale == "log":
        return math.sqrt(low * high)
    if scale == "odd":
        mid = (low + high) // 2
        return mid if mid % 2 else mid + 1 if mid + 1 < high else mid - 1
    return (low + high) / 2


def solve_defence(scenario: Scenario, key: str, target: float, *, event: str = "takeover",
                  method: str = "splitting", particles: int = 100, repeats: int = 20,
                  workers: int | None = None, scheduler: str | None = None,
                  steps: int = 8, source: str = "<scenario>",
                  parts: JobFolder | None = None, score: str | None = None,
                  tilt: float | None = None, tilt_from: float | None = None) -> dict:
    """The value of ``key`` at which P(``event`` by the horizon) meets ``target``.

    Bisection on the key's range (:data:`SOLVE_KEYS`: efficacy and
    surveillance on [0, 1]; ``copy.error_rate`` on [1e-9, 0.1] on a log
    scale; ``copy.redundancy`` on the odd integers 1..15), assuming the risk
    is monotone in the key. Every value is estimated with
    :func:`estimate_risk` on the same master seed (common random numbers:
    the estimates at nearby values are positively correlated, which steadies
    the comparison). A value is *safe* when its estimate is <= ``target``.

    Returns
    -------
    dict
        The estimate at the safe end of the final bracket (``p``, ``low``,
        ``high``, ...), and ``solve``: ``key``, ``target``, ``low`` and
        ``high`` (the final bracket, ``safe_value`` its safe end),
        ``uncertain_low`` / ``uncertain_high`` (the smallest range holding the
        bracket and every evaluated value whose interval contains the
        target: the values the estimates cannot classify), ``met`` (False
        when the target is not met anywhere in the range, or met everywhere)
        and ``evaluations`` (value, p, low, high of each).
    """
    low, high, scale = check_solve(key, target)
    check_request(scenario, event, method, particles, repeats, score, tilt, tilt_from)
    base = scenario.model_dump(mode="json")
    evaluations = []

    def estimate(value):
        sc = point_scenario(base, {key: value}, source, f"{key}={value}")
        result = estimate_risk(sc, event, method, particles, repeats, workers, scheduler,
                               parts=parts, score=score, tilt=tilt, tilt_from=tilt_from)
        evaluations.append({"value": value, "p": result["p"], "low": result["low"],
                            "high": result["high"], "ticks": result["ticks_simulated"],
                            "result": result})
        return result

    ends = {low: estimate(low), high: estimate(high)}
    safe = {v: r["p"] <= target for v, r in ends.items()}
    met = safe[low] != safe[high]
    if met:
        unsafe_end, safe_end = (low, high) if safe[high] else (high, low)
        for _ in range(steps):
            mid = _middle(min(unsafe_end, safe_end), max(unsafe_end, safe_end), scale)
            if mid in (unsafe_end, safe_end):
                break  # adjacent integers
            if estimate(mid)["p"] <= target:
                safe_end = mid
            else:
                unsafe_end = mid
    else:
        safe_end = unsafe_end = low if safe[low] else high
    undecided = [e["value"] for e in evaluations  # (no interval: undecided too)
                 if e["low"] is None or e["low"] <= target <= e["high"]]
    span = [unsafe_end, safe_end] + undecided
    chosen = next(e for e in reversed(evaluations) if e["value"] == safe_end)["result"]
    out = dict(chosen)
    out["ticks_simulated"] = int(sum(e["ticks"] for e in evaluations))
    out["solve"] = {
        "key": key, "target": target, "scale": scale, "met": met,
        "low": min(unsafe_end, safe_end), "high": max(unsafe_end, safe_end),
        "safe_value": safe_end, "uncertain_low": min(span), "uncertain_high": max(span),
        "evaluations": len(evaluations),
        "values": [{k: e[k] for k in ("value", "p", "low", "high")} for e in evaluations],
    }
    return out
