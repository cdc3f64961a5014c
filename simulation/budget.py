"""A memory budget: estimate a run's peak memory from its scenario, before
anything runs, and refuse a run that would not fit.

The estimate follows what the engine keeps (simulation/model.py, run.py):

- clone slots: every clone alive, ``SLOT_BYTES`` each in the engine's
  arrays (clone table, event buffers and Price snapshot); arrays grow by
  doubling, so up to twice that while they grow. The tables also hold a
  tick's worst case before it runs (every newborn a mutant: ``tick_bound``
  of simulation/kernels/driver.py) while that is below the driver's
  ``FAST_LIMIT``; and a Moran tick larger than that makes room for every
  one of its N events as a new clone, whatever N (so ``moran`` with 10^8
  members and copy errors needs 10^8 slots, 20 GiB);
- clone lineage (``record_clones: true``): every clone ever founded,
  ``LINEAGE_BYTES`` while running and ``CLONE_ROW_BYTES`` in clones.parquet's
  table, for every replicate;
- clone counts (``record_clones: true``): one row of ``COUNT_ROW_BYTES`` per
  live clone per record;
- the time series: ``replicates x records x TIMESERIES_COLUMNS x 8`` bytes,
  and ``RECORD_PYTHON_BYTES`` per record of the replicate being run;
- agents.parquet (multi-agent worlds): one row of ``AGENT_ROW_BYTES`` per
  agent per record held (a run appends each record to its file as it is
  taken, so it holds one; a sweep's unit holds all of its own);
- ``BASE_BYTES`` for the interpreter, numba and pandas.

Clones founded are births (growth to capacity, then one per death) times
the probability that a newborn carries at least one copy error (``mu_r`` of
docs/model.md, "One tick", step 5, over the mutable traits); the clones alive at once
are the founding rate times a new clone's mean lifetime, and at most the
subcomponents. With ``copy.mutator_strength`` and fidelity among the copied
traits, the rate counted is the one reached when fidelity has fallen to 0
(``mu exp(s f_ref)``, capped at 1): a mutator runaway founds a clone at
almost every birth. It is an estimate of the order of magnitude, meant to
refuse runs that cannot fit, not to predict usage to the megabyte.

The estimate is checked before a run starts (:func:`check_memory`); while
it runs, :class:`~simulation.memory_guard.MemoryGuard` (its own module,
importable from here too) checks every growth of the engine's tables
(by doubling, in ``state.make_room`` or during a tick too large to make
room for in advance) and every record held, from the arrays' item sizes,
before it happens, and stops the run with a :class:`MemoryBudgetError`
naming what grew when the budget would be passed.
"""

from __future__ import annotations

import math
import os
import re
from typing import Iterable

from .errors import MemoryBudgetError, ScenarioError

# Bytes per clone slot: the clone table (97, its type included), the event
# buffers (56) and the Price snapshot (56), from simulation/state.py's dtypes.
SLOT_BYTES = 209
LINEAGE_BYTES = 73
CLONE_ROW_BYTES = 104
COUNT_ROW_BYTES = 40
TIMESERIES_COLUMNS = 27
VECTOR_BYTES = 32  # a clone's systematic vector (copy.systematic.scope: lineage)
RECORD_PYTHON_BYTES = 1000
AGENT_ROW_BYTES = 250
AGENT_TABLE_BYTES = 200  # one row of the engine's agent table
FAST_LIMIT = 1 << 17  # simulation.kernels.driver.FAST_LIMIT (not imported: numba)
MORAN_LOCAL_BYTES = 16  # a Moran tick's per-event scratch (one int64, one float64)
RUN_ROW_BYTES = 3000
BASE_BYTES = 300 * 2**20
MAX_AGENTS_UNCAPPED = 10**5

_ADVICE = {
    "clone_slots": "lower agent.capacity, copy.error_rate or the number of agents",
    "lineage": "set record_clones: false (or lower copy.error_rate or horizon)",
    "clone_counts": "set record_clones: false or raise record_every",
    "timeseries": "raise record_every, or lower replicates or horizon",
    "agents": "raise record_every, or lower world.max_agents or replicates",
    "runs": "lower replicates",
    "base": "use fewer workers (each process needs about 300 MiB for Python, numba "
            "and pandas)",
}


def _mu_r(copy) -> float:
    """Per-trait error probability after majority vote (docs/model.md, "One tick", 5), of
    the mean error rate (with copy.noise: mu exp(sigma^2 / 2), capped at 1)."""
    mu = min(copy.error_rate * math.exp(copy.noise.sigma**2 / 2), 1.0)
    return _vote(copy, mu)


def _vote(copy, mu: float) -> float:
    r, rho = copy.redundancy, copy.error_correlation
    tail = sum(math.comb(r, j) * mu**j * (1 - mu) ** (r - j)
               for j in range((r + 1) // 2, r + 1))
    return rho * mu + (1 - rho) * tail


def estimate_memory(scenario, replicates: int | None = None,
                    agents_streamed: bool = False) -> dict:
    """Estimate the peak memory of running ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    replicates : int, optional
        Replicates run in this process (default ``scenario.replicates``).
    agents_streamed : bool
        Agent records go to their file as they are taken (``substrate
        run``): one record is held at a time, not all of them.

    Returns
    -------
    dict
        ``total`` (bytes) and its parts ``clone_slots``, ``lineage``,
        ``clone_counts``, ``timeseries``, ``agents``, ``runs``, ``base``
        (bytes), with the quantities they come from: ``subcomponents``,
        ``clones_per_tick``, ``clones_founded``, ``clones_alive``,
        ``records``, ``agents_peak``.
    """
    sc = scenario
    reps = sc.replicates if replicates is None else replicates
    w, a = sc.world, sc.agent
    reproduces = w.reproduction.threshold is not None
    if reproduces:
        agents = w.max_agents or min(
            MAX_AGENTS_UNCAPPED,
            max(w.agents, (w.income or 0.0) / w.upkeep / w.reproduction.bottleneck))
    else:
        agents = w.agents
    agents = max(int(agents), w.agents)
    per_agent = max(a.initial_size, a.capacity)
    subcomponents = float(agents) * per_agent
    if w.income is not None:
        subcomponents = min(subcomponents,
                            max(float(w.agents) * a.initial_size, w.income / w.upkeep))
    start = float(w.agents) * a.initial_size
    if a.dynamics == "birth_death":
        # Growth to capacity, then turnover: every death is replaced.
        births = max(0.0, subcomponents - start) + subcomponents * a.death_rate * sc.horizon
        death = max(a.death_rate, 1.0 / sc.horizon)
    else:  # wright_fisher and moran renew the whole population every tick
        births = subcomponents * sc.horizon
        death = 1.0
    mu_r = _mu_r(sc.copy)
    if sc.copy.mutator_strength > 0 and "fidelity" in sc.copy.traits:
        # A mutator runaway: fidelity falls to 0, mu_eff = mu_r exp(s f_ref).
        mu_r = min(1.0, mu_r * math.exp(min(700.0, sc.copy.mutator_strength
                                             * a.initial_traits.fidelity)))
    p_mutant = 1.0 - (1.0 - mu_r) ** len(sc.copy.traits)
    per_tick = births * p_mutant / sc.horizon
    initial = float(w.agents) * (1 + len(a.seed_clones))
    founded = initial + per_tick * sc.horizon
    # A new clone mostly dies out soon: a critical branching process with
    # death probability d per tick survives t ticks with probability about
    # 1/(1 + d t), so its mean lifetime within the horizon T is about
    # (1 + ln(1 + d T)) / d ticks (Harris 1963, ch. 1).
    lifetime = (1.0 + math.log1p(death * sc.horizon)) / death
    alive = min(founded, max(subcomponents, initial), initial + per_tick * lifetime)
    records = sc.horizon // sc.record_every + 2
    vector = (VECTOR_BYTES if sc.copy.systematic.rate > 0
              and sc.copy.systematic.scope == "lineage" else 0)
    # The slots a tick makes room for before it runs (its worst case, below
    # the driver's FAST_LIMIT) or, for Moran, as it runs (N events).
    # (as tick_bound: newborns are counted as possible mutants only where
    # copy errors can happen)
    after = 2.0 * subcomponents if a.dynamics == "birth_death" else subcomponents
    mutable = subcomponents if sc.copy.error_rate > 0 else 0.0
    worst = alive + {"birth_death": mutable, "wright_fisher": mutable,
                     "moran": 2.0 * mutable}[a.dynamics]
    if w.transmission > 0:
        worst += after
    if reproduces:
        worst += agents * w.reproduction.bottleneck
    scratch = 0.0
    if worst > FAST_LIMIT:
        worst = alive
        if a.dynamics == "moran":
            worst = alive + subcomponents
            scratch = MORAN_LOCAL_BYTES * min(per_agent, subcomponents)
    parts = {
        "clone_slots": 2 * max(alive, worst) * (SLOT_BYTES + vector) + scratch,
        "lineage": 0.0, "clone_counts": 0.0,
        "timeseries": (records * RECORD_PYTHON_BYTES
                       + 2 * reps * records * TIMESERIES_COLUMNS * 8),
        "agents": 0.0,
        "runs": reps * RUN_ROW_BYTES,
        "base": BASE_BYTES,
    }
    if sc.record_clones:
        parts["lineage"] = (2 * founded * (LINEAGE_BYTES + vector)
                            + 2 * reps * founded * (CLONE_ROW_BYTES + vector))
        parts["clone_counts"] = 2 * reps * records * alive * COUNT_ROW_BYTES
    if w.agents > 1 or reproduces:
        held = 1 if agents_streamed else reps * records
        parts["agents"] = 2 * held * agents * AGENT_ROW_BYTES
    return {"total": sum(parts.values()), **parts, "subcomponents": subcomponents,
            "clones_per_tick": per_tick, "clones_founded": founded,
            "clones_alive": alive, "records": records, "agents_peak": agents}


def machine_memory() -> int | None:
    """Physical memory in bytes (or the container's limit, if lower);
    None where it cannot be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    for limit_file in ("/sys/fs/cgroup/memory.max",
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit_file) as handle:
                text = handle.read(64).strip()
        except OSError:
            continue
        if text.isdigit():
            limit = int(text)
            total = limit if total is None else min(total, limit)
        break
    return total


#: Address space a process takes beyond its data (the interpreter, numba's
#: and LLVM's reservations, thread stacks and arenas): ~0.8 GiB measured
#: (VmSize after a small run), with room to spare.
ADDRESS_SPACE_OVERHEAD = 2**30


def address_space_limit() -> int | None:
    """The process's address-space limit (``RLIMIT_AS``) in bytes, if any."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, ValueError, OSError, AttributeError):
        return None
    return None if soft == resource.RLIM_INFINITY or soft <= 0 else int(soft)


def default_budget() -> int:
    """Half of the machine's memory (4 GiB where it cannot be read), or,
    under an address-space limit, that limit less
    :data:`ADDRESS_SPACE_OVERHEAD` if lower."""
    total = machine_memory()
    budget = total // 2 if total else 4 * 2**30
    limit = address_space_limit()
    if limit is not None:
        budget = min(budget, max(limit - ADDRESS_SPACE_OVERHEAD, limit // 2))
    return budget


def format_bytes(n: float) -> str:
    """1.5 GiB, 320 MiB, 12 KiB, 800 B; 'more than 1000 PiB' past that."""
    for unit, size in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30),
                       ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            if n >= 1000 * 2**50:
                return "more than 1000 PiB"
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][0-9]+)?)\s*([KMGTP]?)(?:i?B)?\s*$",
                   re.IGNORECASE)


def parse_size(text: str) -> int:
    """A memory size like ``4G``, ``512M``, ``1.5GiB`` or ``1000000`` in bytes
    (K, M, G, T, P are powers of 1024)."""
    match = _SIZE.match(str(text)[:40])
    if not match:
        raise ScenarioError(f"memory size {str(text)[:40]!r}: expected a number of bytes "
                            "with an optional K, M, G or T suffix, e.g. 4G")
    number = float(match.group(1))
    power = "KMGTP".find(match.group(2).upper()) + 1 if match.group(2) else 0
    value = number * 1024**power
    if not 2**20 <= value < 2**60:
        raise ScenarioError(f"memory size {str(text)[:40]!r}: must be between 1M and 1E")
    return int(value)


def _refuse(name: str, estimate: dict, budget: int, given: bool, what: str) -> None:
    parts = {k: estimate[k] for k in _ADVICE}
    largest = max(parts, key=parts.get)
    source = "the budget given" if given else _default_source()
    raise MemoryBudgetError(
        f"{name}: {what} needs an estimated {format_bytes(estimate['total'])} of memory, "
        f"more than {source} ({format_bytes(budget)}); most of it is {largest.replace('_', ' ')} "
        f"({format_bytes(parts[largest])}, {estimate['clones_founded']:.3g} clones founded, "
        f"{estimate['records']} records per replicate): {_ADVICE[largest]}, "
        "or raise the memory budget", argument="max_memory")


def _default_source() -> str:
    limit = address_space_limit()
    total = machine_memory()
    if limit is not None and (not total or limit - ADDRESS_SPACE_OVERHEAD < total // 2):
        return "the budget under this process's address-space limit"
    return "half of this machine's memory"


def check_memory(scenario, max_memory: int | None = None,
                 replicates: int | None = None, source: str | None = None) -> dict:
    """Refuse a run whose estimated peak memory exceeds the budget.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    max_memory : int, optional
        The budget in bytes (default :func:`default_budget`, half of the
        machine's memory).
    replicates : int, optional
        Replicates run (default ``scenario.replicates``).
    source : str, optional
        Names the scenario in the message (its file; default its name).

    Returns
    -------
    dict
        The estimate (:func:`estimate_memory`).

    Raises
    ------
    MemoryBudgetError
        With the estimate, its largest part and what to change.
    """
    budget = default_budget() if max_memory is None else int(max_memory)
    estimate = estimate_memory(scenario, replicates, agents_streamed=True)
    if estimate["total"] > budget:
        _refuse(source or scenario.name, estimate, budget, max_memory is not None, "the run")
    return estimate


def check_sweep_memory(points: Iterable, max_memory: int | None = None,
                       block_size: int = 10, workers: int = 1,
                       source: str | None = None, points_total: int | None = None) -> dict:
    """Refuse a sweep whose estimated peak memory exceeds the budget.

    Each of ``workers`` processes runs one unit of ``block_size`` replicates
    of one point at a time, without clone lineages (a sweep does not record
    them); the driver then holds the whole runs table (the summary) but
    only one point's time series at a time (the figures read the
    timeseries a group of points at a time; the consolidated file is
    streamed).

    Parameters
    ----------
    points : iterable of Scenario
        The validated scenario of every sweep point.
    max_memory : int, optional
        The budget in bytes (default half of the machine's memory).
    block_size : int
        Replicates per unit of work.
    workers : int
        Units run at once on this machine.
    source : str, optional
        Names the scenario in the message (its file; default its name).
    points_total : int, optional
        The sweep's number of points, when ``points`` are only some of
        them (its corners: :func:`simulation.sweep.corner_scenarios`): the
        runs table is counted for that many points of the largest
        replicates given.

    Returns
    -------
    dict
        The largest unit's estimate, with ``total`` for the whole sweep.
    """
    budget = default_budget() if max_memory is None else int(max_memory)
    worst, name, runs, series, seen, most = None, "sweep", 0.0, 0.0, 0, 0
    for sc in points:
        name = sc.name
        seen += 1
        most = max(most, sc.replicates)
        unit = sc.model_copy(update={"record_clones": False})
        estimate = estimate_memory(unit, min(block_size, sc.replicates))
        runs += sc.replicates * RUN_ROW_BYTES
        series = max(series, 2 * sc.replicates * estimate["records"] * TIMESERIES_COLUMNS * 8)
        if worst is None or estimate["total"] > worst["total"]:
            worst = estimate
    if worst is None:
        return {"total": 0.0}
    if points_total is not None and points_total > seen:
        runs = float(points_total) * most * RUN_ROW_BYTES
    loaded = runs + series
    worst = dict(worst, total=max(workers * worst["total"], loaded + BASE_BYTES),
                 base=workers * BASE_BYTES)
    if worst["total"] > budget:
        worst["timeseries"] = max(loaded, workers * worst["timeseries"])
        _refuse(source or name, worst, budget, max_memory is not None, "the sweep")
    return worst


# --- the tables' size (what simulation/memory_guard.py holds while running) ---------

def _nbytes(table) -> int:
    return sum(a.nbytes for a in table if hasattr(a, "nbytes"))


def state_bytes(state) -> int:
    """Bytes held by a :class:`simulation.state.State`'s arrays."""
    return sum(_nbytes(t) if hasattr(t, "_fields") else t.nbytes for t in state)


# --- risk: particles x repetitions ---------------------------------------------------

#: A path's bookkeeping besides its tables: its key, start reference and
#: score, the generator state and records of a snapshot (measured: ~1.5 KB).
PATH_BYTES = 2000
#: One repetition's result held until the estimate is combined, with its
#: index (a dict of 7 numbers and its list entry: ~1 KB measured).
REPEAT_BYTES = 1000


def estimate_risk_memory(scenario, method: str, particles: int, repeats: int) -> dict:
    """Peak memory of a risk estimate (:func:`simulation.risk.estimate_risk`):
    ``paths`` (splitting keeps up to three snapshots per particle: its start,
    its last crossing replayed, a crossing its branches start from; each
    the size of the engine's tables for the clones alive;
    direct keeps only their bookkeeping), ``repeats`` (the repetitions'
    results) and ``base``, in bytes, with ``total`` and ``per_path``."""
    from .engine import initial_state

    sc = scenario.model_copy(update={"record_clones": False, "replicates": 1})
    tables = state_bytes(initial_state(sc))
    alive = estimate_memory(sc, 1)["clones_alive"]
    per_path = PATH_BYTES + max(tables, alive * SLOT_BYTES)
    if method != "splitting":
        per_path = PATH_BYTES
    parts = {"paths": 3.0 * particles * per_path + tables,
             "repeats": float(repeats) * REPEAT_BYTES, "base": BASE_BYTES}
    return {"total": sum(parts.values()), **parts, "per_path": per_path}


def check_risk_memory(scenario, method: str, particles: int, repeats: int,
                      max_memory: int | None = None) -> dict:
    """Refuse a risk estimate whose particles x repetitions x per-path state
    exceeds the memory budget (default :func:`default_budget`), before it
    starts.

    Raises
    ------
    MemoryBudgetError
        With the estimate, its largest part and what to change.
    """
    budget = default_budget() if max_memory is None else int(max_memory)
    e = estimate_risk_memory(scenario, method, particles, repeats)
    if e["total"] > budget:
        source = "the budget given" if max_memory is not None else _default_source()
        if e["paths"] >= e["repeats"]:
            what = (f"{particles} particles of {format_bytes(e['per_path'])} each "
                    f"({format_bytes(e['paths'])})")
            advice = "lower the particles (a few hundred give a small bias)"
        else:
            what = f"{repeats} repetitions ({format_bytes(e['repeats'])})"
            advice = "lower the repetitions (or set a relative error target)"
        raise MemoryBudgetError(
            f"{scenario.name}: the estimate needs {format_bytes(e['total'])} of memory, "
            f"more than {source} ({format_bytes(budget)}); most of it is {what}: {advice}")
    return e


# --- study: sizes x values x paths -------------------------------------------------

#: A simulated lineage's takeover tick, held until ``study.json`` is written:
#: 40 B in a list, 87 B more while ``json.dumps(indent=2)`` runs and 15 B of
#: its text (measured with tracemalloc over 2 x 10^6 ticks).
TAKEOVER_TICK_BYTES = 150


def estimate_study_memory(scenario) -> dict:
    """Peak memory of a study's simulated points (``substrate study``):
    ``lineage`` (the engine's tables of one founded lineage at the largest
    simulated size, without copy errors, as :func:`simulation.study.
    lineage_scenario` runs it; one at a time), ``takeover_ticks`` (every
    path's takeover tick at every size and value, at most, held until
    ``study.json`` is written) and ``base``, in bytes, with ``total``."""
    sim = scenario.study.simulate if scenario.study is not None else None
    parts = {"lineage": 0.0, "takeover_ticks": 0.0, "base": BASE_BYTES}
    if sim is not None:
        size = max(sim.sizes)
        one = scenario.model_copy(update={
            "study": None, "replicates": 1, "horizon": sim.horizon,
            "record_every": sim.horizon, "record_clones": False,
            "agent": scenario.agent.model_copy(update={"capacity": size,
                                                       "initial_size": size}),
            "copy": scenario.copy.model_copy(update={"error_rate": 0.0})})
        parts["lineage"] = estimate_memory(one, 1)["total"] - BASE_BYTES
        parts["takeover_ticks"] = (float(len(sim.sizes)) * len(sim.values) * sim.paths
                                   * TAKEOVER_TICK_BYTES)
    return {"total": sum(parts.values()), **parts}


def check_study_memory(scenario, max_memory: int | None = None,
                       source: str | None = None) -> dict:
    """Refuse a study whose simulated points exceed the memory budget
    (default :func:`default_budget`) before it starts
    (:func:`estimate_study_memory`).

    Raises
    ------
    MemoryBudgetError
        With the estimate, its largest part and what to change.
    """
    budget = default_budget() if max_memory is None else int(max_memory)
    e = estimate_study_memory(scenario)
    if e["total"] > budget:
        sim = scenario.study.simulate
        if e["takeover_ticks"] >= e["lineage"]:
            what = (f"the takeover ticks of up to {sim.paths} paths x {len(sim.values)} "
                    f"values x {len(sim.sizes)} sizes ({format_bytes(e['takeover_ticks'])})")
            advice = "lower study.simulate.paths, or simulate fewer values or sizes"
        else:
            what = (f"a lineage's tables at size {max(sim.sizes)} "
                    f"({format_bytes(e['lineage'])})")
            advice = "simulate smaller sizes (study.simulate.sizes)"
        given = "the budget given" if max_memory is not None else _default_source()
        raise MemoryBudgetError(
            f"{source or scenario.name}: the study needs an estimated "
            f"{format_bytes(e['total'])} of memory, more than {given} "
            f"({format_bytes(budget)}); most of it is {what}: {advice}")
    return e


def __getattr__(name):
    # The guard of a running job (simulation/memory_guard.py) imports this
    # module's sizes; importable from here as before, loaded when first asked for.
    if name == "MemoryGuard":
        from . import memory_guard
        return getattr(memory_guard, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
