"""The HTML report of a run or sweep folder (``substrate report``): one
self-contained file with the summary table, the failure modes where the runs
have them, every figure the folder can make (:func:`analysis.plots.applicable`),
the resolved scenario and the provenance. Read through the one reader
(:func:`simulation.io.load`)."""

from __future__ import annotations

import base64
import html
import json
from io import BytesIO
from pathlib import Path

from simulation import io
from simulation.errors import AnalysisError

from . import plots
from .summary import failure_mode_price, failure_mode_summary, summarize


def write_report(folder, out=None) -> Path:
    """Write the report of an output folder of ``run`` or ``sweep`` to
    ``out`` (default ``FOLDER/report.html``), atomically; returns its path.

    Raises
    ------
    OutputError
        The folder is not a complete run or sweep, or ``out`` cannot be
        written.
    AnalysisError
        A statistic the folder cannot give.
    """
    results = io.load(folder, kind=("run", "sweep"))
    path = io.output_file(Path(out) if out else Path(folder) / "report.html")
    io.write_text(report_html(results), path)
    return path


def report_html(results) -> str:
    """The report of a :class:`simulation.io.Results` as one HTML page
    (figures inline, as PNG)."""
    name = html.escape(results.scenario.get("name", ""))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
             "table{border-collapse:collapse;font-size:small}td,th{border:1px solid #ccc;"
             "padding:2px 6px}pre{background:#f6f6f6;padding:1em;overflow:auto}"
             "img{max-width:100%}</style></head><body>",
             f"<h1>Substrate report: {name}</h1>",
             f"<p>{html.escape(results.scenario.get('description', '') or '')}</p>"]
    summary = summarize(results)
    parts += ["<h2>Summary</h2>", summary.to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                                  na_rep=""),
              "<p>p_EVENT is P(EVENT by the horizon), the Aalen-Johansen cumulative "
              "incidence: a replicate that went extinct first counts as no event; "
              "p_EVENT_low and p_EVENT_high are its 95% Wilson interval. Where "
              "p_EVENT_bounded is True, replicates were stopped early by another event "
              "before EVENT could happen, and p_EVENT_low and p_EVENT_high are "
              "<b>bounds</b> that contain the probability whatever those replicates "
              "would have done (p_EVENT then assumes that stopping told nothing). "
              "Medians: the first tick where P(EVENT by tick) reaches 1/2.</p>"]
    if "p_total_loss" in summary.columns:
        parts.append(
            "<p>Agent-level outcomes: p_total_loss is P(every agent dead or taken over "
            "by the horizon), estimated like every other event from total_loss_tick; "
            "mean_fraction_lost is the mean over replicates of the fraction of agents "
            "founded that died or are taken over at the end, mean_goal_output_lost of "
            "1 - G(end)/G(0) (goal output G = sum of n*loyalty over the agents not lost), "
            "each with its 95% interval within its bounds (Wilson-type, docs/model.md); "
            "agent_loss_hazard is agents lost (dead or taken over) per agent-tick at "
            "risk, agent_hazard agent deaths per agent-tick alive, each with its exact "
            "Poisson interval.</p>")
    if "failure_mode" in results.runs.columns and "drift_tick" in results.runs.columns:
        modes = failure_mode_summary(results)
        price = failure_mode_price(results.runs, results.timeseries(),
                                            results.parameters)
        table = lambda df: df.to_html(index=False, float_format=lambda v: f"{v:.4g}",  # noqa: E731
                                      na_rep="")
        parts += ["<h2>Failure modes</h2>", table(modes),
                  "<p>P(cancer first), P(drift first) and the second failures as "
                  "competing risks (Aalen-Johansen), and the count of each failure_mode."
                  "</p>", "<h3>The Price terms that drove each failure mode</h3>",
                  table(price),
                  "<p>Per replicate, each Price term of the world's mean drive summed over "
                  "the records up to the first record at or after its first failure (all "
                  "records for none), then averaged over the replicates of each mode: "
                  "selection = between + within agents; transmission = copy errors and "
                  "repair; total = the change of mean drive.</p>"]
    for kind in plots.applicable(results):
        try:
            fig = plots.plot(results, kind)
        except AnalysisError as exc:  # e.g. a replicate without agent 0 at any record
            parts.append(f"<h2>{kind}</h2><p>not drawn: {html.escape(str(exc))}</p>")
            continue
        buffer = BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        data = base64.b64encode(buffer.getvalue()).decode()
        parts.append(f"<h2>{kind}</h2><img alt='{kind}' src='data:image/png;base64,{data}'>")
    scenario_text = (results.folder / "scenario.yaml").read_text()
    parts += ["<h2>Scenario (resolved)</h2>", f"<pre>{html.escape(scenario_text, quote=False)}</pre>",
              "<h2>Provenance</h2>",
              f"<pre>{html.escape(json.dumps(results.manifest, indent=2), quote=False)}</pre>",
              "</body></html>"]
    return "\n".join(parts)
