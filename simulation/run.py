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

from . import kernels as K
from .model import World
from .events import TICK_COLUMNS as EVENT_COLUMNS
from .scenario import TRAITS, Scenario

TIMESERIES_COLUMNS = (
    "point", "replicate", "tick", "agents", "size", "mean_drive", "mean_loyalty",
    "mean_stealth", "mean_fidelity", "defector_fraction", "clones", "births",
    "deaths", "immune_kills", "repairs", "mutations", "goal_output",
    "price_between", "price_within", "price_transmission",
    "price_loyalty_between", "price_loyalty_within", "price_loyalty_transmission",
    "migrants", "agent_births", "agent_deaths")


def replicate_seed(master: int, replicate: int, point: int = 0) -> int:
    """The integer seed of one (point, replicate), derived from the master seed."""
    seq = np.random.SeedSequence(master, spawn_key=(point, replicate))
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclasses.dataclass
class ReplicateResult:
    run: dict
    timeseries: dict[str, np.ndarray]
    clones: dict[str, np.ndarray] | None
    clone_counts: dict[str, np.ndarray] | None
    agents: dict[str, np.ndarray] | None


class _Outcomes:
    """Event ticks of MODEL.md section 5, checked after every tick."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.ticks = dict.fromkeys(EVENT_COLUMNS)
        self.max_defector_fraction = 0.0
        self.has_seeds = bool(scenario.agent.seed_clones)

    def check(self, world: World, tick: int) -> str | None:
        """Record events first reached at ``tick``; return a stop reason."""
        t = self.ticks
        r = world.reduced
        size = r[:, K.R_SIZE]
        total = size.sum()
        self.max_defector_fraction = max(self.max_defector_fraction,
                                         float(world.tick_max_defector_fraction))
        if t["first_defector_tick"] is None and r[:, K.R_DEFECTORS].sum() > 0:
            t["first_defector_tick"] = tick
        if t["takeover_tick"] is None and world.tick_takeovers > 0:
            t["takeover_tick"] = tick
        if (t["convergence_tick"] is None and total > 0
                and r[:, K.R_SUM_DRIVE].sum() / total >= self.scenario.stop.convergence_drive):
            t["convergence_tick"] = tick
        if t["extinction_tick"] is None and total == 0:
            t["extinction_tick"] = tick
        if self.has_seeds and t["fixation_tick"] is None and t["loss_tick"] is None:
            seeded = r[:, K.R_SEEDED].sum()
            if seeded == 0:
                t["loss_tick"] = tick
            elif seeded == total:
                t["fixation_tick"] = tick
        stop_on = self.scenario.stop.on
        if t["extinction_tick"] is not None:
            return "extinction"  # absorbing: nothing can happen any more
        if "takeover" in stop_on and t["takeover_tick"] is not None:
            return "takeover"
        if "convergence" in stop_on and t["convergence_tick"] is not None:
            return "convergence"
        if "fixation" in stop_on and t["fixation_tick"] is not None:
            return "fixation"
        if "fixation" in stop_on and t["loss_tick"] is not None:
            return "loss"
        return None


def run_replicate(scenario: Scenario, replicate: int, point: int = 0,
                  progress=None) -> ReplicateResult:
    """Run one replicate to its horizon or its first stop event."""
    seed = replicate_seed(scenario.seed, replicate, point)
    world = World(scenario, seed)
    outcomes = _Outcomes(scenario)
    horizon, every = scenario.horizon, scenario.record_every
    record_clones = scenario.record_clones
    record_agents = scenario.world.agents > 1 or scenario.world.reproduction.threshold is not None
    rows: list[tuple] = []
    snapshots: list[tuple[int, np.ndarray, np.ndarray]] = []
    agent_records: list[dict] = []
    interval = np.zeros(K.N_EVENTS, dtype=np.int64)
    last = {"tick": -1, "born": 0, "dead": 0}

    def record(tick):
        r = world.reduced
        size = r[:, K.R_SIZE].sum()
        means = world.mean_traits()
        price = world.price_terms()
        if tick == 0:
            price = dict.fromkeys(price, np.nan)
        rows.append((tick, world.living_agents, size, *means,
                     r[:, K.R_DEFECTORS].sum() / size if size else 0.0,
                     r[:, K.R_CLONES].sum(), *interval[[K.E_BIRTHS, K.E_DEATHS,
                                                        K.E_KILLS, K.E_REPAIRS,
                                                        K.E_MUTATIONS]],
                     r[:, K.R_GOAL_OUTPUT].sum(),
                     price["drive_between"], price["drive_within"],
                     price["drive_transmission"], price["loyalty_between"],
                     price["loyalty_within"], price["loyalty_transmission"],
                     interval[K.E_MIGRANTS], world.agents_born - last["born"],
                     int((world.death_tick > 0).sum()) - last["dead"]))
        interval[:] = 0
        if record_agents:
            agent_records.append(world.agent_rows(last["tick"]))
        last.update(tick=tick, born=world.agents_born, dead=int((world.death_tick > 0).sum()))
        if record_clones:
            alive = world.state.alive()
            snapshots.append((tick, world.state.clone_id[alive].copy(),
                              world.state.count[alive].copy()))

    record(0)
    reason = outcomes.check(world, 0)
    tick = 0
    last_recorded = 0
    while reason is None and tick < horizon:
        world.step()
        tick = world.tick
        interval += world.totals
        reason = outcomes.check(world, tick)
        if tick % every == 0:
            record(tick)
            last_recorded = tick
            if progress is not None:
                progress.update(every)
    if last_recorded != tick:
        record(tick)
    if progress is not None:
        progress.update(horizon - (tick // every) * every)

    ts = {name: np.array(col) for name, col in zip(TIMESERIES_COLUMNS[2:], zip(*rows))}
    ts["point"] = np.full(len(rows), point, dtype=np.int64)
    ts["replicate"] = np.full(len(rows), replicate, dtype=np.int64)

    means = world.mean_traits()
    size = world.size
    t = outcomes.ticks
    run = {
        "point": point, "replicate": replicate, "seed": seed, "ticks": tick,
        "stop_reason": reason or "horizon", **t,
        "takeover": t["takeover_tick"] is not None,
        "converged": t["convergence_tick"] is not None,
        "extinct": t["extinction_tick"] is not None,
        "fixed": t["fixation_tick"] is not None,
        "lost": t["loss_tick"] is not None,
        "final_size": size, "final_agents": world.living_agents,
        "final_mean_drive": float(means[K.DRIVE]),
        "final_mean_loyalty": float(means[K.LOYALTY]),
        "final_defector_fraction": float(
            world.reduced[:, K.R_DEFECTORS].sum() / size) if size else 0.0,
        "max_defector_fraction": outcomes.max_defector_fraction,
        "final_clones": int(world.reduced[:, K.R_CLONES].sum()),
        "agents_born": world.agents_born,
        "agents_lost_to_takeover": world.agents_lost_to_takeover,
    }
    clones = counts = None
    if record_clones:
        s = world.state
        n = s.next_id
        alive = s.alive()
        final = np.zeros(n, dtype=np.int64)
        final[s.clone_id[alive]] = s.count[alive]
        clones = {
            "point": np.full(n, point, dtype=np.int64),
            "replicate": np.full(n, replicate, dtype=np.int64),
            "clone": np.arange(n, dtype=np.int64),
            "parent": s.lineage_parent[:n].copy(),
            "agent": s.lineage_agent[:n].copy(),
            "origin_tick": s.lineage_origin[:n].copy(),
            "extinct_tick": s.lineage_end[:n].copy(),
            **{name: s.lineage_traits[:n, k].copy() for k, name in enumerate(TRAITS)},
            "seeded": s.lineage_seeded[:n].copy(),
            "final_count": final,
        }
        counts = {
            "point": np.full(sum(len(c) for _, c, _ in snapshots), point, np.int64),
            "replicate": np.full(sum(len(c) for _, c, _ in snapshots), replicate,
                                 np.int64),
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
    return ReplicateResult(run, ts, clones, counts, agents)


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

    indices = list(range(scenario.replicates)) if replicates is None else replicates
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    started = time.perf_counter()
    results = []
    with tqdm(total=len(indices) * scenario.horizon, unit="tick",
              disable=not show_progress, desc=scenario.name, leave=False) as bar:
        for k in indices:
            results.append(run_replicate(scenario, k, point, progress=bar))
    seconds = time.perf_counter() - started
    runs = runs_frame([r.run for r in results])
    timeseries = _concat([r.timeseries for r in results], list(TIMESERIES_COLUMNS))
    clones = counts = agents = None
    if scenario.record_clones:
        clones = _concat([r.clones for r in results])
        counts = _concat([r.clone_counts for r in results])
    if results[0].agents is not None:
        agents = _concat([r.agents for r in results],
                         ["point", "replicate"] + [k for k in results[0].agents
                                                   if k not in ("point", "replicate")])
    return RunResult(scenario, runs, timeseries, clones, counts, seconds, agents)
