"""Question 6 (``q6_perfect_defence``): how good must the defence be for
P(takeover by T) <= 1e-6, and how does that scale with N and T?

The answer comes from the gradual machinery only: a ``substrate study`` on
the flagship's physics (defectors made by several small copy errors), read
where its output is the gradual study's (``physics: gradual``: the
multi-type branching theory at every (N, T), simulated ranges at the
simulated sizes), and a ``substrate risk`` splitting estimate of one cell
that direct simulation can check. The single-hit theory (one copy error
makes a defector) answers a different physics: its value is never given as
this answer. Where the study is not the gradual one, the finding says what
the model answers today (the splitting estimate) and what it cannot (the
defence needed at N = T = 10^6), with status ``waiting``.
"""

from __future__ import annotations

from .numbers import Finding, Number, fmt, interval_text


def _key(value) -> str:
    return f"{value:g}".replace("+", "")


def _theory(study: dict) -> dict:
    """(size, horizon) -> the gradual study's theory row."""
    return {(row["size"], row["horizon"]): row for row in study.get("theory", [])}


def _simulated(study: dict) -> dict:
    """(size, horizon) -> the gradual study's simulated defence (value, low, high)."""
    return {(s["size"], d["horizon"]): d for s in study.get("simulated", [])
            for d in s.get("defence", [])}


def _needed(name: str, label: str, row: dict, job: str, command: str) -> Number:
    """The value of the solved key the theory needs at one cell (no
    interval: the simulated cells carry theirs, as their own numbers). A
    value beyond the theory's grid (None) is reported as its lower bound,
    the grid's top, without an upper end."""
    value = row.get("value")
    if value is None:
        top = max(row.get("values") or [1.0])
        return Number(name, label + f" (beyond {top:g})", top, top, None,
                      "no value of the theory's grid holds the target", [job], command)
    how = "multi-type branching theory (no interval)" + (
        "" if row.get("trusted", True) else "; not trusted: takeover slow against T")
    return Number(name, label, float(value), None, None, how, [job], command)


def _gradual_numbers(study: dict, par: dict, command: str) -> list[Number]:
    """The defence needed at the question's cell, along N at its horizon and
    along T at its size, and at every simulated cell."""
    solved, target = study["study"]["solve"], study["study"]["target"]
    theory, simulated = _theory(study), _simulated(study)
    size, horizon = par["size"], par["horizon"]
    cells = [(size, horizon)] + [(n, horizon) for n in study["study"]["sizes"] if n != size] \
        + [(size, t) for t in study["study"]["horizons"] if t != horizon]
    numbers = []
    for n, t in cells:
        if (n, t) not in theory:
            continue
        name = "defence_needed" if (n, t) == (size, horizon) else f"needed_N{_key(n)}_T{_key(t)}"
        numbers.append(_needed(name, f"{solved} needed for P(takeover by {t:g}) <= {target:g}"
                               f" at N = {n:g}", theory[(n, t)], "study", command))
    for (n, t), d in sorted(simulated.items()):
        if d.get("value") is None and d.get("low") is None:
            continue
        beyond = "" if d.get("value") is not None else " (beyond the simulated values)"
        numbers.append(Number(f"simulated_N{_key(n)}_T{_key(t)}", f"{solved} needed at N = "
                              f"{n:g}, T = {t:g}, from the simulated lineages alone{beyond}",
                              d.get("value"), d.get("low"), d.get("high"),
                              "95% range of the simulated estimates", ["study"], command))
    return numbers


def perfect_defence(question, outputs, commands) -> Finding:
    """Question 6: the gradual study's answer where there is one; otherwise
    what the splitting estimate shows and what the answer waits for."""
    risk = outputs["check"].data
    study = outputs["study"].data
    par = question.parameters
    check = Number("risk_check", f"P(takeover by {risk['horizon']}) by splitting at "
                   f"{par['check_label']}", risk["p"], risk.get("low"), risk.get("high"),
                   risk.get("interval", "splitting"), ["check"])
    direct = outputs["direct"].data
    check_direct = Number("direct_check", f"the same P by direct Monte Carlo "
                          f"({direct.get('particles', 0) * direct.get('repeats', 0)} paths)",
                          direct["p"], direct.get("low"), direct.get("high"),
                          direct.get("interval", "direct"), ["direct"])
    agree = (check.low is not None and check_direct.low is not None
             and check.low <= check_direct.high and check_direct.low <= check.high)
    checked = (f"by splitting on whole-system paths, {'agreeing' if agree else 'at odds'} "
               f"with direct simulation ({interval_text(check_direct, 2)})")
    solved, target = study["study"]["solve"], study["study"]["target"]
    size, horizon = par["size"], par["horizon"]
    if study.get("physics") == "gradual":
        numbers = _gradual_numbers(study, par, "")
        goal = next((n for n in numbers if n.name == "defence_needed"), None)
        answer = _gradual_answer(numbers, goal, solved, target, size, horizon, check, checked)
        finding = Finding(answer, numbers + [check, check_direct], status="answered")
    else:
        single = study.get("theory", [])
        applicable = sum(bool(r.get("applicable", True)) for r in single)
        numbers = [check, check_direct, Number("study_cells_applicable", "cells of the study's (N, T) grid "
                                 "this version's (single-hit) theory answers on this physics",
                                 float(applicable), interval=f"of {len(single)}",
                                 jobs=["study"])]
        answer = (f"Not answered yet. What the model answers today on this physics: "
                  f"P(takeover by {risk['horizon']}) = {interval_text(check, 2)} at "
                  f"{par['check_label']}, {checked}. What it cannot "
                  f"answer yet: the {solved} needed for P(takeover by {horizon:g}) <= "
                  f"{target:g} at N = {size:g}: no path of that size and length can be "
                  f"simulated, and this version's study theory counts defectors made by one "
                  f"copy error, which is not this physics ({applicable} of {len(single)} "
                  f"cells apply); it waits for {question.waiting}.")
        finding = Finding(answer, numbers, status="waiting")
    finding.figure = _figure(study, solved, target)
    return finding


def _gradual_answer(numbers, goal, solved, target, size, horizon, check, checked) -> str:
    if goal is None:
        return (f"The gradual study holds no cell at N = {size:g}, T = {horizon:g}: its "
                "sizes and horizons must include them.")
    if goal.high is None and goal.low is not None and goal.low == goal.value:
        first = (f"On the gradual physics, no {solved} up to {fmt(goal.value, 2)} holds "
                 f"P(takeover by {horizon:g}) at {target:g} in a system of {size:g} parts: "
                 "by this defence alone, perfect cancer fighting is out of reach.")
    else:
        first = (f"On the gradual physics, holding P(takeover by {horizon:g}) at {target:g} "
                 f"in a system of {size:g} parts needs {solved} {interval_text(goal, 3)} "
                 f"({goal.interval}).")
    by_size = [n for n in numbers if n.name.startswith("needed_N") and
               n.name.endswith(f"_T{_key(horizon)}")]
    by_time = [n for n in numbers if n.name.startswith(f"needed_N{_key(size)}_T")]
    parts = []
    if by_size:
        parts.append("with size: " + ", ".join(
            f"{fmt(n.value, 3)} at N = {n.label.rsplit('N = ', 1)[-1]}" for n in by_size))
    if by_time:
        parts.append("with horizon: " + ", ".join(
            f"{fmt(n.value, 3)} at T = {n.name.rsplit('_T', 1)[-1]}" for n in by_time))
    scaling = (" The requirement " + "; ".join(parts) + " (theory).") if parts else ""
    simulated = [n for n in numbers if n.name.startswith("simulated_")]
    if simulated:
        cells = [n.name.split("_")[1:] for n in simulated]  # ["N10000", "T1000"]
        scaling += (" From the simulated lineages alone (95% ranges): " + ", ".join(
            f"{interval_text(n, 3)} at N = {c[0][1:]}, T = {c[1][1:]}"
            for n, c in zip(simulated, cells)) + ".")
    return (f"{first}{scaling} Splitting, on which the study's lineages rest, gives "
            f"P(takeover by 2000) = {interval_text(check, 2)} at one cell, {checked}.")


def _figure(study: dict, solved: str, target: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    gradual = study.get("physics") == "gradual"
    rows = study.get("theory", []) if gradual else []
    sizes = sorted({r["size"] for r in rows})
    for i, size in enumerate(sizes):
        row = sorted((r for r in rows if r["size"] == size and r.get("value") is not None),
                     key=lambda r: r["horizon"])
        if row:
            ax.plot([r["horizon"] for r in row], [r["value"] for r in row], marker="o",
                    color=f"C{i % 10}", label=f"N = {size:g} (theory)")
    for i, (key, d) in enumerate(sorted(_simulated(study).items()) if gradual else []):
        if d.get("value") is not None:
            ax.errorbar([key[1]], [d["value"]], fmt="s", color="black", capsize=3,
                        yerr=[[max(d["value"] - (d.get("low") or d["value"]), 0)],
                              [max((d.get("high") or d["value"]) - d["value"], 0)]],
                        label="simulated" if i == 0 else None)
    if not any(r.get("value") is not None for r in rows):
        ax.text(0.5, 0.5, "no cell answered:\nthe gradual study is not in this version",
                ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=7)
    ax.set(xscale="log", xlabel="horizon T (ticks)", ylabel=f"{solved} needed",
           title=f"Defence needed for P(takeover by T) <= {target:g}")
    fig.tight_layout()
    return fig
