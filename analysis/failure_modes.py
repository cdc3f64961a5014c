"""Failure-mode verdicts across the drift threshold.

Which failure comes first, cancer (a takeover) or value drift (drive up by
``stop.drift_delta``), can hinge on the threshold: the immune system lets a
part's drive rise by up to ``immune.tolerance`` unpunished, so a resident
drive that creeps up inside the tolerance counts as drift at a threshold
below it and never at one above it. Each replicate records the largest rise
that drift measures (``drift_rise``, by its end) and that rise as it stood
before its takeover (``drift_rise_before_takeover``), so its failure mode is
known exactly at every threshold, not only at the one it ran with
(docs/model.md, "Value drift and the failure mode"). :func:`failure_mode_sensitivity`
tabulates the verdict over a range of thresholds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulation.errors import AnalysisError
from simulation.io import Results
from simulation.names import EARLY_STOPS, FAILURE_MODES

from .estimators import wilson_interval

#: Thresholds of :func:`failure_mode_sensitivity` by default, as multiples of
#: the scenario's ``stop.drift_delta`` (``immune.tolerance`` is added).
DELTA_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def failure_mode_at(runs: pd.DataFrame, delta: float) -> np.ndarray:
    """Each replicate's ``failure_mode`` had ``stop.drift_delta`` been ``delta``.

    With R the largest drift rise by the end (``drift_rise``) and R_c the
    largest before the takeover tick (``drift_rise_before_takeover``):
    a takeover with R_c >= delta is ``drift_then_cancer`` (drift at a tick
    before it), else ``cancer_then_drift`` when R >= delta, else ``cancer``;
    no takeover: ``drift`` when R >= delta, else ``none``. At the scenario's
    own threshold this is the ``failure_mode`` column (the same tick counts
    as cancer first).
    """
    for column in ("takeover_tick", "drift_rise", "drift_rise_before_takeover"):
        if column not in runs.columns:
            raise AnalysisError(f"the runs table has no column {column} (the verdict at "
                                "other drift thresholds needs a table written by this "
                                "version of Substrate)")
    taken = runs["takeover_tick"].notna().to_numpy()
    ever = runs["drift_rise"].to_numpy(dtype=float) >= delta
    before = np.nan_to_num(runs["drift_rise_before_takeover"].to_numpy(dtype=float),
                           nan=-np.inf) >= delta
    return np.where(taken, np.where(before, "drift_then_cancer",
                                    np.where(ever, "cancer_then_drift", "cancer")),
                    np.where(ever, "drift", "none")).astype(object)


def drift_thresholds(scenario: dict) -> tuple:
    """``(stop.drift_delta, immune.tolerance)`` of a resolved scenario (a
    dict, as ``Results.scenario``); None for one it does not hold (no drift
    event, or a damaged scenario.yaml)."""
    def value(section, key):
        held = scenario.get(section) if isinstance(scenario, dict) else None
        found = held.get(key) if isinstance(held, dict) else None
        return float(found) if isinstance(found, (int, float)) else None

    return value("stop", "drift_delta"), value("immune", "tolerance")


def default_deltas(scenario: dict) -> list[float]:
    """The thresholds tabulated by default: :data:`DELTA_FACTORS` times
    ``stop.drift_delta``, and ``immune.tolerance``, within (0, 1]; none when
    the scenario has no drift event."""
    delta, tolerance = drift_thresholds(scenario)
    if delta is None:
        return []
    values = {round(delta * f, 10) for f in DELTA_FACTORS}
    if tolerance:
        values.add(round(float(tolerance), 10))
    return sorted(v for v in values if 0 < v <= 1)


def verdict(p_cancer_first: float, p_drift_first: float) -> str:
    """Which failure comes first more often: ``cancer first``, ``drift
    first``, ``tied`` or ``no failure``."""
    if p_cancer_first == p_drift_first:
        return "no failure" if p_cancer_first == 0 else "tied"
    return "cancer first" if p_cancer_first > p_drift_first else "drift first"


def _first_failures(group: pd.DataFrame, modes: np.ndarray, confidence: float) -> dict:
    """P(first failure is cancer / drift) over the group's replicates with
    Wilson intervals; where replicates were stopped early by another event
    without a failure, the interval becomes the bounds k to k + m."""
    n = len(group)
    cancer = int(np.isin(modes, ("cancer", "cancer_then_drift")).sum())
    drift = int(np.isin(modes, ("drift", "drift_then_cancer")).sum())
    reasons = group["stop_reason"].astype(str).to_numpy() if "stop_reason" in group else []
    open_ = int(((modes == "none") & np.isin(reasons, EARLY_STOPS)).sum()) if n else 0
    row = {"replicates": n, "undetermined": open_}
    for name, k in (("cancer_first", cancer), ("drift_first", drift)):
        p, low, _ = wilson_interval(k, n, confidence)
        _, _, high = wilson_interval(k + open_, n, confidence)
        row.update({f"p_{name}": p, f"p_{name}_low": low, f"p_{name}_high": high})
    row.update({f"mode_{mode}": int((modes == mode).sum()) for mode in FAILURE_MODES})
    row["verdict"] = verdict(row["p_cancer_first"], row["p_drift_first"])
    return row


def failure_mode_sensitivity(results, deltas=None, by=None,
                             confidence: float = 0.95) -> pd.DataFrame:
    """The failure-mode verdict over a range of drift thresholds.

    Parameters
    ----------
    results : Results or pandas.DataFrame
        An output folder (:func:`analysis.load`) or a runs table (then give
        ``deltas``).
    deltas : sequence of float, optional
        Drift thresholds (default :func:`default_deltas` of the scenario:
        half to twice its ``stop.drift_delta``, and its
        ``immune.tolerance``).
    by : list of str, optional
        Grouping columns (default: the swept parameters).

    Returns
    -------
    pandas.DataFrame
        Per group and threshold: the group columns, ``drift_delta``,
        ``replicates``, ``p_cancer_first`` and ``p_drift_first`` (the
        fractions of replicates whose first failure, by their end, is a
        takeover, or drift at that threshold; a takeover and drift at the
        same tick count as cancer) with ``_low`` and ``_high`` (Wilson, or
        the bounds k to k + m over the ``undetermined`` replicates stopped
        early by another event without a failure), ``mode_NAME`` counts
        (:func:`failure_mode_at`), ``verdict`` (:func:`verdict`) and
        ``flips``: whether the group's verdict differs between thresholds.
    """
    if isinstance(results, Results):
        runs = results.runs
        by = results.parameters if by is None else by
        deltas = default_deltas(results.scenario) if deltas is None else deltas
    else:
        runs = results
        if deltas is None:
            raise AnalysisError("give deltas= with a runs table (the thresholds to tabulate)")
    deltas = [float(d) for d in deltas]
    if any(not 0 < d <= 1 or math.isnan(d) for d in deltas):
        raise AnalysisError(f"drift thresholds must lie in (0, 1] (got {deltas})")
    by = list(by or [])
    groups = runs.groupby(by, sort=True, dropna=False) if by else [((), runs)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        part = []
        for delta in deltas:
            modes = failure_mode_at(group, delta)
            part.append({**dict(zip(by, key)), "drift_delta": delta,
                         **_first_failures(group, modes, confidence)})
        seen = {r["verdict"] for r in part if r["verdict"] != "no failure"}
        for r in part:
            r["flips"] = len(seen) > 1
        rows.extend(part)
    return pd.DataFrame(rows)
