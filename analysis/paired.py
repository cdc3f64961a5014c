"""Paired comparisons of P(event by T) between two settings.

Replicate k of every point of a sweep with common seeds (``sweep.seeds:
common``, the default), and of every run of one scenario file (with or
without ``--set``), starts from the same seed: the two settings' replicates
come in pairs, and pairs share every draw made before the settings first
differ. The difference of P(event by T) between two settings is then
estimated from the 2 x 2 table of pairs (event at both, at A only, at B
only, at neither), with an interval for paired proportions that gains from
the pairs' agreement: the noise both settings share cancels.

References
----------
Newcombe, R. G. (1998a). Interval estimation for the difference between
independent proportions: comparison of eleven methods. Statistics in
Medicine 17, 873-890 (method 10, the hybrid score interval).
Newcombe, R. G. (1998b). Improved confidence intervals for the difference
between binomial proportions based on paired data. Statistics in Medicine
17, 2635-2650 (method 10).
Fagerland, M. W., Lydersen, S. and Laake, P. (2014). Recommended tests and
confidence intervals for paired binomial proportions. Statistics in
Medicine 33, 2850-2875 (the worked example of the tests).
McNemar, Q. (1947). Note on the sampling error of the difference between
correlated proportions or percentages. Psychometrika 12, 153-157.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulation.errors import AnalysisError
from simulation.io import Results

from .estimators import (CAUSE_EVENT, FAILURE_EVENTS, estimate_event, event_status,
                         wilson_limits, with_failure_modes)


def newcombe_difference(p1: float, n1: float, p2: float, n2: float, phi: float = 0.0,
                        confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's square-and-add interval for p1 - p2 from the Wilson limits
    (l_i, u_i) of each proportion:

        L = D - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
        U = D + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)

    with D = p1 - p2; phi = 0 for independent samples (Newcombe 1998a,
    method 10), the pairs' correlation for paired ones (Newcombe 1998b,
    method 10; :func:`paired_difference`). Returns ``(low, high)`` within
    [-1, 1]."""
    l1, u1 = (float(v) for v in wilson_limits(p1, n1, confidence))
    l2, u2 = (float(v) for v in wilson_limits(p2, n2, confidence))
    d = p1 - p2
    low = d - math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                            + (u2 - p2) ** 2, 0.0))
    high = d + math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                             + (p2 - l2) ** 2, 0.0))
    return max(low, -1.0), min(high, 1.0)


def paired_difference(both: int, only_first: int, only_second: int, neither: int,
                      confidence: float = 0.95) -> dict:
    """The difference of two paired proportions, P(first) - P(second), with
    Newcombe's interval (1998b, method 10) and McNemar's exact test.

    From the table of n pairs (a = both, b = first only, c = second only,
    d = neither): p1 = (a + b)/n, p2 = (a + c)/n, D = (b - c)/n, and
    :func:`newcombe_difference` with the Wilson limits of p1 and p2 over n
    and the pairs' correlation

        phi = C / sqrt((a + b)(c + d)(a + c)(b + d)),
        C = ad - bc - n/2 if ad - bc > n/2,  0 if 0 <= ad - bc <= n/2,
            ad - bc if ad - bc < 0

    (phi = 0 when a margin is empty). The interval stays within [-1, 1],
    is never a point (at D = 0 with every pair agreeing it is about
    +-z^2/(n + z^2)) and narrows as the pairs agree: the noise both members
    of a pair share cancels. Fagerland, Lydersen and Laake (2014)
    recommend it with Tango's score interval. McNemar's exact test:
    two-sided binomial test of b among the b + c discordant pairs at 1/2
    (p = 1 without discordant pairs).

    Returns
    -------
    dict
        ``pairs``, ``p_first``, ``p_second``, ``difference``, ``low``,
        ``high``, ``phi``, ``p_value``.
    """
    a, b, c, d = (int(v) for v in (both, only_first, only_second, neither))
    n = a + b + c + d
    if n == 0:
        return {"pairs": 0, "p_first": math.nan, "p_second": math.nan,
                "difference": math.nan, "low": math.nan, "high": math.nan,
                "phi": math.nan, "p_value": math.nan}
    p1, p2 = (a + b) / n, (a + c) / n
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    numerator = cross - n / 2 if cross > n / 2 else (0.0 if cross >= 0 else cross)
    phi = numerator / math.sqrt(margins) if margins > 0 else 0.0
    low, high = newcombe_difference(p1, n, p2, n, phi, confidence)
    if b + c == 0:
        p_value = 1.0
    else:
        from scipy import stats  # imported when used

        p_value = float(stats.binomtest(b, b + c, 0.5).pvalue)
    return {"pairs": n, "p_first": p1, "p_second": p2, "difference": p1 - p2,
            "low": low, "high": high, "phi": phi, "p_value": p_value}


def _outcomes(runs: pd.DataFrame, event: str, horizon: int):
    """Per replicate: had the event by T (True), had not (False), or unknown
    (None: stopped before T by another ``stop.on`` event)."""
    time, cause, stopped = event_status(runs, event)
    yes = (cause == CAUSE_EVENT) & (time <= horizon)
    unknown = stopped & (time < horizon) & ~yes
    return yes, unknown


def _difference(yes_a, unk_a, yes_b, unk_b, paired: bool, confidence: float) -> dict:
    """B minus A from outcome arrays (paired: aligned pairs); with unknown
    outcomes, the interval from the worst table each way (bounds)."""
    def table(extra_a: bool, extra_b: bool):
        ya = yes_a | (unk_a & extra_a)
        yb = yes_b | (unk_b & extra_b)
        if paired:
            return paired_difference(int((yb & ya).sum()), int((yb & ~ya).sum()),
                                     int((~yb & ya).sum()), int((~yb & ~ya).sum()),
                                     confidence)
        p_b, p_a = yb.mean(), ya.mean()
        low, high = newcombe_difference(p_b, len(yb), p_a, len(ya), 0.0, confidence)
        from scipy import stats  # imported when used

        _, p_value = stats.fisher_exact([[int(yb.sum()), len(yb) - int(yb.sum())],
                                         [int(ya.sum()), len(ya) - int(ya.sum())]])
        return {"difference": p_b - p_a, "low": low, "high": high,
                "p_value": float(p_value)}

    plain = table(False, False)
    out = {"difference": plain["difference"], "low": plain["low"], "high": plain["high"],
           "p_value": plain["p_value"], "bounded": bool(unk_a.any() or unk_b.any())}
    if out["bounded"]:  # the extremes: A's unknowns yes and B's no, and the reverse
        out["low"] = table(True, False)["low"]
        out["high"] = table(False, True)["high"]
        out["p_value"] = math.nan
    if paired:
        ya, yb = yes_a, yes_b
        out.update(both=int((ya & yb).sum()), only_a=int((ya & ~yb).sum()),
                   only_b=int((~ya & yb).sum()), neither=int((~ya & ~yb).sum()))
    return out


def compare_runs(runs_a: pd.DataFrame, runs_b: pd.DataFrame, horizon: int,
                 events=("takeover",), confidence: float = 0.95) -> pd.DataFrame:
    """P(event by T) at setting B minus at setting A, replicates paired by seed.

    Parameters
    ----------
    runs_a, runs_b : pandas.DataFrame
        Rows of ``runs.parquet`` of the two settings (with ``seed``).
    horizon : int
        The T of P(event by T).
    events : sequence of str
        Keys of :data:`analysis.estimators.EVENTS` (the failure modes too).
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per event: ``event``, ``paired`` (replicates matched by
        seed: the interval of :func:`paired_difference`; else, with no seed
        in common, Newcombe's hybrid score interval for independent samples
        and Fisher's exact test), ``pairs`` (pairs matched; replicates of a
        setting without a partner are left out), ``replicates_a``,
        ``replicates_b``, ``p_a``, ``p_b`` (:func:`estimate_event` on all of
        each setting's replicates), ``difference`` (B minus A, over the
        pairs), ``low``, ``high``, ``bounded`` (replicates stopped by
        another ``stop.on`` event before T: the interval then runs from the
        lower limit with their outcomes set against B to the upper limit
        with them set for B, containing the truth whatever they would have
        done), ``p_value`` (McNemar exact, or Fisher exact), ``both``,
        ``only_a``, ``only_b``, ``neither`` (pairs; paired only) and
        ``identical_pairs``: pairs whose two replicates ended identically
        (the same last tick, stop reason, event tick, final size, clones,
        mean drive and largest defector fraction): under common seeds,
        settings that never changed a draw give identical pairs
        (:data:`IDENTICAL_COLUMNS` and the event tick equal).
    """
    if any(e in FAILURE_EVENTS for e in events):
        runs_a, runs_b = with_failure_modes(runs_a), with_failure_modes(runs_b)
    for runs in (runs_a, runs_b):
        if "seed" not in runs.columns:
            raise AnalysisError("the runs table has no seed column (replicates are "
                                "paired by seed: a table written by Substrate)")
        if runs["seed"].duplicated().any():
            raise AnalysisError("a setting's replicates repeat a seed (rows of several "
                                "points?): give one point's or one run's rows per setting")
    merged = runs_a.reset_index(drop=True).reset_index().merge(
        runs_b.reset_index(drop=True).reset_index(), on="seed", suffixes=("_a", "_b"))
    paired = len(merged) > 0
    rows = []
    for event in events:
        yes_a, unk_a = _outcomes(runs_a, event, horizon)
        yes_b, unk_b = _outcomes(runs_b, event, horizon)
        row = {"event": event, "paired": paired, "pairs": len(merged),
               "replicates_a": len(runs_a), "replicates_b": len(runs_b),
               "p_a": estimate_event(runs_a, event, horizon, confidence)["p"],
               "p_b": estimate_event(runs_b, event, horizon, confidence)["p"]}
        if paired:
            ia, ib = merged["index_a"].to_numpy(), merged["index_b"].to_numpy()
            row.update(_difference(yes_a[ia], unk_a[ia], yes_b[ib], unk_b[ib], True,
                                   confidence))
            row["identical_pairs"] = _identical(runs_a.iloc[ia], runs_b.iloc[ib], event)
        else:
            row.update(_difference(yes_a, unk_a, yes_b, unk_b, False, confidence))
        rows.append(row)
    return pd.DataFrame(rows)


#: The columns of runs.parquet two replicates must share to count as identical.
IDENTICAL_COLUMNS = ("ticks", "stop_reason", "final_size", "final_clones",
                     "final_mean_drive", "max_defector_fraction")


def _identical(rows_a: pd.DataFrame, rows_b: pd.DataFrame, event: str) -> int:
    """Pairs whose replicates ended identically: the event's tick (null
    alike) and :data:`IDENTICAL_COLUMNS`, exactly."""
    from .estimators import event_columns

    same = np.ones(len(rows_a), dtype=bool)
    for column in (event_columns(event)[1], *IDENTICAL_COLUMNS):
        if column in rows_a.columns:
            a = rows_a[column].astype(str).to_numpy()  # nulls alike ("<NA>")
            b = rows_b[column].astype(str).to_numpy()
            same &= a == b
    return int(same.sum())


def _matches(column: pd.Series, value) -> np.ndarray:
    """Rows of a swept column equal to ``value`` (a number or a label,
    given as typed on a command line or as a Python value)."""
    values = column.to_numpy(dtype=object)
    if isinstance(value, str) and pd.api.types.is_numeric_dtype(column.dtype):
        try:
            value = float(value)
        except ValueError:
            return np.zeros(len(values), dtype=bool)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.array([isinstance(v, (int, float, np.number)) and not pd.isna(v)
                         and math.isclose(float(v), float(value), rel_tol=1e-12,
                                          abs_tol=1e-300)
                         for v in values], dtype=bool)
    text = str(value)
    return np.array([str(v) == text for v in values], dtype=bool)


def compare(results, key: str, a, b, events=None, horizon: int | None = None,
            confidence: float = 0.95) -> pd.DataFrame:
    """The difference of P(event by T) between two values of a swept key,
    replicates paired by seed (:func:`compare_runs`).

    Parameters
    ----------
    results : Results or pandas.DataFrame
        A sweep's output folder (:func:`analysis.load`) or its runs table
        (then give ``horizon``).
    key : str
        A swept parameter (a column of the runs table).
    a, b : number or str
        Its two values: the difference is P at ``b`` minus P at ``a``.
    events : sequence of str, optional
        Default: those of :func:`analysis.summarize`, and ``total_loss``
        where the table has it.
    horizon : int, optional
        The T of P(event by T) (default: the scenario's horizon).

    Returns
    -------
    pandas.DataFrame
        Per combination of the other swept keys (those that vary between
        the points of one value of ``key``: a key linked to it by a zip
        group moves with it and is not a group) and event: the group
        columns, ``key``, ``a``, ``b``, ``horizon``, then the columns of
        :func:`compare_runs`.
    """
    from .summary import _events, _swept

    if isinstance(results, Results):
        runs = results.runs
        horizon = results.horizon if horizon is None else horizon
        swept = list(results.parameters)
    else:
        runs, swept = results, _swept(results)
    if horizon is None:
        raise AnalysisError("compare needs the horizon (give horizon= with a runs table)")
    if key not in runs.columns:
        raise AnalysisError(f"cannot compare {key}: not a column of the runs table "
                            f"(swept parameters here: {', '.join(swept) or 'none'})")
    at_a, at_b = _matches(runs[key], a), _matches(runs[key], b)
    for value, mask in ((a, at_a), (b, at_b)):
        if not mask.any():
            seen = ", ".join(list(pd.unique(runs[key].astype(str)))[:10])
            raise AnalysisError(f"cannot compare {key}={value}: no replicate has that value "
                                f"(values here: {seen})")
    if events is None and "total_loss_tick" in runs.columns:
        events = _events(runs, None) + ("total_loss",)  # as summarize --at
    events = _events(runs, events)
    rows_a, rows_b = runs[at_a], runs[at_b]
    others = [c for c in swept if c != key and c in runs.columns
              and rows_a[c].astype(str).nunique() > 1]
    groups_a = rows_a.groupby(others, sort=True, dropna=False) if others else [((), rows_a)]
    lookup_b = (dict(iter(rows_b.groupby(others, sort=True, dropna=False))) if others
                else {(): rows_b})
    frames = []
    for group, part_a in groups_a:
        part_b = lookup_b.get(group)
        if part_b is None:
            continue
        table = compare_runs(part_a, part_b, horizon, events, confidence)
        head = dict(zip(others, group if isinstance(group, tuple) else (group,)))
        head.update({"key": key, "a": a, "b": b, "horizon": horizon})
        for name, value in reversed(list(head.items())):
            table.insert(0, name, [value] * len(table))
        frames.append(table)
    if not frames:
        raise AnalysisError(f"cannot compare {key}={a} with {key}={b}: no points agree "
                            f"on the other swept keys ({', '.join(others)})")
    return pd.concat(frames, ignore_index=True)
