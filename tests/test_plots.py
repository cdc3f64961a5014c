"""Figures: the data drawn match the tables, axes are labelled, the number of
curves is right, and kinds without their data give a one-line error."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.collections import PolyCollection
from matplotlib.image import AxesImage

import analysis
from analysis import plots
from simulation import AnalysisError
from substrate.cli import cli

RUN = """\
name: plotrun
seed: 8
replicates: 3
horizon: 300
record_every: 20
world: {agents: 3, transmission: 0.01}
agent: {capacity: 1000, initial_size: 500, birth_rate: 0.2, death_rate: 0.1,
        drive_advantage: 2.0}
copy: {error_rate: 0.01, kernel: {type: normal, sd: 0.1}}
immune: {surveillance: 0.2, tolerance: 0.25}
"""

SWEEP = RUN.replace("name: plotrun", "name: plotsweep").replace(
    "world: {agents: 3, transmission: 0.01}", "world: {agents: 1}") + """\
sweep:
  grid:
    copy.error_rate: [0.001, 0.03]
    immune.efficacy: [0.2, 0.9]
"""


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plots")
    (tmp / "run.yaml").write_text(RUN)
    (tmp / "sweep.yaml").write_text(SWEEP)
    runner = CliRunner()
    assert runner.invoke(cli, ["run", str(tmp / "run.yaml"), "--out", str(tmp / "run")]).exit_code == 0
    result = runner.invoke(cli, ["sweep", str(tmp / "sweep.yaml"), "--out", str(tmp / "sweep")])
    assert result.exit_code == 0, result.output
    return analysis.load(tmp / "run"), analysis.load(tmp / "sweep")


def test_incidence_curves_are_drawn(folders):
    _, sweep = folders
    fig = plots.survival_figure(sweep, by=["copy.error_rate"])
    ax = fig.axes[0]
    assert ax.get_ylabel() == "P(takeover by tick)" and ax.get_xlabel() == "tick"
    assert "Aalen-Johansen" in ax.get_title() and "95% bands" in ax.get_title()
    lines = ax.get_lines()
    assert len(lines) == 2  # one curve per group; nothing stopped, so no bounds
    curves = analysis.incidence_curves(sweep, by=["copy.error_rate"])
    for line, (_, curve) in zip(lines, curves.groupby("copy.error_rate")):
        y = line.get_ydata()
        np.testing.assert_allclose(y[:-1], curve.incidence)  # last point: held to the horizon
        assert line.get_xdata()[-1] == sweep.horizon
    assert len(fig.axes[1].get_lines()) == 2  # convergence panel
    assert len(plots.survival_figure(sweep).axes[0].get_lines()) == 4  # one per point


def _stopped_results(tmp_path, stop_reasons=("takeover", "horizon")):
    """Two replicates recorded every 10 ticks to 40: replicate 0 stops at
    tick 15 (its last row off the grid), replicate 1 runs to the horizon."""
    rows = []
    for tick, drive in ((0, 0.1), (10, 0.3), (15, 0.7)):
        rows.append((0, 0, tick, drive))
    for tick in (0, 10, 20, 30, 40):
        rows.append((0, 1, tick, 0.1))
    ts = pd.DataFrame(rows, columns=["point", "replicate", "tick", "mean_drive"])
    for column in plots.TRAIT_COLUMNS[1:]:
        ts[column] = 0.5
    ts.to_parquet(tmp_path / "timeseries.parquet")
    runs = pd.DataFrame({
        "point": [0, 0], "replicate": [0, 1], "ticks": [15, 40],
        "stop_reason": list(stop_reasons),
        "takeover_tick": pd.array([15, None], dtype="Int64"),
        "convergence_tick": pd.array([None, None], dtype="Int64"),
        "final_mean_drive": [0.7, 0.1], "final_mean_loyalty": [0.5, 0.5]})
    return analysis.Results(tmp_path, runs, {"name": "t", "horizon": 40, "record_every": 10},
                            {"files": ["runs.parquet", "timeseries.parquet"]}, [])


def test_traits_carry_forward_or_running_only(tmp_path):
    results = _stopped_results(tmp_path)
    carry = plots.traits_data(results)  # the default: last state carried forward
    running = plots.traits_data(results, stopped="running")
    assert list(carry.tick) == [0, 10, 20, 30, 40]
    assert list(carry.replicates) == [2, 2, 2, 2, 2]
    # Replicate 0's last state (drive 0.7 at tick 15) stands in after it stopped.
    np.testing.assert_allclose(carry.mean_drive_mean, [0.1, 0.2, 0.4, 0.4, 0.4])
    assert list(running.replicates) == [2, 2, 1, 1, 1]
    np.testing.assert_allclose(running.mean_drive_mean, [0.1, 0.2, 0.1, 0.1, 0.1])
    fig = plots.traits_figure(results, stopped="running")
    assert "still running only" in fig.get_suptitle()
    assert fig.axes[-1].get_ylabel() == "replicates averaged"
    np.testing.assert_allclose(fig.axes[-1].get_lines()[0].get_ydata(), [2, 2, 1, 1, 1])
    assert "last state carried forward" in plots.traits_figure(results).get_suptitle()
    assert "still running only" in plots.plot(results, "traits",
                                               stopped="running").get_suptitle()
    from simulation.errors import AnalysisError
    with pytest.raises(AnalysisError, match="not a choice"):
        plots.traits_data(results, stopped="sometimes")


def test_stopped_events_drawn_with_bounds(tmp_path):
    results = _stopped_results(tmp_path)
    fig = plots.survival_figure(results)
    takeover, convergence = fig.axes
    assert len(takeover.get_lines()) == 1  # takeover itself is never cut short
    assert len(convergence.get_lines()) == 3  # incidence and two dashed bounds
    assert "bounds" in convergence.get_title()
    upper = convergence.get_lines()[2]
    assert upper.get_linestyle() == "--" and upper.get_ydata()[-1] == 0.5


def test_phase_heatmap_is_the_summary(folders):
    run, sweep = folders
    fig = plots.phase_figure(sweep)
    ax = fig.axes[0]
    image = [c for c in ax.get_children() if isinstance(c, AxesImage)][0]
    summary = analysis.summarize(sweep)
    expected = summary.pivot_table(index="immune.efficacy", columns="copy.error_rate",
                                   values="p_takeover").sort_index().to_numpy()
    np.testing.assert_allclose(image.get_array(), expected)
    assert ax.get_xlabel() == "copy.error_rate" and ax.get_ylabel() == "immune.efficacy"
    (ax_w,) = [a for a in fig.axes if a.get_title() == "width of the 95% interval"]
    widths = [c for c in ax_w.get_children() if isinstance(c, AxesImage)]
    assert widths and np.all(np.asarray(widths[0].get_array()) > 0)
    with pytest.raises(AnalysisError, match="needs a sweep over two parameters"):
        plots.phase_figure(run)


def test_muller_bands_nest_and_fill(folders):
    run, sweep = folders
    ticks, clones, lower, upper, traits = plots.muller_data(run, replicate=1, agent=2)
    assert len(ticks) == 16 and len(clones) >= 2
    # Roots' bands tile [0, 1]; every band lies within [0, 1].
    assert np.all(lower >= -1e-12) and np.all(upper <= 1 + 1e-12)
    np.testing.assert_allclose(upper.max(axis=1), 1.0)
    lineage = pd.read_parquet(run.folder / "clones.parquet")
    lineage = lineage[lineage.replicate == 1].set_index("clone")
    shown = set(clones)
    for i, c in enumerate(clones):  # a shown clone's band lies inside its shown ancestor's
        up = lineage.parent.get(c, -1)
        while up >= 0 and up not in shown:
            up = lineage.parent.get(up, -1)
        if up >= 0:
            j = clones.index(up)
            assert np.all(lower[:, i] >= lower[:, j] - 1e-12)
            assert np.all(upper[:, i] <= upper[:, j] + 1e-12)
    fig = plots.muller_figure(run, replicate=1, agent=2)
    polys = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(polys) == len(clones)
    assert fig.axes[0].get_ylabel() == "frequency in the agent"
    with pytest.raises(AnalysisError, match="needs clones.parquet"):
        plots.muller_figure(sweep)
    with pytest.raises(AnalysisError, match="no replicate 9"):
        plots.muller_data(run, replicate=9)


def test_traits_lines_are_the_replicate_means(folders):
    run, _ = folders
    # No replicate of this run stops early: both choices give the same means.
    fig = plots.traits_figure(run, stopped="running")
    assert len(fig.axes) == 6
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "mean drive", "mean loyalty", "mean stealth", "mean fidelity", "defector fraction",
        "replicates averaged"]
    ts = run.timeseries()
    ts = ts[ts.tick % 20 == 0]
    pd.testing.assert_frame_equal(plots.traits_data(run), plots.traits_data(run, stopped="running"))
    for ax, column in zip(fig.axes, plots.TRAIT_COLUMNS):
        (line,) = ax.get_lines()
        np.testing.assert_allclose(line.get_ydata(), ts.groupby("tick")[column].mean())


def test_price_bars_add_up_to_the_observed_change(folders):
    run, _ = folders
    data = plots.price_data(run)
    np.testing.assert_allclose(data.between + data.within + data.transmission,
                               data.observed, atol=1e-12)
    fig = plots.price_figure(run)
    ax = fig.axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("observed")]
    np.testing.assert_allclose(line.get_ydata(), data.observed)
    heights = np.array([[p.get_height() for p in c] for c in ax.containers])
    np.testing.assert_allclose(heights.sum(axis=0), data.observed, atol=1e-12)
    assert "between-agent" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_agents_plot(folders):
    run, sweep = folders
    counts, q = plots.agents_data(run)
    agents = pd.read_parquet(run.folder / "agents.parquet")
    per_tick = agents[agents.alive].groupby(["replicate", "tick"]).size().groupby("tick").mean()
    np.testing.assert_allclose(counts["mean"], per_tick)
    fig = plots.agents_figure(run)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), per_tick)
    assert fig.axes[1].get_ylabel() == "surveillance (immune investment)"
    with pytest.raises(AnalysisError, match="needs agents.parquet"):
        plots.agents_figure(sweep)


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_plot_command_formats(folders, tmp_path, fmt):
    run, _ = folders
    out = tmp_path / f"t.{fmt}"
    result = CliRunner().invoke(cli, ["plot", str(run.folder), "--kind", "traits",
                                      "--out", str(out), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


def test_plot_command_errors(folders, tmp_path):
    run, sweep = folders
    runner = CliRunner()
    bad = runner.invoke(cli, ["plot", str(run.folder), "--kind", "phase"])
    assert bad.exit_code == 2 and bad.output.startswith("error: ") and \
        len(bad.output.strip().splitlines()) == 1
    missing = runner.invoke(cli, ["plot", str(tmp_path / "nope"), "--kind", "traits"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    for kind in ("survival", "traits"):
        by = runner.invoke(cli, ["plot", str(run.folder), "--kind", kind, "--by", "nosuch"])
        assert by.exit_code == 2 and "cannot group by nosuch: not a column" in by.output
    nowhere = runner.invoke(cli, ["plot", str(run.folder), "--kind", "traits", "--out",
                                  str(tmp_path / "no" / "f.png")])
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.output


def test_report_embeds_every_applicable_plot(folders, tmp_path):
    for results, kinds in zip(folders, (["survival", "traits", "price", "muller", "agents"],
                                        ["survival", "traits", "price", "phase"])):
        assert sorted(plots.applicable(results)) == sorted(kinds)
        out = tmp_path / f"{results.scenario['name']}.html"
        result = CliRunner().invoke(cli, ["report", str(results.folder), "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert text.count("<img") == len(kinds)
        assert text.count("data:image/png;base64,") == len(kinds)
        assert results.scenario["name"] in text and "<table" in text
        assert "seed:" in text and '"versions"' in text  # scenario and provenance


def test_incidence_band_is_drawn_before_the_first_event():
    # Issue 24, item 1: the band before the first event is Wilson's
    # [0, z^2/(n + z^2)], not the empty [0, 0] (overview and survival plots).
    from matplotlib.figure import Figure

    runs = pd.DataFrame({"ticks": [5, 9, 20, 20], "stop_reason": ["takeover"] * 2 + ["horizon"] * 2,
                         "takeover_tick": pd.array([5, 9, None, None], dtype="Int64")})
    ax = Figure().subplots()
    plots._draw_incidence(ax, runs, "takeover", 20, "C0", "x")
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(band) == 1
    vertices = np.concatenate([p.vertices for p in band[0].get_paths()])
    before = vertices[vertices[:, 0] < 5]
    z = 1.959963984540054
    assert before[:, 1].max() == pytest.approx(z * z / (4 + z * z))


# --- readable for any number of points; headline events; nothing clipped ---------

def _many_groups(sweep):
    """The sweep's runs cut into 8 groups over two keys (4 points x replicate
    parity): a complete 4 x 2 grid."""
    import dataclasses

    runs = sweep.runs.assign(parity=sweep.runs.replicate % 2)
    return dataclasses.replace(sweep, runs=runs)


def test_survival_of_many_points_is_small_multiples(folders):
    _, sweep = folders
    many = _many_groups(sweep)
    fig = plots.survival_figure(many, by=["point", "parity"])
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 8  # one panel per group, on the 4 x 2 grid of the two keys
    assert fig.axes[1].get_title() == "point=0\nparity=1"
    curves = analysis.incidence_curves(many, "takeover", by=["point", "parity"])
    for ax, ((point, parity), curve) in zip(fig.axes, curves.groupby(["point", "parity"])):
        takeover, convergence = ax.get_lines()  # one curve per event in each panel
        assert takeover.get_label() == "takeover" and convergence.get_label() == "convergence"
        np.testing.assert_allclose(takeover.get_ydata()[:-1], curve["incidence"])
    assert len(fig.legends) == 1  # one legend for the events, below the panels
    import dataclasses

    partial = dataclasses.replace(many, runs=many.runs[(many.runs.point > 0)
                                                       | (many.runs.parity == 1)])
    wrapped = plots.survival_figure(partial, by=["point", "parity"])  # 7 of 8: wrapped
    assert sum(ax.get_visible() for ax in wrapped.axes) == 7 and len(wrapped.axes) == 9
    assert wrapped.axes[0].get_title() == "point=0, parity=1"
    few = plots.survival_figure(sweep)  # 4 points: overlaid, as before
    assert len(few.axes) == 2 and len(few.axes[0].get_lines()) == 4


def test_muller_marks_the_threshold_and_the_takeover(folders):
    from matplotlib.colors import to_rgb

    run, _ = folders
    cmap = plots.drive_colormap(0.5)
    below, above = to_rgb(cmap(0.45)), to_rgb(cmap(0.55))
    assert below[2] > below[0] and above[0] > above[2]  # blue below, red above
    fig = plots.muller_figure(run, replicate=1, agent=2)
    bar = fig.axes[1]
    assert "escape threshold 0.5" in [t.get_text() for t in bar.get_yticklabels()]
    row = run.runs[run.runs.replicate == 1].iloc[0]
    marks = [ln.get_xdata()[0] for ln in fig.axes[0].get_lines()]
    if pd.isna(row.takeover_tick):
        assert marks == []
    else:
        assert marks == [row.takeover_tick]


def test_price_bars_are_inside_the_axes(folders):
    run, _ = folders
    ax = plots.price_figure(run).axes[0]
    low, high = ax.get_ylim()
    for container in ax.containers:
        for bar in container:
            y0, y1 = sorted((bar.get_y(), bar.get_y() + bar.get_height()))
            assert low < y0 and y1 < high  # a margin past every bar


def test_overview_shows_the_headline_event(tmp_path):
    na = None
    runs = pd.DataFrame({
        "ticks": [100] * 4, "stop_reason": ["horizon"] * 4,
        "takeover_tick": pd.array([90, na, na, na], dtype="Int64"),
        "drift_tick": pd.array([10, 20, 30, na], dtype="Int64"),
        "convergence_tick": pd.array([50, 60, na, na], dtype="Int64"),
        "extinction_tick": pd.array([na] * 4, dtype="Int64"),
        "total_loss_tick": pd.array([90, na, na, na], dtype="Int64")})
    # A drift scenario: drift first, then convergence, then takeover.
    assert plots.headline_events(runs) == ["drift", "convergence", "takeover"]
    assert plots.headline_events(runs, stop_on=["takeover"]) == ["takeover"]
    nothing = runs.assign(**{c: pd.array([na] * 4, dtype="Int64") for c in
                             ("takeover_tick", "drift_tick", "convergence_tick",
                              "total_loss_tick")})
    assert plots.headline_events(nothing) == ["takeover"]
