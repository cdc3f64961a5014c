"""Questions 4 and 5: singleton against many, and the four defences.

Question 4 (``q4_singleton_vs_many``): agent-level losses of a singleton and
ten systems of the same total size, and the sign of the between-agent Price
term. Question 5 (``q5_defences``): the four defences at one cost, each
paired against the cost paid for nothing.
"""

from __future__ import annotations

import numpy as np

from ..estimators import bounded_mean_interval, mean_interval
from .numbers import (Finding, Number, error_bars, fmt, interval_text, paired, point_runs,
                      probability, side)


def _price_sums(results, point: int) -> np.ndarray:
    """Per replicate of ``point``, the between-agent Price term of mean
    drive summed over its records: the change of the world's mean drive
    that selection between agents made."""
    ts = results.timeseries(columns=["point", "replicate", "tick", "price_between"],
                            points=[point])
    return ts.groupby("replicate")["price_between"].sum().to_numpy()


def singleton_vs_many(question, outputs, commands) -> Finding:
    """Question 4 (points: 0 singleton, 1 ten isolated, 2 ten competing)."""
    results = outputs["worlds"]
    runs, T, job = results.runs, results.horizon, commands["worlds"]
    labels = {0: "one system of the total size", 1: "ten isolated systems",
              2: "ten systems competing for one income"}
    numbers = [paired("total_loss_difference", f"P(total loss by {T}): ten isolated minus one "
                      "system", point_runs(runs, 0), point_runs(runs, 1), T, "worlds",
                      event="total_loss",
                      command=f"substrate summarize {job} --compare point=0,1")]
    for point, label in labels.items():
        group = point_runs(runs, point)
        numbers.append(probability(f"p_total_loss_{point}", f"P(total loss by {T}), {label}",
                                   group, T, "worlds", event="total_loss",
                                   command=f"substrate summarize {job}"))
        for column, what in (("fraction_lost", "fraction of systems lost"),
                             ("goal_output_lost", "goal output lost")):
            floor = min(0.0, float(group[column].min()))
            units = group["agents_founded"] if column == "fraction_lost" else None
            mean, low, high = bounded_mean_interval(group[column], floor, 1.0, units)
            numbers.append(Number(f"{column}_{point}", f"{what}, {label} (mean at the end)",
                                  mean, low, high, "bounded-mean (Wilson-type) 95%", ["worlds"],
                                  f"substrate summarize {job}"))
    for point in (1, 2):
        mean, low, high = mean_interval(_price_sums(results, point))
        numbers.append(Number(f"price_between_{point}", f"between-agent selection's change "
                              f"of mean drive over {T} ticks, {labels[point]} (Price)",
                              mean, low, high, "Student t 95% over replicates", ["worlds"],
                              f"substrate plot {job} --kind price"))
    p = {n.name: n for n in numbers}
    finding = Finding(_many_answer(p, T), numbers)
    finding.figure = _many_figure(p, labels)
    return finding


def _direction(number: Number) -> str:
    s = side(number.low, number.high)
    return {1: "toward convergence", -1: "against convergence",
            0: "neither way measurably"}[s] + f" ({interval_text(number, 3, sign=True)})"


def _many_answer(p, T) -> str:
    d = p["total_loss_difference"]
    single, many = p["fraction_lost_0"], p["fraction_lost_1"]
    loses = ("the singleton loses more" if side(d.low, d.high) < 0 else
             "the ten lose more" if side(d.low, d.high) > 0 else "neither loses measurably more")
    first = (f"Matched on total size, {loses}: it is lost whole by {T} in "
             f"{fmt(p['p_total_loss_0'].value, 2)} of runs against "
             f"{fmt(p['p_total_loss_1'].value, 2)} for ten isolated systems "
             f"({interval_text(d, 2, sign=True)}, paired), which lose "
             f"{interval_text(many, 2)} of their systems (the singleton "
             f"{fmt(single.value, 2)}) and {fmt(p['goal_output_lost_1'].value, 2)} of their "
             f"goal output (the singleton {fmt(p['goal_output_lost_0'].value, 2)}).")
    second = (f"Selection between agents pushes {_direction(p['price_between_1'])} when a "
              f"taken-over system dies alone, and {_direction(p['price_between_2'])} when the "
              f"systems compete for one income (where they lose "
              f"{fmt(p['fraction_lost_2'].value, 2)} of their systems).")
    return f"{first} {second}"


def _bars(ax, nums, labels, title, ylabel):
    x = np.arange(len(nums))
    ax.bar(x, [n.value for n in nums], color=[f"C{i}" for i in x])
    ax.errorbar(x, [n.value for n in nums],
                yerr=error_bars(nums),
                fmt="none", color="black", capsize=3)
    ax.set(xticks=x, title=title, ylabel=ylabel)
    ax.set_xticklabels(labels, fontsize=7, rotation=15)


def _many_figure(p, labels):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 3)
    names = [labels[k].replace(" for one income", "").replace(" of the total size", "")
             for k in labels]
    _bars(axes[0], [p[f"p_total_loss_{k}"] for k in labels], names, "P(total loss by T)", "P")
    _bars(axes[1], [p[f"fraction_lost_{k}"] for k in labels], names,
          "fraction of systems lost", "mean")
    _bars(axes[2], [p[f"goal_output_lost_{k}"] for k in labels], names, "goal output lost",
          "mean")
    fig.tight_layout()
    return fig


# --- question 5 -------------------------------------------------------------

#: The points of the four-defence sweep (scenarios/findings/q5_defences).
DEFENCES = {2: "parts that rarely defect (drive guard)", 3: "an immune system",
            4: "an immune system that improves", 5: "isolation (ten systems)"}


def four_defences(question, outputs, commands) -> Finding:
    """Question 5: each defence paired against the cost paid for nothing
    (point 1), then the best against the next best."""
    results = outputs["defences"]
    runs, T, job = results.runs, results.horizon, commands["defences"]
    cost = point_runs(runs, 1)
    numbers = [probability("p_none", f"P(total loss by {T}), no defence", point_runs(runs, 0),
                           T, "defences", "total_loss", f"substrate summarize {job}"),
               probability("p_cost_only", f"P(total loss by {T}), the cost paid for nothing",
                           cost, T, "defences", "total_loss", f"substrate summarize {job}")]
    effects = {}
    for point, label in DEFENCES.items():
        effects[point] = paired(f"effect_{point}", f"{label} minus the cost paid for nothing: "
                                f"P(total loss by {T})", cost, point_runs(runs, point), T,
                                "defences", "total_loss",
                                f"substrate summarize {job} --compare point=1,{point}")
        numbers.append(effects[point])
    ranked = sorted(effects, key=lambda k: effects[k].value)
    best, second = ranked[0], ranked[1]
    lead = paired("best_minus_next", f"{DEFENCES[best]} minus {DEFENCES[second]}",
                  point_runs(runs, second), point_runs(runs, best), T, "defences",
                  "total_loss", f"substrate summarize {job} --compare point={second},{best}")
    numbers += [lead, Number("best_defence", f"the defence that does most: {DEFENCES[best]} "
                             f"(sweep point {best})", float(best), jobs=["defences"])]
    ahead = side(lead.low, lead.high) < 0
    rest = ", ".join(f"{DEFENCES[k]} {interval_text(effects[k], 2, sign=True)}"
                     for k in ranked[1:])
    change = interval_text(effects[best], 2, sign=True)
    if side(effects[best].low, effects[best].high) < 0:
        answer = (f"At one cost, {DEFENCES[best]} does most: it changes P(total loss by {T}) "
                  f"by {change} against the cost paid for nothing, "
                  f"{'clearly' if ahead else 'but not measurably'} ahead of "
                  f"{DEFENCES[second]} ({interval_text(lead, 2, sign=True)}, paired); the "
                  f"others: {rest}.")
    else:
        answer = (f"At one cost, no defence measurably lowers P(total loss by {T}) against "
                  f"the cost paid for nothing (the best estimate, {DEFENCES[best]}: "
                  f"{change}); the others: {rest}.")
    finding = Finding(answer, numbers)
    finding.figure = _defence_figure(effects)
    return finding


def _defence_figure(effects):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.8))
    ax = fig.subplots()
    _bars(ax, [effects[k] for k in DEFENCES], [DEFENCES[k] for k in DEFENCES],
          "Each defence against the cost paid for nothing (paired)",
          "change of P(total loss by T)")
    ax.axhline(0, color="grey", lw=0.8)
    fig.tight_layout()
    return fig
