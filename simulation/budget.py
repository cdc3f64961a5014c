"""A memory budget: estimate a run's peak memory from its scenario, before
anything runs, and refuse a run that would not fit.

The estimate follows what the engine keeps (simulation/model.py, run.py):

- clone slots: every clone alive, about ``SLOT_BYTES`` each in the engine's
  arrays; arrays grow by doubling, so up to twice that while they grow;
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
subcomponents. It is an estimate of the order of magnitude, meant to refuse
runs that cannot fit, not to predict usage to the megabyte: mutators
(``copy.mutator_strength``) and repair can found more clones than it counts.
"""

from __future__ import annotations

import math
import os
import re
from typing import Iterable

from .errors import ScenarioError

SLOT_BYTES = 140
LINEAGE_BYTES = 65
CLONE_ROW_BYTES = 104
COUNT_ROW_BYTES = 40
TIMESERIES_COLUMNS = 27
VECTOR_BYTES = 32  # a clone's systematic vector (copy.systematic.scope: lineage)
RECORD_PYTHON_BYTES = 1000
AGENT_ROW_BYTES = 250
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
    p_mutant = 1.0 - (1.0 - _mu_r(sc.copy)) ** len(sc.copy.traits)
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
    parts = {
        "clone_slots": 2 * alive * (SLOT_BYTES + vector),
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


def default_budget() -> int:
    """Half of the machine's memory (4 GiB where it cannot be read)."""
    total = machine_memory()
    return total // 2 if total else 4 * 2**30


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
    source = "the budget given" if given else "half of this machine's memory"
    raise ScenarioError(
        f"{name}: {what} needs an estimated {format_bytes(estimate['total'])} of memory, "
        f"more than {source} ({format_bytes(budget)}); most of it is {largest.replace('_', ' ')} "
        f"({format_bytes(parts[largest])}, {estimate['clones_founded']:.3g} clones founded, "
        f"{estimate['records']} records per replicate): {_ADVICE[largest]}, "
        "or raise the memory budget")


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
    ScenarioError
        With the estimate, its largest part and what to change.
    """
    budget = default_budget() if max_memory is None else int(max_memory)
    estimate = estimate_memory(scenario, replicates, agents_streamed=True)
    if estimate["total"] > budget:
        _refuse(source or scenario.name, estimate, budget, max_memory is not None, "the run")
    return estimate


def check_sweep_memory(points: Iterable, max_memory: int | None = None,
                       block_size: int = 10, workers: int = 1,
                       source: str | None = None) -> dict:
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

    Returns
    -------
    dict
        The largest unit's estimate, with ``total`` for the whole sweep.
    """
    budget = default_budget() if max_memory is None else int(max_memory)
    worst, name, runs, series = None, "sweep", 0.0, 0.0
    for sc in points:
        name = sc.name
        unit = sc.model_copy(update={"record_clones": False})
        estimate = estimate_memory(unit, min(block_size, sc.replicates))
        runs += sc.replicates * RUN_ROW_BYTES
        series = max(series, 2 * sc.replicates * estimate["records"] * TIMESERIES_COLUMNS * 8)
        if worst is None or estimate["total"] > worst["total"]:
            worst = estimate
    if worst is None:
        return {"total": 0.0}
    loaded = runs + series
    worst = dict(worst, total=max(workers * worst["total"], loaded + BASE_BYTES),
                 base=workers * BASE_BYTES)
    if worst["total"] > budget:
        worst["timeseries"] = max(loaded, workers * worst["timeseries"])
        _refuse(source or name, worst, budget, max_memory is not None, "the sweep")
    return worst
