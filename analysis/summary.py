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

from simulation.errors import AnalysisError
from simulation.io import Results, load  # noqa: F401 (the one reader; re-exported)

from .estimators import (EVENTS, FAILURE_EVENTS, bounded_mean_interval,  # noqa: F401
                         estimate_event, event_columns, event_status, hazard_rate,
                         incidence_curve, mean_interval, poisson_rate_interval,
                         with_failure_modes)

#: runs.parquet columns the agent-level outcomes need (simulation.run.agent_outcomes).
AGENT_OUTCOME_COLUMNS = ("total_loss_tick", "fraction_lost", "agents_lost",
                         "agent_ticks", "goal_output_lost")


def agent_outcomes(runs: pd.DataFrame, horizon: int, confidence: float = 0.95) -> dict:
    """Agent-level outcomes of one group of replicates (docs/model.md
    "Agent-level outcomes").

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of ``runs.parquet`` (one group), with the columns of
        :data:`AGENT_OUTCOME_COLUMNS`.
    horizon : int
        The T of P(total loss by T).
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict
        ``p_total_loss``, ``p_total_loss_low``, ``p_total_loss_high``,
        ``p_total_loss_bounded``: P(every agent dead or taken over by T),
        the Aalen-Johansen cumulative incidence of ``total_loss_tick``
        (:func:`analysis.estimators.estimate_event`: nothing competes with
        it; Wilson interval, or stop bounds); ``mean_agents_lost`` and
        ``mean_agents_founded``;
        ``mean_fraction_lost``, ``_low``, ``_high`` and
        ``mean_goal_output_lost``, ``_low``, ``_high`` (means over
        replicates at each replicate's end, with the Wilson-type interval of
        :func:`analysis.estimators.bounded_mean_interval`: within [0, 1],
        capped by the agents founded, for the fraction; within [the lowest
        value seen or 0, 1] for goal output lost; for one agent per
        replicate the fraction's interval is Wilson's, as P(total loss));
        ``agent_hazard``, ``_low``, ``_high``: agent deaths per agent-tick
        alive, pooled over the group's replicates, with the exact Poisson
        (Gamma quantile) interval on the count of deaths (a takeover that
        leaves its agent alive is not a death); ``agent_loss_hazard``,
        ``_low``, ``_high``, ``_exact``: agents lost, takeovers included,
        per agent-tick at risk (:func:`agent_loss_hazard`).
    """
    from simulation.names import AGENTS_DIED

    est = estimate_event(runs, "total_loss", horizon, confidence)
    row = {"p_total_loss": est["p"], "p_total_loss_low": est["low"],
           "p_total_loss_high": est["high"], "p_total_loss_bounded": est["bounded"]}
    row["mean_agents_lost"] = float(runs["agents_lost"].mean()) if len(runs) else math.nan
    if "agents_founded" in runs.columns:
        row["mean_agents_founded"] = float(runs["agents_founded"].mean())
    # Within what the quantity can be: a fraction in [0, 1] of the agents
    # founded; goal output lost at most 1 (all of it), below 0 when it grew
    # (then down to the lowest value seen).
    goal = runs["goal_output_lost"].to_numpy(dtype=float)
    founded = runs["agents_founded"] if "agents_founded" in runs.columns else None
    lowest = min(0.0, float(np.nanmin(goal))) if np.isfinite(goal).any() else 0.0
    for column, floor, units in (("fraction_lost", 0.0, founded),
                                 ("goal_output_lost", lowest, None)):
        mean, low, high = bounded_mean_interval(runs[column], floor, 1.0, units, confidence)
        row.update({f"mean_{column}": mean, f"mean_{column}_low": low,
                    f"mean_{column}_high": high})
    deaths = int(runs[list(AGENTS_DIED)].to_numpy().sum())
    rate, low, high = poisson_rate_interval(deaths, float(runs["agent_ticks"].sum()),
                                            confidence)
    row.update(agent_hazard=rate, agent_hazard_low=low, agent_hazard_high=high)
    row.update(agent_loss_hazard(runs, confidence))
    return row


def agent_loss_hazard(runs: pd.DataFrame, confidence: float = 0.95) -> dict:
    """Agents lost (dead or taken over, as in P(total loss)) per agent-tick at
    risk of loss, with the exact Poisson interval on the count.

    One agent per replicate: losses are the replicates with a
    ``total_loss_tick``, each at risk until it (else for its ``agent_ticks``):
    exact. Several: ``agents_lost`` over ``agent_ticks``; exact when no agent
    was taken over alive (a taken-over agent then dies), otherwise the
    exposure counts the ticks a taken-over agent lived on after its takeover
    (not recorded per agent) and the rate is a lower bound
    (``agent_loss_hazard_exact`` False).

    Returns
    -------
    dict
        ``agent_loss_hazard``, ``_low``, ``_high``, ``agent_loss_hazard_exact``.
    """
    ticks = runs["agent_ticks"].to_numpy(dtype=float)
    if "agents_founded" in runs.columns and (runs["agents_founded"] == 1).all():
        lost_at = pd.array(runs["total_loss_tick"], dtype="Float64").to_numpy(
            dtype=float, na_value=np.nan)
        lost = ~np.isnan(lost_at)
        count, exact = int(lost.sum()), True
        exposure = float(np.where(lost, lost_at, ticks).sum())
    else:
        count, exposure = int(runs["agents_lost"].sum()), float(ticks.sum())
        exact = "agents_taken_alive" not in runs.columns or not runs["agents_taken_alive"].any()
    rate, low, high = poisson_rate_interval(count, exposure, confidence)
    return {"agent_loss_hazard": rate, "agent_loss_hazard_low": low,
            "agent_loss_hazard_high": high, "agent_loss_hazard_exact": bool(exact)}


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
    if "stop_reason" in runs.columns:  # how the replicates ended (competing ends)
        from simulation.names import STOP_REASONS

        reasons = runs["stop_reason"].astype(str)
        row.update({f"ended_{reason}": int((reasons == reason).sum())
                    for reason in STOP_REASONS[1:]})
    row["mean_final_drive"] = float(runs["final_mean_drive"].mean())
    row["mean_final_loyalty"] = float(runs["final_mean_loyalty"].mean())
    if all(column in runs.columns for column in AGENT_OUTCOME_COLUMNS):
        row.update(agent_outcomes(runs, horizon))
    row["horizon"] = horizon
    return row


def _at_summary(runs: pd.DataFrame, ticks, events) -> list[dict]:
    """Per tick T of ``ticks``: P(event by T) with its interval and bound
    flag for each event, and P(total loss by T) when the table has it."""
    agents = "total_loss_tick" in runs.columns
    rows = []
    for tick in ticks:
        row = {"at": tick, "replicates": len(runs)}
        for event in (*events, *(("total_loss",) if agents else ())):
            estimate = estimate_event(runs, event, tick)
            row.update({f"p_{event}": estimate["p"], f"p_{event}_low": estimate["low"],
                        f"p_{event}_high": estimate["high"],
                        f"p_{event}_bounded": estimate["bounded"]})
        rows.append(row)
    return rows


def _at_ticks(at, horizon) -> list[int]:
    if horizon is None:
        raise AnalysisError("at= needs the horizon (give horizon= with a runs table)")
    ticks = []
    for value in at:
        tick = int(value)
        if tick != value or not 0 <= tick <= horizon:
            raise AnalysisError(f"at={value!r}: P(event by T) needs a whole tick T from 0 "
                                f"to the horizon {horizon} (nothing is observed after it)")
        ticks.append(tick)
    return ticks


#: The events :func:`summarize` reports by default, and extinction (the
#: competing end of all of them) where the runs table has its column.
DEFAULT_EVENTS = ("takeover", "convergence")


#: Events of types scenarios and of stop.size, reported by default where the
#: runs table has their columns.
TYPE_EVENTS = ("type_arrival", "type_fixation", "type_loss", "type_reached", "size_reached")


def _events(runs: pd.DataFrame, events) -> tuple:
    if events is not None:
        return tuple(events)
    present = tuple(e for e in TYPE_EVENTS if f"{e}_tick" in runs.columns)
    return (DEFAULT_EVENTS + present
            + (("extinction",) if "extinction_tick" in runs.columns else ()))


def summarize(results, by=None, events=None,
              horizon: int | None = None, at=None) -> pd.DataFrame:
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
    events : sequence of str, optional
        Keys of :data:`analysis.estimators.EVENTS` (default: takeover,
        convergence and, where the table has it, extinction, the end that
        competes with every other event); the failure modes
        (``cancer_first``, ``drift_first``, ``cancer_then_drift``,
        ``drift_then_cancer``, :func:`failure_mode_summary`) as competing
        risks.
    horizon : int, optional
        The T of P(event by T) (default: the scenario's horizon).
    at : sequence of int, optional
        Ticks T at which to give P(event by T) instead (see below).

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
        interval); ``ended_REASON``, the number of replicates that ended
        by each ``stop_reason`` (horizon, extinction, takeover, convergence,
        fixation, loss); ``mean_final_drive``, ``mean_final_loyalty``; the
        agent-level outcomes of :func:`agent_outcomes` (P(total loss by T),
        mean fraction of agents lost, mean goal output lost, per-agent
        hazard, each with its interval) when the table has their columns;
        ``horizon``.

        With ``at`` (a sequence of ticks T from 0 to the horizon), one row
        per group and T instead: the group columns, ``at`` (T),
        ``replicates`` and, per event (and ``total_loss`` when the table
        has the agent-level columns), ``p_EVENT``, ``_low``, ``_high`` and
        ``_bounded``: P(event by T) exactly as at the horizon, so the row
        of T = horizon repeats the summary's interval, and each row equals
        the band of :func:`incidence_curves` at T.
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
    events = _events(runs, events)
    if any(event in FAILURE_EVENTS for event in events):
        runs = with_failure_modes(runs)
    if at is not None:
        ticks = _at_ticks(at, horizon)

        def one(group):
            return _at_summary(group, ticks, events)
    else:
        def one(group):
            return [_group_summary(group, horizon, events)]
    if not by:
        return pd.DataFrame(one(runs))
    rows = []
    for key, group in runs.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.extend({**dict(zip(by, key)), **row} for row in one(group))
    return pd.DataFrame(rows)


def chi_square_homogeneity(events, replicates) -> dict:
    """Pearson's chi-square test that k groups share one P(event): the 2 x k
    table of replicates with and without the event (SciPy
    ``chi2_contingency``, no continuity correction).

        X^2 = sum_g sum_{y in {event, none}} (O_gy - E_gy)^2 / E_gy,
        E_gy = n_g * (column total of y) / N,  df = k - 1

    Returns ``chi2``, ``dof``, ``p_value`` and ``min_expected`` (the smallest
    E_gy: below 5 the chi-square approximation is rough). With no event in
    any group, or the event in every replicate, the groups cannot differ:
    X^2 = 0, p = 1."""
    events = np.asarray(events, dtype=float)
    replicates = np.asarray(replicates, dtype=float)
    table = np.vstack([events, replicates - events])
    dof = max(len(events) - 1, 0)
    expected = np.outer(table.sum(axis=1), replicates) / max(replicates.sum(), 1.0)
    if dof == 0 or (table.sum(axis=1) == 0).any():
        return {"chi2": 0.0, "dof": dof, "p_value": 1.0,
                "min_expected": float(expected.min()) if expected.size else math.nan}
    from scipy import stats  # imported when used

    chi2, p, dof, expected = stats.chi2_contingency(table, correction=False)
    return {"chi2": float(chi2), "dof": int(dof), "p_value": float(p),
            "min_expected": float(expected.min())}


def homogeneity(results, by, events=None, horizon: int | None = None) -> pd.DataFrame:
    """Whether P(event by T) differs between the groups of ``by``: per event,
    :func:`chi_square_homogeneity` of the counts of replicates with the event
    by T in each group.

    The counts are the data only where no replicate was censored before T
    (then P(event by T) is the plain fraction of each group); otherwise the
    test is not made (NaN, ``note`` says why).

    Returns
    -------
    pandas.DataFrame
        One row per event: ``event``, ``groups``, ``chi2``, ``dof``,
        ``p_value``, ``min_expected``, ``note``.
    """
    if isinstance(results, Results):
        runs, horizon = results.runs, results.horizon if horizon is None else horizon
    else:
        runs = results
    by = list(by)
    for column in by:
        if column not in runs.columns:
            raise AnalysisError(f"cannot group by {column}: not a column of the runs table")
    events = _events(runs, events)
    if any(event in FAILURE_EVENTS for event in events):
        runs = with_failure_modes(runs)
    groups = [group for _, group in runs.groupby(by, sort=True, dropna=False)]
    rows = []
    for event in events:
        counts, sizes, censored = [], [], False
        for group in groups:
            time, cause, _ = event_status(group, event)
            counts.append(int(((cause == 1) & (time <= horizon)).sum()))
            sizes.append(len(group))
            censored |= bool(((cause == 0) & (time < horizon)).any())
        row = {"event": event, "groups": len(groups)}
        if censored:
            row.update(chi2=math.nan, dof=len(groups) - 1, p_value=math.nan,
                       min_expected=math.nan,
                       note="replicates censored before T: the counts are not the data")
        else:
            row.update(chi_square_homogeneity(counts, sizes), note="")
        rows.append(row)
    return pd.DataFrame(rows)


#: The Price terms of drive (timeseries columns) summed per failure mode.
PRICE_TERMS = ("price_between", "price_within", "price_transmission")


def failure_tick(runs: pd.DataFrame) -> pd.Series:
    """Each replicate's first failure tick: the earlier of ``takeover_tick``
    and ``drift_tick`` (NA: no failure)."""
    ticks = runs[["takeover_tick", "drift_tick"]].astype("Float64")
    return ticks.min(axis=1, skipna=True).astype("Int64")


def failure_mode_price(runs: pd.DataFrame, timeseries: pd.DataFrame, by=None) -> pd.DataFrame:
    """The Price terms of drive that drove each failure mode, per group.

    For every replicate, each term of the Price equation of drive
    (docs/model.md "The Price equation") is summed over its records up to
    and including the first record at or after its first failure tick
    (:func:`failure_tick`; the record interval in which the failure came),
    or over all its records for failure mode ``none``: the change of the
    world's mean drive from tick 0 to that record, split into selection
    between agents, selection within agents and transmission. The sums are
    then averaged over the replicates of each ``failure_mode``.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of ``runs.parquet`` (``point``, ``replicate``, ``takeover_tick``,
        ``drift_tick``, ``failure_mode``, and the ``by`` columns).
    timeseries : pandas.DataFrame
        Rows of ``timeseries.parquet`` of the same replicates (``point``,
        ``replicate``, ``tick`` and :data:`PRICE_TERMS`).
    by : list of str, optional
        Grouping columns of ``runs``.

    Returns
    -------
    pandas.DataFrame
        One row per group and failure mode present: the ``by`` columns,
        ``failure_mode``, ``replicates``, ``mean_failure_tick`` (NaN for
        ``none``), ``price_between``, ``price_within``, ``price_selection``
        (between + within), ``price_transmission`` and ``price_total`` (their
        sum: the change of mean drive), each the mean over the replicates
        of the per-replicate sums.
    """
    by = list(by or [])
    missing = [c for c in ("point", "replicate", "tick", *PRICE_TERMS)
               if c not in timeseries.columns]
    if missing:
        raise AnalysisError(f"the timeseries table has no column {', '.join(missing)} "
                            "(Price terms need a table written by Substrate)")
    keys = ["point", "replicate"]
    ends = runs[keys].copy()
    ends["_failure"] = failure_tick(runs).astype("Float64").to_numpy(dtype=float,
                                                                       na_value=float("nan"))
    ts = timeseries[keys + ["tick", *PRICE_TERMS]].merge(ends, on=keys, how="inner")
    ts = ts.sort_values(keys + ["tick"], kind="stable")
    # The first record at or after the failure closes the summed interval.
    after = ts[ts["tick"] >= ts["_failure"]].groupby(keys)["tick"].min().rename("_last")
    ts = ts.merge(after, on=keys, how="left")
    kept = ts[ts["_last"].isna() | (ts["tick"] <= ts["_last"])]
    sums = kept.groupby(keys)[list(PRICE_TERMS)].sum(min_count=0)  # NaN (tick 0): 0
    table = runs[keys + by + ["failure_mode"]].merge(ends, on=keys).merge(
        sums, left_on=keys, right_index=True, how="left")
    table[list(PRICE_TERMS)] = table[list(PRICE_TERMS)].fillna(0.0)
    table["price_selection"] = table["price_between"] + table["price_within"]
    table["price_total"] = table["price_selection"] + table["price_transmission"]
    grouped = table.groupby(by + ["failure_mode"], sort=True, dropna=False)
    out = grouped.agg(replicates=("replicate", "size"),
                      mean_failure_tick=("_failure", "mean"),
                      price_between=("price_between", "mean"),
                      price_within=("price_within", "mean"),
                      price_selection=("price_selection", "mean"),
                      price_transmission=("price_transmission", "mean"),
                      price_total=("price_total", "mean"))
    return out.reset_index()


def failure_mode_summary(results, by=None, horizon: int | None = None,
                         timeseries: pd.DataFrame | None = None) -> pd.DataFrame:
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
    timeseries : pandas.DataFrame, optional
        The timeseries of the same replicates (default: the folder's); with
        it, the Price terms that drove each mode (:func:`failure_mode_price`).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`summarize` for the four failure events, then
        ``p_no_failure`` and ``mode_none``, ``mode_cancer``, ... (counts);
        with a timeseries, per failure mode MODE other than ``none``,
        ``MODE_selection`` and ``MODE_transmission``: the mean cumulative
        selection (between + within) and transmission terms of drive up
        to the failure (NaN where no replicate failed that way).
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
    if timeseries is None and isinstance(results, Results) and results.has("timeseries"):
        timeseries = results.timeseries()
    if timeseries is not None:
        price = failure_mode_price(runs, timeseries, keys)
        index = ([()] if not keys else
                 [k if isinstance(k, tuple) else (k,)
                  for k, _ in runs.groupby(keys, sort=True, dropna=False)])
        lookup = {tuple(row[keys]) + (row["failure_mode"],): row
                  for _, row in price.iterrows()}
        for mode in FAILURE_MODES[1:]:
            for term in ("selection", "transmission"):
                table[f"{mode}_{term}"] = [
                    float(lookup[k + (mode,)][f"price_{term}"]) if k + (mode,) in lookup
                    else float("nan") for k in index]
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


def summarize_run(runs: pd.DataFrame, horizon: int,
                  timeseries: pd.DataFrame | None = None) -> dict:
    """The headline numbers of one run (one row per replicate): the single
    group of :func:`summarize` and of :func:`failure_mode_summary` (with the
    Price terms per failure mode when ``timeseries`` is given), with a
    median of None when the incidence stays below 1/2."""
    row = summarize(runs, horizon=horizon).iloc[0].to_dict()
    if "drift_tick" in runs.columns:  # failure modes as competing risks
        modes = failure_mode_summary(runs, horizon=horizon,
                                     timeseries=timeseries).iloc[0].to_dict()
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
