"""Question 7 (``q7_drift_vs_cancer``): drift or cancer, which comes first,
and how robust is the verdict?

Each system (sweep points: the self, founder or tracking, x the physics) is
read at the scenario's drift threshold (``stop.drift_delta``) and over a
range of thresholds (:func:`analysis.failure_mode_sensitivity`: the failure
mode of every replicate is known at any threshold from its largest drift
rise), so the verdict's dependence on that choice is shown, not assumed.
"""

from __future__ import annotations

import numpy as np

from ..failure_modes import default_deltas, failure_mode_sensitivity
from .numbers import Finding, Number, fmt, interval_text, paired, point_runs


def _system(row) -> str:
    physics = "flagship" if row["agent.escape_threshold"] < 0.9 else "slow drifter"
    return f"{physics} with a {row['immune.reference']} self"


def drift_vs_cancer(question, outputs, commands) -> Finding:
    """Question 7: P(cancer first), P(drift first) per system at the file's
    threshold, the verdict over thresholds, and the tracking self's effect."""
    results = outputs["selves"]
    runs, T, job = results.runs, results.horizon, commands["selves"]
    delta = float(results.scenario["stop"]["drift_delta"])
    deltas = sorted(set(default_deltas(results.scenario)) | {delta})
    table = failure_mode_sensitivity(runs, deltas, ["point"])
    points = runs.drop_duplicates("point").set_index("point")
    systems = {p: _system(row) for p, row in points.iterrows()}
    numbers, verdicts = [], {}
    for point, name in systems.items():
        key = _key(name)
        rows = table[table["point"] == point]
        own = rows[np.isclose(rows["drift_delta"], delta)].iloc[0]
        for mode in ("cancer", "drift"):
            numbers.append(Number(f"{mode}_first_{key}", f"P({mode} first by {T}), {name} "
                                  f"(drift threshold {delta:g})", float(own[f"p_{mode}_first"]),
                                  float(own[f"p_{mode}_first_low"]),
                                  float(own[f"p_{mode}_first_high"]), "Wilson 95%",
                                  ["selves"], f"substrate summarize {job}"))
        verdicts[name] = {"own": own["verdict"], "by_delta": dict(zip(rows["drift_delta"],
                                                                      rows["verdict"]))}
        flips = sorted(set(rows["verdict"]))
        numbers.append(Number(f"flips_{key}", f"{name}: verdicts over drift thresholds "
                              f"{fmt(min(deltas), 2)}-{fmt(max(deltas), 2)}: "
                              f"{', '.join(flips)}", float(len(flips)),
                              interval="verdicts seen (1: robust)", jobs=["selves"]))
    by_name = {name: p for p, name in systems.items()}
    for physics in ("flagship", "slow drifter"):
        founder = by_name[f"{physics} with a founder self"]
        tracking = by_name[f"{physics} with a tracking self"]
        key = physics.replace(" ", "_")
        numbers.append(paired(f"tracking_effect_{key}", f"{physics}: P(drift by {T}), "
                              "tracking minus founder self", point_runs(runs, founder),
                              point_runs(runs, tracking), T, "selves", event="drift",
                              command=f"substrate summarize {job} --compare point={founder},"
                                      f"{tracking}"))
    finding = Finding(_answer(numbers, verdicts, delta, deltas), numbers)
    finding.figure = _figure(table, systems, delta)
    return finding


def _key(name: str) -> str:
    """A system's name as a number's key: ``flagship_founder_self``."""
    return name.replace(" with a ", "_").replace(" ", "_")


def _verdict_range(by_delta: dict, own: str) -> str:
    """Where the verdict holds, as a range of thresholds."""
    same = [d for d, v in by_delta.items() if v == own]
    other = sorted({v for v in by_delta.values() if v != own})
    if not other:
        return f"at every threshold from {fmt(min(by_delta), 2)} to {fmt(max(by_delta), 2)}"
    return (f"at thresholds {fmt(min(same), 2)}-{fmt(max(same), 2)} ({', '.join(other)} "
            "elsewhere)")


def _answer(numbers, verdicts, delta, deltas) -> str:
    p = {n.name: n for n in numbers}
    parts = []
    for name, v in verdicts.items():
        key = _key(name)
        parts.append(f"the {name}: {v['own']} (P(cancer first) "
                     f"{interval_text(p[f'cancer_first_{key}'], 2)}, P(drift first) "
                     f"{interval_text(p[f'drift_first_{key}'], 2)}), "
                     f"{_verdict_range(v['by_delta'], v['own'])}")
    flips = [n for n in numbers if n.name.startswith("flips_") and n.value > 1]
    robust = ("No verdict flips over the thresholds read." if not flips else
              f"{len(flips)} of {len(verdicts)} verdicts turn on the drift threshold: read "
              "them with it (a threshold below the immune tolerance counts the rise the "
              "immune system allows as drift).")
    return (f"It depends on the system: at drift threshold {delta:g}, " + "; ".join(parts)
            + f". {robust}")


def _figure(table, systems, delta):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, mode in zip(axes, ("cancer", "drift")):
        for i, (point, name) in enumerate(systems.items()):
            rows = table[table["point"] == point].sort_values("drift_delta")
            ax.plot(rows["drift_delta"], rows[f"p_{mode}_first"], marker="o", color=f"C{i}",
                    label=name)
            ax.fill_between(rows["drift_delta"], rows[f"p_{mode}_first_low"],
                            rows[f"p_{mode}_first_high"], color=f"C{i}", alpha=0.15)
        ax.axvline(delta, color="grey", lw=0.8)
        ax.set(xlabel="drift threshold (rise of drive)", title=f"P({mode} first)")
    axes[0].set_ylabel("P by the horizon")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
