"""The memory budget held while a job runs: :class:`MemoryGuard` checks
every growth of the engine's tables, and every record held, before it
happens.

Before a run starts, :mod:`simulation.budget` estimates its peak memory from
the scenario alone and refuses a run that cannot fit; once it runs, the
tables' real sizes are known, and this module holds the same budget against
them (the sizes and the budget's default are :mod:`simulation.budget`'s).
"""

from __future__ import annotations

import math

from .budget import (BASE_BYTES, MORAN_LOCAL_BYTES, _default_source, default_budget, format_bytes,
                     state_bytes)
from .errors import MemoryBudgetError


def _bytes_at(table, rows: int, skip=("meta",)) -> int:
    """Bytes of a table's row arrays (all fields but ``skip``) at ``rows`` rows."""
    total = 0
    for name, a in zip(table._fields, table):
        if name in skip:
            continue
        width = int(math.prod(a.shape[1:]))
        total += rows * width * a.itemsize
    return total


#: What grew -> what to change, in a MemoryBudgetError's message.
_GROWTH_ADVICE = {
    "clone slots": "lower agent.capacity, agent.initial_size, copy.error_rate or "
                   "copy.mutator_strength, or the number of agents",
    "clone lineage": "set record_clones: false (or lower copy.error_rate, "
                     "copy.mutator_strength or horizon)",
    "agents": "lower world.max_agents or the reproduction's income",
    "records": "raise record_every, set record_clones: false, or lower replicates "
               "or horizon",
}


class MemoryGuard:
    """The memory budget of one running share of a run (a thread's tables).

    Every growth of the engine's tables is checked here, in Python, before
    it happens: the bytes the grown tables will take are computed from the
    arrays' item sizes (growth is by doubling, as ``grow_clones``,
    ``grow_agents`` and ``grow_snapshot`` of simulation/kernels/clones.py
    do), and with the tables held now (both exist while the content is
    copied), the records held (:meth:`hold`) and :data:`BASE_BYTES` for the
    interpreter they must fit in the budget. A tick too large to make room
    for in advance (``driver.tick_alone``) grows its tables as its draws
    require: before it, the growth is foreseen (a Moran tick: one slot per
    event, certain; other dynamics: twice the previous tick's new clones)
    and after it, the tables are checked again.

    Parameters
    ----------
    max_memory : int, optional
        The budget in bytes (default :func:`default_budget`).
    shares : int
        Shares of the run holding tables at once (threads): each may use
        its part of the budget.
    name : str
        Names the run in messages.
    """

    def __init__(self, max_memory: int | None = None, shares: int = 1, name: str = "the run"):
        self.budget = default_budget() if max_memory is None else int(max_memory)
        self.given = max_memory is not None
        self.limit = (self.budget - BASE_BYTES) / max(1, shares)
        self.name = name
        self.held = 0  # bytes of records held outside the tables
        self._lengths = None  # the tables' lengths at the last check

    def hold(self, nbytes: int, state=None) -> None:
        """Count ``nbytes`` more of records held (raise past the budget)."""
        self.held += int(nbytes)
        tables = state_bytes(state) if state is not None else 0
        if tables + self.held > self.limit:
            self._refuse("records", tables + self.held, format_bytes(self.held), state)

    def check(self, state) -> None:
        """The tables as they are now, with the records held, fit (computed
        again only when a table's length changed since the last check)."""
        lengths = (state.clones.count.shape[0], state.lineage.parent.shape[0],
                   state.agents.alive.shape[0], state.snapshot.count.shape[0],
                   state.snapshot.agent_sums.shape[0], self.held)
        if lengths == self._lengths:
            return
        self._lengths = lengths
        total = state_bytes(state) + self.held
        if total > self.limit:
            self._refuse("clone slots", total, f"{format_bytes(state_bytes(state))} "
                         "during a tick", state)

    def check_records(self, state, records, rows: int) -> None:
        """Room for a record buffer grown to ``rows`` rows (copied from
        ``records``)."""
        total = state_bytes(state) + self.held + records.nbytes + rows * records.itemsize
        if total > self.limit:
            self._refuse("records", total, f"{rows} timeseries rows", state)

    def check_room(self, state, params, bound: float) -> None:
        """Before ``state.make_room(state, params, bound)``: the grown tables fit."""
        cl, ln, ag = state.clones, state.lineage, state.agents
        need = int(bound)
        grown = self._clone_growth(cl, ln, need)
        if params["reproduce"]:
            used, cap = int(ag.meta[0]), ag.alive.shape[0]
            live = int(ag.alive[:used].sum())
            if used + live > cap:
                grown["agents"] = (max(used + live, 2 * cap),
                                   _bytes_at(ag, max(used + live, 2 * cap)))
        snap = state.snapshot
        slots = int(cl.meta[0]) + need
        if snap.count.shape[0] < slots or snap.agent_sums.shape[0] < ag.alive.shape[0]:
            size = max(slots, 2 * snap.count.shape[0])
            rows = max(ag.alive.shape[0], 2 * snap.agent_sums.shape[0])
            extra = (_bytes_at(snap, size, skip=("meta", "agent_sums"))
                     + rows * snap.agent_sums[0:1].nbytes)
            held_slots, held_bytes = grown.get("clone slots", (size, 0))
            grown["clone slots"] = (max(held_slots, size), held_bytes + extra)
        self._check_growth(state, grown)

    def check_alone(self, state, params, moran: bool) -> None:
        """Before ``driver.tick_alone``: the growth it will (Moran) or
        likely (other dynamics) make fits."""
        cl, ln, ag = state.clones, state.lineage, state.agents
        n = int(ag.meta[0])
        extra = 0
        if moran:  # moran_tick makes room for every event (N, plus the refills)
            sizes = ag.size[:n]
            need = int(sizes.sum())
            extra = MORAN_LOCAL_BYTES * int(sizes.max(initial=0) + ag.clones[:n].max(initial=0))
        else:
            t = state.tick_totals[0]
            need = 2 * int(t["mutants"] + t["repairs"] + t["migrants"])
        grown = self._clone_growth(cl, ln, need)
        if "clone slots" in grown:
            slots, nbytes = grown["clone slots"]
            snap = state.snapshot
            grown["clone slots"] = (slots, nbytes + _bytes_at(
                snap, max(slots, snap.count.shape[0]), skip=("meta", "agent_sums")))
        self._check_growth(state, grown, extra)

    def _clone_growth(self, cl, ln, need: int) -> dict:
        """{what: (rows, bytes)} of the clone and lineage tables grown as
        ``grow_clones(cl, ln, ev, need)`` grows them (none if they hold it)."""
        used, free, next_id = (int(x) for x in cl.meta[:3])
        cap = cl.count.shape[0]
        grown = {}
        if need > free + cap - used:
            size = max(used - free + need, 2 * cap)
            per_slot = (_bytes_at(cl, 1) + 7 * 8)  # the clone table and the 7 event buffers
            grown["clone slots"] = (size, size * per_slot)
        rows = ln.parent.shape[0]
        if rows > 1 and next_id + need > rows:
            size = max(next_id + need, 2 * rows)
            grown["clone lineage"] = (size, _bytes_at(ln, size))
        return grown

    def _check_growth(self, state, grown: dict, extra: int = 0) -> None:
        if not grown and not extra:
            return
        total = state_bytes(state) + self.held + extra + sum(b for _, b in grown.values())
        if total > self.limit:
            what = max(grown, key=lambda k: grown[k][1]) if grown else "clone slots"
            rows = grown[what][0] if grown else 0
            detail = (f"{rows:.3g} rows ({format_bytes(grown[what][1])})" if rows
                      else f"a tick's scratch ({format_bytes(extra)})")
            self._refuse(what, total, detail, state)

    def _refuse(self, what: str, total: float, detail: str, state=None) -> None:
        source = "the budget given" if self.given else _default_source()
        when = f" at tick {int(state.status[0]['tick'])}" if state is not None else ""
        raise MemoryBudgetError(
            f"{self.name}: stopped{when}: its {what} would grow to {detail} "
            f"({format_bytes(total + BASE_BYTES)} with the other tables and the "
            f"interpreter), more than {source} ({format_bytes(self.budget)}); "
            f"{_GROWTH_ADVICE[what]}, or raise the memory budget", argument="max_memory")

    def out_of_memory(self, what: str = "clone slots") -> MemoryBudgetError:
        """The error for a MemoryError raised while the tables grew (the
        machine, or an address-space limit, ran out first)."""
        return MemoryBudgetError(
            f"{self.name}: stopped: the machine's memory ran out while its {what} grew "
            f"(budget {format_bytes(self.budget)}); {_GROWTH_ADVICE[what]}, or lower the "
            "memory budget to what the machine can give", argument="max_memory")
