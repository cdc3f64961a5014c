"""Probabilities and survival curves of censored event ticks.

Every event tick in ``runs.parquet`` is right-censored at the replicate's last
tick (a null tick means "not by then"), so outcomes are reported as
P(event by T) with a Wilson interval and as Kaplan-Meier survival curves.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def wilson_interval(successes: int, trials: int, confidence: float = 0.95):
    """Wilson score interval of a binomial proportion (Wilson 1927).

    Returns ``(estimate, low, high)``; NaNs when there are no trials.
    """
    if trials == 0:
        return math.nan, math.nan, math.nan
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=confidence, method="wilson")
    return successes / trials, float(ci.low), float(ci.high)


def kaplan_meier(event_ticks, censor_ticks):
    """Kaplan-Meier estimate of the survival function of an event.

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
    events = pd.array(event_ticks, dtype="Float64")
    observed = ~events.isna()
    if not observed.any():
        return None
    uncensored = np.asarray(events[observed], dtype=float)
    right = np.asarray(censor_ticks, dtype=float)[~np.asarray(observed)]
    return stats.ecdf(stats.CensoredData(uncensored=uncensored, right=right))


def median_event_tick(event_ticks, censor_ticks):
    """Kaplan-Meier median event tick; None when survival stays above 1/2."""
    km = kaplan_meier(event_ticks, censor_ticks)
    if km is None:
        return None
    below = np.flatnonzero(km.sf.probabilities <= 0.5)
    return float(km.sf.quantiles[below[0]]) if below.size else None


def summarize_run(runs: pd.DataFrame, horizon: int) -> dict:
    """The headline numbers of one run (one row per replicate): the single
    group of :func:`analysis.summarize`, with a median of None when survival
    stays above 1/2."""
    from .summary import summarize

    row = summarize(runs, horizon=horizon).iloc[0].to_dict()
    row["replicates"] = int(row["replicates"])  # a DataFrame row makes it float
    if math.isnan(row["median_takeover_tick"]):
        row["median_takeover_tick"] = None
    return row
