"""Parameter sweeps on Dask distributed: resumable, identical for any worker count.

A sweep is a list of *points* (parameter overrides of the base scenario, from
its ``sweep:`` design) times ``replicates``. The work is cut into *units*,
(point, block of replicates); each unit runs on a Dask worker and returns its
tables, which the client writes atomically as its own Parquet parts under
``DIR/parts/``. A unit is finished when its runs part exists, so an
interrupted sweep (Ctrl-C, SIGTERM or ``kill -9``) loses only units in
flight, and resuming runs exactly the missing ones. Replicate k of point p
always runs with the seed derived from (master seed, p, k), so the combined
tables ``runs.parquet`` and ``timeseries.parquet`` (sorted by point,
replicate, tick) hold identical data whatever the number of workers, the
block size or the interruptions (the files differ only in the run identity in
their metadata), and any (point, replicate) can be re-run alone with
``substrate run SCENARIO --point P --replicate K``.

The folder is written through :mod:`simulation.io` by the process that
claimed it; ``sweep.json`` keeps the sweep's identity and run identity, so a
resumed sweep's parts and tables carry the run identity it started with.
Faults end the sweep with a :class:`ClusterError` (finished units are kept):
a scheduler that cannot be reached (checked before anything is written), a
scheduler lost, or no live worker for ``worker_timeout`` seconds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import io
from .errors import ClusterError, OutputError
from .run import run_scenario
from .scenario import Scenario, point_scenario, to_yaml

PARTS = "parts"
DESIGN_STREAM = 2**32  # spawn key of the random stream that draws sampled designs


def label(value):
    """A swept value as it appears in the runs table: itself, or for a whole
    mapping (a section such as ``copy.kernel``) its compact JSON, one
    readable string per category (``{"type": "cauchy", "scale": 0.01}``)."""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=False)
    return value


def design(scenario: Scenario) -> list[dict]:
    """The sweep's points: one dict (dotted path -> value) per point, in order;
    a whole mapping (a swept section) as its :func:`label`.

    ``grid``: the Cartesian product of the value lists (the first key varies
    slowest), then of the ``zip`` groups (each group's lists varied together,
    one axis). ``random``: uniform (or log-uniform) draws;
    ``latin_hypercube``: ``scipy.stats.qmc.LatinHypercube``. Sampled designs
    draw from the master seed's own stream, so they are fixed by the seed.
    Integer parameters are rounded (``copy.redundancy`` to the nearest odd
    number in its range).
    """
    return [{path: label(value) for path, value in point.items()}
            for point in design_values(scenario)]


def design_values(scenario: Scenario) -> list[dict]:
    """The points of :func:`design` with the swept values themselves (whole
    mappings as mappings): what each point's scenario is built from."""
    from .scenario import parameter_field

    sweep = scenario.sweep
    if sweep is None:
        return [{}]
    if sweep.grid or sweep.zip:
        axes = sweep.axes()
        points = []
        for rows in itertools.product(*(values for _, _, values in axes)):
            point = {}
            for (_, paths, _), row in zip(axes, rows):
                point.update(zip(paths, row))
            points.append(point)
        return points
    sampled = sweep.random or sweep.latin_hypercube
    keys = list(sampled.ranges)
    rng = np.random.default_rng(np.random.SeedSequence(scenario.seed,
                                                       spawn_key=(DESIGN_STREAM,)))
    if sweep.random:
        unit = rng.random((sampled.n, len(keys)))
    else:
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(keys), rng=rng).random(sampled.n)
    points = []
    for row in unit:
        point = {}
        for key, u in zip(keys, row):
            r = sampled.ranges[key]
            if r.log:
                value = math.exp(math.log(r.low) + u * (math.log(r.high) - math.log(r.low)))
            else:
                value = r.low + u * (r.high - r.low)
            if _is_int(parameter_field(key).annotation):
                value = int(round(value))
                if key == "copy.redundancy" and value % 2 == 0:
                    value += 1 if value < r.high else -1  # the nearest odd in range
            point[key] = float(value) if isinstance(value, float) else value
        points.append(point)
    return points


def _is_int(annotation) -> bool:
    """An int field, possibly Optional[...] or Annotated[...]."""
    import typing

    if annotation is int:
        return True
    return any(_is_int(a) for a in typing.get_args(annotation) if a is not type(None))


def point_scenarios(scenario: Scenario, source: str = "<scenario>") -> list[Scenario]:
    """Every point's validated scenario (errors name the point)."""
    base = scenario.model_dump(mode="json")
    out = []
    for index, overrides in enumerate(design_values(scenario)):
        where = "sweep point {} ({})".format(
            index, ", ".join(f"{k}={label(v)}" for k, v in overrides.items()))
        out.append(point_scenario(base, overrides, source, where))
    return out


def run_unit(scenario_data: dict, point: int, replicates: list[int],
             parameters: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one unit of work (on a Dask worker): the runs and timeseries tables
    of ``replicates`` of one point, with a column per swept parameter."""
    scenario = Scenario.model_validate(scenario_data)
    result = run_scenario(scenario, replicates=replicates, point=point,
                          show_progress=False)
    runs, ts = result.runs, result.timeseries
    for name, value in parameters.items():
        runs[name] = value
        ts[name] = value
    return runs, ts


def _part(folder: Path, point: int, block: int, table: str) -> Path:
    return folder / PARTS / f"p{point:06d}-b{block:06d}-{table}.parquet"


def sweep_identity(scenario: Scenario) -> str:
    """A hash of the resolved scenario (design and seed included)."""
    return hashlib.sha256(to_yaml(scenario).encode()).hexdigest()[:16]


def _held(folder: Path) -> dict | None:
    marker = Path(folder) / "sweep.json"
    if not marker.exists():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        raise OutputError(f"output folder {folder}: sweep.json is unreadable; remove the "
                          "folder or choose another") from None


def stored_seed(folder: Path):
    """The master seed a sweep folder was started with (None if none)."""
    try:
        return (_held(folder) or {}).get("seed")
    except OutputError:
        return None


def check_sweep_folder(folder: Path, scenario: Scenario, block_size: int,
                       resume: bool) -> dict | None:
    """Refuse a folder that holds a different sweep, or this sweep when not
    resuming, or another output. Writes nothing; returns the held sweep.json
    (None for a new sweep)."""
    held = _held(folder)
    identity = sweep_identity(scenario)
    if held is not None:
        if held.get("identity") != identity:
            raise OutputError(
                f"output folder {folder}: holds a different sweep ({held.get('scenario')}, "
                f"identity {held.get('identity')}; this one is {identity}): choose "
                "another folder, or remove it")
        if held.get("block_size") != block_size:
            raise OutputError(
                f"output folder {folder}: this sweep was started with block size "
                f"{held.get('block_size')}; resume it with the same block size",
                argument="block_size")
        if not resume:
            raise OutputError(f"output folder {folder}: already holds this sweep; resume "
                              "it to finish it (finished units are kept)", argument="resume")
        if not held.get("run_id"):
            raise OutputError(f"output folder {folder}: its sweep was started by an older "
                              "version of substrate (no run identity); start it again in "
                              "a new folder")
        return held
    if any(p.name != io.LOCK for p in folder.iterdir()):
        raise OutputError(f"output folder {folder}: is not empty and holds no sweep; "
                          "choose an empty or new folder")
    return None


def check_scheduler(address: str, timeout: float = 3.0) -> None:
    """Check a scheduler address before anything is written: its form
    (``tcp://HOST:PORT`` or ``tls://HOST:PORT``), the TLS settings a ``tls``
    address needs, and that something listens there (within ``timeout`` s).

    TLS uses the usual Dask security configuration
    (``distributed.comm.tls.ca-file``, ``.client.cert``, ``.client.key``, e.g.
    from ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``).
    """
    scheme, sep, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or scheme not in ("tcp", "tls") or not colon or not host \
            or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"scheduler address {address!r}: expected tcp://HOST:PORT or "
                           "tls://HOST:PORT")
    if scheme == "tls":
        import dask

        needed = {"distributed.comm.tls.ca-file": "a CA file",
                  "distributed.comm.tls.client.cert": "a client certificate"}
        missing = [what for key, what in needed.items() if not dask.config.get(key, None)]
        if missing:
            raise ClusterError(
                f"scheduler {address}: TLS needs {' and '.join(missing)}; set "
                "distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and "
                "distributed.comm.tls.client.key in the Dask configuration (e.g. "
                "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=...)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ClusterError(f"scheduler {address}: cannot connect "
                           f"({exc.strerror or exc or 'timed out'})") from None


def _client(workers: int | None, scheduler: str | None, timeout: float):
    from distributed import Client, LocalCluster

    if scheduler:
        check_scheduler(scheduler, timeout)
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"scheduler {scheduler}: cannot connect ({exc})") from None
        except Exception as exc:  # something listens there, but not Dask
            raise ClusterError(f"scheduler {scheduler}: did not answer as a Dask "
                               f"scheduler ({type(exc).__name__})") from None
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _live_workers(client, scheduler: str | None) -> int:
    """Workers the scheduler knows; a ClusterError when it is lost."""
    if client.status != "running":
        raise ClusterError(f"lost the scheduler {scheduler or '(local)'}")
    try:
        return len(client.nthreads())
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"lost the scheduler {scheduler or '(local)'} ({exc})") from None


def _gather(client, futures: dict, scheduler, worker_timeout: float, poll: float):
    """Yield (unit, result) as units finish; watch the cluster meanwhile."""
    from distributed import wait
    from distributed.client import FuturesCancelledError

    pending = set(futures)
    lonely_since = None
    while pending:
        try:
            done, pending = wait(list(pending), timeout=poll, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except FuturesCancelledError:
            _live_workers(client, scheduler)
            raise ClusterError(f"the scheduler {scheduler or '(local)'} cancelled the "
                               "work") from None
        for fut in done:
            if fut.status == "error":
                exc = fut.exception()
                raise ClusterError(f"a unit failed on the cluster: "
                                   f"{type(exc).__name__}: {exc}")
            try:
                result = fut.result()
            except (OSError, TimeoutError) as exc:  # CommClosedError is an OSError
                # The scheduler went away while the result was fetched.
                raise ClusterError(f"lost the scheduler {scheduler or '(local)'} "
                                   f"({type(exc).__name__})") from None
            yield futures[fut], result
        if not done:
            if _live_workers(client, scheduler):
                lonely_since = None
            elif lonely_since is None:
                lonely_since = time.monotonic()
            elif time.monotonic() - lonely_since > worker_timeout:
                raise ClusterError(f"no live worker for {worker_timeout:g} s on the "
                                   f"scheduler {scheduler or '(local)'}")


def run_sweep(scenario: Scenario, owner: io.Claim, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False,
              block_size: int = 10, show_progress: bool | None = None,
              command: list[str] | None = None, source: str = "<scenario>",
              worker_timeout: float = 60.0, connect_timeout: float = 5.0,
              poll: float = 1.0) -> dict:
    """Run (or finish) a sweep into the claimed folder ``owner.folder``.

    Parameters
    ----------
    scenario : Scenario
        The resolved scenario (seed set) with a ``sweep`` section.
    owner : simulation.io.Claim
        The folder, claimed with :func:`simulation.io.claim`.
    workers, scheduler :
        Local worker processes, or the address of a running scheduler.
    resume : bool
        Finish the sweep the folder holds (its finished units are kept).
    worker_timeout : float
        Seconds without any live worker after which the sweep ends.
    connect_timeout : float
        Seconds to reach the scheduler.

    Returns
    -------
    dict
        ``points``, ``units``, ``units_run``, ``replicates``, ``seconds``,
        ``parameters``.

    Raises
    ------
    OutputError, ClusterError
        The folder holds something else or cannot be written; the cluster
        cannot be reached or was lost (finished units are kept).
    """
    import sys

    from tqdm.auto import tqdm

    folder = owner.folder
    started_at = io.now()
    started = time.perf_counter()
    points = design(scenario)
    scenarios = point_scenarios(scenario, source)
    for sc in scenarios:
        sc.record_clones = False  # lineages: re-run a (point, replicate) with 'run'
    held = check_sweep_folder(folder, scenario, block_size, resume)
    blocks = [list(range(b, min(b + block_size, scenario.replicates)))
              for b in range(0, scenario.replicates, block_size)]
    units = [(p, b) for p in range(len(points)) for b in range(len(blocks))]
    todo = [(p, b) for p, b in units if not _part(folder, p, b, "runs").exists()]
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    # Connect before writing anything: a sweep that cannot start leaves the
    # folder as it was (so it can be retried as it was typed).
    client, cluster = _client(workers, scheduler, connect_timeout) if todo else (None, None)
    try:
        if held is not None:
            owner.adopt(held["run_id"])
        else:
            io.write_json({"identity": sweep_identity(scenario), "run_id": owner.run_id,
                           "scenario": scenario.name, "seed": scenario.seed,
                           "block_size": block_size}, folder / "sweep.json")
        io.unmark(folder)  # written again when the sweep completes
        (folder / PARTS).mkdir(exist_ok=True)
        # The resolved scenario (seed included) from the start: any (point,
        # replicate) can be re-run from it even before the sweep has finished.
        io.write_text(to_yaml(scenario), folder / "scenario.yaml")
        key = {"format": io.FORMAT, "kind": "sweep", "run_id": owner.run_id,
               "scenario": scenario.name, "seed": scenario.seed}
        if todo:
            futures = {client.submit(run_unit, scenarios[p].model_dump(mode="json"), p,
                                     blocks[b], points[p], pure=False): (p, b)
                       for p, b in todo}
            with tqdm(total=len(units), initial=len(units) - len(todo), unit="unit",
                      desc=scenario.name, disable=not show_progress) as bar:
                for (p, b), (runs, ts) in _gather(client, futures, scheduler,
                                                  worker_timeout, poll):
                    # The timeseries part first: the runs part marks the unit done.
                    io.write_parquet(ts, _part(folder, p, b, "timeseries"), owner.run_id, key)
                    io.write_parquet(runs, _part(folder, p, b, "runs"), owner.run_id, key)
                    bar.update()
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    runs = _combine(folder, units, "runs", owner.run_id, ["point", "replicate"])
    ts = _combine(folder, units, "timeseries", owner.run_id, ["point", "replicate", "tick"])
    seconds = time.perf_counter() - started
    manifest = io.provenance(
        "sweep", owner.run_id, scenario=scenario, command=command, started=started_at,
        seconds=seconds, parameters=list(points[0]), points=points,
        replicates_per_point=scenario.replicates, block_size=block_size,
        units=len(units), units_run_now=len(todo),
        workers=None if scheduler else (workers or 1), scheduler=scheduler)
    key = io.key_provenance(manifest)
    io.write_parquet(runs, folder / "runs.parquet", owner.run_id, key)
    io.write_parquet(ts, folder / "timeseries.parquet", owner.run_id, key)
    manifest["files"] = ["runs.parquet", "timeseries.parquet", "scenario.yaml",
                         "sweep.json", f"{PARTS}/", io.MANIFEST]
    io.write_manifest(folder, manifest)
    return {"points": len(points), "units": len(units), "units_run": len(todo),
            "replicates": len(runs), "seconds": seconds, "parameters": list(points[0])}


def _combine(folder: Path, units, table: str, run_id: str, order) -> pd.DataFrame:
    """The parts of one table, checked to belong to this sweep, sorted."""
    frames = []
    for p, b in units:
        path = _part(folder, p, b, table)
        held = io.run_id_of(path)
        if held != run_id:
            raise OutputError(f"output folder {folder}: {PARTS}/{path.name} belongs to "
                              f"another run ({held}; this sweep is {run_id})")
        frames.append(pd.read_parquet(path))
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(order, kind="stable", ignore_index=True)
