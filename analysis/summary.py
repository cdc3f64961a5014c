"""Survival statistics of output folders: ``summarize`` (folders are read by
:func:`simulation.io.load`, re-exported as ``analysis.load``).

>>> import analysis
>>> results = analysis.load("results/sweep_error_immune")
>>> analysis.summarize(results, by=["copy.error_rate"])
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from simulation.errors import AnalysisError
from simulation.events import EVENT_COLUMNS as EVENTS
from simulation.io import Results

from .survival import kaplan_meier, median_event_tick, wilson_interval

def event_columns(event: str):
    if event not in EVENTS:
        raise AnalysisError(f"unknown event {event!r}; allowed: {', '.join(EVENTS)}")
    return EVENTS[event]


def hazard_rate(event_ticks, censor_ticks, confidence: float = 0.95):
    """Constant hazard per tick: events / replicate-ticks at risk (the MLE of
    an exponential time to event), with the exact Poisson (Garwood 1936)
    interval on the event count. Returns (rate, low, high)."""
    events = pd.array(event_ticks, dtype="Float64")
    observed = ~np.asarray(events.isna())
    exposure = float(np.where(observed, np.asarray(events.fillna(0), dtype=float),
                              np.asarray(censor_ticks, dtype=float)).sum())
    k = int(observed.sum())
    if exposure <= 0:
        return math.nan, math.nan, math.nan
    alpha = 1 - confidence
    low = stats.chi2.ppf(alpha / 2, 2 * k) / 2 if k > 0 else 0.0
    high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return k / exposure, low / exposure, high / exposure


def _group_summary(runs: pd.DataFrame, horizon: int, events) -> dict:
    row = {"replicates": len(runs)}
    for event in events:
        flag, tick = event_columns(event)
        ticks = runs[tick]
        happened = ~ticks.isna()
        p, low, high = wilson_interval(int(happened.sum()), len(runs))
        row[f"p_{event}"] = p
        row[f"p_{event}_low"] = low
        row[f"p_{event}_high"] = high
        median = median_event_tick(ticks, runs["ticks"])
        row[f"median_{event}_tick"] = median if median is not None else math.nan
        rate, rlow, rhigh = hazard_rate(ticks, runs["ticks"])
        row[f"{event}_hazard"] = rate
        row[f"{event}_hazard_low"] = rlow
        row[f"{event}_hazard_high"] = rhigh
    row["mean_final_drive"] = float(runs["final_mean_drive"].mean())
    row["mean_final_loyalty"] = float(runs["final_mean_loyalty"].mean())
    row["horizon"] = horizon
    return row


def summarize(results, by=None, events=("takeover", "convergence"),
              horizon: int | None = None) -> pd.DataFrame:
    """Per group: P(event by the horizon) with a Wilson 95% interval, the
    Kaplan-Meier median event tick (NaN: survival stays above 1/2), and the
    constant hazard per tick with its exact interval, for each event; plus
    mean final drive and loyalty.

    ``results`` is a :class:`Results` or a runs DataFrame (then give
    ``horizon``); ``by`` lists grouping columns (default: the swept
    parameters; none for a plain run). Event ticks are right-censored at each
    replicate's last tick.
    """
    if isinstance(results, Results):
        runs = results.runs
        horizon = results.horizon if horizon is None else horizon
        by = results.parameters if by is None else by
    else:
        runs = results
        by = by or []
    by = list(by)
    for column in by:
        if column not in runs.columns:
            raise AnalysisError(f"group by {column}: not a column of the runs table "
                                f"(swept parameters here: {', '.join(_swept(runs)) or 'none'})")
    if not by:
        return pd.DataFrame([_group_summary(runs, horizon, events)])
    rows = []
    for key, group in runs.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **_group_summary(group, horizon, events)})
    return pd.DataFrame(rows)


def survival_curves(results, event: str = "takeover", by=None) -> pd.DataFrame:
    """Kaplan-Meier survival of an event per group, in long form: group
    columns, ``tick``, ``survival``, ``low``, ``high`` (95% pointwise band,
    Greenwood; equal to the estimate where it is 0), starting at (0, 1)."""
    import warnings

    runs = results.runs if isinstance(results, Results) else results
    if by is None and isinstance(results, Results):
        by = results.parameters
    by = list(by or [])
    _, tick = event_columns(event)
    groups = runs.groupby(by, sort=True, dropna=False) if by else [((), runs)]
    frames = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        km = kaplan_meier(group[tick], group["ticks"])
        if km is None:
            curve = pd.DataFrame({"tick": [0], "survival": [1.0], "low": [1.0],
                                  "high": [1.0]})
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ci = km.sf.confidence_interval(0.95)
            survival = np.r_[1.0, km.sf.probabilities]
            # Greenwood's band is undefined where S = 0: it collapses to S.
            curve = pd.DataFrame({
                "tick": np.r_[0, km.sf.quantiles], "survival": survival,
                "low": np.where(np.isnan(np.r_[1.0, ci.low.probabilities]), survival,
                                np.r_[1.0, ci.low.probabilities]),
                "high": np.where(np.isnan(np.r_[1.0, ci.high.probabilities]), survival,
                                 np.r_[1.0, ci.high.probabilities])})
        for name, value in zip(by, key):
            curve.insert(0, name, value)
        frames.append(curve)
    return pd.concat(frames, ignore_index=True)


def _swept(runs):
    return [c for c in runs.columns if "." in c]
