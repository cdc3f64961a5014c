"""Survival statistics of output folders: ``summarize`` (folders are read by
:func:`simulation.io.load`, re-exported as ``analysis.load``).

>>> import analysis
>>> results = analysis.load("results/sweep_error_immune")
>>> analysis.summarize(results, by=["copy.error_rate"])
"""

from __future__ import annotations

import math

import pandas as pd

from simulation.errors import AnalysisError
from simulation.io import Results, load  # noqa: F401 (the one reader; re-exported)

from .estimators import (EVENTS, FAILURE_EVENTS, estimate_event,  # noqa: F401
                         event_columns, hazard_rate, incidence_curve, with_failure_modes)


def _group_summary(runs: pd.DataFrame, horizon: int, events) -> dict:
    row = {"replicates": len(runs)}
    for event in events:
        estimate = estimate_event(runs, event, horizon)
        row[f"p_{event}"] = estimate["p"]
        row[f"p_{event}_low"] = estimate["low"]
        row[f"p_{event}_high"] = estimate["high"]
        row[f"p_{event}_bounded"] = estimate["bounded"]
        row[f"median_{event}_tick"] = estimate["median"]
        row[f"{event}_hazard"] = estimate["hazard"]
        row[f"{event}_hazard_low"] = estimate["hazard_low"]
        row[f"{event}_hazard_high"] = estimate["hazard_high"]
    row["mean_final_drive"] = float(runs["final_mean_drive"].mean())
    row["mean_final_loyalty"] = float(runs["final_mean_loyalty"].mean())
    row["horizon"] = horizon
    return row


def summarize(results, by=None, events=("takeover", "convergence"),
              horizon: int | None = None) -> pd.DataFrame:
    """Per group and event: P(event by the horizon), its interval, median
    tick and hazard (:func:`analysis.estimators.estimate_event`); plus mean
    final drive and loyalty.

    Parameters
    ----------
    results : Results or pandas.DataFrame
        An output folder (:func:`load`) or a runs table (then give
        ``horizon``).
    by : list of str, optional
        Grouping columns (default: the swept parameters; none for a run).
    events : sequence of str
        Keys of :data:`analysis.estimators.EVENTS`; the failure modes
        (``cancer_first``, ``drift_first``, ``cancer_then_drift``,
        ``drift_then_cancer``, :func:`failure_mode_summary`) as competing
        risks.
    horizon : int, optional
        The T of P(event by T) (default: the scenario's horizon).

    Returns
    -------
    pandas.DataFrame
        Per group: ``replicates``; per event ``p_EVENT`` (Aalen-Johansen
        cumulative incidence at T: competing events such as extinction
        count as "no", censoring is assumed independent; the plain fraction
        when no replicate was stopped before T), ``p_EVENT_low`` and
        ``p_EVENT_high`` (the Wilson 95% interval; when ``p_EVENT_bounded``
        is True, bounds that contain the truth whatever the replicates
        stopped early by another event would have done),
        ``median_EVENT_tick`` (first tick at which the incidence reaches
        1/2; NaN if it does not by T), ``EVENT_hazard`` with ``_low`` and
        ``_high`` (cause-specific, per replicate-tick at risk, exact Poisson
        interval); ``mean_final_drive``, ``mean_final_loyalty``, ``horizon``.
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
            raise AnalysisError(f"cannot group by {column}: not a column of the runs "
                                f"table (swept parameters here: "
                                f"{', '.join(_swept(runs)) or 'none'})")
    if any(event in FAILURE_EVENTS for event in events):
        runs = with_failure_modes(runs)
    if not by:
        return pd.DataFrame([_group_summary(runs, horizon, events)])
    rows = []
    for key, group in runs.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **_group_summary(group, horizon, events)})
    return pd.DataFrame(rows)


def failure_mode_summary(results, by=None, horizon: int | None = None) -> pd.DataFrame:
    """P(each failure mode by T) as competing risks, per group.

    :func:`summarize` of the events ``cancer_first`` and ``drift_first``
    (the first failure: cancer, a takeover, or value drift, ``drift_tick``;
    each a competing risk of the other, extinction of both) and
    ``cancer_then_drift``, ``drift_then_cancer`` (the second following),
    plus ``p_no_failure`` = 1 - P(cancer first) - P(drift first) and the
    count of each ``failure_mode`` (``mode_NAME``) among the replicates.
    P(mode ``cancer`` alone by T) is ``p_cancer_first - p_cancer_then_drift``,
    likewise for ``drift``.

    Parameters
    ----------
    results : Results or pandas.DataFrame
        An output folder (:func:`load`) or a runs table with ``takeover_tick``,
        ``drift_tick`` and ``failure_mode`` (then give ``horizon``).
    by : list of str, optional
        Grouping columns (default: the swept parameters; none for a run).
    horizon : int, optional
        The T of P(mode by T) (default: the scenario's horizon).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`summarize` for the four failure events, then
        ``p_no_failure`` and ``mode_none``, ``mode_cancer``, ... (counts).
    """
    from simulation.names import FAILURE_MODES

    table = summarize(results, by=by, events=FAILURE_EVENTS, horizon=horizon)
    table["p_no_failure"] = 1.0 - table["p_cancer_first"] - table["p_drift_first"]
    runs = results.runs if isinstance(results, Results) else results
    keys = (results.parameters if by is None and isinstance(results, Results)
            else list(by or []))
    groups = [runs] if not keys else [g for _, g in runs.groupby(keys, sort=True,
                                                                  dropna=False)]
    for mode in FAILURE_MODES:
        table[f"mode_{mode}"] = [int((g["failure_mode"] == mode).sum()) for g in groups]
    return table


def incidence_curves(results, event: str = "takeover", by=None) -> pd.DataFrame:
    """Cumulative incidence of an event per group, in long form.

    Parameters
    ----------
    results : Results or pandas.DataFrame
        An output folder or a runs table.
    event : str
        A key of :data:`analysis.estimators.EVENTS`.
    by : list of str, optional
        Grouping columns (default: the swept parameters).

    Returns
    -------
    pandas.DataFrame
        Group columns, then the columns of
        :func:`analysis.estimators.incidence_curve`: ``tick``, ``at_risk``,
        ``events``, ``competing``, ``censored``, ``survival``,
        ``incidence`` (Aalen-Johansen), ``variance``, ``low``, ``high``
        (95% pointwise, log(-log) delta method), ``bound_low``,
        ``bound_high`` (the curves between which the truth lies whatever
        stopped replicates would have done). Starts at tick 0.
    """
    runs = results.runs if isinstance(results, Results) else results
    if by is None and isinstance(results, Results):
        by = results.parameters
    by = list(by or [])
    event_columns(event)
    groups = runs.groupby(by, sort=True, dropna=False) if by else [((), runs)]
    frames = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        curve = incidence_curve(group, event)
        for name, value in zip(by, key):
            curve.insert(0, name, value)
        frames.append(curve)
    return pd.concat(frames, ignore_index=True)


#: The former name: the curves are cumulative incidences, not Kaplan-Meier
#: survival (1 - Kaplan-Meier overstates P(event) when events compete).
survival_curves = incidence_curves


def summarize_run(runs: pd.DataFrame, horizon: int) -> dict:
    """The headline numbers of one run (one row per replicate): the single
    group of :func:`summarize` and of :func:`failure_mode_summary`, with a
    median of None when the incidence stays below 1/2."""
    row = summarize(runs, horizon=horizon).iloc[0].to_dict()
    if "drift_tick" in runs.columns:  # failure modes as competing risks
        modes = failure_mode_summary(runs, horizon=horizon).iloc[0].to_dict()
        row.update({k: v for k, v in modes.items() if k not in row})
    row["replicates"] = int(row["replicates"])  # a DataFrame row makes it float
    for key, value in row.items():
        if key.endswith("_bounded"):
            row[key] = bool(value)
    if math.isnan(row["median_takeover_tick"]):
        row["median_takeover_tick"] = None
    return row


def _swept(runs):
    return [c for c in runs.columns if "." in c]
