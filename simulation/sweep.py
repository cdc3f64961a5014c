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
point p always runs with the seed derived from (master seed, p, k), so the
parts hold identical data whatever the number of workers, the block size or
the interruptions, and any (point, replicate) can be re-run alone with
``substrate run SCENARIO --point P --replicate K``.

The parts form a partitioned Parquet dataset that :mod:`simulation.io`
(``Results.table``) reads lazily. When the sweep completes, the driver also
streams them (one part at a time) into the consolidated tables
``runs.parquet`` (always: one row per replicate) and ``timeseries.parquet``
(when the sweep has at most :data:`CONSOLIDATE_ROWS` timeseries rows, or when
asked), sorted by point, replicate, tick.

The folder is written through :mod:`simulation.io` under the claim of the
driver; ``sweep.json`` keeps the sweep's identity and run identity, so a
resumed sweep's parts and tables carry the run identity it started with.
Faults end the sweep with a :class:`ClusterError` (finished units are kept):
a scheduler that cannot be reached (checked before anything is written), a
scheduler lost, or no live worker for ``worker_timeout`` seconds. A worker
lost mid-sweep is not a fault: Dask runs its units again elsewhere.

:func:`connect` and :func:`map_units` are the machinery, public for other
unit-shaped work (the repetitions of :mod:`simulation.risk`).
"""

from __future__ import annotations

import contextlib
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
import pyarrow as pa

from . import io
from .errors import ClusterError, DamagedError, OutputError, ScenarioError
from .run import run_scenario
from .scenario import Scenario, point_scenario, to_yaml

PARTS = io.PARTS
#: What Dask and its worker processes said while the sweep ran (only when
#: they said something: a failed unit's traceback, lost workers).
CLUSTER_LOG = "cluster.log"
#: A sweep with at most this many timeseries rows also gets the consolidated
#: ``timeseries.parquet`` (about 0.3 GB in pandas); larger sweeps keep the
#: timeseries as parts only (read lazily), unless asked.
CONSOLIDATE_ROWS = 2_000_000
#: Units in flight at once (at least; 4 per worker thread when more): what
#: bounds the driver's and the scheduler's memory, whatever the sweep's size.
WINDOW = 200
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
    number in its range). A parameter whose values are of different types
    (``copy.kernel.bias: 0.0`` at one point, ``{drive: -0.02}`` at another)
    is labelled by strings at every point (each value's JSON): one column
    type, whatever the point.
    """
    values = design_values(scenario)
    mixed = {path for path in values[0]
             if len({_kind(point[path]) for point in values} - {None}) > 1}
    return [{path: json.dumps(value) if path in mixed else label(value)
             for path, value in point.items()}
            for point in values]


def _kind(value):
    """The column type a swept value takes in the tables (None: any)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return float  # integers and floats share a float column
    return type(value)


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


def _where(index: int, overrides: dict) -> str:
    return "sweep point {} ({})".format(
        index, ", ".join(f"{k}={label(v)}" for k, v in overrides.items()))


def iter_point_scenarios(scenario: Scenario, source: str = "<scenario>"):
    """Every point's validated scenario, one at a time (errors name the point)."""
    base = scenario.model_dump(mode="json")
    for index, overrides in enumerate(design_values(scenario)):
        yield point_scenario(base, overrides, source, _where(index, overrides))


#: Designs of at most this many points are checked point by point; larger
#: ones first from their corners (:func:`corner_scenarios`).
CORNER_POINTS = 1000
#: At most this many corners are built.
MAX_CORNERS = 4096


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _extremes(rows: list[tuple]) -> list[int]:
    """Indices of the rows holding each column's smallest and largest value
    (all rows for a column that is not numeric, at most 8 of them evenly)."""
    chosen = set()
    for column in range(len(rows[0])):
        values = [row[column] for row in rows]
        if all(_numeric(v) for v in values):
            chosen.update((min(range(len(values)), key=values.__getitem__),
                           max(range(len(values)), key=values.__getitem__)))
        else:
            step = max(1, len(values) // 8)
            chosen.update(range(0, len(values), step))
    return sorted(chosen)


def corner_scenarios(scenario: Scenario, source: str = "<scenario>"):
    """The validated scenarios of the design's corners, without building
    every point: for a grid, the points combining each axis's smallest and
    largest values (a column that is not a number: up to 8 of its values);
    for a sampled design, the combinations of each key's smallest and
    largest drawn value. What a point's memory and time grow with
    (capacities, agents, rates, horizon, replicates) are largest at a
    corner, so the corners bound the design's cost. A corner that does
    not validate is left out (the points themselves are checked later).
    Yields nothing when the corners would be more than :data:`MAX_CORNERS`."""
    sweep = scenario.sweep
    if sweep is None:
        return
    if sweep.grid or sweep.zip:
        axes = [(paths, rows) for _, paths, rows in sweep.axes()]
    else:
        points = design_values(scenario)
        axes = [([key], [(point[key],) for point in points]) for key in points[0]]
    choices = [[rows[i] for i in _extremes(rows)] for _, rows in axes]
    if math.prod(len(c) for c in choices) > MAX_CORNERS:
        return
    base = scenario.model_dump(mode="json")
    for combination in itertools.product(*choices):
        overrides = {}
        for (paths, _), row in zip(axes, combination):
            overrides.update(zip(paths, row))
        try:
            yield point_scenario(base, overrides, source, "a corner of the sweep")
        except ScenarioError:
            continue


def check_design_memory(scenario: Scenario, max_memory: int | None = None,
                        block_size: int = 10, workers: int = 1,
                        source: str | None = None) -> dict | None:
    """Refuse a sweep whose memory exceeds the budget from its design, in a
    second, before any point is built (:func:`corner_scenarios`; the
    runs table counted for every point). Designs of at most
    :data:`CORNER_POINTS` points are left to
    :func:`simulation.budget.check_sweep_memory` over every point.

    Returns
    -------
    dict or None
        The corners' estimate (None: the design is small, or its corners
        too many, and was not checked here).

    Raises
    ------
    MemoryBudgetError
        As :func:`simulation.budget.check_sweep_memory`.
    """
    from .budget import check_sweep_memory

    count = design_size(scenario)
    if count <= CORNER_POINTS:
        return None
    corners = list(corner_scenarios(scenario, source or "<scenario>"))
    if not corners:
        return None
    return check_sweep_memory(corners, max_memory, block_size=block_size, workers=workers,
                              source=source, points_total=count)


def design_size(scenario: Scenario) -> int:
    """The number of the design's points, without building them."""
    sweep = scenario.sweep
    if sweep is None:
        return 1
    if sweep.grid or sweep.zip:
        return math.prod(len(rows) for _, _, rows in sweep.axes())
    return (sweep.random or sweep.latin_hypercube).n


def point_scenarios(scenario: Scenario, source: str = "<scenario>") -> list[Scenario]:
    """Every point's validated scenario (errors name the point)."""
    return list(iter_point_scenarios(scenario, source))


def run_unit(scenario_data: dict, point: int, replicates: list[int],
             parameters: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one unit of work: the runs and timeseries tables of ``replicates``
    of one point, with a column per swept parameter, sorted by replicate
    (and tick)."""
    scenario = Scenario.model_validate(scenario_data)
    result = run_scenario(scenario, replicates=replicates, point=point,
                          show_progress=False)
    runs, ts = result.runs, result.timeseries
    for name, value in parameters.items():
        runs[name] = value
        ts[name] = value
    return (runs.sort_values(["replicate"], kind="stable", ignore_index=True),
            ts.sort_values(["replicate", "tick"], kind="stable", ignore_index=True))


def write_unit(folder: str, run_id: str, key: dict, scenario_data: dict, point: int,
               block: int, replicates: list[int], parameters: dict) -> dict:
    """Run one unit on a Dask worker and write its parts into the sweep's
    ``folder`` (the timeseries part first: the runs part marks the unit
    done). Returns only the rows written.

    Raises
    ------
    OutputError
        The worker does not see the sweep's folder (it is not shared with the
        driver), or cannot write there.
    """
    folder = Path(folder)
    _check_visible(folder, run_id)
    runs, ts = run_unit(scenario_data, point, replicates, parameters)
    io.write_parquet(ts, _part(folder, point, block, "timeseries"), run_id, key)
    io.write_parquet(runs, _part(folder, point, block, "runs"), run_id, key)
    return {"runs": len(runs), "timeseries": len(ts)}


def _check_visible(folder: Path, run_id: str) -> None:
    """The folder a worker writes to is the driver's (same sweep.json)."""
    try:
        held = json.loads((folder / "sweep.json").read_text()).get("run_id")
    except (OSError, ValueError):
        held = None
    if held != run_id or not (folder / PARTS).is_dir():
        raise OutputError(
            f"output folder {folder}: not visible from the worker on "
            f"{socket.gethostname()} (or it holds another sweep there): the workers "
            "must see the output folder at the same path, on a shared file system")


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
    address needs, and that something listens there (within ``timeout`` s)
    and, for ``tcp``, greets as a Dask server does (a silent or foreign
    server would make the Dask client wait without end).

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
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    except OSError as exc:
        raise ClusterError(f"scheduler {address}: cannot connect "
                           f"({exc.strerror or exc or 'timed out'})") from None
    with sock:
        if scheme == "tcp" and not _greets_like_dask(sock):
            # Dask's client would wait for such a server without end.
            raise ClusterError(f"scheduler {address}: something listens there but did not "
                               f"answer as a Dask scheduler within {timeout:g} s")


def _greets_like_dask(sock) -> bool:
    """Whether a fresh TCP connection receives what a Dask server sends
    first: its handshake, a message whose 8-byte little-endian length
    header is small."""
    header = b""
    try:
        while len(header) < 8:
            chunk = sock.recv(8 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:  # a timeout included
        return False
    return int.from_bytes(header, "little") < 2**24


def _client(workers: int | None, scheduler: str | None, timeout: float):
    from distributed import Client, LocalCluster

    if scheduler:
        check_scheduler(scheduler, timeout)
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except Exception as exc:  # something listens there (checked), but not Dask
            raise ClusterError(f"scheduler {scheduler}: something listens there but did "
                               f"not answer as a Dask scheduler within {timeout:g} s "
                               f"({type(exc).__name__})") from None
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _live_workers(client, scheduler: str | None) -> int:
    """Worker threads the scheduler knows; a ClusterError when it is lost."""
    if client.status != "running":
        raise ClusterError(f"lost the scheduler {scheduler or '(local)'}")
    try:
        return sum(client.nthreads().values())
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"lost the scheduler {scheduler or '(local)'} ({exc})") from None


@contextlib.contextmanager
def connect(workers: int | None = None, scheduler: str | None = None,
            timeout: float = 5.0, log=None):
    """A Dask client (a context manager): on a local cluster of ``workers``
    processes (one thread each), or on the running scheduler at
    ``scheduler`` (checked first: :func:`check_scheduler`). The local
    cluster is closed on the way out.

    Meanwhile what Dask, its worker processes and multiprocessing write to
    stderr (logs, tracebacks, warnings) is kept off it
    (:func:`simulation.cluster_log.kept_off_stderr`) and, once connected,
    appended to the file ``log`` if anything was said (``cluster.log`` in
    the output folder); ``sys.stderr`` itself still reaches the terminal.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached within ``timeout`` s, or is not Dask.
    """
    import distributed  # noqa: F401  (its log handlers made before stderr is kept off)

    from .cluster_log import kept_off_stderr

    with kept_off_stderr() as said:
        client, cluster = _client(workers, scheduler, timeout)
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
            if log is not None:
                said.keep(log)


def map_units(client, func, units, *, scheduler: str | None = None,
              worker_timeout: float = 60.0, poll: float = 1.0, window: int = WINDOW):
    """Run ``func(*args)`` for every ``(key, args)`` of the iterable
    ``units`` on the cluster; yield ``(key, result)`` as units finish (in
    any order).

    At most ``max(window, 4 x worker threads)`` units are in flight: units
    are drawn from ``units`` only as others finish, so the memory of the
    driver and of the scheduler does not grow with the number of units. A
    worker lost meanwhile is not an error (Dask runs its units elsewhere).

    Raises
    ------
    ClusterError
        A unit raised (the message names its error); the scheduler was lost;
        no live worker for ``worker_timeout`` s.
    """
    from distributed import wait
    from distributed.client import FuturesCancelledError

    units = iter(units)
    where = scheduler or "(local)"
    limit = max(window, 4 * _live_workers(client, scheduler))
    futures = {}

    def refill():
        while len(futures) < limit:
            try:
                key, args = next(units)
            except StopIteration:
                return
            futures[client.submit(func, *args, pure=False)] = key

    refill()
    lonely_since = None
    while futures:
        try:
            done, _ = wait(list(futures), timeout=poll, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except FuturesCancelledError:
            _live_workers(client, scheduler)
            raise ClusterError(f"the scheduler {where} cancelled the work") from None
        for fut in done:
            key = futures.pop(fut)
            if fut.status == "error":
                exc = fut.exception()
                what = (str(exc) if isinstance(exc, (OutputError, ClusterError))
                        else f"{type(exc).__name__}: {exc}")
                raise ClusterError(f"a unit failed on the cluster: {what}")
            try:
                result = fut.result()
            except (OSError, TimeoutError) as exc:  # CommClosedError is an OSError
                # The scheduler went away while the result was fetched.
                raise ClusterError(f"lost the scheduler {where} "
                                   f"({type(exc).__name__})") from None
            fut.release()
            yield key, result
        refill()
        if not done:
            threads = _live_workers(client, scheduler)
            limit = max(window, 4 * threads)
            if threads:
                lonely_since = None
            elif lonely_since is None:
                lonely_since = time.monotonic()
            elif time.monotonic() - lonely_since > worker_timeout:
                raise ClusterError(f"no live worker for {worker_timeout:g} s on the "
                                   f"scheduler {where}")


class _Both:
    """A tqdm bar that also feeds a plain progress line."""

    def __init__(self, bar, plain):
        self.bar, self.plain = bar, plain

    def set_postfix_str(self, *args, **kwargs):
        self.bar.set_postfix_str(*args, **kwargs)

    def update(self, n=1):
        self.bar.update(n)
        self.plain.update(n)


def sweep_seconds(scenario: Scenario, workers: int = 1, source: str = "<scenario>"):
    """Estimated seconds of a whole sweep on ``workers`` processes, from its
    corners' mean (:func:`corner_scenarios`, :func:`simulation.cost.
    estimate_seconds`) times its points; None when it has too many corners."""
    from .cost import estimate_seconds

    corners = list(corner_scenarios(scenario, source))
    if not corners:
        return None
    mean = sum(estimate_seconds(c) for c in corners) / len(corners)
    return mean * design_size(scenario) / max(1, workers)


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

    folder = owner.folder.resolve()  # the path the workers write to
    started_at = io.now()
    started = time.perf_counter()
    points = design(scenario)  # labels: the swept columns of the tables
    values = design_values(scenario)  # what each point's scenario is built from
    for _ in iter_point_scenarios(scenario, source):
        pass  # every point validates before anything runs (kept one at a time)
    held = check_sweep_folder(folder, scenario, block_size, resume)
    blocks = [list(range(b, min(b + block_size, scenario.replicates)))
              for b in range(0, scenario.replicates, block_size)]
    units = [(p, b) for p in range(len(points)) for b in range(len(blocks))]
    run_id = held["run_id"] if held is not None else owner.run_id
    todo, damaged = [], []
    for p, b in units:
        state = _unit_state(folder, p, b, run_id)
        if state != "done":
            todo.append((p, b))
        if state == "damaged":
            damaged.append(_part(folder, p, b, "runs").name[:15])
    if damaged:
        notify(f"{folder}: {len(damaged)} finished unit(s) have a damaged or unreadable "
               f"part ({', '.join(damaged[:3])}{' ...' if len(damaged) > 3 else ''}): "
               "run again")
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    # Connect before writing anything: a sweep that cannot start leaves the
    # folder as it was (so it can be retried as it was typed).
    with (connect(workers, scheduler, connect_timeout, log=folder / CLUSTER_LOG) if todo
          else contextlib.nullcontext()) as client:
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
                              blocks[b], points[p])) for p, b in todo)
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
                                               worker_timeout=worker_timeout, poll=poll):
                    replicates_done += len(blocks[b])
                    bar.set_postfix_str(f"replicates {replicates_done}/{total_replicates}",
                                        refresh=False)
                    bar.update()
    io.clean_temporaries(folder)  # left by workers lost mid-write
    runs_parts = [_part(folder, p, b, "runs") for p, b in units]
    ts_parts = [_part(folder, p, b, "timeseries") for p, b in units]
    replicates = _check_parts(folder, runs_parts, owner.run_id)
    ts_rows = _check_parts(folder, ts_parts, owner.run_id)
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
    manifest["files"] = files + ["scenario.yaml", "sweep.json", f"{PARTS}/", io.MANIFEST]
    io.write_manifest(folder, manifest)
    return {"points": len(points), "units": len(units), "units_run": len(todo),
            "replicates": replicates, "seconds": seconds, "parameters": list(points[0]),
            "timeseries_rows": ts_rows,
            "consolidated": ["runs"] + (["timeseries"] if consolidate else [])}


#: What to do about a damaged part of a sweep.
RERUN = "resume the sweep to run that unit again"


def _unit_state(folder: Path, point: int, block: int, run_id: str) -> str:
    """``missing`` (no runs part: not finished), ``done`` (both parts there,
    their footers readable and of this sweep) or ``damaged``."""
    runs = _part(folder, point, block, "runs")
    if not runs.exists():
        return "missing"
    for path in (runs, _part(folder, point, block, "timeseries")):
        try:
            held, _ = io.part_info(path)
        except (OSError, ValueError, pa.ArrowException):
            return "damaged"
        if held != run_id:
            return "damaged"
    return "done"


def _check_parts(folder: Path, paths, run_id: str) -> int:
    """The rows of the parts, each checked to belong to this sweep (footers
    only are read)."""
    rows = 0
    for path in paths:
        try:
            held, n = io.part_info(path)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise DamagedError(f"output folder {folder}: {PARTS}/{path.name} is missing or "
                               f"unreadable ({io.one_line(exc)}); {RERUN}",
                               path=path) from None
        if held != run_id:
            raise OutputError(f"output folder {folder}: {PARTS}/{path.name} belongs to "
                              f"another run ({held}; this sweep is {run_id})")
        rows += n
    return rows
