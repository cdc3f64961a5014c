"""The text the commands print: a run's summary, the table of a sweep (or of
``summarize``, ``--at``), the homogeneity tests. Pure functions of the
summaries :mod:`analysis` computes."""

from __future__ import annotations

import math
from pathlib import Path


def probability_text(s: dict, event: str) -> str:
    """P(event by T) with its interval, or the bounds that contain it when
    replicates stopped early by another event cut the event short."""
    low, high = s[f"p_{event}_low"], s[f"p_{event}_high"]
    if s.get(f"p_{event}_bounded"):
        return (f"between {low:.3f} and {high:.3f}  (95% bounds: some replicates "
                "were stopped by another event first)")
    return f"{s[f'p_{event}']:.3f}  (95% Wilson CI {low:.3f} - {high:.3f})"


def _failure_lines(s: dict, horizon: int) -> list[str]:
    """P(cancer first), P(drift first) by T and the failure modes' counts."""
    if "p_drift_first" not in s:
        return []
    from simulation.names import FAILURE_MODES

    counts = ", ".join(f"{mode} {int(s[f'mode_{mode}'])}" for mode in FAILURE_MODES)
    return [f"  P(cancer first by {horizon})   {probability_text(s, 'cancer_first')}",
            f"  P(drift first by {horizon})    {probability_text(s, 'drift_first')}",
            f"  failure modes               {counts}"]


def _interval_text(s: dict, key: str, digits: str = ".3f") -> str:
    return (f"{s[key]:{digits}}  (95% CI {s[f'{key}_low']:{digits}} - "
            f"{s[f'{key}_high']:{digits}})")


def _agent_lines(s: dict, horizon: int) -> list[str]:
    """P(total loss by T), agents and goal output lost, the per-agent loss
    hazard (takeovers included) and death hazard; for one agent per
    replicate only the lines that mean something for one agent."""
    if "p_total_loss" not in s:
        return []
    loss = s.get("agent_loss_hazard")
    at_least = "" if s.get("agent_loss_hazard_exact", True) else "at least "
    goal = (f"  goal output lost            {_interval_text(s, 'mean_goal_output_lost')}"
            "  (1 - G(end)/G(0) at the end, mean; negative: it grew)")
    if s.get("mean_agents_founded") == 1:  # a singleton: its loss is the total loss
        return [f"  P(total loss by {horizon})     {probability_text(s, 'total_loss')}"
                "  (taken over or extinct)", goal,
                f"  loss hazard                 {_interval_text(s, 'agent_loss_hazard', '.3g')}"
                "  per tick (takeover or extinction)"]
    lines = [f"  P(total loss by {horizon})     {probability_text(s, 'total_loss')}",
             f"  agents lost                 {s['mean_agents_lost']:.2f} of "
             f"{s.get('mean_agents_founded', float('nan')):.2f} founded at set-up or born "
             f"(mean, at the end: dead or taken over); fraction "
             f"{_interval_text(s, 'mean_fraction_lost')}",
             goal]
    if loss is not None:
        lines.append(f"  per-agent loss hazard       {at_least}"
                     f"{_interval_text(s, 'agent_loss_hazard', '.3g')}"
                     "  agents lost (dead or taken over) per agent-tick")
    return lines + [f"  per-agent death hazard      {_interval_text(s, 'agent_hazard', '.3g')}"
                    "  agent deaths per agent-tick"]


def _price_lines(s: dict) -> list[str]:
    """Mean cumulative Price terms of drive up to each failure that happened."""
    from simulation.names import FAILURE_MODES

    parts = [f"{mode} {s[f'{mode}_selection']:+.3f} / {s[f'{mode}_transmission']:+.3f}"
             for mode in FAILURE_MODES[1:]
             if f"{mode}_selection" in s and s[f"{mode}_selection"] == s[f"{mode}_selection"]]
    if not parts:
        return []
    return [f"  Price terms to the failure  {'; '.join(parts)}  (drive: selection / "
            "transmission, summed to the failure, mean)"]


def sensitivity_text(table, delta: float, tolerance: float, params=()) -> str:
    """The lines of the failure-mode verdict over drift thresholds (the
    table of :func:`analysis.failure_mode_sensitivity`, per group of
    ``params``; ``delta`` the scenario's threshold), for the groups whose
    verdict flips; nothing when none does."""
    if not table["flips"].any():
        return ""
    lines = [f"  the failure-mode verdict turns on stop.drift_delta ({delta:g} here; "
             f"immune.tolerance {tolerance:g}):",
             "  " + "  ".join([*(f"{p:>16}" for p in params), f"{'drift_delta':>11}",
                               f"{'P(cancer first) [95% CI]':>26}",
                               f"{'P(drift first) [95% CI]':>26}", "verdict"])]
    for row in table[table["flips"]].to_dict("records"):
        note = (" (this run)" if math.isclose(row["drift_delta"], delta)
                else " (= tolerance)" if math.isclose(row["drift_delta"], tolerance) else "")
        cells = [f"{row['p_' + e]:.3f} [{row['p_' + e + '_low']:.3f}, "
                 f"{row['p_' + e + '_high']:.3f}]" for e in ("cancer_first", "drift_first")]
        lines.append("  " + "  ".join([*(f"{str(row[p]):>16}" for p in params),
                                       f"{row['drift_delta']:>11.3g}",
                                       f"{cells[0]:>26}", f"{cells[1]:>26}",
                                       row["verdict"] + note]))
    lines.append("  (the immune system lets drive rise by up to its tolerance unpunished: a "
                 "threshold below it counts that rise as drift; docs/failure-modes.md)")
    return "\n".join(lines)


def format_comparison(df) -> str:
    """The lines of ``summarize --compare``: per group and event, P at A and
    at B, the difference B - A with its paired 95% interval, the discordant
    pairs and McNemar's exact p, the identical pairs."""
    first = df.iloc[0]
    paired = bool(first["paired"])
    lines = [f"P(event by {first['horizon']}) at {first['key']} = {first['b']} minus at "
             f"{first['key']} = {first['a']}, "
             + ("replicates paired by seed (Newcombe's paired interval, McNemar's exact "
                "test):" if paired else
                "no seeds in common, so unpaired (Newcombe's hybrid score interval, "
                "Fisher's exact test):")]
    groups = list(df.columns[:list(df.columns).index("key")])
    for row in df.to_dict("records"):
        where = ", ".join(f"{g}={row[g]}" for g in groups)
        mark = "*" if row["bounded"] else ""
        text = (f"  {(where + '  ') if where else ''}{row['event']:<12} "
                f"{row['p_a']:.3f} -> {row['p_b']:.3f}  difference {row['difference']:+.3f} "
                f"[{row['low']:+.3f}, {row['high']:+.3f}]{mark}")
        if paired:
            p_value = "" if row["p_value"] != row["p_value"] else f", p = {row['p_value']:.3g}"
            text += (f"  ({row['pairs']} pairs: {row['only_a']} at A only, {row['only_b']} "
                     f"at B only{p_value}; {row['identical_pairs']} identical)")
        else:
            text += f"  ({row['replicates_a']} and {row['replicates_b']} replicates)"
        lines.append(text)
    if df["bounded"].any():
        lines.append("* bounds: replicates stopped early by another event count against B "
                     "for the low end, for B for the high end (95%)")
    return "\n".join(lines)


def format_summary(s: dict, sc, folder: Path, seconds: float, sensitivity: str = "") -> str:
    median = s["median_takeover_tick"]
    median_text = f"{median:.0f}" if median is not None else f"> {sc.horizon} (horizon)"
    return "\n".join([
        f"{sc.name}: {s['replicates']} replicate(s), horizon {sc.horizon} ticks, "
        f"seed {sc.seed}, {seconds:.1f} s",
        f"  P(takeover by {sc.horizon})       {probability_text(s, 'takeover')}",
        f"  median takeover tick        {median_text}  (where P(takeover by tick) "
        "reaches 1/2)",
        f"  P(convergence by {sc.horizon})    {probability_text(s, 'convergence')}",
        *([f"  P(extinction by {sc.horizon})     {probability_text(s, 'extinction')}"]
          if "p_extinction" in s else []),
        *_failure_lines(s, sc.horizon),
        *([sensitivity] if sensitivity else []),
        *_price_lines(s),
        *_agent_lines(s, sc.horizon),
        f"  mean final drive            {s['mean_final_drive']:.4f}",
        f"  mean final loyalty          {s['mean_final_loyalty']:.4f}",
        "  (P: Aalen-Johansen cumulative incidence; extinction counts as no event)",
        f"outputs: {folder}/",
    ])


def _interval_cell(values: dict, event: str) -> str:
    """p [low, high]; for bounds (an event cut short by stops) the bounds
    only, marked with *."""
    p, low, high = (values[f"p_{event}"], values[f"p_{event}_low"],
                    values[f"p_{event}_high"])
    if values.get(f"p_{event}_bounded"):
        return f"[{low:.3f}, {high:.3f}]*"
    return f"{p:.3f} [{low:.3f}, {high:.3f}]"


def _loss_hazard_cell(values: dict) -> str:
    """Agents lost (takeovers included) per agent-tick; >= a lower bound."""
    rate = values.get("agent_loss_hazard", values["agent_hazard"])
    exact = values.get("agent_loss_hazard_exact", True)
    return f"{'' if exact else '>='}{rate:.3g}"


BOUNDS_NOTE = ("* bounds that contain P whatever the replicates stopped early by "
               "another event would have done (95%)")


def format_sweep_summary(df, params) -> str:
    """The summary table as text: the swept ``params``, P(takeover) [CI],
    median tick, hazard, P(convergence) [CI] and, for tables with the
    agent-level outcomes, P(total loss) [CI], the mean fraction of agents
    lost [CI] and the per-agent loss hazard (takeovers included; >= where it
    is a lower bound); bounds marked * and explained below."""
    lines = []
    agents = "p_total_loss" in df.columns  # agent-level outcomes (analysis.agent_outcomes)
    extinction = "p_extinction" in df.columns  # the end that competes with the others
    header = "  ".join(f"{p:>16}" for p in params)
    lines.append(f"{header}  {'reps':>5}  {'P(takeover) [95% CI]':>24}  "
                 f"{'median tick':>11}  {'hazard/tick':>11}  {'P(converge) [95% CI]':>24}"
                 + (f"  {'P(extinct) [95% CI]':>24}" if extinction else "")
                 + (f"  {'P(total loss) [95% CI]':>24}  {'frac. lost [95% CI]':>24}  "
                    f"{'loss/agent-tick':>15}" if agents else ""))
    bounded = False
    events = (("takeover", "convergence") + (("extinction",) if extinction else ())
              + (("total_loss",) if agents else ()))
    for row in df.itertuples(index=False):
        values = dict(zip(df.columns, row))
        cells = "  ".join(f"{values[p]:>16.4g}" if isinstance(values[p], float)
                          else f"{str(values[p]):>16}" for p in params)
        median = values["median_takeover_tick"]
        median = ">horizon" if median != median else f"{median:.0f}"
        bounded |= any(bool(values.get(f"p_{e}_bounded")) for e in events)
        line = (f"{cells}  {values['replicates']:>5}  "
                f"{_interval_cell(values, 'takeover'):>24}  {median:>11}  "
                f"{values['takeover_hazard']:>11.3g}  "
                f"{_interval_cell(values, 'convergence'):>24}")
        if extinction:
            line += f"  {_interval_cell(values, 'extinction'):>24}"
        if agents:
            fraction = (f"{values['mean_fraction_lost']:.3f} "
                        f"[{values['mean_fraction_lost_low']:.3f}, "
                        f"{values['mean_fraction_lost_high']:.3f}]")
            line += (f"  {_interval_cell(values, 'total_loss'):>24}  {fraction:>24}  "
                     f"{_loss_hazard_cell(values):>15}")
        lines.append(line)
    if bounded:
        lines.append(BOUNDS_NOTE)
    return "\n".join(lines)


def format_at_summary(df, params) -> str:
    """The table of ``summarize --at``: per group and tick T, P(event by T)
    [95% CI] of each event in ``df``; bounds marked * and explained below."""
    events = [c[2:-8] for c in df.columns if c.startswith("p_") and c.endswith("_bounded")]
    lines = ["  ".join([*(f"{p:>16}" for p in params), f"{'T':>7}", f"{'reps':>5}",
                        *(f"{f'P({e} by T) [95% CI]':>28}" for e in events)])]
    for row in df.to_dict("records"):
        lines.append("  ".join([*(f"{str(row[p]):>16}" for p in params), f"{row['at']:>7}",
                                f"{row['replicates']:>5}",
                                *(f"{_interval_cell(row, e):>28}" for e in events)]))
    if df[[f"p_{e}_bounded" for e in events]].to_numpy().any():
        lines.append(BOUNDS_NOTE)
    return "\n".join(lines)


def homogeneity_text(tests, by) -> str:
    """The lines of ``summarize --by``'s homogeneity tests."""
    lines = [f"homogeneity across {', '.join(by)} (Pearson chi-square on the 2 x k table "
             "of replicates with and without the event by T):"]
    for t in tests.to_dict("records"):
        if t["note"]:
            lines.append(f"  {t['event']:<12} not tested: {t['note']}")
            continue
        rough = ("  (an expected count < 5: rough)"
                 if t["min_expected"] < 5 and t["chi2"] > 0 else "")
        lines.append(f"  {t['event']:<12} chi2 = {t['chi2']:.3g}, df = {t['dof']}, "
                     f"p = {t['p_value']:.3g}{rough}")
    return "\n".join(lines)
