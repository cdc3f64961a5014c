"""Agent-level outcomes (docs/model.md "Agent-level outcomes") and the Price
terms that drove each failure mode: against hand-computed tables, a
hand-worked engine case and hypothesis properties of the engine's runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from scipy import stats

from analysis import (agent_outcomes, failure_mode_price, failure_mode_summary,
                      summarize, wilson_interval)
from simulation import run_replicate, run_scenario, validate
from simulation.names import AGENTS_DIED
from tests.test_failure_modes import failing_scenarios

# --- the Price terms that drove each failure mode: a hand-computed case -------

NA = pd.NA


def _price_case():
    """Four replicates recorded at ticks 0, 10, 20, 30, 40 (tick 0: NaN terms).

    rep 0: cancer at 25 -> summed through the record at 30:
        between .01+.02+.03 = .06, within .3, transmission .003
    rep 1: drift at 10 -> through 10: between .05, within .02, transmission .004
    rep 2: no failure -> every record: between 1+2+3+4 = 10, within 0,
        transmission .4
    rep 3: cancer at 40 -> through 40: between .5, within .2, transmission .01
    Cancer: between (.06+.5)/2 = .28, within (.3+.2)/2 = .25, selection .53,
    transmission (.003+.01)/2 = .0065, failure tick (25+40)/2 = 32.5.
    """
    runs = pd.DataFrame({
        "point": 0, "replicate": [0, 1, 2, 3], "ticks": 40, "stop_reason": "horizon",
        "takeover_tick": pd.array([25, NA, NA, 40], dtype="Int64"),
        "drift_tick": pd.array([NA, 10, NA, NA], dtype="Int64"),
        "extinction_tick": pd.array([NA] * 4, dtype="Int64"),
        "failure_mode": ["cancer", "drift", "none", "cancer"],
        "final_mean_drive": 0.2, "final_mean_loyalty": 0.8})
    terms = {  # replicate: (between, within, transmission) at ticks 10..40
        0: ([.01, .02, .03, .04], [.1] * 4, [.001] * 4),
        1: ([.05, 9, 9, 9], [.02, 9, 9, 9], [.004, 9, 9, 9]),
        2: ([1, 2, 3, 4], [0] * 4, [.1] * 4),
        3: ([0, 0, 0, .5], [.2, 0, 0, 0], [0, 0, 0, .01]),
    }
    rows = []
    for rep, (between, within, transmission) in terms.items():
        rows.append((rep, 0, math.nan, math.nan, math.nan))
        for k, tick in enumerate((10, 20, 30, 40)):
            rows.append((rep, tick, between[k], within[k], transmission[k]))
    ts = pd.DataFrame(rows, columns=["replicate", "tick", "price_between", "price_within",
                                     "price_transmission"])
    ts.insert(0, "point", 0)
    return runs, ts


def test_price_terms_summed_to_the_failure_per_mode_by_hand():
    runs, ts = _price_case()
    table = failure_mode_price(runs, ts).set_index("failure_mode")
    assert table.loc["cancer", "replicates"] == 2
    expected = {
        "cancer": (32.5, .28, .25, .53, .0065),
        "drift": (10.0, .05, .02, .07, .004),
        "none": (math.nan, 10.0, 0.0, 10.0, .4),
    }
    for mode, (tick, between, within, selection, transmission) in expected.items():
        row = table.loc[mode]
        assert row["mean_failure_tick"] == pytest.approx(tick, nan_ok=True)
        assert row["price_between"] == pytest.approx(between)
        assert row["price_within"] == pytest.approx(within)
        assert row["price_selection"] == pytest.approx(selection)
        assert row["price_transmission"] == pytest.approx(transmission)
        assert row["price_total"] == pytest.approx(selection + transmission)
    summary = failure_mode_summary(runs, horizon=40, timeseries=ts).iloc[0]
    assert summary["cancer_selection"] == pytest.approx(.53)
    assert summary["cancer_transmission"] == pytest.approx(.0065)
    assert summary["drift_selection"] == pytest.approx(.07)
    assert math.isnan(summary["cancer_then_drift_selection"])


def test_price_terms_per_group():
    runs, ts = _price_case()
    runs["copy.error_rate"] = [0.1, 0.1, 0.2, 0.2]
    table = failure_mode_price(runs, ts, by=["copy.error_rate"])
    cancer = table[table.failure_mode == "cancer"].set_index("copy.error_rate")
    assert cancer.loc[0.1, "price_between"] == pytest.approx(.06)  # rep 0 alone
    assert cancer.loc[0.2, "price_between"] == pytest.approx(.5)   # rep 3 alone
    summary = failure_mode_summary(runs, by=["copy.error_rate"], horizon=40, timeseries=ts)
    assert summary["cancer_selection"].tolist() == pytest.approx([.36, .7])


# --- the agent-level summary: a hand-computed table ------------------------------

def _agent_runs():
    died = {column: [0, 0, 0, 0] for column in AGENTS_DIED}
    died["agents_died_takeover"] = [5, 0, 1, 2]
    died["agents_died_starved"] = [0, 1, 1, 0]
    return pd.DataFrame({
        "ticks": 30, "stop_reason": "horizon",
        "total_loss_tick": pd.array([5, NA, NA, 20], dtype="Int64"),
        "extinction_tick": pd.array([5, NA, NA, NA], dtype="Int64"),
        "agents_founded": 5, **died, "agents_taken_alive": [0, 0, 0, 3],
        "agents_lost": [5, 1, 2, 5], "fraction_lost": [1.0, 0.2, 0.4, 1.0],
        "agent_ticks": [20, 140, 120, 90],
        "goal_output_lost": [1.0, 0.1, -0.2, 1.0],
        "final_mean_drive": 0.2, "final_mean_loyalty": 0.8})


def test_agent_outcomes_by_hand():
    runs = _agent_runs()
    row = agent_outcomes(runs, horizon=30)
    # P(total loss by 30): 2 of 4, nothing censored early: the Wilson interval
    assert (row["p_total_loss"], row["p_total_loss_low"], row["p_total_loss_high"]) == \
        pytest.approx(wilson_interval(2, 4))
    assert row["p_total_loss_bounded"] is False
    # by tick 10 only replicate 0 (tick 5)
    assert agent_outcomes(runs, horizon=10)["p_total_loss"] == pytest.approx(0.25)
    # mean fraction lost .65: s^2 = 0.51/3 = 0.17, n_eff = 4 * .65 * .35 / .17
    # = 5.353 (between n = 4 and the 20 agents founded), Wilson's form with
    # Student's quantile (3 df). (Was: Student t, clipped to [0, 1].)
    def wilson(m, n, z):
        centre = (m + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(m * (1 - m) / n + z * z / (4 * n * n))
        return centre - half, centre + half

    low, high = wilson(0.65, 4 * 0.65 * 0.35 / 0.17, stats.t.ppf(0.975, 3))
    assert row["mean_fraction_lost"] == pytest.approx(0.65)
    assert row["mean_fraction_lost_low"] == pytest.approx(low)
    assert row["mean_fraction_lost_high"] == pytest.approx(high)
    # goal output lost in [-0.2 (the lowest seen), 1]: rescaled [1, .25, 0, 1],
    # m = .5625, n m (1 - m) / s^2 = 3.71 < n: n_eff = 4, the normal quantile
    low, high = wilson(0.5625, 4, stats.norm.ppf(0.975))
    assert row["mean_goal_output_lost"] == pytest.approx(0.475)
    assert row["mean_goal_output_lost_low"] == pytest.approx(-0.2 + 1.2 * low)
    assert row["mean_goal_output_lost_high"] == pytest.approx(-0.2 + 1.2 * high)
    # hazard: 10 deaths (taken-alive agents are not deaths) over 370 agent-ticks;
    # exact Poisson interval chi2(2k)/2, chi2(2k+2)/2 over the exposure
    assert row["agent_hazard"] == pytest.approx(10 / 370)
    assert row["agent_hazard_low"] == pytest.approx(stats.chi2.ppf(0.025, 20) / 2 / 370)
    assert row["agent_hazard_high"] == pytest.approx(stats.chi2.ppf(0.975, 22) / 2 / 370)
    assert row["mean_agents_lost"] == pytest.approx(3.25)
    # loss hazard: the 13 agents lost, 3 of them taken over alive, over the
    # 370 agent-ticks: a lower bound (they lived on after their takeover)
    assert row["agent_loss_hazard"] == pytest.approx(13 / 370)
    assert row["agent_loss_hazard_high"] == pytest.approx(stats.chi2.ppf(0.975, 28) / 2 / 370)
    assert row["agent_loss_hazard_exact"] is False
    # summarize carries the same block per group
    runs["world.agents"] = [1, 1, 5, 5]
    table = summarize(runs, by=["world.agents"], events=(), horizon=30)
    assert table["p_total_loss"].tolist() == pytest.approx([0.5, 0.5])
    assert table["agent_hazard"].tolist() == pytest.approx([6 / 160, 4 / 210])


def test_singleton_loss_hazard_counts_takeover_by_hand():
    # Issue 24, item 3: one agent per replicate, lost at ticks 4 and 10 (one
    # never): 2 losses over 4 + 20 + 10 = 34 ticks at risk, although no
    # agent died (taken over alive): the death hazard says 0, the loss hazard
    # does not.
    died = {column: [0, 0, 0] for column in AGENTS_DIED}
    runs = pd.DataFrame({
        "ticks": 20, "stop_reason": "horizon",
        "total_loss_tick": pd.array([4, NA, 10], dtype="Int64"),
        "extinction_tick": pd.array([NA, NA, NA], dtype="Int64"),
        "agents_founded": 1, **died, "agents_taken_alive": [1, 0, 1],
        "agents_lost": [1, 0, 1], "fraction_lost": [1.0, 0.0, 1.0],
        "agent_ticks": [20, 20, 20], "goal_output_lost": [1.0, 0.1, 1.0]})
    row = agent_outcomes(runs, horizon=20)
    assert row["agent_hazard"] == 0.0
    assert row["agent_loss_hazard"] == pytest.approx(2 / 34)
    assert row["agent_loss_hazard_low"] == pytest.approx(stats.chi2.ppf(0.025, 4) / 2 / 34)
    assert row["agent_loss_hazard_exact"] is True
    assert (row["mean_fraction_lost"], row["mean_fraction_lost_low"],
            row["mean_fraction_lost_high"]) == pytest.approx(
        (row["p_total_loss"], row["p_total_loss_low"], row["p_total_loss_high"]))


# --- the engine: a case worked by hand, and properties ----------------------------

def _born_taken_over(kills: bool):
    """A singleton whose every member is a defector at tick 0 (drive 0.9 >
    escape threshold 0.5): taken over at once."""
    return validate({"seed": 1, "replicates": 1, "horizon": 20, "record_every": 5,
                     "world": {"takeover_kills": kills},
                     "agent": {"capacity": 200, "initial_size": 100,
                               "initial_traits": {"drive": 0.9, "loyalty": 0.5}}})


def test_a_singleton_taken_over_at_tick_0_is_a_total_loss():
    alive = run_scenario(_born_taken_over(False), show_progress=False).runs.iloc[0]
    assert alive.takeover_tick == 0 and alive.total_loss_tick == 0 and alive.total_loss
    assert alive.agents_taken_alive == 1 and alive.agents_lost == 1
    assert alive.fraction_lost == 1.0 and alive.final_agents == 1
    assert alive.goal_output_start == pytest.approx(100 * 0.5)  # G(0) = sum n l
    assert alive.final_goal_output == 0.0 and alive.goal_output_lost == 1.0
    assert alive.agent_ticks == alive.ticks == 20  # alive the whole run
    assert sum(alive[c] for c in AGENTS_DIED) == 0
    dead = run_scenario(_born_taken_over(True), show_progress=False).runs.iloc[0]
    # Lost when taken over (tick 0); the kill is a death of tick 1 (no deaths
    # at set-up), which empties the world.
    assert dead.total_loss_tick == 0 and dead.extinction_tick == 1
    assert dead.agents_died_takeover == 1 and dead.agents_taken_alive == 0
    assert dead.agent_ticks == 1 and dead.fraction_lost == 1.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(failing_scenarios())
def test_agent_outcomes_are_consistent(sc):
    run = run_replicate(sc, 0).run
    tick = run["total_loss_tick"]
    assert run["total_loss"] == (tick is not None)
    if tick is not None:
        assert 0 <= tick <= run["ticks"]
    if run["extinction_tick"] is not None:  # no agent left: every agent lost
        assert tick is not None and tick <= run["extinction_tick"]
    if sc.world.agents == 1 and sc.world.reproduction.threshold is None:
        # one agent: lost when taken over or when the world dies, whichever first
        first = [t for t in (run["takeover_tick"], run["extinction_tick"]) if t is not None]
        assert tick == (min(first) if first else None)
    died = sum(run[c] for c in AGENTS_DIED)
    assert run["agents_founded"] == sc.world.agents + run["agents_born"]
    assert run["agents_lost"] == died + run["agents_taken_alive"]
    assert run["final_agents"] == run["agents_founded"] - died
    assert run["fraction_lost"] == pytest.approx(run["agents_lost"] / run["agents_founded"])
    assert 0 <= run["agent_ticks"] <= run["agents_founded"] * run["ticks"]
    assert run["goal_output_lost"] <= 1.0 + 1e-12
    if run["total_loss"] and run["total_loss_tick"] == run["ticks"]:
        assert run["final_goal_output"] == 0.0  # nothing left that is not lost
    assert np.isfinite(run["goal_output_start"])


def test_run_summarize_and_report_show_the_agent_outcomes(tmp_path):
    import yaml
    from click.testing import CliRunner

    from simulation.scenario import to_yaml
    from substrate.cli import cli

    path = tmp_path / "taken.yaml"
    path.write_text(to_yaml(_born_taken_over(False)))
    out = tmp_path / "o"
    run = CliRunner().invoke(cli, ["run", str(path), "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "P(total loss by 20)     1.000" in run.output
    # One agent: its loss is the total loss. The lines that restated it
    # ("agents lost 1.00 of 1.00 founded", "per-agent hazard 0": taken over
    # alive is no death) are gone (issue 24, item 3); the loss hazard counts
    # the takeover.
    assert "agents lost" not in run.output and "per-agent" not in run.output
    assert "goal output lost            1.000" in run.output
    assert "  loss hazard  " in run.output  # lost at tick 0: no exposure, no rate
    assert "per tick (takeover or extinction)" in run.output
    assert "Price terms to the failure  cancer +" in run.output
    table = CliRunner().invoke(cli, ["summarize", str(out)])
    assert "P(total loss) [95% CI]" in table.output and "1.000 [0.207, 1.000]" in table.output
    report = CliRunner().invoke(cli, ["report", str(out)])
    assert report.exit_code == 0, report.output
    page = (out / "report.html").read_text()
    assert "<h2>Failure modes</h2>" in page and "drove each failure mode" in page
    assert "p_total_loss" in page
    assert yaml.safe_load(path.read_text())["horizon"] == 20


def test_run_summary_lines_name_what_they_count():
    # Issue 24, item 3: several agents: the loss hazard (a lower bound here:
    # agents taken over alive) beside the death hazard, each named; one
    # agent: only P(total loss), goal output lost and the loss hazard.
    from substrate.formatting import _agent_lines

    runs = _agent_runs()
    lines = "\n".join(_agent_lines(agent_outcomes(runs, horizon=30), 30))
    assert "founded at set-up or born (mean, at the end: dead or taken over)" in lines
    assert "per-agent loss hazard       at least 0.0351" in lines
    assert "per-agent death hazard      0.027" in lines
    assert "negative: it grew" in lines
    one = runs.assign(agents_founded=1)
    lines = _agent_lines(agent_outcomes(one, horizon=30), 30)
    assert len(lines) == 3 and "agents lost" not in "\n".join(lines)
    assert lines[2].startswith("  loss hazard ")
