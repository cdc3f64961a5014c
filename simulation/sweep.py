"""Parameter sweeps on Dask distributed: resumable, identical for any worker count.

A sweep is a list of *points* (parameter overrides of the base scenario, from
its ``sweep:`` design) times ``replicates``. The work is cut into *units*,
(point, block of replicates). Each unit runs on a Dask worker, which writes
its own tables atomically as Parquet parts under ``DIR/parts/``
(``pPPPPPP-bBBBBBB-timeseries.parquet``, then ``...-runs.parquet``: one file
per point and replicate block) and sends back only a few numbers, so the
driver never holds the tables: its memory stays flat however many units the
sweep has (at most a window of units is in flight at once). The workers must
therefore see the output folder at the same path as the driver (one machine,
or a shared file system; see docs/cluster.md).

A unit is finished when its runs part exists, so an interrupted sweep
(Ctrl-C, SIGTERM or ``kill -9``, of the driver or of a worker) loses only
units in flight, and resuming runs exactly the missing ones. Replicate k of
point p always runs with the seed derived from (master seed,
:func:`~simulation.design.seed_point`, k): with common seeds (``sweep.seeds:
common``, the default) the seed of replicate k of the base scenario's plain
run, at every point (common random numbers); with ``independent`` seeds,
one per (p, k). So the parts hold identical data whatever the number of
workers, the block size or the interruptions, and any (point, replicate)
can be re-run alone with ``substrate run SCENARIO --point P --replicate K``.

The parts form a partitioned Parquet dataset that :mod:`simulation.io`
(``Results.table``) reads lazily. When the sweep completes, the driver also
streams them (one part at a time) into the consolidated tables
``runs.parquet`` (always: one row per replicate) and ``timeseries.parquet``
(when the sweep has at most :data:`CONSOLIDATE_ROWS` timeseries rows, or when
asked), sorted by point, replicate, tick.

The folder is a :class:`simulation.jobs.JobFolder` under the claim of the
driver; ``sweep.json`` keeps the sweep's identity and run identity, so a
resumed sweep's parts and tables carry the run identity it started with.
Faults end the sweep with a :class:`ClusterError` (finished units are kept):
a scheduler that cannot be reached (checked before anything is written), a
scheduler lost, or no live worker for ``worker_timeout`` seconds. A worker
lost mid-sweep is not a fault: Dask runs its units again elsewhere.

The design (its points and their scenarios) is :mod:`simulation.design`; the
Dask machinery, :func:`~simulation.cluster.connect` and
:func:`~simulation.cluster.map_units`, is :mod:`simulation.cluster` (both
importable from here as before).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pandas as pd

from . import io
from .cluster import (CLUSTER_LOG, WINDOW, check_scheduler, connect,  # noqa: F401
                      map_units)
from .design import (CORNER_POINTS, DESIGN_STREAM, MAX_CORNERS, _where,  # noqa: F401
                     check_design_memory, corner_scenarios, design, design_size,
                     design_values, iter_point_scenarios, label, point_scenarios,
                     seed_point, sweep_seconds)
from .errors import DamagedError
from .jobs import (SWEEP, JobFolder, check_visible, parquet_part, read_marker,
                   request_identity)
from .run import run_scenario
from .scenario import Scenario, point_scenario, to_yaml

PARTS = io.PARTS
#: A sweep with at most this many timeseries rows also gets the consolidated
#: ``timeseries.parquet`` (about 0.3 GB in pandas); larger sweeps keep the
#: timeseries as parts only (read lazily), unless asked.
CONSOLIDATE_ROWS = 2_000_000
#: What to do about a damaged part of a sweep.
RERUN = "resume the sweep to run that unit again"


def run_unit(scenario_data: dict, point: int, replicates: list[int],
             parameters: dict, seeds: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one unit of work: the runs and timeseries tables of ``replicates``
    of one point, with a column per swept parameter, sorted by replicate
    (and tick); the seeds derived from the point ``seeds`` (default
    ``point``; :func:`~simulation.design.seed_point`)."""
    scenario = Scenario.model_validate(scenario_data)
    result = run_scenario(scenario, replicates=replicates, point=point,
                          show_progress=False, seed_point=seeds)
    runs, ts = result.runs, result.timeseries
    for name, value in parameters.items():
        runs[name] = value
        ts[name] = value
    return (runs.sort_values(["replicate"], kind="stable", ignore_index=True),
            ts.sort_values(["replicate", "tick"], kind="stable", ignore_index=True))


def write_unit(folder: str, run_id: str, key: dict, scenario_data: dict, point: int,
               block: int, replicates: list[int], parameters: dict,
               seeds: int | None = None) -> dict:
    """Run one unit on a Dask worker and write its parts into the sweep's
    ``folder`` (the timeseries part first: the runs part marks the unit
    done). Returns only the rows written.

    Raises
    ------
    OutputError
        The worker does not see the sweep's folder (it is not shared with the
        driver), or cannot write there.
    """
    folder = check_visible(folder, SWEEP, run_id)
    runs, ts = run_unit(scenario_data, point, replicates, parameters, seeds)
    io.write_parquet(ts, _part(folder, point, block, "timeseries"), run_id, key)
    io.write_parquet(runs, _part(folder, point, block, "runs"), run_id, key)
    return {"runs": len(runs), "timeseries": len(ts)}


def _part(folder: Path, point: int, block: int, table: str) -> Path:
    return folder / PARTS / _name(point, block, table)


def _name(point: int, block: int, table: str) -> str:
    return f"p{point:06d}-b{block:06d}-{table}.parquet"


def sweep_identity(scenario: Scenario) -> str:
    """A hash of the resolved scenario (design and seed included)."""
    return request_identity(to_yaml(scenario))


def stored_seed(folder: Path):
    """The master seed a sweep folder was started with (None if none)."""
    try:
        return (read_marker(folder, SWEEP) or {}).get("seed")
    except io.OutputError:
        return None


class _Both:
    """A tqdm bar that also feeds a plain progress line."""

    def __init__(self, bar, plain):
        self.bar, self.plain = bar, plain

    def set_postfix_str(self, *args, **kwargs):
        self.bar.set_postfix_str(*args, **kwargs)

    def update(self, n=1):
        self.bar.update(n)
        self.plain.update(n)



def run_sweep(scenario: Scenario, owner: io.Claim, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False,
              block_size: int = 10, show_progress: bool | None = None,
              command: list[str] | None = None, source: str = "<scenario>",
              worker_timeout: float = 60.0, connect_timeout: float = 5.0,
              poll: float = 1.0, consolidate: bool | None = None,
              notify=lambda text: None,
              progress_every: float | None = None) -> dict:
    """Run (or finish) a sweep into the claimed folder ``owner.folder``.

    Parameters
    ----------
    scenario : Scenario
        The resolved scenario (seed set) with a ``sweep`` section.
    owner : simulation.io.Claim
        The folder, claimed with :func:`simulation.io.claim`. The workers
        write their parts into it: they must see it at the same path.
    workers, scheduler :
        Local worker processes, or the address of a running scheduler.
    resume : bool
        Finish the sweep the folder holds (its finished units are kept).
    show_progress : bool, optional
        A progress bar on stderr advancing per finished unit, with the
        replicates done (default: when stderr is a terminal).
    progress_every : float, optional
        Without the bar, a plain line on stderr at most every this many
        seconds, with the units done (:class:`simulation.cost.PlainProgress`).
    worker_timeout : float
        Seconds without any live worker after which the sweep ends.
    connect_timeout : float
        Seconds to reach the scheduler.
    consolidate : bool, optional
        Also write the consolidated ``timeseries.parquet``; default: when
        the sweep has at most :data:`CONSOLIDATE_ROWS` timeseries rows.
        (``runs.parquet`` is always written.)
    notify : callable
        Receives one line of text when finished units are run again because
        a part of theirs is damaged (truncated, unreadable, of another run).

    Returns
    -------
    dict
        ``points``, ``units``, ``units_run``, ``replicates``, ``seconds``,
        ``parameters``, ``timeseries_rows``, ``consolidated`` (the tables
        written as single files).

    Raises
    ------
    OutputError, ClusterError
        The folder holds something else or cannot be written (by the driver
        or a worker); the cluster cannot be reached or was lost (finished
        units are kept).
    """
    import sys

    from tqdm.auto import tqdm

    job = JobFolder(SWEEP, owner, notify)
    folder = job.folder  # the path the workers write to
    started_at = io.now()
    started = time.perf_counter()
    points = design(scenario)  # labels: the swept columns of the tables
    values = design_values(scenario)  # what each point's scenario is built from
    for _ in iter_point_scenarios(scenario, source):
        pass  # every point validates before anything runs (kept one at a time)
    # Refuse a different sweep, this one without resume or with another block
    # size, or another command's folder; writes nothing.
    held = job.check(sweep_identity(scenario), resume,
                     same={"block_size": (block_size, "block_size")})
    blocks = [list(range(b, min(b + block_size, scenario.replicates)))
              for b in range(0, scenario.replicates, block_size)]
    units = [(p, b) for p in range(len(points)) for b in range(len(blocks))]
    parts = {(p, b): [_name(p, b, "timeseries"), _name(p, b, "runs")] for p, b in units}
    read = parquet_part(owner.run_id)
    done = job.kept(parts, read, label=lambda unit: _name(*unit, "")[:15])
    todo = [unit for unit in units if unit not in done]
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    # Connect before writing anything: a sweep that cannot start leaves the
    # folder as it was (so it can be retried as it was typed).
    with (connect(workers, scheduler, connect_timeout, log=folder / CLUSTER_LOG) if todo
          else contextlib.nullcontext()) as client:
        job.start(held, scenario=scenario.name, seed=scenario.seed, block_size=block_size)
        # The resolved scenario (seed included) from the start: any (point,
        # replicate) can be re-run from it even before the sweep has finished.
        io.write_text(to_yaml(scenario), folder / "scenario.yaml")
        key = {"format": io.FORMAT, "kind": "sweep", "run_id": owner.run_id,
               "scenario": scenario.name, "seed": scenario.seed}
        if todo:
            base = scenario.model_dump(mode="json")
            cache = {}

            def point_data(p):  # the last point's scenario, kept while its blocks go
                if p not in cache:
                    cache.clear()
                    sc = point_scenario(base, values[p], source, _where(p, values[p]))
                    sc.record_clones = False  # lineages: re-run a replicate with 'run'
                    cache[p] = sc.model_dump(mode="json")
                return cache[p]

            work = (((p, b), (str(folder), owner.run_id, key, point_data(p), p, b,
                              blocks[b], points[p], seed_point(scenario, p)))
                    for p, b in todo)
            done_units = len(units) - len(todo)
            replicates_done = sum(len(blocks[b]) for p, b in units) - sum(
                len(blocks[b]) for p, b in todo)
            total_replicates = len(points) * scenario.replicates
            with tqdm(total=len(units), initial=done_units, unit="unit",
                      desc=scenario.name, disable=not show_progress) as bar:
                bar.set_postfix_str(f"replicates {replicates_done}/{total_replicates}",
                                    refresh=False)
                if progress_every is not None and not show_progress:
                    from .cost import PlainProgress

                    plain = PlainProgress(scenario.name, len(units), "units", progress_every)
                    plain.done = done_units
                    bar = _Both(bar, plain)
                for (p, b), _rows in map_units(client, write_unit, work,
                                               scheduler=scheduler,
                                               worker_timeout=worker_timeout, poll=poll,
                                               on_wait=lambda: bar.update(0)):
                    replicates_done += len(blocks[b])
                    bar.set_postfix_str(f"replicates {replicates_done}/{total_replicates}",
                                        refresh=False)
                    bar.update()
    io.clean_temporaries(folder)  # left by workers lost mid-write
    runs_parts = [job.part(names[1]) for names in parts.values()]
    ts_parts = [job.part(names[0]) for names in parts.values()]
    replicates = job.rows([p.name for p in runs_parts], read, RERUN)
    ts_rows = job.rows([p.name for p in ts_parts], read, RERUN)
    if consolidate is None:
        consolidate = ts_rows <= CONSOLIDATE_ROWS
    seconds = time.perf_counter() - started
    manifest = io.provenance(
        "sweep", owner.run_id, scenario=scenario, command=command, started=started_at,
        seconds=seconds, parameters=list(points[0]), points=points,
        replicates_per_point=scenario.replicates, block_size=block_size,
        units=len(units), units_run_now=len(todo),
        workers=None if scheduler else (workers or 1), scheduler=scheduler,
        partitioned={table: {"parts": f"{PARTS}/p*-b*-{table}.parquet",
                             "count": len(units), "rows": rows}
                     for table, rows in (("runs", replicates), ("timeseries", ts_rows))})
    key = io.key_provenance(manifest)
    try:
        io.write_parquet_parts(runs_parts, folder / "runs.parquet", owner.run_id, key,
                               remedy=RERUN)
        files = ["runs.parquet"]
        if consolidate:
            io.write_parquet_parts(ts_parts, folder / "timeseries.parquet", owner.run_id,
                                   key, remedy=RERUN)
            files.append("timeseries.parquet")
    except DamagedError as exc:
        # Its footer was sound, its data is not: without its runs part the
        # unit is unfinished, and resuming runs it again.
        point, block = int(exc.path.name[1:7]), int(exc.path.name[9:15])
        io.unlink(_part(folder, point, block, "runs"))
        raise
    if not consolidate:
        io.unlink(folder / "timeseries.parquet")  # of an earlier, consolidated finish
    job.finish(manifest, files + ["scenario.yaml"])
    return {"points": len(points), "units": len(units), "units_run": len(todo),
            "replicates": replicates, "seconds": seconds, "parameters": list(points[0]),
            "timeseries_rows": ts_rows,
            "consolidated": ["runs"] + (["timeseries"] if consolidate else [])}

