"""P(takeover by T) on gradual physics, from the background and the founded
lineages of :mod:`simulation.gradual`, and the defence it needs.

With Lambda(t) = int_0^t nu (the background's expected defector foundings
by t) and the founding windows W_1, ..., W_J below T (the intervals between
the study's horizons), the decomposition (docs/model.md, "The defence study
on gradual physics") reads

    P(takeover by T) = mean_b [1 - exp(-E_b(T))],
    E_b(T) = sum_{j <= J} Lambda_b(W_j) m_j(T),
    m_j(T) = E[ LR pi_hat(T - t_f) ] over the founders of window j,

Lambda_b that of background replicate b (the mean over the replicates, not
1 - exp(-mean E): where the background itself is stochastic, a small
system whose staircase of deviant clones climbs in some replicates only,
the foundings come in bursts and the mean would overstate the chance of
any), pi_hat(u) = w (1/n) sum_h r_h 1(tau_h <= u) the splitting estimate
of one founder's P(takeover within u) (w the product of the levels'
survival fractions, tau_h the takeover tick of final particle h, r_h its
likelihood ratio with a tilt, else 1), t_f the founding tick, LR the
founder's stratum ratio. Each founder of window j gives z = J Lambda(W_j)
LR pi_hat(T - t_f), unbiased for the replicates' mean E(T) when the windows
are visited alike; the interval of E is :func:`simulation.risk.splitting_interval`
of the z (Cox's log-normal interval when all are positive, Student t with
zeros; the strata are visited in turn rather than drawn, which can only
lower the variance: conservative), its ends' ratios to E applied to every
E_b, and the mean over the replicates widened by its 95% Student t range.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .scaling import _crossing


def founding_integral(background: dict):
    """Lambda_b(t) = int_0^t nu_b, the expected defector foundings by t of
    each background replicate b: a function of t returning the array over
    the replicates. Beyond the background's horizon B, each replicate's nu
    is taken at its mean over the last half of [0, B] (the stationary
    assumption)."""
    ticks = np.asarray(background["ticks"], dtype=float)
    nu = np.atleast_2d(np.asarray(background["nu"], dtype=float))
    steps = np.diff(ticks)
    cumulative = np.concatenate([np.zeros((nu.shape[0], 1)),
                                 np.cumsum((nu[:, 1:] + nu[:, :-1]) / 2 * steps, axis=1)],
                                axis=1)
    tail = nu[:, nu.shape[1] // 2:].mean(axis=1)
    stop = ticks[-1]

    def integral(t: float) -> np.ndarray:
        values = np.array([np.interp(min(t, stop), ticks, c) for c in cumulative])
        return values + tail * max(0.0, t - stop)

    return integral


def founder_escapes(founders: list[dict], lineages: list[dict], particles: int,
                    windows: list, T: int) -> tuple[np.ndarray, np.ndarray]:
    """y = LR pi_hat(T - t_f) for every founder of a window below T, and its
    window (module docstring)."""
    inside = [j for j, (lo, hi) in enumerate(windows) if hi <= T]
    y, window = [], []
    for founder, run in zip(founders, lineages):
        j = founder["window"]
        if j not in inside:
            continue
        window.append(j)
        if run["log10_weight"] is None or not run["hit_ticks"]:
            y.append(0.0)
            continue
        ratios = np.asarray(run.get("weights", np.ones(len(run["hit_ticks"]))), dtype=float)
        taus = np.asarray(run["hit_ticks"], dtype=float)
        within = float(ratios[taus <= T - founder["tick"]].sum()) / particles
        y.append(founder["likelihood_ratio"] * 10.0 ** run["log10_weight"] * within)
    return np.asarray(y), np.asarray(window, dtype=np.int64)


def window_masses(windows: list, T: int, integral) -> np.ndarray:
    """Lambda_b(W_j) for every replicate b (rows) and window j (columns;
    0 for a window beyond T)."""
    return np.column_stack([integral(hi) - integral(lo) if hi <= T else 0.0 * integral(0)
                            for lo, hi in windows])


def founder_contributions(founders: list[dict], lineages: list[dict], particles: int,
                          windows: list, T: int, integral) -> np.ndarray:
    """z = J Lambda(W_j) LR pi_hat(T - t_f) for every founder of a window
    below T, Lambda the replicates' mean (module docstring)."""
    y, window = founder_escapes(founders, lineages, particles, windows, T)
    mass = window_masses(windows, T, integral).mean(axis=0)
    inside = sum(1 for lo, hi in windows if hi <= T)
    return inside * mass[window] * y


def _replicate_mean(exposures: np.ndarray, side: int) -> float:
    """mean_b (1 - exp(-E_b)) over the background replicates, moved by
    ``side`` (-1, 0, +1) times the half-width of its 95% Student t range."""
    values = -np.expm1(-exposures)
    R = values.size
    half = (float(stats.t.ppf(0.975, R - 1)) * float(values.std(ddof=1)) / math.sqrt(R)
            if R > 1 else 0.0)
    return float(np.clip(values.mean() + side * half, 0.0, 1.0))


def takeover_by(founders: list[dict], lineages: list[dict], particles: int, windows: list,
                T: int, integral) -> dict:
    """P(takeover by T) at one value: ``p``, ``low``, ``high`` (95%),
    ``exposure`` (E(T), the replicates' mean), ``founded`` (Lambda(T), their
    mean) and ``founders`` (the founders it used)."""
    from simulation.risk import splitting_interval

    y, window = founder_escapes(founders, lineages, particles, windows, T)
    masses = window_masses(windows, T, integral)  # (replicates, windows)
    m = np.array([y[window == j].mean() if np.any(window == j) else 0.0
                  for j in range(len(windows))])
    exposures = masses @ m  # E_b
    z = founder_contributions(founders, lineages, particles, windows, T, integral)
    E = float(z.mean())
    if not np.any(z > 0):
        # No founder's splitting run saw a takeover: its first generation
        # held n direct paths, none at the event; the tilted founders stand
        # for at most the largest ratio each.
        ratio = max((f["likelihood_ratio"] for f in founders), default=1.0)
        high_pi = -math.expm1(math.log(0.025) / (z.size * particles))
        low, high = 0.0, masses.sum(axis=1) * ratio * high_pi
    else:
        # z are exposures, not probabilities: scaled into (0, 1e-6] so that
        # the interval's clipping at 1 never bites (the intervals are
        # scale-equivariant otherwise)
        scale = float(z.max()) * 1e6
        lo, hi, _ = splitting_interval(z / scale, z.size * particles)
        low, high = exposures * (lo * scale / E), exposures * (hi * scale / E)
    return {"horizon": T, "p": _replicate_mean(exposures, 0),
            "low": _replicate_mean(np.broadcast_to(low, exposures.shape), -1),
            "high": _replicate_mean(high, +1), "exposure": float(exposures.mean()),
            "founded": float(integral(T).mean()), "founders": int(z.size)}


def gradual_defence(values: list[float], points: list[dict], T: int, target: float,
                    key: str, background_horizon: int, lineage_horizon: int) -> dict:
    """The value of the solved key needed at (N, T) from one size's points
    (``points[i]["by"]``: :func:`takeover_by` of each horizon at
    ``values[i]``): ``value`` from the estimates, ``low``/``high`` from the
    interval ends, the curve, and ``reason`` where it cannot be resolved."""
    curves = {name: [next(b for b in p["by"] if b["horizon"] == T)[name] for p in points]
              for name in ("p", "low", "high")}
    value = _crossing(values, curves["p"], target)
    low = _crossing(values, curves["low"], target)
    high = _crossing(values, curves["high"], target)
    reason = None
    top = values[-1]
    if value is None:
        at = len(values) - 1
        reason = (f"no {key} up to {top:g} holds P <= {target:g}: at {top:g}, "
                  f"P = {curves['p'][at]:.3g} [{curves['low'][at]:.3g}, "
                  f"{curves['high'][at]:.3g}]")
        high = None
    else:
        low = min(low, value)
        if high is None:
            reason = (f"the interval's upper end stays above {target:g} up to {top:g}: "
                      "the value needed may lie beyond the grid (more founders or "
                      "particles would narrow it)")
        else:
            high = max(high, value)
            if curves["p"][0] <= target:
                reason = f"already met at the grid's first value {values[0]:g} (an upper bound)"
    assumptions = []
    if T > background_horizon:
        assumptions.append(f"background stationary after {background_horizon}")
    if T > lineage_horizon:
        assumptions.append(f"no takeover later than {lineage_horizon} ticks after founding")
    return {"horizon": T, "value": value, "low": low, "high": high, "reason": reason,
            "assumes": assumptions, "values": list(values),
            "p": curves["p"], "p_low": curves["low"], "p_high": curves["high"]}


def simulated_size(state: dict, study, size: int) -> dict:
    """One simulated size of a gradual study (:func:`simulation.gradual.study_size`'s
    state) with P(takeover by T) at every value (each from its own
    background and founders) and the value needed at every horizon
    (``defence``)."""
    from simulation.gradual import founding_windows

    sim = study.simulate
    windows = founding_windows(study.horizons)
    points = []
    for p in state["points"]:
        integral = founding_integral(p["background"])
        points.append({
            "value": p["value"],
            "background": {k: p["background"][k] for k in
                           ("dominant", "residents", "deviant_share")},
            "founded_by": {str(T): float(integral(T).mean()) for T in study.horizons},
            "by": [takeover_by(p["founders"], p["lineages"], sim.particles, windows, T,
                               integral) for T in study.horizons]})
    background_horizon = int(state["points"][0]["background"]["ticks"][-1])
    defence = [gradual_defence([p["value"] for p in points], points, T, study.target,
                               study.solve, background_horizon, sim.horizon)
               for T in study.horizons]
    hits = [t for p in state["points"] for run in p["lineages"] for t in run["hit_ticks"]]
    # how long founded lineages that took over needed (every value's final
    # particles alike): the 90% quantile sets the theory's "fast against T"
    slow = float(np.quantile(hits, 0.9)) if hits else None
    return {"size": size, "background_horizon": background_horizon,
            "latest_takeover": max(hits) if hits else None, "takeover_ticks_q90": slow,
            "points": points, "defence": defence}


#: Points of the theory's grid between the first simulated value and 1 (the
#: top of the solved key's range), besides the simulated values.
THEORY_POINTS = 36


def theory_values(values) -> list[float]:
    """The grid the theory is computed on: the simulated values and
    :data:`THEORY_POINTS` evenly spaced from the first of them to 1."""
    even = np.linspace(values[0], 1.0, THEORY_POINTS).round(6)
    return sorted(set(float(v) for v in values) | set(float(v) for v in even))


def takeover_delays(state: dict, particles: int) -> dict:
    """Per simulated value, the takeover ticks of the founded lineages that
    took over (every final particle of every founder) and their weights
    (the founder's LR x splitting weight x likelihood ratio / n): the delay
    from founding to takeover as the simulation saw it."""
    out = {}
    for point in state["points"]:
        ticks, weights = [], []
        for founder, run in zip(point["founders"], point["lineages"]):
            if run["log10_weight"] is None or not run["hit_ticks"]:
                continue
            ratios = run.get("weights", [1.0] * len(run["hit_ticks"]))
            w = founder["likelihood_ratio"] * 10.0 ** run["log10_weight"] / particles
            ticks += run["hit_ticks"]
            weights += [w * r for r in ratios]
        if ticks and sum(weights) > 0:
            out[point["value"]] = (np.asarray(ticks, float), np.asarray(weights, float))
    return out


def delayed_masses(background: dict, windows, T: int, delays, stretch: float) -> np.ndarray:
    """Per background replicate (rows) and window (columns; 0 beyond T),
    int_W nu_b(t) G(T - t) dt: the window's foundings weighted by the
    chance that their takeover delay (law G, the simulated ``delays`` with
    ticks stretched by ``stretch``; none: no delay) fits before T (beyond
    the background's horizon, nu_b at its last half's mean)."""
    ticks = np.asarray(background["ticks"], dtype=float)
    nu = np.atleast_2d(np.asarray(background["nu"], dtype=float))
    tail = nu[:, nu.shape[1] // 2:].mean(axis=1)
    masses = np.zeros((nu.shape[0], len(windows)))
    for j, (lo, hi) in enumerate(windows):
        if hi > T:
            continue
        t = lo + (np.arange(400) + 0.5) * (hi - lo) / 400
        if delays is None:
            fits = np.ones_like(t)
        else:
            taus, w = delays
            order = np.argsort(taus)
            cdf = np.cumsum(w[order]) / w.sum()
            fits = np.interp(T - t, taus[order] * stretch, cdf, left=0.0, right=1.0)
        for b in range(nu.shape[0]):
            rate = np.where(t <= ticks[-1], np.interp(t, ticks, nu[b]), tail[b])
            masses[b, j] = float((rate * fits).sum() * (hi - lo) / 400)
    return masses


def scaled_takeover(exposures: np.ndarray, scale: float) -> float:
    """P(takeover) of a system ``scale`` times the background's size, as
    that many independent copies of it: 1 - (mean_b exp(-E_b))^scale."""
    hazard = float(np.mean(-np.expm1(-exposures)))  # 1 - survival, without cancellation
    return -math.expm1(scale * math.log1p(-hazard)) if hazard < 1.0 else 1.0


def _nearest(points: list[dict], value: float) -> dict:
    """The simulated point whose value is nearest ``value``."""
    return min(points, key=lambda p: abs(p["value"] - value))


def gradual_theory(base, study, states: dict, sized) -> list[dict]:
    """The multi-hit theory at every (N, T): E(T, v) = sum over the windows
    below T of the founding-weighted escape probability of the window's
    founders (:mod:`analysis.multitype`) times int_W nu_N(t) G(T - t) dt,
    G the law of the delay from founding to takeover measured on the
    simulated lineages (at the nearest simulated value; at another size its
    ticks stretched by ln(F N*) / ln(F N*_ref), the growth to the takeover
    fraction); and the value needed where P = 1 - exp(-E) crosses the
    target.

    The background (nu, the founders' pool, N*) at a value v of the theory's
    grid is the one simulated at the nearest simulated value (stated in each
    row's ``assumes`` where it is not v itself). nu_N is the background
    simulated at size N, or (a size not simulated) that of the nearest
    simulated size scaled by N / N_ref (the per-capita founding rate does
    not depend on N; stated in ``assumes``); the escape probabilities depend
    on N only through N*/K, the same at every size.
    """
    from simulation.gradual import founding_windows
    from simulation.scenario import point_scenario

    from .multitype import LineageTheory, founder_escape

    windows = founding_windows(study.horizons)
    simulated = sorted(states)
    reference = simulated[-1]
    sc_ref = sized(base, reference)
    F = sc_ref.agent.takeover_fraction
    data = sc_ref.model_dump(mode="json")
    grid = theory_values(study.simulate.values)
    escapes = []
    for v in grid:
        point = _nearest(states[reference]["points"], v)
        sc_v = point_scenario(data, {study.solve: v}, "<study>", f"theory {study.solve}={v}")
        theory = LineageTheory(sc_v, float(point["background"]["residents"]),
                               cells=study.theory_cells)
        pi, _ = theory.escape()
        escapes.append([founder_escape(theory, pi, sc_v, np.asarray(pool["traits"]),
                                       np.asarray(pool["weights"]))
                        for pool in point["pools"]])
    delays = {size: takeover_delays(state, study.simulate.particles)
              for size, state in states.items()}
    off_grid = any(v not in study.simulate.values for v in grid)
    rows = []
    for size in study.sizes:
        own = size in states
        near = size if own else min(simulated, key=lambda s: abs(math.log(s / size)))
        scale = size / near
        stop = int(states[near]["points"][0]["background"]["ticks"][-1])
        measured = delays[near]
        for T in study.horizons:
            p, slow = [], []
            for v, e in zip(grid, escapes):
                background = _nearest(states[near]["points"], v)["background"]
                near_res = float(background["residents"])
                stretch = (math.log(max(F * near_res * scale, 2.0))
                           / math.log(max(F * near_res, 2.0)))
                law = (measured[min(measured, key=lambda m: abs(m - v))] if measured
                       else None)
                masses = delayed_masses(background, windows, T, law, stretch)
                p.append(scaled_takeover(masses @ np.asarray(e), scale))
                slow.append(np.quantile(law[0], 0.9) * stretch if law is not None else 0.0)
            value = _crossing(grid, p, study.target)
            at = grid.index(min(grid, key=lambda v: abs(v - value))) if value is not None else -1
            assumes = []
            if off_grid:
                assumes.append("between simulated values, the background of the nearest")
            if not measured:
                assumes.append("no simulated takeover: escape counted as immediate takeover")
            if not own:
                assumes.append(f"per-capita background of N = {near:g}; delays stretched "
                               f"to ln(F N*)")
            if T > stop:
                assumes.append(f"background stationary after {stop}")
            reason = None
            if value is None:
                reason = (f"no {study.solve} up to {grid[-1]:g} holds P <= {study.target:g} "
                          f"(P = {p[-1]:.3g} at {grid[-1]:g})")
            elif p[0] <= study.target:
                reason = f"already met at the grid's first value {grid[0]:g} (an upper bound)"
            rows.append({"size": size, "horizon": T, "kind": "multi-type branching",
                         "value": value, "values": grid, "p": p, "reason": reason,
                         "takeover_ticks": float(slow[at]),
                         "trusted": bool(slow[at] <= T / 10),
                         "background_size": near, "assumes": assumes})
    return rows


def answer(result: dict) -> dict:
    """The bundled answer of a gradual study (its ``study.json``): per
    (N, T), the multi-hit theory's value (``theory``, ``trusted``, its
    ``theory_reason``) and, at simulated sizes, the simulated value with
    its 95% range (``simulated``, ``low``, ``high``; None beyond the grid)
    and its ``reason`` where it is not resolved."""
    study = result["study"]
    sim = {(s["size"], d["horizon"]): d for s in result["simulated"] for d in s["defence"]}
    cells = []
    for row in result["theory"]:
        d = sim.get((row["size"], row["horizon"]))
        cells.append({"size": row["size"], "horizon": row["horizon"],
                      "theory": row["value"], "trusted": row["trusted"],
                      "theory_reason": row["reason"],
                      **({"simulated": d["value"], "low": d["low"], "high": d["high"],
                          "reason": d["reason"]} if d is not None else {})})
    return {"solve": study["solve"], "target": study["target"], "sizes": study["sizes"],
            "horizons": study["horizons"], "top": study["simulate"]["values"][-1],
            "cells": cells}


def _answer_cell(cell: dict, top: float) -> str:
    def fmt(x, beyond):
        return beyond if x is None else f"{x:.3f}"

    text = fmt(cell["theory"], "none <= 1") + ("" if cell["trusted"] else "*")
    if "simulated" in cell:
        text += (f" / {fmt(cell['simulated'], f'>{top:g}')} "
                 f"[{fmt(cell['low'], '-')}, {fmt(cell['high'], f'>{top:g}')}]")
    return text


def _power(x: float) -> str:
    """10^k for a power of ten, else the number."""
    k = round(math.log10(x))
    return f"10^{k}" if x == 10 ** k else f"{x:g}"


def answer_markdown(data: dict) -> str:
    """The answer (:func:`answer`) as a Markdown table: N down, T across;
    theory / simulated [95% range]; * theory not trusted."""
    head = "| N \\ T | " + " | ".join(_power(T) for T in data["horizons"]) + " |"
    lines = [head, "|---" * (len(data["horizons"]) + 1) + "|"]
    for size in data["sizes"]:
        row = [next(c for c in data["cells"] if c["size"] == size and c["horizon"] == T)
               for T in data["horizons"]]
        lines.append(f"| {_power(size)} | " + " | ".join(_answer_cell(c, data["top"]) for c in row)
                     + " |")
    return "\n".join(lines)
