"""Long horizons: P(event by T) beyond what paths can reach.

Two approximations for horizons of 10^6 ticks and more, each with the
assumption it rests on:

- :func:`extrapolate_hazard`: a *stationary hazard*. From P(event by t1) and
  P(event by t2) (splitting or direct estimates, :func:`simulation.risk.estimate_risk`)
  the per-tick hazard between t1 and t2 is
  lambda = (ln(1 - p1) - ln(1 - p2)) / (t2 - t1), and if it stays constant
  after t1, P(by T) = 1 - exp(-lambda (T - t0)) with the onset
  t0 = t1 + ln(1 - p1) / lambda (so that the formula gives p1 at t1). It
  fails when the hazard still changes after t1 (an immune system that
  improves, a drifting self, a growing system, a transient from the initial
  state), so t1 must lie past the transient: check that a third horizon
  agrees.
- :func:`branching_hazard`: the *branching-process* (single-hit)
  approximation for a ``birth_death`` singleton without economy: defectors
  are founded by copy errors of residents at rate
  nu = N* death_rate mu_eff P(one mutation makes a defector), and each
  founded defector lineage escapes extinction with the Galton-Watson
  probability pi of its offspring law (:func:`analysis.theory.galton_watson_escape`)
  under the immune system's kill probability; lambda = nu pi. It assumes
  that one mutation makes a defector that escapes (a k-hit path, where a
  subcritical defector must mutate again, gives pi = 0 and the
  approximation says nothing), that escape is followed by takeover in a
  time short against T, and that the resident population sits at its
  logistic equilibrium N* = K (1 - death_rate / b0).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from simulation.errors import AnalysisError

from .theory import galton_watson_escape


def _hazard(p1: float, t1: int, p2: float, t2: int) -> float:
    return (math.log1p(-p1) - math.log1p(-p2)) / (t2 - t1)


def extrapolate_hazard(short: dict, long: dict, horizon: int) -> dict:
    """P(event by ``horizon``) from estimates at two shorter horizons.

    Parameters
    ----------
    short, long : dict
        Results of :func:`simulation.risk.estimate_risk` (``p``, ``low``,
        ``high``, ``horizon``) at horizons t1 < t2, for the same event.
    horizon : int
        T, the horizon to extrapolate to.

    Returns
    -------
    dict
        ``hazard`` (per tick), ``onset`` (t0), ``p`` (P by T), and
        ``hazard_low``/``hazard_high``, ``low``/``high``: bounds from the
        ends of the two intervals (the smallest hazard from p1 high and p2
        low, the largest from p1 low and p2 high; conservative: it treats
        the two estimates' errors as adversarial). ``hazard_low`` is 0
        when the intervals overlap: the data do not then exclude a zero
        hazard after t1, and T must come closer to t2.
    """
    t1, t2 = short["horizon"], long["horizon"]
    if not t1 < t2:
        raise AnalysisError(f"hazard extrapolation needs two horizons t1 < t2 (got {t1}, {t2})")
    if short.get("event") != long.get("event"):
        raise AnalysisError("hazard extrapolation needs two estimates of the same event")
    lam = _hazard(short["p"], t1, long["p"], t2)
    lam_low = max(0.0, _hazard(short["high"], t1, long["low"], t2))
    lam_high = max(0.0, _hazard(short["low"], t1, long["high"], t2))

    def by(p1, rate):
        # P(by T) = 1 - (1 - p1) exp(-rate (T - t1)) = 1 - exp(-rate (T - t0))
        return -math.expm1(math.log1p(-p1) - rate * (horizon - t1))

    onset = t1 + math.log1p(-short["p"]) / lam if lam > 0 else None
    return {"horizon": horizon, "t1": t1, "t2": t2, "hazard": lam,
            "hazard_low": lam_low, "hazard_high": lam_high, "onset": onset,
            "p": by(short["p"], max(lam, 0.0)), "low": by(short["low"], lam_low),
            "high": by(short["high"], lam_high),
            "assumption": "constant per-tick hazard after t1"}


def _defector_step_probability(scenario) -> float:
    """P(one mutation of drive turns a resident into a defector)."""
    k = scenario.copy.kernel
    d = scenario.agent.initial_traits.drive
    gap = scenario.agent.escape_threshold - d  # the step must exceed it
    if k.type == "step":
        return float(k.size > gap and k.direction != "down") * (
            0.5 if k.direction == "both" else 1.0)
    if k.type == "normal":
        return float(stats.norm.sf(gap, loc=k.bias, scale=k.sd))
    if k.type == "cauchy":
        return float(stats.cauchy.sf(gap, scale=k.scale))
    return 1.0 - scenario.agent.escape_threshold  # uniform redraw


#: The single-hit approximation is applied only where defectors founded by two
#: copy errors (through a sub-threshold intermediate) are at most this share of
#: those founded by one (:func:`multi_hit_ratio`).
MULTI_HIT_LIMIT = 0.01


def _step_law(scenario):
    """The copy kernel's drive step: (points, weights) of a discrete law, or a
    (survival, density) pair of a continuous one."""
    k = scenario.copy.kernel
    bias = k.bias.get("drive", 0.0) if isinstance(k.bias, dict) else k.bias
    if k.type == "step":
        signs = {"up": [1.0], "down": [-1.0], "both": [1.0, -1.0]}[k.direction]
        return "discrete", (np.array(signs) * k.size, np.full(len(signs), 1.0 / len(signs)))
    if k.type == "normal":
        law = stats.norm(loc=bias, scale=k.sd)
    elif k.type == "cauchy":
        law = stats.cauchy(scale=k.scale)
    else:
        return "uniform", None
    return "continuous", law


def multi_hit_ratio(scenario, efficacy: float, horizon: int) -> float:
    """nu_2 / nu_1: defectors founded through one sub-threshold intermediate
    (two copy errors) per defector founded by one error (docs/model.md, "When
    one copy error is not enough").

    A resident (drive d0) copy error lands at y = d0 + X; if y <= theta it
    founds an intermediate lineage whose expected births over its life are
    B(y) = b_y / (d_y - b_y) when subcritical, else b_y sum_{t<T} m^t with
    m = 1 + b_y - d_y (b_y, d_y its birth and death probabilities with the
    residents at N*, d_y including immune kills at ``efficacy`` when
    |y - d0| > tolerance); each birth errs with probability mu and crosses
    theta with probability q(theta - y). So
    nu_2 / nu_1 = mu E[1(y <= theta) B(y) q(theta - y)] / q(theta - d0).
    """
    from scipy import integrate

    from simulation.kernels.clones import effective_error_rate

    a, c, im = scenario.agent, scenario.copy, scenario.immune
    tr = a.initial_traits
    d0, theta = tr.drive, a.escape_threshold
    divisor = 1.0 + c.redundancy_cost * (c.redundancy - 1)
    b_res = a.birth_rate * (1 + a.drive_advantage * d0) * (1 - a.loyalty_cost * tr.loyalty) / divisor
    resident = a.capacity * max(0.0, 1.0 - a.death_rate / b_res) if b_res > 0 else 0.0
    g = max(0.0, 1.0 - resident / a.capacity)
    mu = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)

    def births(y):
        b = min(1.0, a.birth_rate * (1 + a.drive_advantage * y)
                * (1 - a.loyalty_cost * tr.loyalty) * g / divisor)
        seen = "drive" in im.traits and abs(y - d0) > im.tolerance
        kill = im.surveillance * (efficacy * (1 - tr.stealth) if seen else im.false_positive)
        death = a.death_rate + (1 - a.death_rate) * kill
        m = 1.0 + b - death
        if m < 1.0:
            return b / (death - b)
        ticks = horizon if m == 1.0 else math.expm1(min(horizon * math.log(m), 700.0)) / (m - 1)
        return b * min(ticks, a.capacity * horizon)  # the lineage cannot outgrow the system

    kind, law = _step_law(scenario)

    def cross(gap):
        if kind == "discrete":
            points, weights = law
            return float(weights[points > gap].sum())
        if kind == "uniform":
            return 1.0 - theta
        return float(law.sf(gap))

    one = cross(theta - d0)
    if one <= 0.0:
        return math.inf
    if kind == "discrete":
        points, weights = law
        two = sum(w * births(min(max(d0 + x, 0.0), 1.0)) * cross(theta - min(max(d0 + x, 0.0), 1.0))
                  for x, w in zip(points, weights) if d0 + x <= theta)
    elif kind == "uniform":
        two = integrate.quad(lambda y: births(y) * cross(theta - y), 0.0, theta, limit=200)[0]
    else:
        with warnings.catch_warnings():  # the cap on B(y) makes a kink: quad warns
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            two = integrate.quad(lambda x: law.pdf(x) * births(min(max(d0 + x, 0.0), 1.0))
                                 * cross(theta - min(max(d0 + x, 0.0), 1.0)),
                                 -np.inf, theta - d0, limit=200)[0]
    return mu * two / one


def branching_hazard(scenario, horizon: int | None = None) -> dict:
    """The single-hit branching-process hazard of takeover (module docstring).

    Parameters
    ----------
    scenario : Scenario
        A ``birth_death`` singleton without economy, repair, immune
        improvement or environmental noise (a constant error rate), with
        ``drive`` among the copied traits.
    horizon : int, optional
        T (default the scenario's) for ``p`` = 1 - exp(-lambda T).

    Returns
    -------
    dict
        ``resident_size`` (N*), ``founding_rate`` (nu, defectors founded per
        tick), ``escape`` (pi), ``hazard`` (nu pi) and ``p``.
    """
    from simulation.kernels.clones import effective_error_rate

    a, c, im = scenario.agent, scenario.copy, scenario.immune
    if (a.dynamics != "birth_death" or scenario.world.agents != 1
            or scenario.world.income is not None or scenario.repair.rate > 0
            or im.improvement > 0 or "drive" not in c.traits or c.noise.sigma > 0
            or c.systematic.rate > 0):
        raise AnalysisError("the branching approximation applies to a birth_death singleton "
                            "without economy, repair, immune improvement, systematic error "
                            "or environmental noise, with drive copied")
    tr = a.initial_traits
    landscape = 1.0 + a.drive_advantage * tr.drive
    divisor = 1.0 + c.redundancy_cost * (c.redundancy - 1)
    b0 = a.birth_rate * landscape * (1 - a.loyalty_cost * tr.loyalty) / divisor
    resident = a.capacity * max(0.0, 1.0 - a.death_rate / b0) if b0 > 0 else 0.0
    mu = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)
    founding = resident * a.death_rate * mu * _defector_step_probability(scenario)
    # The founded defector: the drive it jumps to (its mean for the normal
    # kernel's tail is above theta; the threshold itself is the cautious value).
    drive = min(1.0, a.escape_threshold if c.kernel.type != "step"
                else tr.drive + c.kernel.size)
    g = max(0.0, 1.0 - resident / (a.escape_headroom * a.capacity))
    birth = min(1.0, a.birth_rate * (1 + a.drive_advantage * drive)
                * (1 - a.loyalty_cost * tr.loyalty) * g / divisor)
    deviant = "drive" in im.traits and drive - tr.drive > im.tolerance
    kill = im.surveillance * (im.efficacy * (1 - tr.stealth) if deviant else im.false_positive)
    death = a.death_rate + (1 - a.death_rate) * kill
    escape = galton_watson_escape(birth, death)
    hazard = founding * escape
    T = horizon if horizon is not None else scenario.horizon
    return {"resident_size": resident, "founding_rate": founding, "escape": escape,
            "defector_drive": drive, "defector_birth": birth, "defector_death": death, "hazard": hazard,
            "horizon": T, "p": -math.expm1(-hazard * T),
            "assumption": "single-hit defectors, escape then takeover fast against T"}


def defence_needed(scenario, target: float, horizon: int | None = None) -> dict:
    """The immune efficacy at which the branching approximation gives
    P(takeover by T) = ``target`` (closed form; docs/model.md, "The scaling
    of the defence needed").

    With the founding rate nu (independent of the efficacy e) the hazard
    nu pi(e) must satisfy 1 - exp(-nu pi T) <= target, that is
    pi(e) <= pi* = -ln(1 - target) / (nu T). The escape probability
    pi = 1 - d'(1 - b) / (b (1 - d')) with the defector's death
    d' = d + (1 - d) s e (1 - stealth) (surveillance s) falls with e, so
    pi(e) = pi* has the root d'* = x / (1 + x), x = (1 - pi*) b / (1 - b),
    e = (d'* - d) / ((1 - d) s (1 - stealth)); e = 0 when pi(0) <= pi*
    already. As nu T grows, e rises to the critical efficacy
    e_c = (b - d) / ((1 - d) s (1 - stealth)) at which defectors become
    subcritical (pi = 0).

    Returns
    -------
    dict
        ``efficacy`` (None when it would exceed 1), ``critical`` (e_c, None
        above 1), ``escape_needed`` (pi*), ``founding_rate`` (nu),
        ``resident_size``, ``growth`` (ln of the escaped lineage's mean
        offspring per tick at ``efficacy``, ln(1 + b - d')), ``takeover_ticks`` (ln(F N*) /
        growth: the time a lineage growing at its mean rate from one member
        needs to reach the takeover fraction F of N*; an upper estimate, as
        a lineage that escapes grows faster than the mean at first) and ``trusted`` (takeover_ticks <= T / 10: the
        approximation's "takeover fast against T").
    """
    if not 0.0 < target < 1.0:
        raise AnalysisError(f"target probability {target}: must lie strictly between 0 and 1")
    bp = branching_hazard(scenario, horizon)
    T = bp["horizon"]
    im, a = scenario.immune, scenario.agent
    d, b = a.death_rate, bp["defector_birth"]
    deviant = "drive" in im.traits and bp["defector_drive"] - a.initial_traits.drive > im.tolerance
    reach = (1 - d) * im.surveillance * (1 - a.initial_traits.stealth)
    if not deviant or reach <= 0:
        raise AnalysisError("the immune system cannot see the founded defector (its drive "
                            "step is within immune.tolerance, or surveillance is 0): no "
                            "efficacy changes the risk")
    if b >= 1.0:
        raise AnalysisError(f"the founded defector's birth probability per tick is {b:.3g} "
                            "(agent.birth_rate times its fitness, capped at 1): the "
                            "branching approximation needs it below 1")
    nu = bp["founding_rate"]
    needed = -math.log1p(-target) / (nu * T) if nu > 0 else math.inf
    critical = (b - d) / reach
    with_none = galton_watson_escape(b, d)  # escape at e = 0 (no kills)
    if with_none <= needed:
        efficacy = 0.0
        death = d
    else:
        x = (1 - needed) * b / (1 - b)
        death = x / (1 + x)
        efficacy = (death - d) / reach
    mean_offspring = 1 + b - death  # offspring law of galton_watson_escape
    growth = math.log(mean_offspring) if mean_offspring > 1 else 0.0
    size = a.takeover_fraction * bp["resident_size"]
    ticks = math.log(max(size, 1.0)) / growth if growth > 0 else math.inf
    multi = multi_hit_ratio(scenario, min(max(efficacy, 0.0), 1.0), T)
    applicable = bool(multi <= MULTI_HIT_LIMIT)
    return {"size": scenario.agent.capacity, "horizon": T, "target": target,
            "applicable": applicable, "multi_hit_ratio": multi,
            "efficacy": efficacy if efficacy <= 1.0 else None,
            "critical": critical if critical <= 1.0 else None,
            "escape_needed": needed, "escape_at_zero": with_none, "founding_rate": nu,
            "resident_size": bp["resident_size"], "defector_birth": b,
            "defector_drive": bp["defector_drive"], "growth": growth,
            "takeover_ticks": ticks, "trusted": bool(applicable and ticks <= T / 10)}
