"""Questions 1 and 2: how much variation it takes, and what coding buys.

Question 1 (``q1_variation``): the copy-error rate mu*(N, T) at which
P(takeover by T) reaches a level, and its exponents in N and T.
Question 2 (``q2_coding``): majority-vote redundancy against independent,
correlated and systematic copy errors, paired on common seeds.
"""

from __future__ import annotations

import math

import numpy as np

from .numbers import (Finding, Number, bootstrap_indices, error_bars, fmt, interval_text, paired,
                      point_runs, probability, side)

RATE, SIZE = "copy.error_rate", "agent.capacity"


def crossing(rates, probabilities, level: float):
    """The smallest rate at which an increasing P(rate) reaches ``level``:
    interpolated in log rate (and log P; linear in P from P = 0) between the
    last rate below the level and the first at or above it. Returns
    ``(rate, where)``: ``where`` is ``inside``, ``below`` (already reached
    at the lowest rate: the rate is an upper bound) or ``above`` (not
    reached: the largest rate is a lower bound)."""
    reached = [j for j, p in enumerate(probabilities) if p >= level]
    if not reached:
        return rates[-1], "above"
    j = reached[0]
    if j == 0:
        return rates[0], "below"
    p0, p1 = probabilities[j - 1], probabilities[j]
    f = ((math.log(level) - math.log(p0)) / (math.log(p1) - math.log(p0)) if p0 > 0
         else level / p1)
    return math.exp(math.log(rates[j - 1]) + f * (math.log(rates[j]) - math.log(rates[j - 1]))), \
        "inside"


def _exponents(cells: list[dict]) -> tuple[float, float]:
    """(b_N, b_T): least squares of log mu* = c + b_N log N + b_T log T."""
    X = np.array([[1.0, math.log(c["size"]), math.log(c["horizon"])] for c in cells])
    y = np.array([math.log(c["rate"]) for c in cells])
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(coef[1]), float(coef[2])


def _cells(ticks: dict, rates, sizes, horizons, level) -> list[dict]:
    """mu* per (size, horizon) from each point's takeover ticks (NaN: none)."""
    cells = []
    for size in sizes:
        for T in horizons:
            ps = [float(np.mean(ticks[(rate, size)] <= T)) for rate in rates]
            rate, where = crossing(rates, ps, level)
            cells.append({"size": size, "horizon": T, "rate": rate, "where": where, "p": ps})
    return cells


def variation(question, outputs, commands) -> Finding:
    """Question 1: mu*(N, T) and its exponents, bootstrap intervals."""
    results = outputs["rates"]
    runs = results.runs
    par = question.parameters
    level, horizons = float(par["level"]), [int(t) for t in par["horizons"]]
    rates, sizes = sorted(runs[RATE].unique()), sorted(runs[SIZE].unique())
    ticks = {}
    for (rate, size), group in runs.groupby([RATE, SIZE]):
        group = group.sort_values("replicate")
        ticks[(rate, size)] = group["takeover_tick"].astype("float64").fillna(np.inf).to_numpy()
    replicates = len(next(iter(ticks.values())))
    cells = _cells(ticks, rates, sizes, horizons, level)
    resolved = [c for c in cells if c["where"] == "inside"]
    estimate = _exponents(resolved) if len(resolved) >= 3 else (math.nan, math.nan)
    draws = {"b_N": [], "b_T": [], "rate": []}
    for rows in bootstrap_indices(replicates, int(par.get("bootstrap", 400)), seed=1):
        sample = _cells({k: v[rows] for k, v in ticks.items()}, rates, sizes, horizons, level)
        b_n, b_t = _exponents(sample)
        draws["b_N"].append(b_n)
        draws["b_T"].append(b_t)
        draws["rate"].append(sample[-1]["rate"])
    job = commands["rates"]
    how = f"bootstrap 95% ({len(draws['rate'])} resamplings of the replicates)"

    def boot(name, label, value, key):
        low, high = np.percentile(draws[key], [2.5, 97.5])
        return Number(name, label, value, float(low), float(high), how, ["rates"])

    top = cells[-1]
    numbers = [
        boot("size_exponent", "b_N: mu* ~ N^b_N (slope of log mu* on log N)", estimate[0], "b_N"),
        boot("horizon_exponent", "b_T: mu* ~ T^b_T (slope of log mu* on log T)", estimate[1],
             "b_T"),
        boot("safe_rate", f"mu* at N = {top['size']:g}, T = {top['horizon']}: P(takeover by T) "
             f"= {level:g} ({top['where']} the swept rates)", top["rate"], "rate")]
    for size in sizes:
        for T in horizons:
            runs_point = runs[(runs[SIZE] == size) & (runs[RATE] == rates[0])]
            numbers.append(probability(
                f"p_lowest_rate_N{size:g}_T{T}",
                f"P(takeover by {T}) at the lowest rate {rates[0]:g}, N = {size:g}",
                runs_point, T, "rates", command=f"substrate summarize {job} --at {T}"))
    finding = Finding(_answer(numbers, cells, level, rates), numbers)
    finding.figure = _figure(cells, runs, rates, sizes, horizons, level)
    finding.cells = cells
    return finding


def _trend(number: Number, what: str, symbol: str) -> str:
    """How mu* moves with ``what``, decided by the exponent's interval."""
    s = side(number.low, number.high)
    if s < 0:
        return f"falls with {what} as {symbol}^{interval_text(number, 2)}"
    if s > 0:
        return f"rises with {what} as {symbol}^{interval_text(number, 2)}"
    return f"does not detectably depend on {what} (exponent {interval_text(number, 2)})"


def _answer(numbers, cells, level, rates) -> str:
    b_n, b_t, safe = numbers[0], numbers[1], numbers[2]
    lowest = [c["p"][0] for c in cells]
    exists = ("Yes, for a given size and horizon: at the lowest rate swept "
              f"({rates[0]:g}) P(takeover by T) stays at or below {fmt(max(lowest), 2)}, and the "
              f"rate at which it reaches {level:g} is mu* = {interval_text(safe, 2)} at the "
              f"largest system and horizon." if max(lowest) < level else
              f"Not within the swept rates: P(takeover by T) exceeds {level:g} already at "
              f"{rates[0]:g} in some cell.")
    trends = f"mu* {_trend(b_n, 'size', 'N')} and {_trend(b_t, 'horizon', 'T')}"
    if side(b_n.low, b_n.high) < 0 or side(b_t.low, b_t.high) < 0:
        return (f"{exists} But the rate is no constant of the system: {trends}, so a rate "
                "safe for one system and horizon is not safe for a larger one or a longer one.")
    return f"{exists} {trends}."



def _figure(cells, runs, rates, sizes, horizons, level):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax, bx = fig.subplots(1, 2)
    styles = ["-", "--", ":", "-."]
    for i, size in enumerate(sizes):
        for j, T in enumerate(horizons):
            cell = next(c for c in cells if c["size"] == size and c["horizon"] == T)
            ax.plot(rates, cell["p"], styles[j % 4], marker="o", color=f"C{i}",
                    label=f"N = {size:g}, T = {T}")
        mu = [next(c for c in cells if c["size"] == size and c["horizon"] == T)
              for T in horizons]
        bx.plot(horizons, [c["rate"] for c in mu], marker="o", color=f"C{i}",
                label=f"N = {size:g}")
        for c in mu:
            if c["where"] != "inside":
                bx.annotate("bound", (c["horizon"], c["rate"]), fontsize=7)
    ax.axhline(level, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="copy-error rate per trait", ylabel="P(takeover by T)",
           title="P(takeover by T) against the copy-error rate")
    ax.legend(fontsize=7)
    bx.set(xscale="log", yscale="log", xlabel="horizon T (ticks)",
           ylabel=f"mu*: rate at P = {level:g}", title="The rate that holds P at the level")
    bx.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --- question 2 -------------------------------------------------------------

def _kind(row) -> str:
    if row.get("copy.systematic.rate", 0) > 0:
        return "systematic"
    return "correlated" if row.get("copy.error_correlation", 0) > 0 else "independent"


def coding(question, outputs, commands) -> Finding:
    """Question 2: redundancy against three kinds of copy error."""
    results = outputs["coding"]
    runs, T = results.runs, results.horizon
    points = runs.drop_duplicates("point").set_index("point")
    key = {(int(row["copy.redundancy"]), _kind(row)): p for p, row in points.iterrows()}
    r_max = max(r for r, _ in key)
    job = commands["coding"]

    def at(r, kind):
        return point_runs(runs, key[(r, kind)])

    def compare(name, label, a, b):
        return paired(name, label, at(*a), at(*b), T, "coding",
                      command=f"substrate summarize {job} --compare point={key[a]},{key[b]}")

    numbers = [
        compare("independent_gain", f"independent errors: P(takeover by {T}) at r = {r_max} "
                "minus r = 1", (1, "independent"), (r_max, "independent")),
        compare("correlated_excess", f"at r = {r_max}: correlated minus independent errors",
                (r_max, "independent"), (r_max, "correlated")),
        compare("systematic_gain", f"systematic errors: r = {r_max} minus r = 1",
                (1, "systematic"), (r_max, "systematic")),
        compare("systematic_excess", f"at r = {r_max}: systematic minus independent errors",
                (r_max, "independent"), (r_max, "systematic"))]
    for (r, kind), p in sorted(key.items()):
        numbers.append(probability(f"p_{kind}_r{r}", f"P(takeover by {T}), {kind} errors, "
                                   f"r = {r}", point_runs(runs, p), T, "coding",
                                   command=f"substrate summarize {job}"))
    p = {n.name: n for n in numbers}
    rho = points["copy.error_correlation"].max()
    gain = p["independent_gain"]
    text = (f"Against independent copy errors, majority vote over {r_max} copies lowers "
            f"P(takeover by {T}) from {fmt(p[f'p_independent_r1'].value, 2)} to "
            f"{fmt(p[f'p_independent_r{r_max}'].value, 2)} "
            f"({interval_text(gain, 2, sign=True)}, paired)"
            if side(gain.low, gain.high) < 0 else
            f"Against independent copy errors redundancy {r_max} buys no measurable "
            f"reduction ({interval_text(gain, 2, sign=True)})")
    corr, sys_gain = p["correlated_excess"], p["systematic_gain"]
    take_back = (f"correlated errors ({rho:g} of them shared by every copy) take "
                 f"{fmt(corr.value, 2)} of it back ({interval_text(corr, 2, sign=True)})"
                 if side(corr.low, corr.high) > 0 else
                 f"correlated errors ({rho:g} shared) take back no measurable part "
                 f"({interval_text(corr, 2, sign=True)})")
    systematic = ("against systematic errors redundancy buys nothing measurable "
                  f"({interval_text(sys_gain, 2, sign=True)} from r = 1 to {r_max})"
                  if side(sys_gain.low, sys_gain.high) == 0 else
                  f"against systematic errors it changes P by "
                  f"{interval_text(sys_gain, 2, sign=True)}")
    finding = Finding(f"{text}; {take_back}, and {systematic}.", numbers)
    finding.figure = _coding_figure(key, p, r_max)
    return finding


def _coding_figure(key, p, r_max):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for i, kind in enumerate(("independent", "correlated", "systematic")):
        rs = sorted(r for r, k in key if k == kind)
        nums = [p[f"p_{kind}_r{r}"] for r in rs]
        ax.errorbar(np.array(rs) + (i - 1) * 0.12, [n.value for n in nums],
                    yerr=error_bars(nums),
                    marker="o", capsize=3, label=f"{kind} errors")
    ax.set(xlabel="redundancy r (copies, majority vote)", ylabel="P(takeover by T)",
           title="What redundancy buys, and what error structure takes back",
           xticks=sorted({r for r, _ in key}))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
