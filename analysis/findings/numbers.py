"""What a question's analysis returns, and the estimates every question reads.

A :class:`Finding` is one question's answer: the sentence (decided from the
numbers by the question's own rule), the :class:`Number` s with their
intervals, one figure, and whether each claimed headline number holds.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from ..estimators import estimate_event, wilson_interval
from ..paired import compare_runs


@dataclasses.dataclass
class Number:
    """One number of a finding.

    Attributes
    ----------
    name : str
        Its key (a headline's ``name`` for a headline number).
    label : str
        What it is, in words.
    value, low, high : float
        The estimate and its 95% interval (None: no interval; ``high`` None
        with a ``low``: a lower bound only).
    interval : str
        How the interval was made (Wilson, Newcombe paired, bootstrap ...).
    jobs : list of str
        The jobs whose outputs it is computed from.
    command : str
        A command that prints it, where one does (else it is derived by the
        question's analysis from the jobs' folders).
    """

    name: str
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    interval: str = ""
    jobs: list = dataclasses.field(default_factory=list)
    command: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Finding:
    """One question's answer.

    Attributes
    ----------
    answer : str
        One or two sentences decided from the numbers.
    numbers : list of Number
    figure : matplotlib.figure.Figure or None
    status : str
        ``answered``, or ``waiting`` (the machinery the answer needs is not
        there yet: ``answer`` says what is shown and what it waits for).
    """

    answer: str
    numbers: list
    figure: object = None
    status: str = "answered"

    def number(self, name: str) -> Number:
        return next(n for n in self.numbers if n.name == name)


def fmt(x, digits: int = 3) -> str:
    """A number as the report prints it (None and NaN: n/a)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.{max(digits - 1, 1)}e}"
    if x != 0 and abs(x) < 0.1:  # small probabilities: significant digits
        return f"{x:.{digits}g}"
    return f"{x:.{digits}f}"


def signed(x, digits: int = 3) -> str:
    return ("+" if x is not None and x > 0 else "") + fmt(x, digits)


#: The upper end of a range that reaches the top of the values simulated.
NO_UPPER_END = "beyond the values simulated"


def interval_text(number: Number, digits: int = 3, sign: bool = False) -> str:
    """``value [low, high]``; a range with no upper end (the needed value
    lies beyond the largest value simulated) says so."""
    show = signed if sign else fmt
    if number.low is None and number.high is None:
        return show(number.value, digits)
    return (f"{show(number.value, digits)} [{show(number.low, digits)}, "
            f"{NO_UPPER_END if number.high is None else show(number.high, digits)}]")


def side(low, high) -> int:
    """-1 when an interval lies below 0, +1 above, 0 when it holds 0."""
    if high is not None and high < 0:
        return -1
    if low is not None and low > 0:
        return 1
    return 0


def claim_holds(number: Number, claim) -> bool:
    """A claim [a, b] holds unless the number's interval lies wholly outside
    it (the rule of the bundled scenarios' claims)."""
    low = number.value if number.low is None else number.low
    high = math.inf if number.high is None and number.low is not None else (
        number.value if number.high is None else number.high)
    return high >= claim[0] and low <= claim[1]


def probability(name: str, label: str, runs: pd.DataFrame, horizon: int, job: str,
                event: str = "takeover", command: str = "") -> Number:
    """P(event by ``horizon``) of a group of replicates (Aalen-Johansen, its
    Wilson interval or stop bounds: :func:`analysis.estimate_event`)."""
    est = estimate_event(runs, event, horizon)
    return Number(name, label, est["p"], est["low"], est["high"],
                  "bounds (runs stopped early)" if est["bounded"] else "Wilson 95%",
                  [job], command)


def paired(name: str, label: str, runs_a: pd.DataFrame, runs_b: pd.DataFrame, horizon: int,
           job: str, event: str = "takeover", command: str = "") -> Number:
    """P(event by T) of ``runs_b`` minus ``runs_a``, replicates paired by
    seed (Newcombe's paired interval: :func:`analysis.compare_runs`)."""
    row = compare_runs(runs_a, runs_b, horizon, [event]).iloc[0]
    how = "Newcombe paired 95%" if row["paired"] else "Newcombe unpaired 95%"
    return Number(name, label, float(row["difference"]), float(row["low"]),
                  float(row["high"]), how, [job], command)


def fraction(name: str, label: str, hits: int, trials: int, job: str) -> Number:
    """A proportion of ``trials`` with its Wilson interval."""
    p, low, high = wilson_interval(hits, trials)
    return Number(name, label, p, low, high, f"Wilson 95% ({hits}/{trials})", [job])


def error_bars(numbers) -> list:
    """Matplotlib's ``yerr`` of numbers with intervals: the distances to
    each end, never below 0 (an estimate of 1 computed as 0.999... against
    an end of 1.0 would be a negative length)."""
    values = np.array([n.value for n in numbers], dtype=float)
    low = np.array([n.low for n in numbers], dtype=float)
    high = np.array([n.high for n in numbers], dtype=float)
    return [np.clip(values - low, 0, None), np.clip(high - values, 0, None)]


def point_runs(runs: pd.DataFrame, point: int) -> pd.DataFrame:
    return runs[runs["point"] == point]


def bootstrap_indices(replicates: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` x ``replicates`` replicate indices drawn with
    replacement (the same draw for every point: common seeds pair them)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, replicates, size=(resamples, replicates))
