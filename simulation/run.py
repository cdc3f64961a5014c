"""Running replicates of a scenario: seeds, outcomes, records and outputs.

One master seed in, everything derived: replicate ``k`` runs with the
integer seed drawn from ``SeedSequence(master, spawn_key=(s, k))``, where
``s`` is the *seed point*: 0 for a plain run and for every point of a sweep
with common seeds (``sweep.seeds: common``, the default: common random
numbers across points), the point's index ``p`` with ``sweep.seeds:
independent``. So any replicate can be re-run alone and results never
depend on how many were run, or in what order.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np
import pandas as pd

from . import names
from .codes import Advance, Dynamics
from .engine import World, build_config, initial_state, records_agents
from .kernels import driver
from .budget import MemoryGuard
from .names import TRAITS
from .scenario import Scenario
from .kernels.binomial import new_memo
from .kernels.seeding import generator_memory
from .state import ENDS, STATUS, TIMESERIES, copy_state, make_room

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


def master_words(master: int) -> tuple[np.ndarray, int]:
    """The master seed's uint32 words (lowest first, as SeedSequence takes
    an integer) for :func:`simulation.kernels.seeding.replicate_seed`."""
    words = np.zeros(8, np.int64)
    n = 0
    while True:
        words[n] = master & 0xFFFFFFFF
        master >>= 32
        n += 1
        if master == 0:
            return words, n


@dataclasses.dataclass
class ReplicateResult:
    point: int
    replicate: int
    timeseries: np.ndarray  # structured, state.TIMESERIES
    clones: dict[str, np.ndarray] | None
    clone_counts: dict[str, np.ndarray] | None
    agents: dict[str, np.ndarray] | None
    ends: np.ndarray  # one row of state.ENDS
    statuses: np.ndarray  # one row of state.STATUS

    @property
    def run(self) -> dict:
        """The replicate's row of the runs table (None: an event not seen)."""
        row = runs_frame(self.ends, self.statuses, self.point, [self.replicate]).iloc[0]
        return {k: (None if v is pd.NA else v) for k, v in row.to_dict().items()}


def run_replicate(scenario: Scenario, replicate: int, point: int = 0,
                  progress=None, config=None, template=None,
                  world: World | None = None, agent_sink=None,
                  guard=None, progress_ticks: int | None = None,
                  seed_point: int | None = None) -> ReplicateResult:
    """Run one replicate to its horizon or its first stop event.

    The compiled loop runs the whole replicate in one call; it returns to
    Python at records only when agent rows or clone counts are collected.
    With ``world`` (a World of the same scenario), the replicate runs in its
    tables (reset in place) instead of new ones. With ``agent_sink`` (an
    :class:`simulation.io.TableAppender`), each record's agent rows are
    appended to it as they are taken, instead of kept in the result. The
    records held count against the memory budget of ``guard`` (a
    :class:`simulation.budget.MemoryGuard`; default the world's). With
    ``progress_ticks``, the loop pauses every that many ticks to advance
    ``progress`` (pausing draws nothing: the results are the same).
    ``seed_point`` (default ``point``) is the point the seed is derived
    from (:func:`simulation.design.seed_point`).
    """
    seed = replicate_seed(scenario.seed, replicate, point if seed_point is None else seed_point)
    if world is None:
        world = World(scenario, seed, config, start=False, template=template, guard=guard)
    else:
        world.reset(seed)
    guard = world.guard
    held_before = guard.held
    record_clones = scenario.record_clones
    record_agents = records_agents(scenario)
    snapshots: list[tuple[int, np.ndarray, np.ndarray]] = []
    agent_records: list[dict] = []
    last_record = -1
    reported = 0

    def target() -> int:
        if progress_ticks is None:
            return scenario.horizon
        return min(scenario.horizon, world.tick + progress_ticks)

    code = world.advance(target())
    while True:
        if progress_ticks is not None and progress is not None:
            progress.update(world.tick - reported)
            reported = world.tick
        if code == Advance.RECORDED:
            if record_agents:
                rows = agent_part(world.agent_rows(last_record), point, replicate)
                if agent_sink is not None:
                    agent_sink.append(rows)
                else:
                    agent_records.append(rows)
                    # held, then concatenated and copied into the table: 3 times
                    guard.hold(3 * sum(v.nbytes for v in rows.values()), world.state)
            last_record = world.tick
            if record_clones:
                cl = world.clones
                alive = np.flatnonzero(cl.count[: cl.meta[0]] > 0)
                # held, then concatenated and copied into the table: 3 times
                guard.hold(3 * 16 * alive.shape[0], world.state)
                snapshots.append((world.tick, cl.clone_id[alive].copy(),
                                  cl.count[alive].copy()))
        elif code == Advance.STOPPED:
            break
        code = world.advance(target())
    if progress is not None:
        progress.update(scenario.horizon - reported)
    ends, statuses = np.zeros(1, ENDS), np.zeros(1, STATUS)
    driver.record_end(world.state.agents, world.state.status, seed, ends, statuses, 0, 0,
                      world.n_records)
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
    if agent_records:
        agents = {k: np.concatenate([r[k] for r in agent_records]) for k in agent_records[0]}
    guard.held = held_before  # (the caller holds the result: see run_scenario)
    return ReplicateResult(point, replicate, world.timeseries().copy(), clones, counts,
                           agents, ends, statuses)


@dataclasses.dataclass
class RunResult:
    """Tables of one run (docs/outputs.md)."""

    scenario: Scenario
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    clones: pd.DataFrame | None
    clone_counts: pd.DataFrame | None
    seconds: float
    agents: pd.DataFrame | None = None


def agent_part(rows: dict, point: int, replicate: int) -> dict:
    """One record's agent rows (``World.agent_rows``) as agents.parquet
    columns: point and replicate first."""
    n = rows["tick"].shape[0]
    return {"point": np.full(n, point, np.int64), "replicate": np.full(n, replicate, np.int64),
            **rows}


def runs_frame(ends: np.ndarray, statuses: np.ndarray, point: int,
               replicates) -> pd.DataFrame:
    """The runs table (docs/outputs.md) of replicates from their ends
    (rows of ``state.ENDS`` and ``state.STATUS``), with nullable integer
    event ticks (null = censored)."""
    n = ends.shape[0]
    ticks = {name: pd.arrays.IntegerArray(statuses[name].astype(np.int64), statuses[name] < 0)
             for name in names.EVENT_TICKS}
    happened = {name: statuses[name] >= 0 for name in names.EVENT_TICKS}
    size = ends["size"]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_drive = np.where(size > 0, ends["sum_drive"] / size, np.nan)
        mean_loyalty = np.where(size > 0, ends["sum_loyalty"] / size, np.nan)
        defector_fraction = np.where(size > 0, ends["defectors"] / size, 0.0)
    modes = [failure_mode(None if t < 0 else t, None if d < 0 else d)
             for t, d in zip(statuses["takeover_tick"], statuses["drift_tick"])]
    return pd.DataFrame({
        "point": np.full(n, point, np.int64),
        "replicate": np.asarray(replicates, np.int64),
        "seed": ends["seed"].astype(np.int64), "ticks": statuses["tick"].astype(np.int64),
        "stop_reason": np.array(names.STOP_REASONS, dtype=object)[statuses["stop_reason"]],
        **ticks,
        "takeover": happened["takeover_tick"], "converged": happened["convergence_tick"],
        "extinct": happened["extinction_tick"], "fixed": happened["fixation_tick"],
        "lost": happened["loss_tick"], "drifted": happened["drift_tick"],
        "failure_mode": np.array(modes, dtype=object),
        # the failure mode at any drift threshold (analysis.failure_mode_sensitivity)
        "drift_rise": statuses["drift_rise"].astype(np.float64),
        "drift_rise_before_takeover": statuses["drift_rise_before_takeover"].astype(np.float64),
        "final_size": size.astype(np.int64),
        "final_agents": ends["living_agents"].astype(np.int64),
        "final_mean_drive": mean_drive, "final_mean_loyalty": mean_loyalty,
        "final_defector_fraction": defector_fraction,
        "max_defector_fraction": statuses["max_defector_fraction"].astype(np.float64),
        "final_clones": ends["clones"].astype(np.int64),
        "agents_born": statuses["agents_born"].astype(np.int64),
        "agents_lost_to_takeover": statuses["agents_lost_to_takeover"].astype(np.int64),
        "total_loss": happened["total_loss_tick"],
        **agent_outcomes(ends, statuses),
    })


def agent_outcomes(ends: np.ndarray, statuses: np.ndarray) -> dict:
    """The agent-level outcome columns of the runs table (docs/model.md
    "Agent-level outcomes") from replicates' ends.

    ``agents_founded`` (at set-up and born), ``agents_died_CAUSE`` (per
    ``names.DEATH_CAUSES``), ``agents_taken_alive`` (alive at the end and
    taken over: possible without ``world.takeover_kills``), ``agents_lost``
    (died + taken alive), ``fraction_lost`` (lost / founded),
    ``agent_ticks`` (ticks lived, summed over agents: the exposure of the
    per-agent hazard), ``goal_output_start`` G(0), ``final_goal_output``
    G(end) (the goal output sum(n l) of the live agents not taken over) and
    ``goal_output_lost`` 1 - G(end)/G(0) (negative: output grew)."""
    founded = ends["agents_founded"].astype(np.int64)
    died = {column: ends[f"died_{cause}"].astype(np.int64)
            for cause, column in zip(names.DEATH_CAUSES[1:], names.AGENTS_DIED)}
    taken = ends["taken_alive"].astype(np.int64)
    lost = sum(died.values()) + taken
    start = statuses["goal_output0"].astype(np.float64)
    end = ends["goal_output_end"].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(founded > 0, lost / np.maximum(founded, 1), np.nan)
        goal_lost = np.where(start > 0, 1.0 - end / np.where(start > 0, start, 1.0), np.nan)
    return {"agents_founded": founded, **died, "agents_taken_alive": taken,
            "agents_lost": lost, "fraction_lost": fraction,
            "agent_ticks": ends["agent_ticks"].astype(np.int64),
            "goal_output_start": start, "final_goal_output": end,
            "goal_output_lost": goal_lost}


def _concat(parts: list[dict], columns=None) -> pd.DataFrame:
    keys = columns or list(parts[0])
    return pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in keys})


def run_scenario(scenario: Scenario, replicates: list[int] | None = None,
                 point: int = 0, show_progress: bool | None = None,
                 agent_sink=None, threads: int = 1,
                 max_memory: int | None = None,
                 progress_every: float | None = None,
                 seed_point: int | None = None) -> RunResult:
    """Run replicates of a scenario (all, or only those listed).

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with its seed resolved.
    replicates : list of int, optional
        Replicate indices to run; default ``range(scenario.replicates)``.
    point : int
        Sweep point index (0 for a plain run), written in the tables.
    show_progress : bool, optional
        Show a progress bar; default only when stderr is a terminal.
    agent_sink : simulation.io.TableAppender, optional
        Where agent records go as they are taken (then ``agents`` of the
        result is None): for worlds too large to hold them all.
    threads : int
        Threads running replicates at once, where they run in compiled
        batches (:func:`batchable`); the results do not depend on it.
    max_memory : int, optional
        The memory budget in bytes (default half of the machine's memory):
        every growth of the engine's tables and of the records held is
        checked against it before it happens
        (:class:`simulation.budget.MemoryGuard`).
    progress_every : float, optional
        Without the progress bar, write a plain progress line to stderr at
        most every this many seconds (:class:`simulation.cost.PlainProgress`);
        a replicate estimated to take longer (:mod:`simulation.cost`) pauses
        between ticks to report (the results are the same).
    seed_point : int, optional
        The point the replicates' seeds are derived from (default
        ``point``): 0 for every point of a sweep with common seeds
        (:func:`simulation.design.seed_point`), so that a point's replicate
        k is replicate k of a plain run of the point's scenario.

    Raises
    ------
    MemoryBudgetError
        The tables or records would grow past the budget (the message
        names what grew and what to change).
    """
    from tqdm.auto import tqdm

    indices = list(range(scenario.replicates) if replicates is None else replicates)
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    config = build_config(scenario)
    template = initial_state(scenario)
    plain, chunk = None, None
    if progress_every is not None and not show_progress:
        from .cost import PlainProgress, estimate_seconds

        plain = PlainProgress(scenario.name, len(indices) * scenario.horizon,
                              every=progress_every)
        one = estimate_seconds(scenario, 1)
        if one > progress_every:  # report within replicates
            chunk = max(1, int(scenario.horizon * progress_every / 3 / one))
    seeds = point if seed_point is None else seed_point
    started = time.perf_counter()
    with tqdm(total=len(indices) * scenario.horizon, unit="tick",
              disable=not show_progress, desc=scenario.name, leave=False) as bar:
        if plain is not None:
            bar = plain
        if batchable(scenario, config) and chunk is None:
            ends, statuses, records = run_batches(scenario, indices, seeds, config, template,
                                                  bar, threads, max_memory)
            results = None
        else:
            guard = MemoryGuard(max_memory, name=scenario.name)
            world = World(scenario, 0, config, start=False, template=template, guard=guard)
            results = []
            for k in indices:
                results.append(run_replicate(scenario, k, point, progress=bar, world=world,
                                             agent_sink=agent_sink, progress_ticks=chunk,
                                             seed_point=seeds))
                guard.held += result_bytes(results[-1])
            ends = np.concatenate([r.ends for r in results])
            statuses = np.concatenate([r.statuses for r in results])
            records = np.empty(sum(r.timeseries.shape[0] for r in results), TIMESERIES)
            row = 0  # (concatenate would promote the fields: slow)
            for k, r in enumerate(results):
                ends["first_row"][k] = row
                records[row:row + r.timeseries.shape[0]] = r.timeseries
                row += r.timeseries.shape[0]
    seconds = time.perf_counter() - started
    runs = runs_frame(ends, statuses, point, indices)
    timeseries = timeseries_frame(records, ends, point, indices)
    clones = counts = agents = None
    if scenario.record_clones:
        clones = _concat([r.clones for r in results])
        counts = _concat([r.clone_counts for r in results])
    if results is not None and results[0].agents is not None:
        agents = _concat([r.agents for r in results])
    return RunResult(scenario, runs, timeseries, clones, counts, seconds, agents)


def result_bytes(result: ReplicateResult) -> int:
    """Bytes a replicate's result holds, twice (its tables are copied into
    the run's)."""
    tables = [result.timeseries, result.ends, result.statuses]
    for part in (result.clones, result.clone_counts, result.agents):
        if part:
            tables.extend(part.values())
    return 2 * sum(t.nbytes for t in tables)


def batchable(scenario: Scenario, config) -> bool:
    """Whether the scenario's replicates run in one compiled batch
    (:func:`run_batches`): no Python is needed between their ticks (no agent
    or clone records) nor at their start (no per-replicate landscape,
    systematic error vectors or environmental noise X_0, which are drawn in
    Python: ``World._begin``)."""
    p = config.params[0]
    per_replicate_landscape = (scenario.landscape.type == "random"
                               and scenario.landscape.seed is None)
    return not (p["pause_at_records"] or per_replicate_landscape or p["systematic_rate"] > 0
                or p["noise_sigma"] > 0)


BATCH = 256  # replicates per compiled call (between progress updates)
RECORD_ROWS = 1 << 20  # records a batch starts with room for (it grows them)


def run_batches(scenario: Scenario, indices: list[int], seed_point: int, config, template,
                progress=None, threads: int = 1,
                max_memory: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replicates of a :func:`batchable` scenario in compiled batches
    (:func:`simulation.kernels.driver.run_batch`): the same draws, records
    and outcomes as :func:`run_replicate` one by one, without Python per
    replicate. With ``threads`` > 1, contiguous shares of the replicates
    run at once in threads (the compiled batch releases the GIL), each in
    its own tables and generator: a replicate depends only on its seed, so
    the results are the same whatever the number of threads; each share's
    tables and records count against its part of the memory budget
    ``max_memory`` (:class:`simulation.budget.MemoryGuard`). The seeds are
    derived from ``seed_point`` (:func:`replicate_seed`). Returns
    (ends, statuses, records)."""
    threads = max(1, min(threads, len(indices) // BATCH + 1))
    shares = [list(share) for share in np.array_split(np.asarray(indices, np.int64), threads)]
    guards = [MemoryGuard(max_memory, threads, scenario.name) for _ in shares]
    if threads == 1:
        return _run_share(scenario, shares[0], seed_point, config, template, progress, guards[0])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda k: _run_share(scenario, shares[k], seed_point, config,
                                                   template, progress, guards[k]),
                              range(threads)))
    offsets = np.cumsum([0] + [records.shape[0] for _, _, records in parts[:-1]])
    for (ends, _, _), offset in zip(parts, offsets):
        ends["first_row"] += offset
    return (np.concatenate([ends for ends, _, _ in parts]),
            np.concatenate([statuses for _, statuses, _ in parts]),
            np.concatenate([records for _, _, records in parts]))


def _run_share(scenario, indices, seed_point, config, template, progress, guard):
    state = copy_state(template)
    p = config.params[0]
    rng = np.random.default_rng(0)  # reseeded in place for each replicate
    where = generator_memory(rng)
    memo = new_memo()  # this thread's table of binomial draws (kernels/binomial.py)
    words, n_words = master_words(scenario.seed)
    replicates = np.asarray(indices, np.int64)
    ends = np.zeros(replicates.shape[0], ENDS)
    statuses = np.zeros(replicates.shape[0], STATUS)
    rows = scenario.horizon // scenario.record_every + 2
    records = np.zeros(min(rows * replicates.shape[0], RECORD_ROWS), TIMESERIES)
    work, pool = np.zeros(16, np.int64), np.zeros(4, np.int64)
    plan = driver.plan(config.params)
    k, in_progress, n_rows = 0, False, 0
    while k < replicates.shape[0]:
        last = min(k + BATCH, replicates.shape[0])
        done = k
        while True:
            code, k, in_progress, n_rows, bound = driver.run_batch(
                state, template, config, rng, memo, where, words, n_words, seed_point,
                replicates[:last], k, in_progress, scenario.horizon, records, n_rows,
                ends, statuses, work, pool, *plan)
            if code == Advance.BATCH_DONE:
                break
            if code == Advance.BUFFER_FULL or n_rows + 2 > records.shape[0]:
                guard.check_records(state, records, 2 * records.shape[0])
                grown = np.zeros(2 * records.shape[0], TIMESERIES)
                grown[:n_rows] = records[:n_rows]
                records = grown
            if code == Advance.NEED_ROOM:
                guard.held = records.nbytes  # the records buffer, besides the tables
                try:
                    if bound <= driver.FAST_LIMIT:
                        guard.check_room(state, p, bound)  # before the tables grow
                        state = make_room(state, config.params, bound)
                    else:
                        guard.check_alone(state, p, p["dynamics"] == Dynamics.MORAN)
                        _, state, n_rows = driver.tick_alone(state, config, rng, memo,
                                                             records, n_rows, *plan)
                        guard.check(state)
                except MemoryError:
                    raise guard.out_of_memory() from None
        if progress is not None:
            progress.update((k - done) * scenario.horizon)
    return ends, statuses, records[:n_rows]


def timeseries_frame(records: np.ndarray, ends: np.ndarray, point: int,
                     replicates) -> pd.DataFrame:
    """The timeseries table (TIMESERIES_COLUMNS order) of replicates whose
    records are ``records[first_row:first_row + n_rows]`` (``ends``)."""
    lengths = ends["n_rows"]
    starts = ends["first_row"]
    if np.array_equal(starts, np.cumsum(lengths) - lengths):  # in order, back to back
        rows = records[: lengths.sum()]
    else:
        rows = records[np.concatenate([np.arange(f, f + n) for f, n in zip(starts, lengths)])]
    columns = {
        "point": np.full(rows.shape[0], point, np.int64),
        "replicate": np.repeat(np.asarray(replicates, np.int64), lengths),
    }
    columns.update({name: rows[name] for name in TIMESERIES.names})
    return pd.DataFrame(columns)
