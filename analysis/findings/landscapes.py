"""Question 3 (``q3_landscapes``): smooth climbing or rare large jumps?

The path of the lineage that took over is read from a run's lineages
(``clones.parquet``: every clone's parent and traits at founding): in each
replicate taken over, the defector clone with the most members at the end,
traced back through its parents to a founding resident. The path up to its
first defector (the first clone on it past ``agent.escape_threshold``) is
the climb: each clone on it is one copy error; a *jump* is a climb of one
drive-changing copy error (the defector made in one step from a resident).
Robustness: the same two kernels on random landscapes, realisation by
realisation (each realisation one independent unit of the mean).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..estimators import mean_interval
from ..summary import chi_square_homogeneity
from .numbers import (Finding, Number, fmt, fraction, interval_text, paired, probability,
                      side)


def takeover_paths(clones: pd.DataFrame, runs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per replicate taken over, the climb of the lineage that took over.

    Returns
    -------
    pandas.DataFrame
        ``replicate``, ``copy_errors`` (clones on the path from the founding
        resident to the first defector), ``drive_errors`` (those that changed
        drive), ``largest_step`` (the largest rise of drive in one copy
        error), ``crossing_step`` (the step that made the first defector),
        ``start_drive`` (its parent's drive), ``jump`` (one drive-changing
        copy error).
    """
    rows = []
    for replicate in runs.loc[runs["takeover"], "replicate"]:
        own = clones[clones["replicate"] == replicate].set_index("clone")
        alive = own[(own["drive"] > threshold) & (own["final_count"] > 0)]
        if alive.empty:
            continue
        clone, path = int(alive["final_count"].idxmax()), []
        while clone >= 0:
            path.append(clone)
            clone = int(own.at[clone, "parent"])
        drive = own.loc[path[::-1], "drive"].to_numpy()
        first = int(np.argmax(drive > threshold))
        steps = np.diff(drive[:first + 1])
        changed = int((steps != 0).sum())
        rows.append({"replicate": int(replicate), "copy_errors": first,
                     "drive_errors": changed,
                     "largest_step": float(steps.max()) if steps.size else 0.0,
                     "crossing_step": float(steps[-1]) if steps.size else 0.0,
                     "start_drive": float(drive[first - 1]) if first else float(drive[0]),
                     "jump": changed == 1})
    return pd.DataFrame(rows, columns=["replicate", "copy_errors", "drive_errors",
                                       "largest_step", "crossing_step", "start_drive", "jump"])


def _kernel_name(value) -> str:
    data = json.loads(value) if isinstance(value, str) else value
    return str(data.get("type")) if isinstance(data, dict) else str(value)


def landscapes(question, outputs, commands) -> Finding:
    """Question 3: the climb of the lineages that took over, per kernel, and
    the kernels' contrast across landscape realisations."""
    numbers, paths = [], {}
    runs_by_kernel = {}
    for job in ("normal", "cauchy"):
        results = outputs[job]
        scenario = results.scenario
        runs = results.runs
        runs_by_kernel[job] = runs
        T = results.horizon
        climb = takeover_paths(results.table("clones"), runs,
                               scenario["agent"]["escape_threshold"])
        paths[job] = climb
        numbers.append(probability(f"p_{job}", f"P(takeover by {T}), {job} copy-error steps",
                                   runs, T, job, command=f"substrate summarize {commands[job]}"))
        numbers.append(fraction(f"jump_fraction_{job}", f"{job} steps: share of takeovers whose "
                                "defector was made by one drive-changing copy error",
                                int(climb["jump"].sum()), len(climb), job))
        mean, low, high = mean_interval(climb["drive_errors"])
        numbers.append(Number(f"drive_errors_{job}", f"{job} steps: drive-changing copy errors "
                              "on the climb (mean)", mean, low, high, "Student t 95%", [job]))
        mean, low, high = mean_interval(climb["crossing_step"])
        numbers.append(Number(f"crossing_step_{job}", f"{job} steps: the step that made the "
                              "defector (mean rise of drive)", mean, low, high,
                              "Student t 95%", [job]))
    T = outputs["normal"].horizon
    numbers.append(paired("cauchy_minus_normal", f"P(takeover by {T}): Cauchy minus normal steps",
                          runs_by_kernel["normal"], runs_by_kernel["cauchy"], T, "normal"))
    numbers[-1].jobs = ["normal", "cauchy"]
    numbers += _realisations(outputs["realisations"], commands["realisations"])
    p = {n.name: n for n in numbers}
    finding = Finding(_answer(p, paths, outputs["realisations"]), numbers)
    finding.figure = _figure(paths, outputs["realisations"])
    return finding


def _per_realisation(results) -> pd.DataFrame:
    runs = results.runs.copy()
    runs["kernel"] = runs["copy.kernel"].map(_kernel_name)
    T = results.horizon
    hit = runs["takeover_tick"].astype("float64").fillna(np.inf) <= T
    runs["hit"] = hit
    table = runs.pivot_table(index="landscape.seed", columns="kernel", values="hit",
                             aggfunc="mean")
    table["replicates"] = runs.groupby("landscape.seed")["replicate"].nunique()
    return table


def _realisations(results, job) -> list[Number]:
    table = _per_realisation(results)
    difference = table["cauchy"] - table["normal"]
    mean, low, high = mean_interval(difference)
    n = len(table)
    out = [Number("realisation_difference", f"Cauchy minus normal P(takeover by "
                  f"{results.horizon}), mean over {n} landscape realisations",
                  mean, low, high, f"Student t 95% over realisations ({n})", ["realisations"],
                  f"substrate summarize {job} --by landscape.seed --by copy.kernel")]
    out.append(Number("realisations_cauchy_ahead", "realisations where Cauchy steps took over "
                      "more often than normal steps", float((difference > 0).sum()),
                      interval=f"of {n}", jobs=["realisations"]))
    for kernel in ("normal", "cauchy"):
        reps = table["replicates"].to_numpy()
        test = chi_square_homogeneity(np.round(table[kernel].to_numpy() * reps), reps)
        out.append(Number(f"homogeneity_p_{kernel}", f"{kernel} steps: p-value of one "
                          "P(takeover) for every realisation (chi-square)", test["p_value"],
                          interval="", jobs=["realisations"],
                          command=f"substrate summarize {job} --by landscape.seed "
                                  "--by copy.kernel"))
        out.append(Number(f"spread_{kernel}", f"{kernel} steps: P(takeover) over "
                          "realisations, lowest to highest", float(table[kernel].mean()),
                          float(table[kernel].min()), float(table[kernel].max()),
                          "range over realisations (value: their mean)", ["realisations"]))
    return out


def _mode(jump: Number) -> str:
    if jump.high is not None and jump.high < 0.5:
        return "by climbing"
    if jump.low is not None and jump.low > 0.5:
        return "by one jump"
    return "by climbing and by jumps alike"


def _answer(p, paths, realisations) -> str:
    normal, cauchy = p["jump_fraction_normal"], p["jump_fraction_cauchy"]
    first = (f"It depends on the copy-error steps: with normal steps cancer comes "
             f"{_mode(normal)} (a defector needs {fmt(p['drive_errors_normal'].value, 1)} "
             f"drive-changing copy errors on average, its last step of "
             f"{fmt(p['crossing_step_normal'].value, 2)} crossing the band the immune system "
             f"guards), with Cauchy steps of the same scale {_mode(cauchy)} from a resident "
             f"(jumps in {interval_text(cauchy, 2)} of takeovers), and takeover is "
             f"{'more' if p['cauchy_minus_normal'].value > 0 else 'less'} likely "
             f"({interval_text(p['cauchy_minus_normal'], 2, sign=True)}).")
    diff = p["realisation_difference"]
    n = len(_per_realisation(realisations))
    ahead = int(p["realisations_cauchy_ahead"].value)
    robust = side(diff.low, diff.high) == (1 if p["cauchy_minus_normal"].value > 0 else -1)
    varies = {k: p[f"homogeneity_p_{k}"].value < 0.05 for k in ("normal", "cauchy")}
    verdict = {(True, False): ": climbing depends on the landscape, jumps do not",
               (False, True): ": jumps depend on the landscape, climbing does not",
               (True, True): ": both depend on the landscape",
               (False, False): ""}[(varies["normal"], varies["cauchy"])]
    second = (f"The contrast holds across {n} random landscapes (Cauchy ahead on {ahead}, mean "
              f"difference {interval_text(diff, 2, sign=True)}), while P itself with normal "
              f"steps ranges from {fmt(p['spread_normal'].low, 2)} to "
              f"{fmt(p['spread_normal'].high, 2)} between realisations (homogeneity "
              f"p = {fmt(p['homogeneity_p_normal'].value, 2)}){verdict}." if robust else
              f"Across {n} random landscapes the contrast is not robust (Cauchy ahead on "
              f"{ahead}, mean difference {interval_text(diff, 2, sign=True)}).")
    return f"{first} {second}"


def _figure(paths, realisations):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax, bx = fig.subplots(1, 2)
    top = max([int(c["drive_errors"].max()) for c in paths.values() if len(c)] + [1])
    bins = np.arange(0.5, top + 1.5)
    for i, (kernel, climb) in enumerate(paths.items()):
        ax.hist(climb["drive_errors"], bins=bins + (i - 0.5) * 0.3, rwidth=0.35,
                color=f"C{i}", label=f"{kernel} steps ({len(climb)} takeovers)")
    ax.set(xticks=np.arange(1, top + 1),
           xlabel="drive-changing copy errors from a resident to the defector",
           ylabel="takeovers", title="How the defector that took over was made")
    ax.legend(fontsize=8)
    table = _per_realisation(realisations)
    x = np.arange(len(table))
    for i, kernel in enumerate(("normal", "cauchy")):
        bx.plot(x, table[kernel], "o", color=f"C{i}", label=f"{kernel} steps")
    bx.set(xticks=x, xticklabels=[str(s) for s in table.index],
           xlabel="landscape realisation (landscape.seed)", ylabel="P(takeover by T)",
           title="Across random landscapes", ylim=(-0.05, 1.05))
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig
