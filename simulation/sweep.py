"""Parameter sweeps on Dask distributed: resumable, identical for any worker count.

A sweep is a list of *points* (parameter overrides of the base scenario, from
its ``sweep:`` design) times ``replicates``. The work is cut into *units*,
(point, block of replicates); each unit runs on a Dask worker and returns its
tables, which the client writes atomically as its own Parquet parts under
``DIR/parts/``. A unit is finished when its runs part exists, so an
interrupted sweep (Ctrl-C or ``kill -9``) loses only units in flight, and
``--resume`` runs exactly the missing ones. Replicate k of point p always
runs with the seed derived from (master seed, p, k), so the combined tables
``runs.parquet`` and ``timeseries.parquet`` (sorted by point, replicate, tick)
are byte-identical whatever the number of workers, the block size or the
interruptions, and any (point, replicate) can be re-run alone with
``substrate run SCENARIO --point P --replicate K``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .output import versions, write_parquet, write_text
from .run import run_scenario
from .scenario import Scenario, ScenarioError, point_scenario, to_yaml

PARTS = "parts"
DESIGN_STREAM = 2**32  # spawn key of the random stream that draws sampled designs


def design(scenario: Scenario) -> list[dict]:
    """The sweep's points: one dict (dotted path -> value) per point, in order.

    ``grid``: the Cartesian product of the value lists (the first key varies
    slowest). ``random``: uniform (or log-uniform) draws; ``latin_hypercube``:
    ``scipy.stats.qmc.LatinHypercube``. Sampled designs draw from the master
    seed's own stream, so they are fixed by the seed. Integer parameters are
    rounded (``copy.redundancy`` to the nearest odd number in its range).
    """
    from .scenario import parameter_field

    sweep = scenario.sweep
    if sweep is None:
        return [{}]
    if sweep.grid:
        keys = list(sweep.grid)
        return [dict(zip(keys, values))
                for values in itertools.product(*(sweep.grid[k] for k in keys))]
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
    for index, overrides in enumerate(design(scenario)):
        where = "sweep point {} ({})".format(
            index, ", ".join(f"{k}={v}" for k, v in overrides.items()))
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


def stored_seed(folder: Path):
    """The master seed a sweep folder was started with (None if none)."""
    try:
        return json.loads((Path(folder) / "sweep.json").read_text()).get("seed")
    except (OSError, ValueError):
        return None


def prepare_sweep_folder(folder: Path, scenario: Scenario, block_size: int,
                         resume: bool) -> None:
    """Refuse a folder that holds a different sweep, or this sweep without
    --resume; record the sweep's identity in ``sweep.json``."""
    marker = folder / "sweep.json"
    identity = sweep_identity(scenario)
    if marker.exists():
        try:
            held = json.loads(marker.read_text())
        except (OSError, ValueError):
            raise ScenarioError(f"--out {folder}: sweep.json is unreadable; "
                                "remove the folder or choose another --out") from None
        if held.get("identity") != identity:
            raise ScenarioError(
                f"--out {folder}: holds a different sweep ({held.get('scenario')}, "
                f"identity {held.get('identity')}; this one is {identity}): choose "
                "another --out, or remove the folder")
        if held.get("block_size") != block_size:
            raise ScenarioError(
                f"--out {folder}: this sweep was started with --block-size "
                f"{held.get('block_size')}; resume it with the same block size")
        if not resume:
            raise ScenarioError(f"--out {folder}: already holds this sweep; add --resume "
                                "to finish it (finished units are kept)")
    elif any(folder.iterdir()):
        raise ScenarioError(f"--out {folder}: is not empty and holds no sweep; "
                            "choose an empty or new folder")
    (folder / PARTS).mkdir(exist_ok=True)
    for stale in (folder / PARTS).glob(".*.tmp"):
        stale.unlink()  # a part being written when the sweep was killed
    write_text(json.dumps({"identity": identity, "scenario": scenario.name,
                           "seed": scenario.seed, "block_size": block_size},
                          indent=2) + "\n", marker)
    # The resolved scenario (seed included) from the start: any (point,
    # replicate) can be re-run from it even before the sweep has finished.
    write_text(to_yaml(scenario), folder / "scenario.yaml")


def _client(workers: int | None, scheduler: str | None):
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, ValueError, TimeoutError) as exc:
            raise ScenarioError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_sweep(scenario: Scenario, folder: Path, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False,
              block_size: int = 10, show_progress: bool | None = None,
              command: list[str] | None = None, source: str = "<scenario>") -> dict:
    """Run (or finish) a sweep into ``folder``; returns a small report."""
    import sys

    from tqdm.auto import tqdm

    started_at = _dt.datetime.now(_dt.timezone.utc)
    started = time.perf_counter()
    points = design(scenario)
    scenarios = point_scenarios(scenario, source)
    for sc in scenarios:
        sc.record_clones = False  # lineages: re-run a (point, replicate) with 'run'
    prepare_sweep_folder(folder, scenario, block_size, resume)
    if (folder / "manifest.json").exists():
        (folder / "manifest.json").unlink()  # written again when the sweep completes
    blocks = [list(range(b, min(b + block_size, scenario.replicates)))
              for b in range(0, scenario.replicates, block_size)]
    units = [(p, b) for p in range(len(points)) for b in range(len(blocks))]
    todo = [(p, b) for p, b in units if not _part(folder, p, b, "runs").exists()]
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    if todo:
        client, cluster = _client(workers, scheduler)
        try:
            futures = {}
            for p, b in todo:
                fut = client.submit(run_unit, scenarios[p].model_dump(mode="json"), p,
                                    blocks[b], points[p], pure=False)
                futures[fut] = (p, b)
            from distributed import as_completed

            with tqdm(total=len(units), initial=len(units) - len(todo), unit="unit",
                      desc=scenario.name, disable=not show_progress) as bar:
                for fut in as_completed(futures):
                    p, b = futures[fut]
                    runs, ts = fut.result()
                    # The timeseries part first: the runs part marks the unit done.
                    write_parquet(ts, _part(folder, p, b, "timeseries"))
                    write_parquet(runs, _part(folder, p, b, "runs"))
                    bar.update()
                    del futures[fut]
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    runs = pd.concat([pd.read_parquet(_part(folder, p, b, "runs")) for p, b in units],
                     ignore_index=True)
    ts = pd.concat([pd.read_parquet(_part(folder, p, b, "timeseries")) for p, b in units],
                   ignore_index=True)
    runs = runs.sort_values(["point", "replicate"], kind="stable", ignore_index=True)
    ts = ts.sort_values(["point", "replicate", "tick"], kind="stable", ignore_index=True)
    write_parquet(runs, folder / "runs.parquet")
    write_parquet(ts, folder / "timeseries.parquet")
    write_text(to_yaml(scenario), folder / "scenario.yaml")
    seconds = time.perf_counter() - started
    manifest = {
        "scenario": scenario.name, "seed": scenario.seed, "kind": "sweep",
        "parameters": list(points[0]), "points": points,
        "replicates_per_point": scenario.replicates, "block_size": block_size,
        "units": len(units), "units_run_now": len(todo),
        "workers": None if scheduler else (workers or 1), "scheduler": scheduler,
        "command": command if command is not None else sys.argv,
        "started": started_at.isoformat(), "seconds": round(seconds, 3),
        "versions": versions(),
        "files": ["runs.parquet", "timeseries.parquet", "scenario.yaml", "sweep.json",
                  "parts/", "manifest.json"],
    }
    write_text(json.dumps(manifest, indent=2) + "\n", folder / "manifest.json")
    return {"points": len(points), "units": len(units), "units_run": len(todo),
            "replicates": len(runs), "seconds": seconds, "parameters": list(points[0])}
