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
from substrate.formatting import (format_at_summary, format_comparison, format_summary,
                                  format_sweep_summary, homogeneity_text, sensitivity_text)
from substrate.notice import compile_notice

#: The kinds of output folder that hold runs tables (summarize, plot, report).
RESULTS = ("run", "sweep")


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


def claim_out(out, name: str, command, notify) -> io.Claim:
    """Claim the output folder ``out`` (default ``results/NAME``) for a
    command (:func:`simulation.io.claim`, tidy: a command that fails before
    writing leaves no empty folder); a stale lock taken over is said
    through ``notify``."""
    owner = io.claim(out if out is not None else default_out(name), command, tidy=True)
    if owner.note:
        notify(f"{owner.folder}: {owner.note}")
    return owner


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
    from simulation.sweep import design, point_scenarios, seed_point

    started = io.now()
    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed,
                       replicates=replicates, horizon=horizon)
    parameters, seeds = {}, None
    if point is not None:
        if sc.sweep is None:
            raise ScenarioError(f"--point {point}: {path} has no sweep section")
        points = design(sc)
        if point >= len(points):
            raise ScenarioError(f"--point {point}: the sweep has {len(points)} points "
                                f"(0 to {len(points) - 1})")
        parameters = points[point]
        seeds = seed_point(sc, point)  # the sweep's seeds (common: the plain run's)
        sc = point_scenarios(sc, str(path))[point]
    point = point or 0
    if replicate is not None and replicate >= sc.replicates:
        raise ScenarioError(f"--replicate {replicate}: the scenario has "
                            f"{sc.replicates} replicates (0 to {sc.replicates - 1})")
    budget = parse_size(max_memory) if max_memory else None
    check_memory(sc, budget, replicates=None if replicate is None else 1, source=str(path))
    _announce(notify, f"{path}: the run", estimate_seconds(
        sc, None if replicate is None else 1, threads or _cores()))
    with claim_out(out, sc.name, command, notify) as owner:
        folder = owner.folder
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
                                      point=point, seed_point=seeds, agent_sink=agents,
                                      threads=threads or _cores(), max_memory=budget,
                                      progress_every=_plain_progress())
                for name, value in parameters.items():
                    result.runs[name] = value
                    result.timeseries[name] = value
                written = ["agents"] if agents.commit() is not None else []
                io.write_run(result, owner, command=command, started=started,
                             parameters=parameters, written=written, folder=target)
                if figure:
                    from analysis.plots import headline_events, overview_figure

                    overview_figure(result.runs, result.timeseries, sc.horizon,
                                    target / "overview.png", title=sc.name,
                                    record_every=sc.record_every,
                                    events=headline_events(result.runs, sc.stop.on))
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
                          folder, result.seconds,
                          _sensitivity(result.runs, sc.model_dump(mode="json")))


def validate_command(tier: str, out=None, command=None,
                     notify=lambda text: None) -> tuple[str, bool]:
    """``substrate validate``: returns (the table to print, all passed)."""
    from tqdm.auto import tqdm

    from analysis import validation

    started = io.now()
    with claim_out(out, f"validation-{tier}", command, notify) as owner:
        folder = owner.folder
        io.earlier_run(folder, "validation")  # refuses a folder of another command
        compile_notice(notify)
        checks = validation.plan(tier)
        with interruptible(lambda: f"{folder} holds no complete validation; to run "
                           f"again: {_again(command)}", owner):
            io.unmark(folder)
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
    import secrets

    import analysis
    from simulation.budget import check_sweep_memory, parse_size
    from simulation.jobs import SWEEP, check_held, read_marker
    from simulation.sweep import (PARTS, check_design_memory, check_scheduler,
                                  iter_point_scenarios, run_sweep, stored_seed,
                                  sweep_identity, sweep_seconds)

    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed, replicates=replicates,
                       horizon=horizon, resolve_seed=False)
    if sc.sweep is None:
        raise ScenarioError(f"{path}: has no sweep section (add sweep: grid: "
                            "{copy.error_rate: [...]}, or use 'substrate run')")
    target = Path(out) if out is not None else Path("results") / sc.name
    if sc.seed is None:
        # A file without a seed: a resumed sweep keeps the seed it started with.
        held = stored_seed(target) if resume else None
        sc.seed = held if held is not None else secrets.randbits(63)
    held = read_marker(target, SWEEP) if target.is_dir() else None
    if held is not None:
        # A folder holding a sweep answers a mismatch (another sweep, another
        # block size, this sweep without resuming) from its stored identity,
        # before any point is built (minutes for 10^5 points); checked again
        # once the folder is claimed.
        check_held(target, SWEEP, held, sweep_identity(sc), resume,
                   same={"block_size": (block_size, "block_size")})
    # Before any folder is made. A large design is refused from its corners
    # first, in a second (then every point is checked).
    budget, units_at_once = (parse_size(max_memory) if max_memory else None,
                             1 if scheduler else (workers or 1))
    check_design_memory(sc, budget, block_size, units_at_once, str(path))
    check_sweep_memory(iter_point_scenarios(sc, str(path)), budget,
                       block_size=block_size, workers=units_at_once, source=str(path))
    _announce(notify, f"{path}: the sweep", sweep_seconds(sc, units_at_once, str(path)))
    if scheduler:
        check_scheduler(scheduler)  # before anything is written
    with claim_out(out, sc.name, command, notify) as owner:
        folder = owner.folder
        compile_notice(notify, sc)

        def started_here() -> bool:
            try:
                return (read_marker(folder, SWEEP) or {}).get("run_id") == owner.run_id
            except OutputError:
                return False

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
    table = format_sweep_summary(analysis.summarize(io.load(folder, kind="sweep")),
                                 report["parameters"])
    return (f"{sc.name}: {report['points']} points x {sc.replicates} replicates, "
            f"horizon {sc.horizon}, seed {sc.seed}; {report['units_run']} of "
            f"{report['units']} units run now, {report['seconds']:.1f} s\n"
            f"{table}\noutputs: {folder}/")


def summarize_command(folder, by=None, fmt="table", at=None, compare=None) -> str:
    """``substrate summarize``; ``at``: "T1,T2,..." (P(event by T) at each);
    ``compare``: "KEY=A,B" (the paired difference of P(event by T))."""
    import analysis
    from simulation.errors import AnalysisError

    results = io.load(folder, kind=RESULTS)
    if compare is not None:
        key, a, b = _compare_request(compare)
        df = analysis.compare(results, key, a, b)
        if fmt == "csv":
            return df.to_csv(index=False).rstrip("\n")
        if fmt == "json":
            return df.to_json(orient="records", indent=2)
        return format_comparison(df)
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
    if at is None:
        flips = _sensitivity(results.runs, results.scenario,
                             list(by if by is not None else results.parameters))
        table += ("\n" + flips) if flips else ""
    return table


def _sensitivity(runs, scenario: dict, params=()) -> str:
    """The failure-mode verdict over drift thresholds
    (:func:`analysis.failure_mode_sensitivity`) as lines, when it flips
    within them (else nothing)."""
    from analysis.failure_modes import (default_deltas, drift_thresholds,
                                        failure_mode_sensitivity)

    delta, tolerance = drift_thresholds(scenario)
    if "drift_rise" not in runs.columns or delta is None or tolerance is None:
        return ""
    return sensitivity_text(failure_mode_sensitivity(runs, default_deltas(scenario),
                                                     list(params)),
                            delta, tolerance, params)


def _compare_request(text: str) -> tuple[str, str, str]:
    from simulation.errors import AnalysisError

    key, _, values = str(text).partition("=")
    parts = values.split(",")
    if not key.strip() or len(parts) != 2 or not all(p.strip() for p in parts):
        raise AnalysisError(f"--compare {text}: give a swept key and two of its values, "
                            "as --compare copy.redundancy=1,9")
    return key.strip(), parts[0].strip(), parts[1].strip()


def plot_command(folder, kind, *, out=None, fmt="png", by=(), replicate=0, agent=0,
                 color="drive") -> str:
    """``substrate plot``: draw one figure; returns the path written."""
    from analysis import plots

    if kind == "scaling":
        study = io.load(folder, kind="study")
        fig = plots.scaling_figure(study.data)
        path = io.output_file(Path(out) if out else Path(folder) / f"{kind}.{fmt}")
        return plots.save(fig, path, provenance=io.key_provenance(study.manifest))
    results = io.load(folder, kind=RESULTS)
    options = {}
    if kind == "muller":
        options = {"replicate": replicate, "agent": agent, "color": color}
    fig = plots.plot(results, kind, by=by or None, **options)
    path = io.output_file(Path(out) if out else Path(folder) / f"{kind}.{fmt}")
    return plots.save(fig, path, provenance=io.key_provenance(results.manifest))
