"""What each command does, above the library: resolve inputs, run, write, report.

Kept apart from :mod:`substrate.cli` (argument parsing only) and below no
library module: it may import both :mod:`simulation` and :mod:`analysis`.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import scenarios as bundled
from simulation import load_scenario, run_scenario
from simulation.output import prepare_folder, write_run
from simulation.scenario import ScenarioError


def resolve_scenario(name_or_path: str) -> Path:
    """A scenario file path, or the bundled scenario of that name."""
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in name_or_path:
        return path
    found = bundled.path(name_or_path)
    if found is None:
        raise ScenarioError(
            f"{name_or_path}: no such scenario file or bundled scenario "
            f"(bundled: {', '.join(bundled.names())})")
    return found


def run_command(scenario: str, *, seed=None, replicates=None, replicate=None,
                point=None, horizon=None, overrides=(), out=None, figure=False,
                command=None) -> str:
    """``substrate run``: returns the summary text to print."""
    from analysis import summarize_run
    from simulation.sweep import design, point_scenarios

    started = _dt.datetime.now(_dt.timezone.utc)
    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed,
                       replicates=replicates, horizon=horizon)
    parameters = {}
    if point is not None:
        if sc.sweep is None:
            raise ScenarioError(f"--point {point}: {path} has no sweep section")
        points = design(sc)
        if point >= len(points):
            raise ScenarioError(f"--point {point}: the sweep has {len(points)} points "
                                f"(0 to {len(points) - 1})")
        parameters = points[point]
        sc = point_scenarios(sc, str(path))[point]
    point = point or 0
    if replicate is not None and replicate >= sc.replicates:
        raise ScenarioError(f"--replicate {replicate}: the scenario has "
                            f"{sc.replicates} replicates (0 to {sc.replicates - 1})")
    if out is None:
        Path("results").mkdir(exist_ok=True)
        out = Path("results") / sc.name
    folder = prepare_folder(out)  # fail before running, not after
    result = run_scenario(sc, replicates=None if replicate is None else [replicate],
                          point=point)
    for name, value in parameters.items():
        result.runs[name] = value
        result.timeseries[name] = value
    try:
        write_run(result, folder, command=command, started=started)
        if figure:
            from analysis.plots import overview_figure

            overview_figure(result.runs, result.timeseries, sc.horizon,
                            folder / "overview.png", title=sc.name,
                            record_every=sc.record_every)
    except OSError as exc:
        raise ScenarioError(f"--out {folder}: cannot write outputs "
                            f"({exc.strerror or exc})") from None
    return format_summary(summarize_run(result.runs, sc.horizon), sc, folder,
                          result.seconds)


def format_summary(s: dict, sc, folder: Path, seconds: float) -> str:
    median = s["median_takeover_tick"]
    median_text = f"{median:.0f}" if median is not None else f"> {sc.horizon} (horizon)"
    return "\n".join([
        f"{sc.name}: {s['replicates']} replicate(s), horizon {sc.horizon} ticks, "
        f"seed {sc.seed}, {seconds:.1f} s",
        f"  P(takeover by {sc.horizon})       {s['p_takeover']:.3f}  "
        f"(95% Wilson CI {s['p_takeover_low']:.3f} - {s['p_takeover_high']:.3f})",
        f"  median takeover tick (K-M)  {median_text}",
        f"  P(convergence by {sc.horizon})    {s['p_convergence']:.3f}",
        f"  mean final drive            {s['mean_final_drive']:.4f}",
        f"  mean final loyalty          {s['mean_final_loyalty']:.4f}",
        f"outputs: {folder}/",
    ])


def validate_command(tier: str, out=None) -> tuple[str, bool]:
    """``substrate validate``: returns (the table to print, all passed)."""
    import sys

    from tqdm.auto import tqdm

    from analysis import validation
    from simulation.output import write_parquet

    if out is None:
        Path("results").mkdir(exist_ok=True)
        out = Path("results") / f"validation-{tier}"
    folder = prepare_folder(out)
    checks = validation.plan(tier)
    with tqdm(total=len(checks), unit="check", disable=not sys.stderr.isatty(),
              leave=False) as bar:
        results = validation.run(tier, progress=lambda r: bar.update())
    df = validation.table(results)
    try:
        write_parquet(df, folder / "validation.parquet")
        df.to_csv(folder / "validation.csv", index=False)
        validation.figures(df, folder)
    except OSError as exc:
        raise ScenarioError(f"--out {folder}: cannot write outputs "
                            f"({exc.strerror or exc})") from None
    failed = int((~df.passed).sum())
    summary = (f"{len(df)} checks, {len(df) - failed} passed, {failed} failed "
               f"(tolerance: {validation.TOLERANCE_SE:g} standard errors); "
               f"outputs: {folder}/")
    return validation.format_table(df) + "\n" + summary, failed == 0


def sweep_command(scenario: str, *, workers=None, scheduler=None, out=None, resume=False,
                  seed=None, replicates=None, horizon=None, block_size=10, overrides=(),
                  command=None) -> str:
    """``substrate sweep``: returns the per-point summary to print."""
    import analysis
    from simulation.sweep import run_sweep

    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed, replicates=replicates,
                       horizon=horizon)
    if sc.sweep is None:
        raise ScenarioError(f"{path}: has no sweep section (add sweep: grid: "
                            "{copy.error_rate: [...]}, or use 'substrate run')")
    if out is None:
        Path("results").mkdir(exist_ok=True)
        out = Path("results") / sc.name
    folder = prepare_folder(out)
    try:
        report = run_sweep(sc, folder, workers=workers, scheduler=scheduler,
                           resume=resume, block_size=block_size, command=command,
                           source=str(path))
    except KeyboardInterrupt:
        raise ScenarioError(f"interrupted: finished units are kept in {folder}/parts; "
                            "run the same command with --resume to finish") from None
    table = format_sweep_summary(analysis.summarize(analysis.load(folder)))
    return (f"{sc.name}: {report['points']} points x {sc.replicates} replicates, "
            f"horizon {sc.horizon}, seed {sc.seed}; {report['units_run']} of "
            f"{report['units']} units run now, {report['seconds']:.1f} s\n"
            f"{table}\noutputs: {folder}/")


def format_sweep_summary(df) -> str:
    """The summary table as text: parameters, P(takeover) [CI], median tick."""
    params = [c for c in df.columns if "." in c]
    lines = []
    header = "  ".join(f"{p:>16}" for p in params)
    lines.append(f"{header}  {'reps':>5}  {'P(takeover) [95% CI]':>24}  "
                 f"{'median tick':>11}  {'hazard/tick':>11}  {'P(converge)':>11}")
    for row in df.itertuples(index=False):
        values = dict(zip(df.columns, row))
        cells = "  ".join(f"{values[p]:>16.4g}" if isinstance(values[p], float)
                          else f"{str(values[p]):>16}" for p in params)
        median = values["median_takeover_tick"]
        median = ">horizon" if median != median else f"{median:.0f}"
        ci = (f"{values['p_takeover']:.3f} [{values['p_takeover_low']:.3f}, "
              f"{values['p_takeover_high']:.3f}]")
        lines.append(f"{cells}  {values['replicates']:>5}  {ci:>24}  {median:>11}  "
                     f"{values['takeover_hazard']:>11.3g}  {values['p_convergence']:>11.3f}")
    return "\n".join(lines)


def summarize_command(folder, by=None, fmt="table") -> str:
    """``substrate summarize``."""
    import analysis

    results = analysis.load(folder)
    df = analysis.summarize(results, by=by)
    if fmt == "csv":
        return df.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return df.to_json(orient="records", indent=2)
    if not [c for c in df.columns if "." in c] and by:
        return df.to_string(index=False)
    return format_sweep_summary(df)
