"""Figures of output folders (matplotlib, no pyplot: no global state, Agg).

Each ``*_figure`` function takes a :class:`analysis.Results` (``load(DIR)``)
and returns a ``matplotlib.figure.Figure``; ``plot(results, kind)`` picks one
and raises :class:`simulation.errors.AnalysisError` (a one-line message) when the
folder lacks the data a kind needs. ``substrate plot`` and ``substrate
report`` call these.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulation.errors import AnalysisError
from simulation.io import write_figure

from .estimators import event_columns, incidence_curve

KINDS = ("survival", "phase", "muller", "traits", "price", "agents")
TRAIT_COLUMNS = ("mean_drive", "mean_loyalty", "mean_stealth", "mean_fidelity",
                 "defector_fraction")


def save(fig: Figure, path, dpi: int = 110, provenance: dict | None = None) -> str:
    """Write a figure atomically (:func:`simulation.io.write_figure`); the
    format follows the suffix; ``provenance`` goes into the file's metadata."""
    return str(write_figure(fig, path, dpi=dpi, provenance=provenance))


def _label(key) -> str:
    if not isinstance(key, tuple):
        key = (key,)
    return ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in key)


def _groups(df: pd.DataFrame, by):
    if not by:
        return [("all", df)]
    return [(_label(k), g) for k, g in df.groupby(by, sort=True, dropna=False)]


def _color(i: int, n: int):
    """Distinct colours for up to 20 groups (tab10, then tab20)."""
    from matplotlib import colormaps

    return f"C{i % 10}" if n <= 10 else colormaps["tab20"](i % 20)


def _legend(ax, title, n):
    """Inside the axes for a few groups, beside them for many, in columns of
    at most 10 entries (a legend taller than its figure would be cut off)."""
    kwargs = dict(title=title, fontsize="x-small", title_fontsize="x-small")
    if n > 6:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=-(-n // 10), **kwargs)
    else:
        ax.legend(loc="lower left", **kwargs)


def _by(results, by):
    by = list(by) if by else list(results.parameters)
    for column in by:
        if column not in results.runs.columns:
            raise AnalysisError(f"cannot group by {column}: not a column of "
                                f"{results.folder}/runs.parquet "
                                f"(swept: {', '.join(results.parameters) or 'none'})")
    return by


# --- survival ----------------------------------------------------------------

def _draw_incidence(ax, runs, event, horizon, color, label):
    """The Aalen-Johansen cumulative incidence of ``event`` as a step curve
    held to the horizon, its 95% pointwise band (``estimators.incidence_band``:
    Wilson's without censoring, so a real interval before the first event and
    after the last; log(-log) delta method under censoring) and, where replicates
    were stopped early by another event, the bounds that contain the truth
    (dashed). Returns True when bounds were drawn."""
    curve = incidence_curve(runs, event)
    curve = curve[curve.tick <= horizon]
    q = np.r_[curve.tick.to_numpy(), horizon]

    def held(column):
        values = curve[column].to_numpy()
        return np.r_[values, values[-1]]

    ax.step(q, held("incidence"), where="post", color=color, label=label)
    if len(runs) > 1:
        ax.fill_between(q, held("low"), held("high"), step="post", color=color, alpha=0.15)
    bounded = bool((curve.bound_high > curve.bound_low).any())
    if bounded:
        for column in ("bound_low", "bound_high"):
            ax.step(q, held(column), where="post", color=color, linestyle="--",
                    linewidth=0.8)
    return bounded


#: Above this many groups the survival figure draws small multiples (a panel
#: per group) instead of overlaid curves, whose legend and bands would not read.
OVERLAID_GROUPS = 6


def survival_figure(results, by=None, events=("takeover", "convergence")) -> Figure:
    """P(event by tick) of each event, a curve per point or group: the
    Aalen-Johansen cumulative incidence (competing events, such as
    extinction, count as "no"; only the horizon and stops censor) with 95%
    pointwise bands, and dashed bounds where a stop event cut replicates
    short. Up to :data:`OVERLAID_GROUPS` groups share one panel per event;
    more are drawn as small multiples (:func:`survival_panels`). The name
    is kept from the Kaplan-Meier figure it replaces."""
    by = _by(results, by)
    runs, horizon = results.runs, results.horizon
    if len(_groups(runs, by)) > OVERLAID_GROUPS:
        return survival_panels(results, by, events)
    fig = Figure(figsize=(5.2 * len(events), 4.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(events)))
    for ax, event in zip(axes, events):
        event_columns(event)
        groups = _groups(runs, by)
        bounded = False
        for i, (label, group) in enumerate(groups):
            bounded |= _draw_incidence(ax, group, event, horizon, _color(i, len(groups)),
                                       label)
        title = f"{event}: cumulative incidence (Aalen-Johansen, 95% bands)"
        if bounded:
            title += "\ndashed: bounds (replicates stopped early by another event)"
        ax.set(xlabel="tick", ylabel=f"P({event} by tick)", xlim=(0, horizon),
               ylim=(-0.02, 1.02), title=title)
        ax.title.set_fontsize("small")
        if by and ax is axes[-1]:
            _legend(ax, ", ".join(by), len(groups))
    fig.suptitle(f"{results.scenario.get('name', '')} (extinction competes: counted "
                 "as no event; the horizon censors)", fontsize="small")
    return fig


def _panel_grid(runs, by):
    """(rows, columns, [(row, column, label, group)]): a grid over the two
    keys of ``by`` when it has two and every combination is present, else
    the groups wrapped about a square."""
    groups = list(runs.groupby(by, sort=True, dropna=False))
    if len(by) == 2:
        first = sorted(runs[by[0]].dropna().unique().tolist())
        second = sorted(runs[by[1]].dropna().unique().tolist())
        if len(first) * len(second) == len(groups):
            return len(first), len(second), [
                (first.index(k[0]), second.index(k[1]),
                 f"{by[0]}={_label(k[0])}\n{by[1]}={_label(k[1])}", g) for k, g in groups]
    columns = min(6, int(np.ceil(np.sqrt(len(groups)))))
    rows = int(np.ceil(len(groups) / columns))
    return rows, columns, [
        (i // columns, i % columns,
         ", ".join(f"{b}={_label(v)}" for b, v in zip(by, k if isinstance(k, tuple) else (k,))),
         g) for i, (k, g) in enumerate(groups)]


def survival_panels(results, by, events=("takeover", "convergence")) -> Figure:
    """Small multiples of :func:`survival_figure`: one panel per group (a
    grid over two swept keys), each with a curve per event, band and bounds
    as there, shared axes and one legend."""
    runs, horizon = results.runs, results.horizon
    rows, columns, cells = _panel_grid(runs, by)
    fig = Figure(figsize=(2.4 * columns + 1.2, 2.0 * rows + 1.0), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False))
    used = set()
    bounded = False
    for row, column, label, group in cells:
        ax = axes[row, column]
        used.add((row, column))
        for i, event in enumerate(events):
            event_columns(event)
            bounded |= _draw_incidence(ax, group, event, horizon, f"C{i}", event)
        ax.set_title(label, fontsize="x-small")
        ax.tick_params(labelsize="x-small")
        ax.set(xlim=(0, horizon), ylim=(-0.02, 1.02))
    for row in range(rows):
        for column in range(columns):
            if (row, column) not in used:
                axes[row, column].set_visible(False)
    for ax in axes[-1, :]:
        ax.set_xlabel("tick", fontsize="small")
    for ax in axes[:, 0]:
        ax.set_ylabel("P(event by tick)", fontsize="small")
    handles, labels = axes[cells[0][0], cells[0][1]].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(events),
               fontsize="small")
    fig.suptitle(f"{results.scenario.get('name', '')}: cumulative incidence per point "
                 "(Aalen-Johansen, 95% bands"
                 + ("; dashed: bounds where replicates were stopped early by another "
                    "event" if bounded else "") + ")", fontsize="small")
    return fig


# --- phase -------------------------------------------------------------------

def phase_data(results, x=None, y=None, event="takeover") -> pd.DataFrame:
    """P(event by the horizon) and its Wilson interval width per (x, y)."""
    from .summary import summarize

    params = list(results.parameters)
    if x is None or y is None:
        if len(params) < 2:
            raise AnalysisError(
                f"{results.folder}: the phase plot needs a sweep over two parameters "
                f"(this folder has {len(params)} swept: {', '.join(params) or 'none'})")
        x, y = (x or params[0]), (y or params[1])
    for p in (x, y):
        if p not in results.runs.columns:
            raise AnalysisError(f"phase axis {p}: not a swept parameter of {results.folder} "
                                f"(swept: {', '.join(params) or 'none'})")
    df = summarize(results, by=[x, y], events=(event,))
    df["ci_width"] = df[f"p_{event}_high"] - df[f"p_{event}_low"]
    return df.rename(columns={f"p_{event}": "p"})[[x, y, "p", "ci_width", "replicates"]]


def phase_figure(results, x=None, y=None, event="takeover") -> Figure:
    """Heatmap of P(event by T) over two swept parameters with the P = 0.5
    contour, beside the width of each cell's 95% Wilson interval."""
    df = phase_data(results, x, y, event)
    x, y = df.columns[0], df.columns[1]
    xs, ys = np.sort(df[x].unique()), np.sort(df[y].unique())
    grid = df.pivot_table(index=y, columns=x, values="p").reindex(index=ys, columns=xs)
    width = df.pivot_table(index=y, columns=x, values="ci_width").reindex(index=ys, columns=xs)
    fig = Figure(figsize=(11, 4.3), layout="constrained")
    ax, ax_w = fig.subplots(1, 2)
    for axis, data, title, cmap, vmax in (
            (ax, grid, f"P({event} by {results.horizon})", "magma_r", 1.0),
            (ax_w, width, "width of the 95% interval", "Greys", None)):
        mesh = axis.imshow(data.values, origin="lower", aspect="auto", cmap=cmap,
                           vmin=0, vmax=vmax, extent=(-0.5, len(xs) - 0.5, -0.5, len(ys) - 0.5))
        fig.colorbar(mesh, ax=axis, label=title)
        # _label: numbers to 3 digits, a whole mapping swept (its JSON label) as is
        axis.set_xticks(range(len(xs)), [_label(v) for v in xs])
        axis.set_yticks(range(len(ys)), [_label(v) for v in ys])
        axis.set(xlabel=x, ylabel=y, title=title)
    values = grid.values
    if np.nanmin(values) < 0.5 < np.nanmax(values) and min(values.shape) > 1:
        ax.contour(np.arange(len(xs)), np.arange(len(ys)), values, levels=[0.5],
                   colors="cyan", linewidths=2)
    for (j, i), p in np.ndenumerate(values):
        ax.text(i, j, f"{p:.2f}", ha="center", va="center", fontsize="x-small",
                color="white" if p > 0.5 else "black")
    fig.suptitle(f"{results.scenario.get('name', '')}: cyan line P = 0.5")
    return fig


# --- muller ------------------------------------------------------------------

def muller_data(results, replicate=0, agent=0, point=0, min_frequency=0.01):
    """Nested layout of clone frequencies over time for one replicate and agent.

    Clones whose frequency never reaches ``min_frequency`` are merged into
    their nearest shown ancestor. Returns ``(ticks, clones, lower, upper,
    traits)``: for each shown clone (parents before children) its band's
    lower and upper edge at each record tick (a clone's band contains its
    descendants' bands, centred within it), and its traits.
    """
    folder = results.folder
    if not results.has("clones"):
        raise AnalysisError(
            f"{folder}: the muller plot needs clones.parquet, which runs with "
            "record_clones: true write (sweeps do not: re-run one replicate with "
            "'substrate run SCENARIO --point P --replicate K')")
    lineage = results.table("clones")  # read (and checked) by the one reader
    counts = results.table("clone_counts")
    lineage = lineage[(lineage.point == point) & (lineage.replicate == replicate)]
    counts = counts[(counts.point == point) & (counts.replicate == replicate)]
    if lineage.empty:
        raise AnalysisError(f"{folder}: no replicate {replicate} (point {point}) in "
                            "clones.parquet")
    counts = counts.merge(lineage[["clone", "agent"]], on="clone")
    counts = counts[counts.agent == agent]
    if counts.empty:
        raise AnalysisError(f"{folder}: agent {agent} has no subcomponents at any "
                            f"record of replicate {replicate}")
    return muller_layout(lineage, counts, min_frequency)


def muller_layout(lineage: pd.DataFrame, counts: pd.DataFrame, min_frequency=0.01):
    """The nested bands of a Muller plot, from a lineage and clone counts.

    Parameters
    ----------
    lineage : pandas.DataFrame
        One row per clone: ``clone``, ``parent`` (-1 for a root) and the
        traits (the ``clones.parquet`` columns).
    counts : pandas.DataFrame
        ``tick``, ``clone``, ``count`` rows of the clones to draw (one agent,
        or a whole world: frequencies are within the rows given).
    min_frequency : float
        Clones below it at every tick merge into their nearest shown ancestor.

    Returns
    -------
    tuple
        ``(ticks, clones, lower, upper, traits)`` as :func:`muller_data`.
    """
    ticks = np.sort(counts.tick.unique())
    table = counts.pivot_table(index="tick", columns="clone", values="count",
                               fill_value=0).reindex(ticks, fill_value=0)
    parent = lineage.set_index("clone")["parent"]
    size = table.sum(axis=1).replace(0, np.nan)
    freq = table.div(size, axis=0).fillna(0.0)
    shown = set(freq.columns[freq.max() >= min_frequency])
    # Merge the others into their nearest shown ancestor (ids increase from
    # parent to child, so a descending pass moves counts up the tree).
    merged = freq.copy()
    for clone in sorted(freq.columns, reverse=True):
        if clone in shown:
            continue
        up = parent.get(clone, -1)
        while up >= 0 and up not in shown:
            up = parent.get(up, -1)
        if up >= 0:
            merged[up] = merged.get(up, 0.0) + merged[clone]
            shown.add(up)
        else:
            shown.add(clone)  # a root: keep it
            continue
        merged = merged.drop(columns=clone)
    clones = sorted(merged.columns)
    children = {c: [] for c in clones}
    roots = []
    for c in clones:
        up = parent.get(c, -1)
        while up >= 0 and up not in children:
            up = parent.get(up, -1)
        (children[up] if up >= 0 else roots).append(c)
    own = merged[clones].to_numpy()
    index = {c: i for i, c in enumerate(clones)}
    subtree = own.copy()
    for c in sorted(clones, reverse=True):
        up = parent.get(c, -1)
        while up >= 0 and up not in index:
            up = parent.get(up, -1)
        if up >= 0:
            subtree[:, index[up]] += subtree[:, index[c]]
    lower = np.zeros_like(own)
    upper = np.zeros_like(own)
    order = []

    def place(c, lo):
        i = index[c]
        order.append(c)
        lower[:, i] = lo
        upper[:, i] = lo + subtree[:, i]
        inner = lo + own[:, i] / 2  # children sit in the middle of the band
        for child in children[c]:
            place(child, inner)
            inner = inner + subtree[:, index[child]]

    start = np.zeros(len(ticks))
    for r in roots:
        place(r, start)
        start = start + subtree[:, index[r]]
    positions = [index[c] for c in order]
    traits = lineage.set_index("clone").loc[order, ["drive", "loyalty", "stealth", "fidelity"]]
    return ticks, order, lower[:, positions], upper[:, positions], traits


def muller_figure(results, replicate=0, agent=0, point=0, color="drive",
                  min_frequency=0.01) -> Figure:
    """Muller plot: clone frequencies over time, descendants inside parents,
    coloured by drive on either side of the escape threshold
    (:func:`drive_colormap`), with the replicate's takeover tick marked."""
    layout = muller_data(results, replicate, agent, point, min_frequency)
    runs = results.runs
    row = runs[(runs.point == point) & (runs.replicate == replicate)]
    takeover = row["takeover_tick"].iloc[0] if len(row) else None
    agent_section = results.scenario.get("agent") or {}
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    draw_muller(fig, layout, color=color,
                threshold=agent_section.get("escape_threshold", 0.5),
                takeover=None if takeover is None or pd.isna(takeover) else int(takeover),
                title=f"Muller plot: replicate {replicate}, agent {agent} "
                      f"({len(layout[1])} clones of >= {min_frequency:.0%})")
    return fig


def drive_colormap(threshold: float, n: int = 256):
    """A colour map of drive in [0, 1] that parts at the escape threshold:
    blues below it (pale to deep as drive nears it), reds above it (orange
    to dark red), so a defector never shares a hue with a regulated clone,
    however close their drives."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    cut = int(round(n * min(max(threshold, 0.0), 1.0)))
    below = colormaps["Blues"](np.linspace(0.25, 0.95, cut)) if cut else np.zeros((0, 4))
    above = colormaps["Reds"](np.linspace(0.45, 1.0, n - cut)) if n - cut else np.zeros((0, 4))
    return ListedColormap(np.vstack([below, above]), name="drive_at_threshold")


def draw_muller(fig: Figure, layout, color="drive", title="",
                ylabel="frequency in the agent", threshold: float | None = None,
                takeover: int | None = None) -> None:
    """Draw a :func:`muller_layout` on ``fig`` (one axes and, coloured by
    drive, a colour bar). With ``threshold`` (the escape threshold), drive
    is coloured by :func:`drive_colormap` and the threshold marked on the
    colour bar; with ``takeover``, a dashed line marks the takeover tick."""
    from matplotlib import colormaps

    ticks, clones, lower, upper, traits = layout
    ax = fig.subplots()
    if color == "lineage":
        cmap = colormaps["tab20"]
    else:
        cmap = colormaps["viridis"] if threshold is None else drive_colormap(threshold)
    for i, clone in enumerate(clones):
        c = cmap(traits.loc[clone, "drive"]) if color != "lineage" else cmap(i % 20)
        ax.fill_between(ticks, lower[:, i], upper[:, i], color=c, linewidth=0)
    ax.set(xlabel="tick", ylabel=ylabel, ylim=(0, 1),
           xlim=(ticks[0], ticks[-1]) if len(ticks) > 1 else None, title=title)
    if takeover is not None:
        ax.axvline(takeover, color="black", linestyle="--", linewidth=1.2)
        ax.annotate(f"takeover (tick {takeover})", (takeover, 0.98), xytext=(-4, 0),
                    textcoords="offset points", ha="right", va="top", fontsize="small",
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
    if color != "lineage":
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, label="clone drive")
        if threshold is not None:
            bar.ax.axhline(threshold, color="black", linewidth=1.5)
            ticks = sorted({0.0, 0.25, 0.5, 0.75, 1.0, float(threshold)})
            ticks = [t for t in ticks if t == threshold or abs(t - threshold) > 0.06]
            bar.set_ticks(ticks, labels=[f"escape threshold {t:g}" if t == threshold
                                         else f"{t:g}" for t in ticks])


# --- traits ------------------------------------------------------------------

STOPPED_CHOICES = {"carry": "last state carried forward",
                   "running": "still running only"}


def _on_record_grid(ts: pd.DataFrame, by, every: int, horizon: int, stopped: str):
    """Timeseries rows on the record grid, one per replicate and record tick.

    ``stopped="running"`` keeps the rows of the replicates still running at
    each tick (a replicate stopped early drops out: the average is over
    survivors). ``stopped="carry"`` gives every replicate a row at every
    record tick up to the horizon, a stopped one repeating its last state
    (its final row, on the grid or not)."""
    if stopped not in STOPPED_CHOICES:
        raise AnalysisError(f"stopped replicates: {stopped!r} is not a choice "
                            f"(allowed: {', '.join(STOPPED_CHOICES)})")
    if stopped == "running":
        ts = ts[ts["tick"] % every == 0].copy()
    else:
        keys = list(dict.fromkeys(["point", "replicate"] + list(by)))
        replicates = ts[keys].drop_duplicates()
        grid = pd.DataFrame({"tick": np.arange(0, horizon + 1, every,
                                               dtype=ts["tick"].dtype)})
        grid = replicates.merge(grid, how="cross").sort_values("tick", kind="stable")
        ts = pd.merge_asof(grid, ts.sort_values("tick", kind="stable"), on="tick",
                           by=keys, direction="backward")
    if "size" in ts.columns:  # an empty world has no traits (nor defector fraction)
        ts.loc[ts["size"] == 0, [c for c in TRAIT_COLUMNS if c in ts.columns]] = np.nan
    return ts


def traits_data(results, by=None, stopped: str = "carry") -> pd.DataFrame:
    """Per group and record tick: mean and 10%/90% quantiles over replicates
    of each trait column, and how many replicates each point averages.

    Parameters
    ----------
    results : Results
        An output folder.
    by : list of str, optional
        Grouping columns (default: the swept parameters).
    stopped : {"carry", "running"}
        What a replicate that stopped early (a ``stop.on`` event, or
        extinction) contributes after its last tick. ``"carry"`` (the
        default): its last state, carried forward to the horizon, so every
        point averages every replicate with data (no survivor bias: with
        ``stop.on: [takeover]`` the taken-over replicates stay in, at their
        takeover state). ``"running"``: nothing; each point averages only
        the replicates still running, which conditions on not having
        stopped yet. An extinct replicate's traits are undefined (no
        subcomponents) and are left out under either choice.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``tick``, ``COLUMN_mean``, ``COLUMN_low``,
        ``COLUMN_high`` for each trait column, and ``replicates`` (the
        number of replicates with a value of mean drive at that point).
    """
    by = _by(results, by)
    every = int(results.scenario.get("record_every", 1))
    columns = _columns(results, ["point", "replicate", "tick", "size", *TRAIT_COLUMNS, *by])
    keys = by + ["tick"]
    frames = []
    # One group's timeseries at a time (a large sweep's is never loaded whole).
    for points in _point_groups(results, by):
        ts = results.timeseries(columns=columns, points=points)
        ts = _on_record_grid(ts, by, every, results.horizon, stopped)
        grouped = ts.groupby(keys, sort=True, dropna=False)[list(TRAIT_COLUMNS)]
        mean = grouped.mean().add_suffix("_mean")
        low = grouped.quantile(0.1).add_suffix("_low")
        high = grouped.quantile(0.9).add_suffix("_high")
        count = ts.groupby(keys, sort=True, dropna=False)["mean_drive"].count().rename(
            "replicates")
        frames.append(pd.concat([mean, low, high, count], axis=1).reset_index())
    return pd.concat(frames, ignore_index=True)


def _columns(results, wanted) -> list:
    """The columns of ``wanted`` the timeseries has, once each."""
    held = set(results.columns("timeseries"))
    return [c for c in dict.fromkeys(wanted) if c in held]


def _point_groups(results, by, size: int | None = None):
    """Lists of points whose timeseries rows together make whole groups of
    ``by`` (each group's points; a single list when ``by`` varies within a
    point); with ``size``, batches of at most ``size`` points instead."""
    runs = results.runs
    if size is not None:
        points = results.points
        return [points[i:i + size] for i in range(0, len(points), size)]
    if not by or runs.groupby("point")[by].nunique(dropna=False).gt(1).any().any():
        return [results.points]
    return [sorted(int(p) for p in g["point"].unique())
            for _, g in runs.groupby(by, sort=True, dropna=False)]


def traits_figure(results, by=None, stopped: str = "carry") -> Figure:
    """Mean drive, loyalty, stealth, fidelity and defector fraction over time,
    a line per group (the mean over replicates) with the 10-90% spread, and
    the number of replicates each point averages. ``stopped`` as in
    :func:`traits_data` (default: last state carried forward), stated on
    the figure."""
    by = _by(results, by)
    data = traits_data(results, by, stopped)
    fig = Figure(figsize=(18, 3.4), layout="constrained")
    axes = fig.subplots(1, len(TRAIT_COLUMNS) + 1, sharex=True)
    groups = _groups(data, by)
    for ax, column in zip(axes, TRAIT_COLUMNS):
        for i, (label, g) in enumerate(groups):
            ax.plot(g.tick, g[f"{column}_mean"], color=_color(i, len(groups)), label=label)
            ax.fill_between(g.tick, g[f"{column}_low"], g[f"{column}_high"],
                            color=_color(i, len(groups)), alpha=0.15)
        ax.set(xlabel="tick", ylabel=column.replace("_", " "), ylim=(-0.02, 1.02))
    count_ax = axes[-1]
    for i, (label, g) in enumerate(groups):
        count_ax.step(g.tick, g["replicates"], where="post", color=_color(i, len(groups)),
                      label=label)
    count_ax.set(xlabel="tick", ylabel="replicates averaged", ylim=(0, None))
    if by:
        _legend(count_ax, ", ".join(by), len(groups))
    fig.suptitle(f"{results.scenario.get('name', '')}: mean over replicates (band: "
                 f"10-90%); stopped replicates: {STOPPED_CHOICES[stopped]}")
    return fig


# --- price -------------------------------------------------------------------

def price_data(results, trait="drive", point=None) -> pd.DataFrame:
    """Per record tick (on the record grid): the three Price terms and the
    observed change of the trait's mean since the previous record, averaged
    over the replicates (of one point) that reached that tick. Reads the
    timeseries a batch of points at a time (up to 100 points, at most about
    10^6 rows), as sums and counts per tick."""
    prefix = "price" if trait == "drive" else f"price_{trait}"
    needed = [f"{prefix}_between", f"{prefix}_within", f"{prefix}_transmission"]
    if not set(needed) <= set(results.columns("timeseries")):
        raise AnalysisError(f"{results.folder}: timeseries.parquet has no Price terms "
                            "(written by this version's runs)")
    every = int(results.scenario.get("record_every", 1))
    columns = ["point", "replicate", "tick", f"mean_{trait}"] + needed
    rows = results.manifest.get("partitioned", {}).get("timeseries", {}).get("rows")
    per_point = (rows or 0) / max(1, len(results.points))
    size = max(1, min(100, int(10**6 // per_point))) if per_point else 100
    batches = [[point]] if point is not None else _point_groups(results, [], size=size)
    sums, counts = [], []
    for points in batches:
        ts = results.timeseries(columns=columns, points=points)
        ts = ts.sort_values(["point", "replicate", "tick"])
        ts["observed"] = ts.groupby(["point", "replicate"])[f"mean_{trait}"].diff()
        ts = ts.dropna(subset=needed + ["observed"])
        # The record grid only: a stopped replicate's extra last row would stand alone.
        ts = ts[ts["tick"] % every == 0]
        grouped = ts.groupby("tick")[needed + ["observed"]]
        sums.append(grouped.sum())
        counts.append(grouped.count())
    total = pd.concat(sums).groupby(level=0).sum()
    n = pd.concat(counts).groupby(level=0).sum()
    data = (total / n).reset_index()
    return data.rename(columns=dict(zip(needed, ("between", "within", "transmission"))))


def price_figure(results, trait="drive", point=None) -> Figure:
    """The Price terms between records as stacked bars (positive parts up,
    negative parts down) against the observed change of the mean trait."""
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.subplots()
    draw_price(ax, price_data(results, trait, point), trait,
               width=0.8 * int(results.scenario.get("record_every", 1)))
    ax.set_title(f"Price decomposition of mean {trait} (mean over replicates)")
    return fig


def draw_price(ax, data: pd.DataFrame, trait="drive", width=1.0) -> None:
    """Stacked bars of the Price terms (``between``, ``within``,
    ``transmission`` columns, by ``tick``) and the ``observed`` change."""
    up = np.zeros(len(data))
    down = np.zeros(len(data))
    for name, color in (("between", "C0"), ("within", "C1"), ("transmission", "C2")):
        values = data[name].to_numpy()
        pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
        ax.bar(data.tick, pos, width, bottom=up, color=color, label=f"{name}-agent"
               if name != "transmission" else "transmission")
        ax.bar(data.tick, neg, width, bottom=down, color=color)
        up, down = up + pos, down + neg
    ax.plot(data.tick, data.observed, "k.-", label=f"observed change of mean {trait}")
    ax.axhline(0, color="grey", linewidth=0.5)
    # Stacked bars make each other's bases sticky edges: without this the
    # longest bar ends on the frame, cut off; keep a margin past every bar.
    ax.use_sticky_edges = False
    ax.margins(x=0.02, y=0.06)
    ax.set(xlabel="tick (end of the interval)",
           ylabel=f"change of mean {trait} per record interval")
    ax.legend(fontsize="small")


# --- agents ------------------------------------------------------------------

def agents_data(results):
    """Per record tick: live agents (mean and 10-90% over replicates) and the
    distribution of surveillance over live agents (quantiles, pooled)."""
    folder = results.folder
    if not results.has("agents"):
        raise AnalysisError(f"{folder}: the agents plot needs agents.parquet, which "
                            "multi-agent runs write (world.agents > 1 or reproduction)")
    agents = results.table("agents")
    live = agents[agents.alive]
    per_rep = live.groupby(["point", "replicate", "tick"]).size().rename("agents")
    per_rep = per_rep.reset_index()
    counts = per_rep.groupby("tick")["agents"].agg(
        mean="mean", low=lambda v: v.quantile(0.1), high=lambda v: v.quantile(0.9))
    quantiles = live.groupby("tick")["surveillance"].quantile([0.1, 0.25, 0.5, 0.75, 0.9])
    quantiles = quantiles.unstack()
    return counts.reset_index(), quantiles.reset_index()


def agents_figure(results) -> Figure:
    counts, q = agents_data(results)
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_n, ax_q = fig.subplots(1, 2)
    ax_n.plot(counts.tick, counts["mean"], color="C0", label="mean over replicates")
    ax_n.fill_between(counts.tick, counts.low, counts.high, color="C0", alpha=0.2,
                      label="10-90%")
    ax_n.set(xlabel="tick", ylabel="live agents", title="number of agents", ylim=(0, None))
    ax_n.legend(fontsize="small")
    ax_q.fill_between(q.tick, q[0.1], q[0.9], color="C3", alpha=0.15, label="10-90%")
    ax_q.fill_between(q.tick, q[0.25], q[0.75], color="C3", alpha=0.3, label="25-75%")
    ax_q.plot(q.tick, q[0.5], color="C3", label="median")
    ax_q.set(xlabel="tick", ylabel="surveillance (immune investment)", ylim=(-0.02, 1.02),
             title="immune investment of live agents")
    ax_q.legend(fontsize="small")
    fig.suptitle(results.scenario.get("name", ""))
    return fig


def plot(results, kind: str, by=None, **options) -> Figure:
    """The figure of one kind; an AnalysisError when the folder cannot make it."""
    if kind == "survival":
        return survival_figure(results, by=by)
    if kind == "phase":
        by = list(by or [])
        return phase_figure(results, *(by + [None, None])[:2])
    if kind == "muller":
        return muller_figure(results, **options)
    if kind == "traits":
        return traits_figure(results, by=by, **options)  # stopped="carry" or "running"
    if kind == "price":
        return price_figure(results)
    if kind == "agents":
        return agents_figure(results)
    raise AnalysisError(f"unknown kind of figure {kind!r}; allowed: {', '.join(KINDS)}")


def applicable(results) -> list[str]:
    """The kinds this folder has data for (the report draws each)."""
    kinds = ["survival", "traits", "price"]
    if len(results.parameters) >= 2:
        kinds.append("phase")
    if results.has("clones"):
        kinds.append("muller")
    if results.has("agents"):
        kinds.append("agents")
    return kinds


#: The events an overview can headline, in the order of precedence among
#: equally frequent ones.
HEADLINE_EVENTS = ("takeover", "drift", "convergence", "extinction", "total_loss")


def headline_events(runs, stop_on=(), most: int = 3) -> list[str]:
    """The events a run's overview shows: those it stops on (what the
    scenario is about), else those seen in some replicate, most frequent
    first (a drift scenario shows drift before takeover); takeover when
    nothing happened."""
    from .estimators import EVENTS

    chosen = [e for e in stop_on if e in HEADLINE_EVENTS and EVENTS[e][1] in runs.columns]
    if chosen:
        return chosen[:most]
    seen = {e: int(runs[EVENTS[e][1]].notna().sum()) for e in HEADLINE_EVENTS
            if EVENTS[e][1] in runs.columns}
    if "total_loss" in seen and "takeover" in seen and seen["total_loss"] <= seen["takeover"]:
        seen.pop("total_loss")  # a singleton's total loss is its takeover
    ranked = sorted((e for e in seen if seen[e] > 0), key=lambda e: -seen[e])
    return ranked[:most] or ["takeover"]


def overview_figure(runs, timeseries, horizon, path, title="", record_every=None,
                    events=None):
    """P(event by tick) of the headline events (Aalen-Johansen, 95% band;
    ``events`` default :func:`headline_events`) and mean traits over time
    (``substrate run --figure``), on the record grid, each stopped
    replicate's last state carried forward (as :func:`traits_data`)."""
    events = list(events or headline_events(runs))
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_sf, ax_tr = fig.subplots(1, 2)
    for i, event in enumerate(events):
        _draw_incidence(ax_sf, runs, event, horizon, f"C{i}", event)
    ax_sf.set(xlabel="tick", ylabel="P(event by tick)", ylim=(-0.02, 1.02),
              xlim=(0, horizon),
              title=f"{', '.join(events)}: cumulative incidence, 95% band "
                    f"({len(runs)} replicates)")
    ax_sf.title.set_fontsize("small")
    ax_sf.legend(loc="upper left")
    timeseries = _on_record_grid(timeseries, [], record_every or 1, horizon, "carry")
    grouped = timeseries.groupby("tick")
    for column, color in (("mean_drive", "C3"), ("mean_loyalty", "C2"),
                          ("mean_stealth", "C4"), ("defector_fraction", "k")):
        mean = grouped[column].mean()
        ax_tr.plot(mean.index, mean.values, color=color, label=column)
        if len(runs) > 1:
            lo, hi = grouped[column].quantile(0.1), grouped[column].quantile(0.9)
            ax_tr.fill_between(lo.index, lo.values, hi.values, color=color, alpha=0.15)
    ax_tr.set(xlabel="tick", ylabel="mean over replicates (band: 10-90%)",
              ylim=(-0.02, 1.02),
              title="traits over time (stopped replicates: last state carried forward)")
    ax_tr.title.set_fontsize("small")
    ax_tr.legend(loc="best", fontsize="small")
    if title:
        fig.suptitle(title)
    return save(fig, path, dpi=100)


# --- the scaling study ----------------------------------------------------------

#: Bottom of the margin axis: simulated ranges that reach the critical value end here.
MARGIN_FLOOR = 1e-9

def scaling_figure(data: dict) -> Figure:
    """The defence needed against system size N, one colour per horizon T
    (a ``substrate study`` folder's ``study.json``).

    Left: the immune efficacy needed for P(takeover by T) <= target. Lines:
    the branching approximation (solid where it is trusted, dotted where an
    escaped lineage's takeover is not fast against T); the dashed grey line
    is the critical efficacy (defectors subcritical). Markers: simulated
    founded lineages with their 95% range (filled: T within the paths'
    horizon; open: T beyond it, bounded); a triangle at the top: more than
    the largest simulated value. Right: the same as the margin below the
    critical efficacy, e_c - e, on a log scale (the theory line falls as
    1/(N T) once the efficacy is near critical); a bar down to the bottom
    edge: the simulation cannot tell the efficacy needed from critical.
    """
    study = data["study"]
    theory = pd.DataFrame(data["theory"])
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    horizons = study["horizons"]
    critical = theory["critical"].dropna()
    e_c = float(critical.iloc[0]) if len(critical) else None
    for i, T in enumerate(horizons):
        color = _color(i, len(horizons))
        rows = theory[theory["horizon"] == T].sort_values("size")
        e = rows["efficacy"].astype(float)
        for ax, y in ((left, e), (right, (e_c - e) if e_c is not None else None)):
            if y is None:
                continue
            trusted = rows["trusted"].to_numpy(bool)
            ax.plot(rows["size"], y.where(trusted), "-", color=color, lw=1.8,
                    label=f"T = {T:g}" if ax is left else None)
            # dotted where not trusted, joined to the trusted part
            shown = ~trusted | np.r_[~trusted[1:], False] | np.r_[False, ~trusted[:-1]]
            ax.plot(rows["size"], y.where(shown), ":", color=color, lw=1.5)
        for k, s in enumerate(data["simulated"]):
            d = next(x for x in s["defence"] if x["horizon"] == T)
            x = s["size"] * (1 + 0.08 * (i - (len(horizons) - 1) / 2))  # spread horizons
            face = "none" if d["extrapolated"] else color
            top = study["simulate"]["values"][-1]
            if d["efficacy"] is None:
                left.plot([x], [top], "^", color=color, mfc=face, ms=7)
                continue
            lo = d["low"] if d["low"] is not None else d["efficacy"]
            hi = d["high"] if d["high"] is not None else top
            left.errorbar([x], [d["efficacy"]], yerr=[[d["efficacy"] - lo], [hi - d["efficacy"]]],
                          fmt="o", color=color, mfc=face, ms=6, capsize=2)
            if e_c is not None and e_c - d["efficacy"] > 0:
                margin = e_c - d["efficacy"]
                floor = MARGIN_FLOOR if hi is None or e_c - hi <= MARGIN_FLOOR else e_c - hi
                right.errorbar([x], [margin], yerr=[[margin - floor], [(e_c - lo) - margin]],
                               fmt="o", color=color, mfc=face, ms=6, capsize=2)
    if e_c is not None:
        left.axhline(e_c, color="0.5", ls="--", lw=1, label=f"critical {e_c:.4f}")
    left.set_xscale("log")
    left.set_xlabel("system size N (agent.capacity)")
    left.set_ylabel("immune efficacy needed")
    left.set_title(f"P({study['event']} by T) <= {study['target']:g}: theory (lines), "
                   "simulation (markers)", fontsize="small")
    left.legend(fontsize="x-small", loc="lower right")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("system size N (agent.capacity)")
    right.set_ylabel("margin below critical, e_c - e")
    right.set_ylim(bottom=MARGIN_FLOOR)
    right.set_title("dotted: theory not trusted; open: T beyond the paths' horizon",
                    fontsize="small")
    return fig
