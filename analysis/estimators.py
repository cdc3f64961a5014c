"""Estimators of event probabilities from replicates: one module for all of them.

Every replicate of a run ends in one of three ways for a given event (see
:func:`event_status`):

* the event happens at its tick (``cause`` 1);
* a *competing* event makes it impossible first (``cause`` 2): extinction for
  every other event (a world without agents has no takeover, no convergence,
  no defector), and fixation and loss of the seeded lineage for each other;
* observation stops without either (``cause`` 0, *censored*): at the horizon
  (uninformative), or at a ``stop.on`` event that ends the replicate before
  the event could happen (a *stopped* replicate: the event might still have
  happened later, and whether it would have is not observed).

P(event by T) is then a cumulative incidence, estimated by Aalen-Johansen
(:func:`aalen_johansen`), not 1 - Kaplan-Meier: Kaplan-Meier treats competing
events as censoring and overestimates the probability. When stopped
replicates exist before T, the probability is not identifiable without an
assumption about what the stopped replicates would have done; it is reported
as bounds that must contain the truth (:func:`stop_bounds`).

Conventions: ticks are integers and ties are common. At a tick, events of
both causes happen before censoring (a replicate censored at tick t was at
risk at t), as in Kaplan-Meier.

References
----------
Aalen, O. O. and Johansen, S. (1978). An empirical transition matrix for
non-homogeneous Markov chains based on censored observations. Scandinavian
Journal of Statistics 5, 141-150.
Collett, D. (2015). Modelling Survival Data in Medical Research, 3rd ed.,
section 12.3 (variance of the cumulative incidence function).
Wilson, E. B. (1927). Probable inference, the law of succession, and
statistical inference. JASA 22, 209-212.
Garwood, F. (1936). Fiducial limits for the Poisson distribution.
Biometrika 28, 437-442.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statistics import NormalDist

from simulation.codes import Cause
from simulation.errors import AnalysisError
from simulation.names import EARLY_STOPS
from simulation.names import EVENT_COLUMNS as EVENTS  # event -> (flag, tick) columns

#: Event name -> the events that make it impossible once they happen.
COMPETING = {"takeover": ("extinction",),
             "convergence": ("extinction",),
             "first_defector": ("extinction",),
             "extinction": (),
             "fixation": ("loss", "extinction"),
             "loss": ("fixation",),
             "drift": ("extinction",),
             "total_loss": (),
             "cancer_first": ("drift_first", "extinction"),
             "drift_first": ("cancer_first", "extinction"),
             "cancer_then_drift": ("drift_first", "extinction"),
             "drift_then_cancer": ("cancer_first", "extinction"),
             # Types scenarios: a type that mutation can bring back is not gone
             # for good when it is lost, so only extinction precludes these.
             "type_arrival": ("extinction",),
             "type_fixation": ("extinction",),
             "type_loss": ("extinction",),
             "type_reached": ("extinction",),
             "size_reached": ("extinction",)}

#: The failure-mode events, in the order summaries list them.
FAILURE_EVENTS = ("cancer_first", "drift_first", "cancer_then_drift", "drift_then_cancer")



def _normal_quantile(q: float) -> float:
    """The standard normal quantile (the standard library's, within an ulp of
    scipy.special.ndtri, without importing SciPy on every run)."""
    return NormalDist().inv_cdf(q)

def with_failure_modes(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``runs`` with the tick columns of :data:`FAILURE_EVENTS`.

    From ``takeover_tick`` (cancer) and ``drift_tick`` (value drift): the
    first failure is cancer when the takeover came first or at the same
    tick (as ``failure_mode`` counts it), else drift; ``cancer_then_drift``
    happens at the drift tick of a replicate whose cancer came first, and
    ``drift_then_cancer`` at the takeover tick of one whose drift came first.
    Each first failure is a competing risk of the other (and extinction a
    competing risk of both), so P(mode by T) is a cumulative incidence.
    """
    for column in ("takeover_tick", "drift_tick"):
        if column not in runs.columns:
            raise AnalysisError(f"the runs table has no column {column} (failure modes "
                                "need a table written by Substrate with drift_tick)")
    out = runs.copy()
    cancer = _ticks(runs["takeover_tick"])
    drift = _ticks(runs["drift_tick"])
    cancer_first = ~np.isnan(cancer) & (np.isnan(drift) | (cancer <= drift))
    drift_first = ~np.isnan(drift) & ~cancer_first
    both = ~np.isnan(cancer) & ~np.isnan(drift)

    def ticks(mask, values):
        return pd.array(np.where(mask, values, np.nan), dtype="Float64").astype("Int64")

    out["cancer_first_tick"] = ticks(cancer_first, cancer)
    out["drift_first_tick"] = ticks(drift_first, drift)
    out["cancer_then_drift_tick"] = ticks(cancer_first & both, drift)
    out["drift_then_cancer_tick"] = ticks(drift_first & both, cancer)
    return out

CAUSE_CENSORED, CAUSE_EVENT, CAUSE_COMPETING = (int(c) for c in Cause)


def event_columns(event: str):
    """The (boolean column, tick column) of an event in ``runs.parquet``."""
    if event not in EVENTS:
        raise AnalysisError(f"unknown event {event!r}; allowed: {', '.join(EVENTS)}")
    return EVENTS[event]


def _ticks(values) -> np.ndarray:
    """A nullable tick column as floats, NaN where the event did not happen."""
    return np.asarray(pd.array(values, dtype="Float64").to_numpy(dtype=float,
                                                                  na_value=np.nan))


# --- binomial and Poisson ----------------------------------------------------

def wilson_interval(successes: int, trials: int, confidence: float = 0.95):
    """Wilson score interval of a binomial proportion (Wilson 1927).

    Parameters
    ----------
    successes, trials : int
        Counts.
    confidence : float
        Coverage of the interval.

    Returns
    -------
    tuple of float
        ``(estimate, low, high)``; NaNs when there are no trials.
    """
    if trials == 0:
        return math.nan, math.nan, math.nan
    # The closed form (as scipy.stats.binomtest(...).proportion_ci(method=
    # "wilson")), without importing scipy.stats: a run's summary stays light.
    p = successes / trials
    low, high = wilson_limits(p, trials, confidence)
    return p, float(low), float(high)


def wilson_limits(p, n, confidence: float = 0.95, z: float | None = None):
    """The Wilson score limits of a proportion ``p`` from ``n`` trials, for
    arrays: ``n`` may be an effective (non-integer) number of trials.

        (p + z^2/2n -+ z sqrt(p (1 - p)/n + z^2/4n^2)) / (1 + z^2/n)

    exactly 0 at p = 0 and 1 at p = 1 (the closed form there, without its
    rounding); at 0 trials (no information) the whole of [0, 1]. ``z``
    replaces the normal quantile of ``confidence`` when given.

    Returns
    -------
    tuple of numpy.ndarray (or float for scalar input)
        ``(low, high)``.
    """
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _normal_quantile(0.5 + confidence / 2) if z is None else z
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low = np.where(p <= 0, 0.0, np.maximum(centre - half, 0.0))
        high = np.where(p >= 1, 1.0, np.minimum(centre + half, 1.0))
    empty = ~(n > 0)
    low, high = np.where(empty, 0.0, low), np.where(empty, 1.0, high)
    return (low[()], high[()])


def poisson_rate_interval(count: int, exposure: float, confidence: float = 0.95):
    """A rate ``count / exposure`` with the exact Poisson (Garwood 1936)
    interval on the count. Returns ``(rate, low, high)``; NaNs without exposure."""
    if exposure <= 0:
        return math.nan, math.nan, math.nan
    alpha = 1 - confidence
    # chi2.ppf(q, 2k) / 2 = gammaincinv(k, q)
    from scipy import special  # imported when used (~0.15 s)

    low = float(special.gammaincinv(count, alpha / 2)) if count > 0 else 0.0
    high = float(special.gammaincinv(count + 1, 1 - alpha / 2))
    return count / exposure, low / exposure, high / exposure


def mean_interval(values, confidence: float = 0.95):
    """The mean of replicate values with its Student t interval.

    Returns ``(mean, low, high)``: NaNs without values; the mean itself for
    both bounds with one value or none varying (no spread to estimate)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2 or np.all(values == values[0]):
        return mean, mean, mean
    sem = float(values.std(ddof=1)) / math.sqrt(values.size)
    from scipy import special  # imported when used (~0.15 s)

    half = float(special.stdtrit(values.size - 1, 0.5 + confidence / 2)) * sem
    return mean, mean - half, mean + half


def bounded_mean_interval(values, lower: float = 0.0, upper: float = 1.0, units=None,
                          confidence: float = 0.95):
    """The mean of replicate values that lie in [``lower``, ``upper``], with a
    Wilson-type interval on an effective number of replicates: within the
    bounds, and never a point.

    With the values rescaled to u_i = (x_i - lower)/(upper - lower) in
    [0, 1], their mean m and sample variance s^2 (n - 1 in the divisor),

        n_eff = n m (1 - m) / s^2,  clipped to [n, U],

    and the interval is Wilson's for a proportion m of n_eff trials, mapped
    back to the bounds. For values that are all 0 or 1 (a fraction of one
    agent) n m (1 - m) / s^2 = n - 1, so n_eff = n and the interval is
    exactly :func:`wilson_interval` of the count. m (1 - m) is the largest
    variance a variable in [0, 1] with mean m can have (Bhatia and Davis
    2000), so n_eff >= n says "at least as precise as n all-or-nothing
    replicates"; U, the sum of ``units`` (for a fraction of agents lost: the
    agents founded), caps it: never more precise than if every unit were an
    independent trial. Where the replicates show no spread (s = 0: all lost
    nothing, everything or the same share) the data say nothing about it,
    and n_eff = n. Where n_eff rests on the estimate s^2 (strictly between
    its clips), z is Student's t quantile with n - 1 degrees of freedom, as
    for a mean with estimated variance; at the clips (a bound, not an
    estimate) the normal quantile, as Wilson's.

    Parameters
    ----------
    values : array-like of float
        One value per replicate (NaNs dropped).
    lower, upper : float
        Bounds of the values.
    units : array-like, optional
        Per replicate, the number of independent units its value is a
        fraction of (default: no cap).

    Returns
    -------
    tuple of float
        ``(mean, low, high)``; NaNs without values.
    """
    values = np.asarray(values, dtype=float)
    keep = ~np.isnan(values)
    values = values[keep]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    n = values.size
    scale = upper - lower
    u = np.clip((values - lower) / scale, 0.0, 1.0) if scale > 0 else np.zeros(n)
    m = float(u.mean())
    cap = math.inf if units is None else max(float(np.asarray(units, float)[keep].sum()), n)
    s2 = float(u.var(ddof=1)) if n > 1 else 0.0
    ratio = n * m * (1 - m) / s2 if s2 > 0 else float(n)
    n_eff = min(max(ratio, n), cap)
    z = None
    if n < n_eff < cap:  # the spread is estimated (not a bound): Student's quantile
        from scipy import special  # imported when used (~0.15 s)

        z = float(special.stdtrit(n - 1, 0.5 + confidence / 2))
    low, high = wilson_limits(m, n_eff, confidence, z)
    return float(values.mean()), lower + scale * float(low), lower + scale * float(high)


# --- Kaplan-Meier ------------------------------------------------------------

def kaplan_meier(event_ticks, censor_ticks):
    """Kaplan-Meier estimate of the survival function of an event (SciPy).

    Right for an event that nothing else can preclude; for P(event by T) with
    competing events use :func:`aalen_johansen`.

    Parameters
    ----------
    event_ticks : array-like
        The event tick of each replicate, NaN/NA where it did not happen.
    censor_ticks : array-like
        The last observed tick of each replicate (its censoring time).

    Returns
    -------
    scipy.stats._survival.ECDFResult or None
        SciPy's estimate (``.sf.quantiles``, ``.sf.probabilities``,
        ``.sf.confidence_interval()``); None when no event was observed.
    """
    events = _ticks(event_ticks)
    observed = ~np.isnan(events)
    if not observed.any():
        return None
    right = np.asarray(censor_ticks, dtype=float)[~observed]
    from scipy import stats  # imported when used: ~0.5 s

    return stats.ecdf(stats.CensoredData(uncensored=events[observed], right=right))


def median_event_tick(event_ticks, censor_ticks):
    """Kaplan-Meier median event tick; None when survival stays above 1/2."""
    km = kaplan_meier(event_ticks, censor_ticks)
    if km is None:
        return None
    below = np.flatnonzero(km.sf.probabilities <= 0.5)
    return float(km.sf.quantiles[below[0]]) if below.size else None


# --- competing risks ---------------------------------------------------------

def event_status(runs: pd.DataFrame, event: str):
    """Per replicate: the time and cause of the end of its risk of ``event``.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of ``runs.parquet`` (columns ``ticks``, ``stop_reason`` and the
        event tick columns).
    event : str
        A key of :data:`EVENTS`.

    Returns
    -------
    time : numpy.ndarray of float
        The event tick (cause 1), the first competing event's tick (cause 2),
        or the last tick observed (cause 0).
    cause : numpy.ndarray of int8
        1 event, 2 competing event, 0 censored.
    stopped : numpy.ndarray of bool
        Censored by a ``stop.on`` event (another event ended the replicate):
        informative censoring, see :func:`stop_bounds`.
    """
    _, column = event_columns(event)
    missing = [c for c in ("ticks", column) if c not in runs.columns]
    if missing:
        raise AnalysisError(f"the runs table has no column {', '.join(missing)} "
                            "(not a table written by this version of Substrate?)")
    own = _ticks(runs[column])
    last = np.asarray(runs["ticks"], dtype=float)
    rival = np.full(len(runs), np.nan)
    for other in COMPETING[event]:
        other_column = EVENTS[other][1]
        if other_column in runs.columns:
            rival = np.fmin(rival, _ticks(runs[other_column]))
    happened = ~np.isnan(own)
    # A competing event at the event's own tick does not preclude it.
    competing = ~happened & ~np.isnan(rival)
    cause = np.where(happened, CAUSE_EVENT,
                     np.where(competing, CAUSE_COMPETING, CAUSE_CENSORED)).astype(np.int8)
    time = np.where(happened, own, np.where(competing, rival, last))
    reason = (runs["stop_reason"].astype(str).to_numpy() if "stop_reason" in runs.columns
              else np.full(len(runs), "horizon"))
    stopped = (cause == CAUSE_CENSORED) & np.isin(reason, EARLY_STOPS)
    return time, cause, stopped


def aalen_johansen(time, cause, confidence: float = 0.95) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of cause 1 with competing cause 2.

    At each distinct tick t_j with n_j replicates at risk, d1_j events,
    d2_j competing events (d_j = d1_j + d2_j) and all-cause Kaplan-Meier
    survival S(t_j) = prod_{i<=j} (1 - d_i/n_i),

        F(t) = sum_{t_j <= t} S(t_{j-1}) d1_j / n_j.

    Its variance is the delta-method (Greenwood-type) estimate of Collett
    (2015, eq. 12.4), the one SAS PROC LIFETEST and lifelines use:

        Var F(t) = sum_{t_j<=t} [ (F(t) - F(t_j))^2 d_j / (n_j (n_j - d_j))
                   + S(t_{j-1})^2 d1_j (n_j - d1_j) / n_j^3
                   - 2 (F(t) - F(t_j)) S(t_{j-1}) d1_j / n_j^2 ],

    and the pointwise interval is symmetric on the log(-log F) scale, so it
    stays within [0, 1]; it collapses to F where F is 0 or 1 (there the
    delta method has nothing to say): :func:`incidence_band` is the band
    that does not, the one the summaries and figures use.

    Parameters
    ----------
    time : array-like of float
        Per replicate, the tick at which its risk ended.
    cause : array-like of int
        Per replicate: 1 the event, 2 a competing event, 0 censored.
    confidence : float
        Coverage of the pointwise interval.

    Returns
    -------
    pandas.DataFrame
        One row per distinct tick, starting with tick 0 (incidence 0 unless
        events happen at tick 0):
        ``tick``, ``at_risk``, ``events``, ``competing``, ``censored``,
        ``survival`` (all-cause, just after the tick), ``incidence``,
        ``variance``, ``low``, ``high``. The estimate is a step function:
        its value at any tick is the last row at or before it.
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause)
    if time.shape != cause.shape:
        raise AnalysisError("event times and causes differ in length")
    if time.size == 0:
        raise AnalysisError("no replicates to estimate an incidence from")
    if np.isnan(time).any():
        raise AnalysisError("every replicate needs a time (its event, competing "
                            "event or last observed tick); some are missing")
    if not np.isin(cause, (CAUSE_CENSORED, CAUSE_EVENT, CAUSE_COMPETING)).all():
        raise AnalysisError("a cause is 0 (censored), 1 (the event) or 2 (a competing "
                            f"event); got {sorted(set(np.unique(cause).tolist()) - {0, 1, 2})}")
    ticks, inverse = np.unique(time, return_inverse=True)
    counts = np.zeros((len(ticks), 3))
    np.add.at(counts, (inverse, cause.astype(np.intp)), 1.0)
    censored, events, competing = counts[:, 0], counts[:, 1], counts[:, 2]
    leaving = counts.sum(axis=1)
    at_risk = len(time) - np.r_[0.0, np.cumsum(leaving)[:-1]]
    failing = events + competing
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - failing / at_risk)
        before = np.r_[1.0, survival[:-1]]  # S(t_{j-1})
        incidence = np.cumsum(before * events / at_risk)
        a = np.where(failing < at_risk, failing / (at_risk * (at_risk - failing)), 0.0)
        b = before ** 2 * events * (at_risk - events) / at_risk ** 3
        c = before * events / at_risk ** 2
    # sum_j a_j (F_k - F_j)^2 expanded into running sums, so the whole curve
    # is one pass. Where n_j = d_j, S drops to 0 and F is flat after t_j:
    # (F_k - F_j) = 0, and a_j is set to 0 to avoid 0 * inf.
    sum_a = np.cumsum(a)
    sum_af = np.cumsum(a * incidence)
    sum_aff = np.cumsum(a * incidence ** 2)
    sum_c = np.cumsum(c)
    sum_cf = np.cumsum(c * incidence)
    variance = (incidence ** 2 * sum_a - 2 * incidence * sum_af + sum_aff
                + np.cumsum(b) - 2 * (incidence * sum_c - sum_cf))
    variance = np.maximum(variance, 0.0)  # rounding in the expansion
    low, high = _loglog_interval(incidence, variance, confidence)
    curve = pd.DataFrame({"tick": ticks, "at_risk": at_risk, "events": events,
                          "competing": competing, "censored": censored,
                          "survival": survival, "incidence": incidence,
                          "variance": variance, "low": low, "high": high})
    if not len(ticks) or ticks[0] > 0:
        start = pd.DataFrame({"tick": [0.0], "at_risk": [float(len(time))],
                              "events": [0.0], "competing": [0.0], "censored": [0.0],
                              "survival": [1.0], "incidence": [0.0], "variance": [0.0],
                              "low": [0.0], "high": [0.0]})
        curve = pd.concat([start, curve], ignore_index=True)
    return curve


def _loglog_interval(estimate, variance, confidence):
    """Pointwise interval symmetric in log(-log F); equal to F at 0 and 1."""
    z = _normal_quantile(0.5 + confidence / 2)
    estimate = np.asarray(estimate, dtype=float)
    inside = (estimate > 0) & (estimate < 1)
    f = np.where(inside, estimate, 0.5)
    log_f = np.log(f)
    se = np.sqrt(variance) / (f * np.abs(log_f))
    centre = np.log(-log_f)
    with np.errstate(over="ignore"):  # F near 1 or tiny: exp(-inf) = 0 is the limit
        low = np.where(inside, np.exp(-np.exp(centre + z * se)), estimate)
        high = np.where(inside, np.exp(-np.exp(centre - z * se)), estimate)
    return low, high


def incidence_band(time, cause, ticks, confidence: float = 0.95, curve=None):
    """The pointwise interval of P(event by t) at each of ``ticks``: the
    interval :func:`estimate_event` gives at a horizon t (when no replicate
    was stopped before t), never collapsed to a point.

    With N replicates, k(t) events by t and c(t) replicates censored before
    t (a replicate censored at t was observed through t):

    * c(t) = 0 (the uncensored case): F(t) = k(t)/N exactly, and the
      interval is Wilson's (1927) for k(t) of N; at k = 0 it is
      [0, z^2/(N + z^2)], at k = N [N/(N + z^2), 1];
    * c(t) > 0 and 0 < F(t) < 1: the log(-log) delta-method interval of
      :func:`aalen_johansen`;
    * c(t) > 0 and F(t) = 0 or 1 (where the delta method collapses): the
      Wilson interval of F(t) with the N - c(t) replicates whose outcome by
      t is known as trials (under independent censoring they are a random
      subset of the N, and k(t) of them had the event: 0 or all).

    Parameters
    ----------
    time, cause : array-like
        As for :func:`aalen_johansen`.
    ticks : array-like of float
        Where to read the band.
    curve : pandas.DataFrame, optional
        ``aalen_johansen(time, cause, confidence)`` if already computed.

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)``.
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause)
    ticks = np.asarray(ticks, dtype=float)
    if curve is None:
        curve = aalen_johansen(time, cause, confidence)
    rows = _steps_at(curve, ticks)
    n = len(time)
    censored = np.searchsorted(np.sort(time[cause == CAUSE_CENSORED]), ticks, side="left")
    seen = np.searchsorted(np.sort(time[cause == CAUSE_EVENT]), ticks, side="right")
    incidence = rows["incidence"].to_numpy()
    known = n - censored
    p = np.where(censored == 0, seen / n, np.clip(np.round(incidence, 12), 0.0, 1.0))
    low, high = wilson_limits(p, known, confidence)
    delta = (censored > 0) & (p > 0) & (p < 1)
    low = np.where(delta, rows["low"].to_numpy(), low)
    high = np.where(delta, rows["high"].to_numpy(), high)
    return np.atleast_1d(low), np.atleast_1d(high)


def value_at(curve: pd.DataFrame, tick, column: str = "incidence") -> float:
    """The step function ``curve[column]`` at ``tick`` (last row at or before)."""
    return float(_steps_at(curve, [tick])[column].iloc[0])


def median_tick(curve: pd.DataFrame) -> float:
    """First tick at which the cumulative incidence reaches 1/2; NaN if never."""
    reached = np.flatnonzero(curve["incidence"].to_numpy() >= 0.5 - 1e-12)
    return float(curve["tick"].iloc[reached[0]]) if reached.size else math.nan


def cause_specific_hazard(time, cause, confidence: float = 0.95):
    """Constant cause-specific hazard per tick with its exact interval.

    Events of the cause over replicate-ticks at risk, each replicate at risk
    until its event, competing event or censoring (the maximum-likelihood
    rate of an exponential time to event under independent censoring), with
    the exact Poisson (Garwood 1936) interval on the event count.

    Returns
    -------
    tuple of float
        ``(rate, low, high)``; NaNs when no replicate-tick was at risk.
    """
    time = np.asarray(time, dtype=float)
    count = int((np.asarray(cause) == CAUSE_EVENT).sum())
    return poisson_rate_interval(count, float(time.sum()), confidence)


def hazard_rate(event_ticks, censor_ticks, confidence: float = 0.95):
    """Constant hazard per tick: events / replicate-ticks at risk, with the
    exact Poisson interval. A replicate is at risk until its event tick or,
    without the event, its ``censor_ticks`` (which for a run is its last tick:
    a competing event ends the risk there too). Returns ``(rate, low, high)``."""
    events = _ticks(event_ticks)
    observed = ~np.isnan(events)
    time = np.where(observed, events, np.asarray(censor_ticks, dtype=float))
    return cause_specific_hazard(time, observed.astype(np.int8), confidence)


# --- bounds for stop-censored events -----------------------------------------

def stop_bounds(time, cause, stopped, horizon, confidence: float = 0.95):
    """An interval that contains P(event by ``horizon``) whatever the stopped
    replicates would have done.

    A replicate stopped (by a ``stop.on`` event) before ``horizon`` without
    the event might have had it later, or not. At the two extremes none of
    them would have (k/n, k events seen by the horizon among n replicates)
    or all would have ((k + m)/n, m stopped before the horizon without the
    event). The interval runs from the lower Wilson limit of k of n to the
    upper Wilson limit of k + m of n, so it covers the truth with at least
    the stated confidence under every behaviour of the stopped replicates.

    Parameters
    ----------
    time, cause, stopped : array-like
        As returned by :func:`event_status`.
    horizon : int
        The T of P(event by T).

    Returns
    -------
    dict
        ``seen`` (k), ``stopped`` (m), ``replicates`` (n), ``low``, ``high``
        (the interval) and ``low_point``, ``high_point`` (k/n and (k+m)/n).
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause)
    stopped = np.asarray(stopped, dtype=bool)
    n = len(time)
    seen = int(((cause == CAUSE_EVENT) & (time <= horizon)).sum())
    cut = int((stopped & (time < horizon)).sum())
    _, low, _ = wilson_interval(seen, n, confidence)
    _, _, high = wilson_interval(seen + cut, n, confidence)
    return {"seen": seen, "stopped": cut, "replicates": n, "low": low, "high": high,
            "low_point": seen / n if n else math.nan,
            "high_point": (seen + cut) / n if n else math.nan}


def bound_curves(time, cause, stopped) -> pd.DataFrame:
    """The two extreme curves of :func:`stop_bounds` at every tick where one
    changes: ``tick``, ``bound_low`` (events seen by the tick, over n) and
    ``bound_high`` (plus the replicates stopped before the tick without the
    event: one stopped at t had no event by t, but might have one at t + 1)."""
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause)
    stopped = np.asarray(stopped, dtype=bool)
    n = max(len(time), 1)
    seen = np.sort(time[cause == CAUSE_EVENT])
    cut = np.sort(time[stopped])
    ticks = np.unique(np.r_[0.0, seen, cut + 1])
    low = np.searchsorted(seen, ticks, side="right") / n
    high = low + np.searchsorted(cut, ticks, side="left") / n
    return pd.DataFrame({"tick": ticks, "bound_low": low, "bound_high": high})


def _steps_at(curve: pd.DataFrame, ticks) -> pd.DataFrame:
    """A step-function table read at other ticks (last row at or before each)."""
    position = np.searchsorted(curve["tick"].to_numpy(), ticks, side="right") - 1
    out = curve.iloc[np.maximum(position, 0)].reset_index(drop=True)
    out["tick"] = np.asarray(ticks, dtype=float)
    return out


# --- one event, one group ----------------------------------------------------

def estimate_event(runs: pd.DataFrame, event: str, horizon: int,
                   confidence: float = 0.95) -> dict:
    """P(event by ``horizon``), its median tick and hazard from replicates.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of ``runs.parquet`` (one group of replicates).
    event : str
        A key of :data:`EVENTS`.
    horizon : int
        The T of P(event by T).
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict
        ``p`` (Aalen-Johansen cumulative incidence at T: competing events are
        "no", censoring is assumed independent), ``low`` and ``high``, and
        ``bounded``. Without replicates censored before T, ``p`` is exactly
        the fraction of replicates with the event by T and the interval is
        Wilson's. With stopped replicates (``bounded`` True), ``low`` and
        ``high`` are :func:`stop_bounds`: an interval that contains the
        truth whatever the stopped replicates would have done. Otherwise
        (censoring before T that is not a stop) the log(-log) delta-method
        interval of :func:`aalen_johansen`, or where it collapses (F = 0 or
        1) Wilson's on the replicates not censored before T: the band of
        :func:`incidence_band` at T. Also ``median`` (first tick at
        which the incidence reaches 1/2; NaN if it does not by T) and
        ``hazard``, ``hazard_low``, ``hazard_high``
        (:func:`cause_specific_hazard`, up to T).
    """
    time, cause, stopped = event_status(runs, event)
    n = len(time)
    # Observation up to T only: later events and ends count as censored at T.
    late = time > horizon
    time = np.where(late, float(horizon), time)
    cause = np.where(late, CAUSE_CENSORED, cause)
    stopped = stopped & ~late
    result = {"p": math.nan, "low": math.nan, "high": math.nan, "bounded": False,
              "median": math.nan, "hazard": math.nan, "hazard_low": math.nan,
              "hazard_high": math.nan}
    if n == 0:
        return result
    curve = aalen_johansen(time, cause, confidence)
    result["p"] = value_at(curve, horizon)
    result["median"] = median_tick(curve)
    early_censoring = (cause == CAUSE_CENSORED) & (time < horizon)
    if (stopped & early_censoring).any():
        bounds = stop_bounds(time, cause, stopped, horizon, confidence)
        result.update(low=bounds["low"], high=bounds["high"], bounded=True)
    else:
        low, high = incidence_band(time, cause, [horizon], confidence, curve)
        result.update(low=float(low[0]), high=float(high[0]))
    rate, rlow, rhigh = cause_specific_hazard(time, cause, confidence)
    result.update(hazard=rate, hazard_low=rlow, hazard_high=rhigh)
    return result


def incidence_curve(runs: pd.DataFrame, event: str,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Aalen-Johansen curve of an event for one group of replicates, with the
    stop bounds beside it: the columns of :func:`aalen_johansen`, with
    ``low`` and ``high`` the band of :func:`incidence_band` (at every tick
    the interval :func:`estimate_event` gives with that tick as horizon,
    unless replicates were stopped before it), plus ``bound_low`` and
    ``bound_high`` (:func:`bound_curves`; equal to the incidence when
    nothing was stopped), ``bounded`` (replicates stopped before the tick)
    and ``bound_ci_low``, ``bound_ci_high`` (:func:`stop_bounds` at the
    tick: the interval the summary gives where ``bounded``). So at every
    tick the summary's interval is (``low``, ``high``), or where
    ``bounded`` (``bound_ci_low``, ``bound_ci_high``). A row at t + 1
    follows each censoring at t inside the curve: there the band widens
    (the censored replicate's outcome is no longer known)."""
    time, cause, stopped = event_status(runs, event)
    curve = aalen_johansen(time, cause, confidence)
    bounds = bound_curves(time, cause, stopped)
    after = time[cause == CAUSE_CENSORED] + 1
    ticks = np.union1d(np.union1d(curve["tick"].to_numpy(), bounds["tick"].to_numpy()),
                       after[after <= time.max()] if time.size else after)
    merged = _steps_at(curve, ticks)
    merged["low"], merged["high"] = incidence_band(time, cause, ticks, confidence, curve)
    merged[["bound_low", "bound_high"]] = _steps_at(bounds, ticks)[
        ["bound_low", "bound_high"]].to_numpy()
    if not stopped.any():
        merged["bound_low"] = merged["bound_high"] = merged["incidence"]
    # Where replicates were stopped before the tick, the summary's interval is
    # the stop bounds: Wilson's lower limit of k of n, upper of k + m of n.
    n = max(len(time), 1)
    merged["bounded"] = (merged["bound_high"] > merged["bound_low"]).to_numpy()
    merged["bound_ci_low"] = wilson_limits(merged["bound_low"].to_numpy(), n, confidence)[0]
    merged["bound_ci_high"] = wilson_limits(merged["bound_high"].to_numpy(), n, confidence)[1]
    return merged
