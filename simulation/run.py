"""Running replicates of a scenario: seeds, outcomes, records and outputs.

One master seed in, everything derived: replicate ``k`` of sweep point ``p``
runs with the integer seed drawn from
``SeedSequence(master, spawn_key=(p, k))``, so any replicate can be re-run
alone and results never depend on how many were run, or in what order.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np
import pandas as pd

from . import names
from .engine import World, build_config, initial_state, records_agents
from .kernels import driver
from .names import TRAITS
from .scenario import Scenario
from .state import TIMESERIES

EVENT_COLUMNS = names.EVENT_TICKS
TIMESERIES_COLUMNS = ("point", "replicate") + TIMESERIES.names


def failure_mode(takeover_tick: int | None, drift_tick: int | None) -> str:
    """A replicate's failure mode (``names.FAILURE_MODES``) from its takeover
    and drift ticks (None: not by the end): ``cancer``, ``drift``, both in
    the order they happened (the same tick counts as cancer first: a
    takeover is the more specific diagnosis), or ``none``."""
    if takeover_tick is None:
        return "none" if drift_tick is None else "drift"
    if drift_tick is None:
        return "cancer"
    return "cancer_then_drift" if takeover_tick <= drift_tick else "drift_then_cancer"


def replicate_seed(master: int, replicate: int, point: int = 0) -> int:
    """The integer seed of one (point, replicate), derived from the master seed."""
    seq = np.random.SeedSequence(master, spawn_key=(point, replicate))
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclasses.dataclass
class ReplicateResult:
    run: dict
    timeseries: np.ndarray  # structured, state.TIMESERIES
    clones: dict[str, np.ndarray] | None
    clone_counts: dict[str, np.ndarray] | None
    agents: dict[str, np.ndarray] | None


def run_replicate(scenario: Scenario, replicate: int, point: int = 0,
                  progress=None, config=None, template=None,
                  world: World | None = None) -> ReplicateResult:
    """Run one replicate to its horizon or its first stop event.

    The compiled loop runs the whole replicate in one call; it returns to
    Python at records only when agent rows or clone counts are collected.
    With ``world`` (a World of the same scenario), the replicate runs in its
    tables (reset in place) instead of new ones.
    """
    seed = replicate_seed(scenario.seed, replicate, point)
    if world is None:
        world = World(scenario, seed, config, start=False, template=template)
    else:
        world.reset(seed)
    record_clones = scenario.record_clones
    record_agents = records_agents(scenario)
    snapshots: list[tuple[int, np.ndarray, np.ndarray]] = []
    agent_records: list[dict] = []
    last_record = -1
    code = world.advance(scenario.horizon)
    while True:
        if code == driver.RECORDED:
            if record_agents:
                agent_records.append(world.agent_rows(last_record))
            last_record = world.tick
            if record_clones:
                cl = world.clones
                alive = np.flatnonzero(cl.count[: cl.meta[0]] > 0)
                snapshots.append((world.tick, cl.clone_id[alive].copy(),
                                  cl.count[alive].copy()))
        elif code == driver.STOPPED:
            break
        code = world.advance(scenario.horizon)
    tick = world.tick
    if progress is not None:
        progress.update(scenario.horizon)
    st = world.status
    ticks = {name: (int(st[name]) if st[name] >= 0 else None) for name in EVENT_COLUMNS}
    means = world.mean_traits()
    size = world.size
    ag, n = world.agents, world.n_agents
    run = {
        "point": point, "replicate": replicate, "seed": seed, "ticks": tick,
        "stop_reason": names.STOP_REASONS[int(st["stop_reason"])], **ticks,
        "takeover": ticks["takeover_tick"] is not None,
        "converged": ticks["convergence_tick"] is not None,
        "extinct": ticks["extinction_tick"] is not None,
        "fixed": ticks["fixation_tick"] is not None,
        "lost": ticks["loss_tick"] is not None,
        "drifted": ticks["drift_tick"] is not None,
        "failure_mode": failure_mode(ticks["takeover_tick"], ticks["drift_tick"]),
        "final_size": size, "final_agents": world.living_agents,
        "final_mean_drive": float(means[0]),
        "final_mean_loyalty": float(means[1]),
        "final_defector_fraction": float(ag.defectors[:n].sum() / size) if size else 0.0,
        "max_defector_fraction": float(st["max_defector_fraction"]),
        "final_clones": int(ag.clones[:n].sum()),
        "agents_born": int(st["agents_born"]),
        "agents_lost_to_takeover": int(st["agents_lost_to_takeover"]),
    }
    clones = counts = None
    if record_clones:
        cl, ln = world.clones, world.lineage
        n_ids = int(cl.meta[2])
        alive = np.flatnonzero(cl.count[: cl.meta[0]] > 0)
        final = np.zeros(n_ids, dtype=np.int64)
        final[cl.clone_id[alive]] = cl.count[alive]
        clones = {
            "point": np.full(n_ids, point, dtype=np.int64),
            "replicate": np.full(n_ids, replicate, dtype=np.int64),
            "clone": np.arange(n_ids, dtype=np.int64),
            "parent": ln.parent[:n_ids].copy(),
            "agent": ln.agent[:n_ids].copy(),
            "origin_tick": ln.origin[:n_ids].copy(),
            "extinct_tick": ln.end[:n_ids].copy(),
            **{name: ln.traits[:n_ids, k].copy() for k, name in enumerate(TRAITS)},
            "seeded": ln.seeded[:n_ids].copy(),
            "final_count": final,
        }
        if ln.systematic.shape[1] > 0:  # copy.systematic.scope: lineage
            clones.update({f"systematic_{name}": ln.systematic[:n_ids, k].copy()
                           for k, name in enumerate(TRAITS)})
        total = sum(len(c) for _, c, _ in snapshots)
        counts = {
            "point": np.full(total, point, np.int64),
            "replicate": np.full(total, replicate, np.int64),
            "tick": np.concatenate([np.full(len(c), tk, np.int64)
                                    for tk, c, _ in snapshots]),
            "clone": np.concatenate([c for _, c, _ in snapshots]),
            "count": np.concatenate([n_ for _, _, n_ in snapshots]),
        }
    agents = None
    if record_agents:
        agents = {k: np.concatenate([r[k] for r in agent_records]) for k in agent_records[0]}
        agents["point"] = np.full(agents["tick"].shape[0], point, dtype=np.int64)
        agents["replicate"] = np.full(agents["tick"].shape[0], replicate, dtype=np.int64)
    return ReplicateResult(run, world.timeseries().copy(), clones, counts, agents)


@dataclasses.dataclass
class RunResult:
    """Tables of one run (MODEL.md section 7)."""

    scenario: Scenario
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    clones: pd.DataFrame | None
    clone_counts: pd.DataFrame | None
    seconds: float
    agents: pd.DataFrame | None = None


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    """The runs table with nullable integer event ticks (null = censored)."""
    df = pd.DataFrame(rows)
    for col in EVENT_COLUMNS:
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    for col in ("point", "replicate", "seed", "ticks", "final_size",
                "final_agents", "final_clones", "agents_born", "agents_lost_to_takeover"):
        df[col] = df[col].astype("int64")
    return df


def _concat(parts: list[dict], columns=None) -> pd.DataFrame:
    keys = columns or list(parts[0])
    return pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in keys})


def run_scenario(scenario: Scenario, replicates: list[int] | None = None,
                 point: int = 0, show_progress: bool | None = None) -> RunResult:
    """Run replicates of a scenario (all, or only those listed).

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with its seed resolved.
    replicates : list of int, optional
        Replicate indices to run; default ``range(scenario.replicates)``.
    point : int
        Sweep point index (0 for a plain run); enters the seed derivation.
    show_progress : bool, optional
        Show a progress bar; default only when stderr is a terminal.
    """
    from tqdm.auto import tqdm

    indices = range(scenario.replicates) if replicates is None else replicates
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    config = build_config(scenario)
    template = initial_state(scenario)
    world = None
    started = time.perf_counter()
    results = []
    with tqdm(total=len(indices) * scenario.horizon, unit="tick",
              disable=not show_progress, desc=scenario.name, leave=False) as bar:
        for k in indices:
            if world is None:
                world = World(scenario, 0, config, start=False, template=template)
            results.append(run_replicate(scenario, k, point, progress=bar, world=world))
    seconds = time.perf_counter() - started
    runs = runs_frame([r.run for r in results])
    timeseries = timeseries_frame(results)
    clones = counts = agents = None
    if scenario.record_clones:
        clones = _concat([r.clones for r in results])
        counts = _concat([r.clone_counts for r in results])
    if results[0].agents is not None:
        agents = _concat([r.agents for r in results],
                         ["point", "replicate"] + [k for k in results[0].agents
                                                   if k not in ("point", "replicate")])
    return RunResult(scenario, runs, timeseries, clones, counts, seconds, agents)


def timeseries_frame(results: list[ReplicateResult]) -> pd.DataFrame:
    """The timeseries table of replicates, in TIMESERIES_COLUMNS order."""
    lengths = [r.timeseries.shape[0] for r in results]
    rows = np.empty(sum(lengths), TIMESERIES)  # (concatenate promotes fields: slow)
    end = 0
    for r, length in zip(results, lengths):
        rows[end:end + length] = r.timeseries
        end += length
    columns = {
        "point": np.repeat([r.run["point"] for r in results], lengths).astype(np.int64),
        "replicate": np.repeat([r.run["replicate"] for r in results],
                               lengths).astype(np.int64),
    }
    columns.update({name: rows[name] for name in TIMESERIES.names})
    return pd.DataFrame(columns)
