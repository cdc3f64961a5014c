"""Figures (matplotlib, Agg backend; never imported by :mod:`simulation`)."""

from __future__ import annotations

import os
import warnings

import numpy as np
from matplotlib.figure import Figure

from .survival import kaplan_meier


def overview_figure(runs, timeseries, horizon, path, title="", record_every=None):
    """Takeover survival (Kaplan-Meier, 95% band) and mean traits over time.

    The trait panel uses the rows on the record grid (multiples of
    ``record_every``) only: a replicate's extra final row, at its stop tick,
    would otherwise stand alone at that tick.
    """
    # Figure() without pyplot: no global state, no GUI backend, faster import.
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_sf, ax_tr = fig.subplots(1, 2)
    km = kaplan_meier(runs["takeover_tick"], runs["ticks"])
    if km is None:
        ax_sf.step([0, horizon], [1, 1], where="post", color="C0",
                   label="no takeover observed")
    else:
        q = np.r_[0, km.sf.quantiles, horizon]
        p = np.r_[1, km.sf.probabilities, km.sf.probabilities[-1]]
        ax_sf.step(q, p, where="post", color="C0", label="Kaplan-Meier")
        if len(runs) > 1:
            with warnings.catch_warnings():
                # SciPy warns where Greenwood's band is undefined (S = 0 or 1).
                warnings.simplefilter("ignore", RuntimeWarning)
                ci = km.sf.confidence_interval(0.95)
            lo = np.r_[1, ci.low.probabilities, ci.low.probabilities[-1]]
            hi = np.r_[1, ci.high.probabilities, ci.high.probabilities[-1]]
            ax_sf.fill_between(q, np.nan_to_num(lo), np.nan_to_num(hi, nan=1.0),
                               step="post", alpha=0.25, color="C0", label="95% band")
    ax_sf.set(xlabel="tick", ylabel="P(no takeover yet)", ylim=(-0.02, 1.02),
              xlim=(0, horizon), title=f"takeover survival ({len(runs)} replicates)")
    ax_sf.legend(loc="lower left")
    if record_every:
        timeseries = timeseries[timeseries["tick"] % record_every == 0]
    grouped = timeseries.groupby("tick")
    for column, color in (("mean_drive", "C3"), ("mean_loyalty", "C2"),
                          ("mean_stealth", "C4"), ("defector_fraction", "k")):
        mean = grouped[column].mean()
        ax_tr.plot(mean.index, mean.values, color=color, label=column)
        if len(runs) > 1:
            lo, hi = grouped[column].quantile(0.1), grouped[column].quantile(0.9)
            ax_tr.fill_between(lo.index, lo.values, hi.values, color=color, alpha=0.15)
    ax_tr.set(xlabel="tick", ylabel="mean over running replicates (band: 10-90%)",
              ylim=(-0.02, 1.02), title="traits over time")
    ax_tr.legend(loc="best", fontsize="small")
    if title:
        fig.suptitle(title)
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    return path
