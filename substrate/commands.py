"""What each command does, above the library: resolve inputs, run, write, report.

Kept apart from :mod:`substrate.cli` (argument parsing only) and below no
library module: it may import both :mod:`simulation` and :mod:`analysis`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

import scenarios as bundled
from simulation import io, load_scenario, run_scenario
from simulation.errors import ClusterError, OutputError, ScenarioError
from substrate.notice import compile_notice


class Interrupted(Exception):
    """SIGINT or SIGTERM during a command that writes; the message says what
    was kept and how to go on. The CLI exits with 128 + ``signum``."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum


class _Signal(BaseException):
    """Raised in the main thread by SIGINT or SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def interrupted_line(message: str) -> str:
    """The one line printed on SIGINT or SIGTERM."""
    return f"interrupted: {message}"


@contextlib.contextmanager
def interruptible(kept, owner: io.Claim | None = None):
    """On SIGINT or SIGTERM, say what was kept (``kept()``) and end.

    Without ``owner`` the signal is raised as an exception in the main thread
    and becomes :class:`Interrupted` (for the sweep's client, which only
    waits on Dask: its cluster is closed on the way out). With ``owner`` (a
    run or validation computing in this process) the handler ends the process
    on the spot instead: an exception raised while numba's compiled code
    calls back into Python (e.g. unboxing a Generator) crashes the
    interpreter, so it removes the temporary files being written, releases
    the folder, prints the line and exits with 128 + the signal's number.
    Further signals are ignored meanwhile.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in watched}

    def handler(signum, frame):
        for s in watched:
            signal.signal(s, signal.SIG_IGN)
        if owner is None:
            raise _Signal(signum)
        io.abandon_writes()
        owner.release()
        sys.stderr.write(interrupted_line(kept()) + "\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(128 + signum)

    if owner is not None:
        # Progress bars with a thread lock: tqdm's default multiprocessing lock
        # would be reported as leaked when the process ends by os._exit.
        from tqdm import tqdm

        tqdm.set_lock(threading.RLock())
    for s in watched:
        signal.signal(s, handler)
    try:
        yield
    except _Signal as exc:
        raise Interrupted(exc.signum, kept()) from None
    except KeyboardInterrupt:
        raise Interrupted(signal.SIGINT, kept()) from None
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _again(command) -> str:
    return shlex.join(command) if command else "the same command"


def resume_command(command) -> str:
    """The command line that finishes an interrupted sweep."""
    if not command:
        return "the same command with --resume"
    return shlex.join(list(command) + ([] if "--resume" in command else ["--resume"]))


def default_out(name: str) -> Path:
    """results/NAME, creating results/ in the current folder."""
    try:
        Path("results").mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the default output folder results/ here "
                            f"({exc.strerror or exc}); give --out DIR") from None
    return Path("results") / name


def resolve_scenario(name_or_path: str) -> Path:
    """A scenario file path, or the bundled scenario of that name."""
    path = Path(name_or_path)
    try:
        exists = path.exists()
    except OSError:  # e.g. a name too long for the file system: the reader says so
        exists = True
    if exists or path.suffix in (".yaml", ".yml") or "/" in name_or_path:
        return path
    found = bundled.path(name_or_path)
    if found is None:
        raise ScenarioError(
            f"{name_or_path}: no such scenario file or bundled scenario "
            f"(bundled: {', '.join(bundled.names())})")
    return found


def _cores() -> int:
    """Cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


#: Seconds between plain progress lines when stderr is not a terminal
#: (the environment variable SUBSTRATE_PROGRESS_SECONDS sets another).
PROGRESS_EVERY = 30.0


def _plain_progress() -> float | None:
    if sys.stderr.isatty():
        return None
    try:
        return max(0.1, float(os.environ.get("SUBSTRATE_PROGRESS_SECONDS", PROGRESS_EVERY)))
    except ValueError:
        return PROGRESS_EVERY


def _announce(notify, what: str, seconds) -> None:
    """One line before a run or sweep estimated to take minutes or more."""
    from simulation.cost import announcement

    line = announcement(what, seconds) if seconds is not None else None
    if line:
        notify(line)


def run_command(scenario: str, *, seed=None, replicates=None, replicate=None,
                point=None, horizon=None, overrides=(), out=None, figure=False,
                max_memory=None, threads=None, command=None,
                notify=lambda text: None) -> str:
    """``substrate run``: returns the summary text to print; ``notify``
    receives notes (a stale lock taken over)."""
    from analysis import summarize_run
    from simulation.budget import check_memory, parse_size
    from simulation.cost import estimate_seconds
    from simulation.sweep import design, point_scenarios

    started = io.now()
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
    budget = parse_size(max_memory) if max_memory else None
    check_memory(sc, budget, replicates=None if replicate is None else 1, source=str(path))
    _announce(notify, f"{path}: the run", estimate_seconds(
        sc, None if replicate is None else 1, threads or _cores()))
    with io.claim(out if out is not None else default_out(sc.name), command,
                  tidy=True) as owner:
        folder = owner.folder
        if owner.note:
            notify(f"{folder}: {owner.note}")
        earlier = io.earlier_run(folder)  # refuses a folder of another command
        target = folder
        if earlier is not None:
            # The new run is written beside and swapped in whole: a failure
            # or a kill leaves the earlier run as it was.
            try:
                target = owner.stage()
            except OutputError as exc:
                notify(f"{exc}: the new run is written over the earlier one in place")
        compile_notice(notify, sc)

        def kept():
            held = ("still holds its earlier complete run"
                    if (folder / io.MANIFEST).exists() else "holds no complete run")
            return f"{folder} {held}; to run again: {_again(command)}"

        try:
            with interruptible(kept, owner), io.TableAppender(
                    target / "agents.parquet", owner.run_id,
                    io.key_provenance(io.provenance("run", owner.run_id,
                                                    scenario=sc))) as agents:
                # Agent records go to their file as they are taken (a world
                # of 10^6 agents is never held in memory whole).
                result = run_scenario(sc, replicates=None if replicate is None else [replicate],
                                      point=point, agent_sink=agents,
                                      threads=threads or _cores(), max_memory=budget,
                                      progress_every=_plain_progress())
                for name, value in parameters.items():
                    result.runs[name] = value
                    result.timeseries[name] = value
                written = ["agents"] if agents.commit() is not None else []
                io.write_run(result, owner, command=command, started=started,
                             parameters=parameters, written=written, folder=target)
                if figure:
                    from analysis.plots import overview_figure

                    overview_figure(result.runs, result.timeseries, sc.horizon,
                                    target / "overview.png", title=sc.name,
                                    record_every=sc.record_every)
                if target != folder:
                    # Files the earlier run did not write (figures, reports
                    # drawn from it) stay, as they would in place.
                    own = set(earlier["files"])
                    owner.swap(keep=[p.name for p in folder.iterdir()
                                     if not p.name.startswith(".") and p.name not in own])
        except OutputError as exc:
            if target == folder or owner.staging is None or "still holds" in str(exc):
                raise
            raise OutputError(f"{exc}; {folder} still holds its earlier complete run, "
                              "untouched") from None
    return format_summary(summarize_run(result.runs, sc.horizon, result.timeseries), sc,
                          folder,
                          result.seconds)


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


def format_summary(s: dict, sc, folder: Path, seconds: float) -> str:
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
        *_price_lines(s),
        *_agent_lines(s, sc.horizon),
        f"  mean final drive            {s['mean_final_drive']:.4f}",
        f"  mean final loyalty          {s['mean_final_loyalty']:.4f}",
        "  (P: Aalen-Johansen cumulative incidence; extinction counts as no event)",
        f"outputs: {folder}/",
    ])


def validate_command(tier: str, out=None, command=None,
                     notify=lambda text: None) -> tuple[str, bool]:
    """``substrate validate``: returns (the table to print, all passed)."""
    from tqdm.auto import tqdm

    from analysis import validation

    started = io.now()
    with io.claim(out if out is not None else default_out(f"validation-{tier}"),
                  command, tidy=True) as owner:
        folder = owner.folder
        if owner.note:
            notify(f"{folder}: {owner.note}")
        io.earlier_run(folder, "validation")  # refuses a folder of another command
        compile_notice(notify)
        io.unmark(folder)
        checks = validation.plan(tier)
        with interruptible(lambda: f"{folder} holds no complete validation; to run "
                           f"again: {_again(command)}", owner):
            with tqdm(total=len(checks), unit="check", disable=not sys.stderr.isatty(),
                      leave=False) as bar:
                results = validation.run(tier, progress=lambda r: bar.update())
            df = validation.table(results)
            manifest = io.provenance("validation", owner.run_id, command=command,
                                     started=started,
                                     seconds=(io.now() - started).total_seconds(), tier=tier)
            key = io.key_provenance(manifest)
            io.write_parquet(df, folder / "validation.parquet", owner.run_id, key)
            io.write_csv(df, folder / "validation.csv")
            figures = validation.figures(df, folder, provenance=key)
            manifest["files"] = (["validation.parquet", "validation.csv"]
                                 + [Path(f).name for f in figures] + [io.MANIFEST])
            io.write_manifest(folder, manifest)
    failed = int((~df.passed).sum())
    summary = (f"{len(df)} checks, {len(df) - failed} passed, {failed} failed "
               f"(tolerance: {validation.TOLERANCE_SE:g} standard errors); "
               f"outputs: {folder}/")
    return validation.format_table(df) + "\n" + summary, failed == 0


def sweep_command(scenario: str, *, workers=None, scheduler=None, out=None, resume=False,
                  seed=None, replicates=None, horizon=None, block_size=10, overrides=(),
                  worker_timeout=60.0, max_memory=None, consolidate=None, command=None,
                  notify=lambda text: None) -> str:
    """``substrate sweep``: returns the per-point summary to print."""
    import json
    import secrets

    import analysis
    from simulation.budget import check_sweep_memory, parse_size
    from simulation.sweep import (PARTS, check_design_memory, check_scheduler,
                                  iter_point_scenarios, run_sweep, stored_seed,
                                  sweep_seconds)

    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed, replicates=replicates,
                       horizon=horizon, resolve_seed=False)
    if sc.sweep is None:
        raise ScenarioError(f"{path}: has no sweep section (add sweep: grid: "
                            "{copy.error_rate: [...]}, or use 'substrate run')")
    # Before any folder is made; a sampled design's points under seed 0 stand
    # for those of the seed drawn below (the same ranges). A large design is
    # refused from its corners first, in a second (then every point is checked).
    budget, units_at_once = (parse_size(max_memory) if max_memory else None,
                             1 if scheduler else (workers or 1))
    seeded = sc.model_copy(update={"seed": sc.seed or 0})
    check_design_memory(seeded, budget, block_size, units_at_once, str(path))
    check_sweep_memory(iter_point_scenarios(seeded, str(path)), budget,
                       block_size=block_size, workers=units_at_once, source=str(path))
    _announce(notify, f"{path}: the sweep", sweep_seconds(seeded, units_at_once, str(path)))
    if scheduler:
        check_scheduler(scheduler)  # before anything is written
    with io.claim(out if out is not None else default_out(sc.name), command,
                  tidy=True) as owner:
        folder = owner.folder
        if owner.note:
            notify(f"{folder}: {owner.note}")
        compile_notice(notify, seeded)
        if sc.seed is None:
            # A file without a seed: a resumed sweep keeps the seed it started with.
            held = stored_seed(folder) if resume else None
            sc.seed = held if held is not None else secrets.randbits(63)

        def started_here() -> bool:
            try:
                held = json.loads((folder / "sweep.json").read_text())
            except (OSError, ValueError):
                return False
            return held.get("run_id") == owner.run_id

        def kept() -> str:
            if not started_here():
                return f"nothing written to {folder}; to start again: {_again(command)}"
            done = len(list((folder / PARTS).glob("*-runs.parquet")))
            return (f"{done} finished unit(s) kept in {folder}/{PARTS}; to finish: "
                    f"{resume_command(command)}")

        with interruptible(kept):
            try:
                report = run_sweep(sc, owner, workers=workers, scheduler=scheduler,
                                   resume=resume, block_size=block_size, command=command,
                                   source=str(path), worker_timeout=worker_timeout,
                                   consolidate=consolidate, notify=notify,
                                   progress_every=_plain_progress())
            except (ClusterError, OutputError) as exc:
                if not started_here():
                    raise
                raise type(exc)(f"{exc}; {kept()}") from None
    table = format_sweep_summary(analysis.summarize(analysis.load(folder)),
                                 report["parameters"])
    return (f"{sc.name}: {report['points']} points x {sc.replicates} replicates, "
            f"horizon {sc.horizon}, seed {sc.seed}; {report['units_run']} of "
            f"{report['units']} units run now, {report['seconds']:.1f} s\n"
            f"{table}\noutputs: {folder}/")


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


def summarize_command(folder, by=None, fmt="table", at=None) -> str:
    """``substrate summarize``; ``at``: "T1,T2,..." (P(event by T) at each)."""
    import analysis
    from simulation.errors import AnalysisError

    results = analysis.load(folder)
    if at is not None:
        try:
            ticks = [int(t) for t in str(at).split(",") if t.strip()]
        except ValueError:
            raise AnalysisError(f"--at {at}: give whole ticks, as --at 100,200") from None
        df = analysis.summarize(results, by=by, at=ticks)
    else:
        df = analysis.summarize(results, by=by)
    if fmt == "csv":
        return df.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return df.to_json(orient="records", indent=2)
    if at is not None:
        table = format_at_summary(df, list(by or results.parameters))
    elif by and not set(by) <= set(results.parameters):
        table = df.to_string(index=False)
    else:
        table = format_sweep_summary(df, list(by or results.parameters))
    if by and len(df) > 1 and at is None:
        table += "\n" + homogeneity_text(analysis.homogeneity(results, by), by)
    return table


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


def _writable_file(path: Path) -> Path:
    if not path.parent.is_dir():
        raise OutputError(f"output file {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"output file {path}: is a folder; give a file name")
    return path


def plot_command(folder, kind, *, out=None, fmt="png", by=(), replicate=0, agent=0,
                 color="drive") -> str:
    """``substrate plot``: draw one figure; returns the path written."""
    import analysis
    from analysis import plots

    if kind == "scaling":
        data = io.load_study(folder)
        fig = plots.scaling_figure(data)
        path = _writable_file(Path(out) if out else Path(folder) / f"{kind}.{fmt}")
        return plots.save(fig, path, provenance=io.key_provenance(data["provenance"]))
    results = analysis.load(folder)
    options = {}
    if kind == "muller":
        options = {"replicate": replicate, "agent": agent, "color": color}
    fig = plots.plot(results, kind, by=by or None, **options)
    path = _writable_file(Path(out) if out else Path(folder) / f"{kind}.{fmt}")
    return plots.save(fig, path, provenance=io.key_provenance(results.manifest))


def report_command(folder, out=None) -> str:
    """``substrate report``: one self-contained HTML file."""
    import base64
    import html
    import json
    from io import BytesIO

    import analysis
    from analysis import plots
    from simulation.errors import AnalysisError

    results = analysis.load(folder)
    path = _writable_file(Path(out) if out else Path(folder) / "report.html")
    name = html.escape(results.scenario.get("name", ""))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
             "table{border-collapse:collapse;font-size:small}td,th{border:1px solid #ccc;"
             "padding:2px 6px}pre{background:#f6f6f6;padding:1em;overflow:auto}"
             "img{max-width:100%}</style></head><body>",
             f"<h1>Substrate report: {name}</h1>",
             f"<p>{html.escape(results.scenario.get('description', '') or '')}</p>"]
    summary = analysis.summarize(results)
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
        modes = analysis.failure_mode_summary(results)
        price = analysis.failure_mode_price(results.runs, results.timeseries(),
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
    io.write_text("\n".join(parts), path)
    return str(path)
