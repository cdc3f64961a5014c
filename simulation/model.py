"""The world as a Mesa model over clone arrays: the tick lives here.

:class:`World` is a ``mesa.Model`` seeded the Mesa way (``seed=``); its
``model.rng`` is the ``numpy.random.Generator`` passed into the kernels.
:class:`AgentView` objects are ``mesa.Agent`` instances that hold no state of
their own: each reads its agent's row of the arrays. ``World.step`` is one
tick: two kernel calls (:mod:`simulation.kernels`) and a handful of array
operations per agent, never a Python loop over clones or subcomponents.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from . import kernels as K
from .scenario import TRAITS, Scenario

# World.death_cause codes (0: alive).
DEATH_EMPTY, DEATH_STARVED, DEATH_OVERSIGHT, DEATH_TAKEOVER = 1, 2, 3, 4
DEATH_CAUSES = {0: "", DEATH_EMPTY: "empty", DEATH_STARVED: "starved",
                DEATH_OVERSIGHT: "oversight", DEATH_TAKEOVER: "takeover"}

KERNEL_CODES = {"normal": K.KERNEL_NORMAL, "cauchy": K.KERNEL_CAUCHY,
                "step": K.KERNEL_STEP, "uniform": K.KERNEL_UNIFORM}
DIRECTION_CODES = {"both": K.DIRECTION_BOTH, "up": K.DIRECTION_UP,
                   "down": K.DIRECTION_DOWN}


def trait_vector(traits) -> np.ndarray:
    return np.array([getattr(traits, name) for name in TRAITS], dtype=np.float64)


def pack_params(scenario: Scenario) -> np.ndarray:
    """The scalar parameters of the tick as the kernels' float vector."""
    a, c, kern = scenario.agent, scenario.copy, scenario.copy.kernel
    p = np.zeros(K.N_PARAMS)
    p[K.P_BIRTH_RATE] = a.birth_rate
    p[K.P_DEATH_RATE] = a.death_rate
    p[K.P_DRIVE_ADVANTAGE] = a.drive_advantage
    p[K.P_LOYALTY_COST] = a.loyalty_cost
    p[K.P_ESCAPE_THRESHOLD] = a.escape_threshold
    p[K.P_ESCAPE_HEADROOM] = a.escape_headroom
    p[K.P_RUGGEDNESS] = scenario.landscape.ruggedness
    p[K.P_PEAKS] = scenario.landscape.peaks
    p[K.P_ERROR_RATE_R] = K.effective_error_rate(c.error_rate, c.redundancy,
                                                 c.error_correlation)
    p[K.P_REDUNDANCY_DIVISOR] = 1.0 + c.redundancy_cost * (c.redundancy - 1)
    p[K.P_MUTATOR_STRENGTH] = c.mutator_strength
    p[K.P_KERNEL_TYPE] = KERNEL_CODES[kern.type]
    p[K.P_KERNEL_SD] = kern.sd
    p[K.P_KERNEL_BIAS] = kern.bias
    p[K.P_KERNEL_SCALE] = kern.scale
    p[K.P_KERNEL_SIZE] = kern.size
    p[K.P_KERNEL_DIRECTION] = DIRECTION_CODES[kern.direction]
    p[K.P_IMPROVEMENT] = scenario.immune.improvement
    p[K.P_FALSE_POSITIVE] = scenario.immune.false_positive
    p[K.P_REPAIR_RATE] = scenario.repair.rate
    p[K.P_REPAIR_TOLERANCE] = scenario.repair.tolerance
    return p


class CloneState:
    """Clone-based state in arrays, with slot recycling.

    A slot holds one clone: ``agent``, ``traits`` (drive, loyalty, stealth,
    fidelity), ``count`` (-1 marks a free slot), ``clone_id`` and ``seeded``
    (descends from ``agent.seed_clones``). Free slots sit on the ``free``
    stack, so memory follows the number of clones alive, not of clones that
    ever existed. The lineage of every clone ever founded (parent, agent,
    origin and end tick, traits) is kept by clone id.
    """

    def __init__(self, slots: int = 256, lineage: int = 256, keep_lineage: bool = True):
        self.keep_lineage = keep_lineage
        if not keep_lineage:
            lineage = 1  # a scratch row (see kernels._row)
        self.n_slots = 0
        self.n_free = 0
        self.next_id = 0
        self.count = np.full(slots, -1, dtype=np.int64)
        self.agent = np.zeros(slots, dtype=np.int64)
        self.traits = np.zeros((slots, K.N_TRAITS))
        self.clone_id = np.zeros(slots, dtype=np.int64)
        self.seeded = np.zeros(slots, dtype=np.bool_)
        self.free = np.zeros(slots, dtype=np.int64)
        # The slot and clone id of each clone's repair child (-1: none yet).
        self.repair_slot = np.full(slots, -1, dtype=np.int64)
        self.repair_id = np.full(slots, -1, dtype=np.int64)
        # Slot (at the last record) of each clone's ancestor: Price equation.
        self.ancestor = np.arange(slots, dtype=np.int64)
        self.lineage_parent = np.zeros(lineage, dtype=np.int64)
        self.lineage_agent = np.zeros(lineage, dtype=np.int64)
        self.lineage_origin = np.zeros(lineage, dtype=np.int64)
        self.lineage_end = np.zeros(lineage, dtype=np.int64)
        self.lineage_traits = np.zeros((lineage, K.N_TRAITS))
        self.lineage_seeded = np.zeros(lineage, dtype=np.bool_)
        # Per-slot event buffers for draw_events.
        self._events = np.zeros((5, slots), dtype=np.int64)

    @property
    def capacity(self) -> int:
        return self.count.shape[0]

    def reserve(self, new_clones: int) -> None:
        """Make room for ``new_clones`` more clones (amortised doubling)."""
        need = self.n_slots - self.n_free + new_clones
        if need > self.capacity:
            size = max(need, 2 * self.capacity)
            grow = size - self.capacity
            self.count = np.concatenate([self.count, np.full(grow, -1, np.int64)])
            for name in ("agent", "clone_id", "free", "ancestor"):
                arr = getattr(self, name)
                setattr(self, name, np.concatenate([arr, np.zeros(grow, arr.dtype)]))
            for name in ("repair_slot", "repair_id"):
                arr = getattr(self, name)
                setattr(self, name, np.concatenate([arr, np.full(grow, -1, arr.dtype)]))
            self.seeded = np.concatenate([self.seeded, np.zeros(grow, np.bool_)])
            self.traits = np.vstack([self.traits, np.zeros((grow, K.N_TRAITS))])
            self._events = np.zeros((5, size), dtype=np.int64)
        need_ids = self.next_id + new_clones
        if self.keep_lineage and need_ids > self.lineage_parent.shape[0]:
            size = max(need_ids, 2 * self.lineage_parent.shape[0])
            grow = size - self.lineage_parent.shape[0]
            for name in ("lineage_parent", "lineage_agent", "lineage_origin",
                         "lineage_end"):
                arr = getattr(self, name)
                setattr(self, name, np.concatenate([arr, np.zeros(grow, arr.dtype)]))
            self.lineage_seeded = np.concatenate(
                [self.lineage_seeded, np.zeros(grow, np.bool_)])
            self.lineage_traits = np.vstack(
                [self.lineage_traits, np.zeros((grow, K.N_TRAITS))])

    def found(self, agent: int, traits: np.ndarray, count: int, seeded: bool,
              tick: int = 0, parent: int = -1) -> int:
        """Found one clone at set-up (outside the tick); returns its slot."""
        self.reserve(1)
        if self.n_free:
            self.n_free -= 1
            slot = int(self.free[self.n_free])
        else:
            slot = self.n_slots
            self.n_slots += 1
        cid = self.next_id
        row = cid if self.keep_lineage else 0
        self.next_id += 1
        self.count[slot] = count
        self.agent[slot] = agent
        self.traits[slot] = traits
        self.clone_id[slot] = cid
        self.seeded[slot] = seeded
        self.repair_slot[slot] = -1
        self.ancestor[slot] = slot
        self.lineage_parent[row] = parent
        self.lineage_agent[row] = agent
        self.lineage_origin[row] = tick
        self.lineage_end[row] = -1
        self.lineage_traits[row] = traits
        self.lineage_seeded[row] = seeded
        return slot

    def alive(self) -> np.ndarray:
        """Slots of the clones alive now."""
        return np.flatnonzero(self.count[: self.n_slots] > 0)


class AgentView(mesa.Agent):
    """A ``mesa.Agent`` that is a view of one agent's row of the arrays."""

    def __init__(self, model: "World", index: int):
        super().__init__(model)
        self.index = index

    def _row(self, column):
        return self.model.reduced[self.index, column]

    @property
    def size(self) -> int:
        return int(self._row(K.R_SIZE))

    @property
    def clones(self) -> int:
        return int(self._row(K.R_CLONES))

    @property
    def defector_fraction(self) -> float:
        size = self._row(K.R_SIZE)
        return float(self._row(K.R_DEFECTORS) / size) if size else 0.0

    def mean_trait(self, name: str) -> float:
        size = self._row(K.R_SIZE)
        total = self._row(K.R_SUM_DRIVE + TRAITS.index(name))
        return float(total / size) if size else math.nan

    @property
    def mean_drive(self) -> float:
        return self.mean_trait("drive")

    @property
    def goal_output(self) -> float:
        return float(self._row(K.R_GOAL_OUTPUT))

    @property
    def z_ref(self) -> np.ndarray:
        return self.model.zref[self.index]


class World(mesa.Model):
    """A world of agents made of replicating subcomponents.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (:func:`simulation.load_scenario`).
    seed : int
        This replicate's seed; ``self.rng`` is ``numpy.random.default_rng(seed)``.
    """

    def __init__(self, scenario: Scenario, seed: int):
        super().__init__(seed=seed)
        self.scenario = scenario
        self.params = pack_params(scenario)
        self.tick = 0
        n_agents = scenario.world.agents
        a = scenario.agent
        w = scenario.world
        self.n_agents = n_agents
        self.economy = w.income is not None
        self.max_capacity = float(a.capacity)
        # Per-agent state (one row per agent ever founded; dead ones stay).
        self.capacity = np.full(n_agents, float(a.capacity))
        self.reserve = np.full(n_agents, w.initial_reserve if self.economy else 0.0)
        self.agent_alive = np.ones(n_agents, dtype=np.bool_)
        self.parent_agent = np.full(n_agents, -1, dtype=np.int64)
        self.born_tick = np.zeros(n_agents, dtype=np.int64)
        self.death_tick = np.full(n_agents, -1, dtype=np.int64)
        self.death_cause = np.zeros(n_agents, dtype=np.int64)
        self.agents_born = 0
        self.agents_lost_to_takeover = 0
        self.tick_takeovers = 0
        resident = trait_vector(a.initial_traits)
        self.zref = np.tile(resident, (n_agents, 1))
        self.surveillance = np.full(n_agents, scenario.immune.surveillance)
        self.efficacy = np.full(n_agents, scenario.immune.efficacy)
        self.tolerance = np.full(n_agents, scenario.immune.tolerance)
        self.copy_traits = np.array([TRAITS.index(t) for t in scenario.copy.traits],
                                    dtype=np.int64)
        self.immune_mask = np.array([t in scenario.immune.traits for t in TRAITS])
        self.state = CloneState(keep_lineage=scenario.record_clones)
        n_seeded = sum(c.count for c in a.seed_clones)
        for index in range(n_agents):
            if a.initial_size - n_seeded > 0:
                self.state.found(index, resident, a.initial_size - n_seeded, seeded=False)
            for clone in a.seed_clones:
                traits = resident.copy()
                for name, value in clone.traits.items():
                    traits[TRAITS.index(name)] = value
                self.state.found(index, traits, clone.count, seeded=True)
        self.reduced = np.zeros((n_agents, K.N_REDUCE))
        self.totals = np.zeros(K.N_EVENTS, dtype=np.int64)
        self._tick_totals = np.zeros(K.N_EVENTS, dtype=np.int64)
        self._step = {"birth_death": self._step_birth_death,
                      "wright_fisher": self._step_wright_fisher,
                      "moran": self._step_moran}[a.dynamics]
        self._reduce_now()
        self._snapshot()
        self.views = [AgentView(self, index) for index in range(n_agents)]
        self._fates(kill=False)

    def _reduce_now(self):
        """Per-agent sums of the current state (used at set-up)."""
        self._free_and_reduce()

    def step(self):
        """One tick: economy, within-agent dynamics (``agent.dynamics``,
        MODEL.md section 3), transmission, agent deaths and reproduction
        (section 4). docs/model.md gives the order and the equations."""
        self.tick += 1
        if self.economy:
            self._economy()
        self._step()
        w = self.scenario.world
        if w.transmission > 0:
            self._transmission(w.transmission)
        self._fates()
        if w.reproduction.threshold is not None:
            self._reproduce()

    # --- world level (MODEL.md section 4) ---------------------------------

    def _economy(self):
        """Income shares, capacities K_a and reserves from the tick's start."""
        w = self.scenario.world
        size = self.reduced[:, K.R_SIZE]
        with np.errstate(invalid="ignore", divide="ignore"):
            drive = np.where(size > 0, self.reduced[:, K.R_SUM_DRIVE] / size, 0.0)
        weight = np.where(self.agent_alive, size * (1 + w.acquisition_bias * drive), 0.0)
        total = weight.sum()
        share = w.income * weight / total if total > 0 else np.zeros(self.n_agents)
        upkeep = w.upkeep + self.scenario.immune.cost * self.surveillance
        # A floor keeps g = 1 - N/K finite for an agent with no income.
        self.capacity = np.maximum(np.minimum(self.max_capacity, share / upkeep), 1e-9)
        self.reserve += np.where(self.agent_alive, share - upkeep * size, 0.0)

    def _free_and_reduce(self):
        s = self.state
        s.n_free = K.free_and_reduce(
            s.n_slots, s.n_free, s.count, s.agent, s.traits, s.seeded, s.free,
            self.params, self.tick, s.clone_id, s.lineage_end, self.n_agents,
            self.reduced)

    def _transmission(self, rate):
        s = self.state
        alive = np.flatnonzero(self.agent_alive)
        movers = s._events[0]
        bound = K.draw_migrants(s.n_slots, s.count, s.agent, s.traits, self.agent_alive,
                                alive.shape[0], self.params, rate, self.rng, movers)
        if bound == 0:
            return
        if (s.n_slots - s.n_free + bound > s.capacity
                or (s.keep_lineage and s.next_id + bound > s.lineage_parent.shape[0])):
            kept = movers[: s.n_slots].copy()
            s.reserve(bound)
            movers = s._events[0]
            movers[: kept.shape[0]] = kept
        s.n_slots, s.n_free, s.next_id = K.move_migrants(
            s.n_slots, s.n_free, s.next_id, s.count, s.agent, s.traits, s.clone_id,
            s.seeded, s.free, s.repair_slot, s.ancestor, alive, movers, self.tick,
            self.rng, s.lineage_parent, s.lineage_agent, s.lineage_origin,
            s.lineage_end, s.lineage_traits, s.lineage_seeded)
        self.totals[K.E_MIGRANTS] = int(movers[: s.n_slots].sum())
        self._free_and_reduce()

    def _fates(self, kill: bool = True):
        """Takeovers this tick, then agent deaths: no subcomponents, reserve
        below 0, oversight shutdown, takeover (with world.takeover_kills)."""
        w = self.scenario.world
        alive = self.agent_alive
        n = self.n_agents
        taken, empty, low_goal = (np.empty(n, np.bool_) for _ in range(3))
        # Measured before any agent dies, so a takeover that kills is seen.
        self.tick_takeovers, self.tick_max_defector_fraction = K.agent_fates(
            self.reduced, alive, self.scenario.agent.takeover_fraction, taken, empty,
            low_goal, w.oversight_threshold)
        if not kill:
            return
        dies = empty.any() or (self.economy and (self.reserve[alive] < 0).any()) or \
            (w.oversight > 0 and low_goal.any()) or (w.takeover_kills and self.tick_takeovers)
        if not dies:
            return
        cause = np.zeros(n, dtype=np.int64)
        cause[empty] = DEATH_EMPTY
        if self.economy:
            cause[alive & (cause == 0) & (self.reserve < 0)] = DEATH_STARVED
        if w.oversight > 0:
            low = np.flatnonzero(low_goal & (cause == 0))
            if low.size:
                shut = low[self.rng.random(low.size) < w.oversight]
                cause[shut] = DEATH_OVERSIGHT
        if w.takeover_kills:
            killed = taken & (cause == 0)
            cause[killed] = DEATH_TAKEOVER
            self.agents_lost_to_takeover += int(killed.sum())
        dead = np.flatnonzero(cause)
        if dead.size:
            self._kill(dead, cause[dead])

    def _kill(self, dead, causes):
        s = self.state
        self.agent_alive[dead] = False
        self.death_tick[dead] = self.tick
        self.death_cause[dead] = causes
        members = np.isin(s.agent[: s.n_slots], dead) & (s.count[: s.n_slots] > 0)
        if members.any():
            s.count[: s.n_slots][members] = 0
            self._free_and_reduce()
        for index in dead:
            self.views[index].remove()

    def _grow_agents(self, k: int):
        """Rows for k new agents in every per-agent array."""
        n = self.n_agents
        cat = np.concatenate
        self.capacity = cat([self.capacity, np.full(k, self.max_capacity)])
        self.reserve = cat([self.reserve, np.zeros(k)])
        self.agent_alive = cat([self.agent_alive, np.ones(k, np.bool_)])
        self.parent_agent = cat([self.parent_agent, np.full(k, -1, np.int64)])
        self.born_tick = cat([self.born_tick, np.full(k, self.tick, np.int64)])
        self.death_tick = cat([self.death_tick, np.full(k, -1, np.int64)])
        self.death_cause = cat([self.death_cause, np.zeros(k, np.int64)])
        self.zref = np.vstack([self.zref, np.zeros((k, K.N_TRAITS))])
        self.surveillance = cat([self.surveillance, np.zeros(k)])
        self.efficacy = cat([self.efficacy, np.zeros(k)])
        self.tolerance = cat([self.tolerance, np.zeros(k)])
        self.reduced = np.vstack([self.reduced, np.zeros((k, K.N_REDUCE))])
        self.n_agents = n + k
        return np.arange(n, n + k)

    def _reproduce(self):
        """Agents whose reserve reached the threshold found children, up to
        world.max_agents alive; a child takes half its parent's reserve."""
        w = self.scenario.world
        parents = np.flatnonzero(self.agent_alive
                                 & (self.reserve >= w.reproduction.threshold))
        if w.max_agents is not None:
            room = w.max_agents - int(self.agent_alive.sum())
            parents = parents[: max(room, 0)]
        if parents.size == 0:
            return
        children = self._grow_agents(parents.size)
        self.reserve[parents] /= 2
        self.reserve[children] = self.reserve[parents]
        self.parent_agent[children] = parents
        s = self.state
        s.reserve(parents.size * w.reproduction.bottleneck)
        self._tick_totals[:] = 0
        s.n_slots, s.n_free, s.next_id = K.found_children(
            parents, children, w.reproduction.bottleneck, s.n_slots, s.n_free,
            s.next_id, s.count, s.agent, s.traits, s.clone_id, s.seeded, s.free,
            s.repair_slot, s.ancestor, self.zref, self.copy_traits, self.params,
            self.tick, self.rng, w.reproduction.reference == "founder",
            w.reproduction.agent_mutation, self.surveillance, self.efficacy,
            self.tolerance, s.lineage_parent, s.lineage_agent, s.lineage_origin,
            s.lineage_end, s.lineage_traits, s.lineage_seeded, self._tick_totals)
        self.totals[K.E_MUTATIONS] += self._tick_totals[K.E_MUTATIONS]
        self.agents_born += int(parents.size)
        self._free_and_reduce()
        self.views.extend(AgentView(self, int(c)) for c in children)

    def _new_clones_bound(self) -> int:
        """Clones the drawn events can found: one per mutant, one repair
        child per repaired clone."""
        ev, n = self.state._events, self.state.n_slots
        return int(ev[1, :n].sum()) + int(np.count_nonzero(ev[4, :n]))

    def _apply(self, new_clones: int):
        """Make room for ``new_clones``, then apply the drawn events."""
        s = self.state
        ev = s._events
        if (s.n_slots - s.n_free + new_clones > s.capacity
                or (s.keep_lineage and s.next_id + new_clones > s.lineage_parent.shape[0])):
            s.reserve(new_clones)
            s._events[:, : ev.shape[1]] = ev  # reserve() reallocated the buffers
            ev = s._events
        s.n_slots, s.n_free, s.next_id = K.apply_events(
            s.n_slots, s.n_free, s.next_id, s.count, s.agent, s.traits,
            s.clone_id, s.seeded, s.free, s.repair_slot, s.repair_id, s.ancestor,
            self.zref,
            self.copy_traits, self.params, self.tick, self.rng,
            ev[0], ev[1], ev[2], ev[3], ev[4],
            s.lineage_parent, s.lineage_agent, s.lineage_origin, s.lineage_end,
            s.lineage_traits, s.lineage_seeded, self.n_agents, self._tick_totals,
            self.reduced)
        self.totals += self._tick_totals

    def _step_birth_death(self):
        s = self.state
        ev = s._events
        self.totals[:] = 0
        applied, needed, s.n_slots, s.n_free, s.next_id = K.tick_birth_death(
            s.n_slots, s.n_free, s.next_id, s.count, s.agent, s.traits, s.clone_id,
            s.seeded, s.free, s.repair_slot, s.repair_id, s.ancestor,
            self.reduced[:, K.R_SIZE].copy(), self.capacity, self.zref,
            self.surveillance, self.efficacy, self.tolerance, self.immune_mask,
            self.copy_traits, self.params, self.tick, self.rng,
            ev[0], ev[1], ev[2], ev[3], ev[4],
            s.lineage_parent, s.lineage_agent, s.lineage_origin, s.lineage_end,
            s.lineage_traits, s.lineage_seeded, self.n_agents, self._tick_totals,
            self.reduced)
        if applied:
            self.totals += self._tick_totals
        else:
            self._apply(needed)  # grows the arrays, then applies the same draws

    def _immune_phase(self):
        """Immune kills and repairs on the current generation (WF, Moran)."""
        s = self.state
        ev = s._events
        K.draw_immune(s.n_slots, s.count, s.agent, s.traits, self.zref,
                      self.surveillance, self.efficacy, self.tolerance,
                      self.immune_mask, self.params, self.tick, self.rng,
                      ev[0], ev[1], ev[2], ev[3], ev[4])
        kills = np.bincount(s.agent[: s.n_slots], ev[3, : s.n_slots], self.n_agents)
        self._apply(self._new_clones_bound())
        return kills.astype(np.int64)

    def _step_wright_fisher(self):
        self.totals[:] = 0
        self._immune_phase()
        self._reproduce_wright_fisher()

    def _reproduce_wright_fisher(self):
        """The next generation, drawn from the current one (after immune)."""
        s = self.state
        ev = s._events
        K.draw_wright_fisher(s.n_slots, s.count, s.agent, s.traits, self.capacity,
                             self.zref, self.copy_traits.shape[0], self.params,
                             self.n_agents, self.rng, ev[0], ev[1], ev[2], ev[3], ev[4])
        self._apply(self._new_clones_bound())

    def _step_moran(self):
        self.totals[:] = 0
        self._moran_events(self._immune_phase())

    def _moran_events(self, refill):
        """Refill births, then N Moran birth-death events per agent."""
        s = self.state
        next_agent = 0
        self._tick_totals[:] = 0
        while next_agent < self.n_agents:
            next_agent, s.n_slots, s.n_free, s.next_id = K.moran_events(
                next_agent, self.n_agents, s.n_slots, s.n_free, s.next_id, s.count,
                s.agent, s.traits, s.clone_id, s.seeded, s.free, s.repair_slot,
                s.ancestor, self.zref, self.copy_traits, self.params, self.tick, self.rng, refill,
                s.lineage_parent, s.lineage_agent, s.lineage_origin, s.lineage_end,
                s.lineage_traits, s.lineage_seeded, self._tick_totals)
            if next_agent < self.n_agents:
                # Room for the worst case of agent next_agent: every event a mutant.
                a = next_agent
                s.reserve(int(self.reduced[a, K.R_SIZE]) + int(refill[a]))
        self.totals += self._tick_totals
        s.n_free = K.free_and_reduce(
            s.n_slots, s.n_free, s.count, s.agent, s.traits, s.seeded, s.free,
            self.params, self.tick, s.clone_id, s.lineage_end, self.n_agents,
            self.reduced)

    def _snapshot(self):
        """Remember the state at a record: each live clone is its own ancestor."""
        s = self.state
        n = s.n_slots
        self._snap_count = np.where(s.count[:n] > 0, s.count[:n], 0).astype(float)
        self._snap_agent = s.agent[:n].copy()
        self._snap_traits = s.traits[:n, [K.DRIVE, K.LOYALTY]].copy()
        s.ancestor[:n] = np.arange(n)

    def price_terms(self) -> dict:
        """Price decomposition of the change in mean drive and mean loyalty
        since the previous call (or set-up), then a new snapshot.

        Every subcomponent alive now descends from exactly one clone c alive
        then (``ancestor``), in agent a(c). With n_c members then, w_c
        descendants now whose trait sum is S_c, N = sum n_c, W = sum w_c,
        agent sums N_a, w_a and means zbar_a = sum_{c in a} n_c z_c / N_a:

        - between = sum_a w_a zbar_a / W - zbar (between-agent selection)
        - within = sum_c w_c (z_c - zbar_a(c)) / W (within-agent selection)
        - transmission = sum_c (S_c - w_c z_c) / W (copy error, repair)

        and between + within + transmission = S/W - zbar = zbar' - zbar
        exactly (Price 1972; Okasha 2006, ch. 2, multilevel form). Migrants
        and a child agent's founders count as descendants of their ancestor
        in its agent of then. NaN when the world was or is empty.
        """
        s = self.state
        n0 = self._snap_count
        n_anc = n0.shape[0]
        live = s.alive()
        anc = s.ancestor[live]
        count = s.count[live].astype(float)
        w = np.bincount(anc, count, n_anc)
        total0, total1 = n0.sum(), w.sum()
        terms = {}
        for k, name in ((0, "drive"), (1, "loyalty")):
            if total0 == 0 or total1 == 0:
                terms.update({f"{name}_between": np.nan, f"{name}_within": np.nan,
                              f"{name}_transmission": np.nan})
                continue
            z0 = self._snap_traits[:, k]
            zsum1 = np.bincount(anc, count * s.traits[live, K.DRIVE if k == 0 else K.LOYALTY],
                                n_anc)
            groups = self._snap_agent
            n_a = np.bincount(groups, n0)
            with np.errstate(invalid="ignore", divide="ignore"):
                zbar_a = np.where(n_a > 0, np.bincount(groups, n0 * z0) / n_a, 0.0)
            w_a = np.bincount(groups, w, n_a.shape[0])
            zbar0 = (n0 * z0).sum() / total0
            terms[f"{name}_between"] = float((w_a * zbar_a).sum() / total1 - zbar0)
            terms[f"{name}_within"] = float((w * (z0 - zbar_a[groups])).sum() / total1)
            terms[f"{name}_transmission"] = float((zsum1 - w * z0).sum() / total1)
        self._snapshot()
        return terms

    def agent_rows(self, since_tick: int) -> dict:
        """One row per agent alive now or dead since ``since_tick`` (exclusive):
        the agents.parquet record."""
        rows = np.flatnonzero(self.agent_alive | (self.death_tick > since_tick))
        r = self.reduced[rows]
        size = r[:, K.R_SIZE]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = {f"mean_{name}": np.where(size > 0, r[:, K.R_SUM_DRIVE + k] / size,
                                              np.nan)
                     for k, name in enumerate(TRAITS)}
            fraction = np.where(size > 0, r[:, K.R_DEFECTORS] / size, 0.0)
        return {
            "tick": np.full(rows.size, self.tick, dtype=np.int64),
            "agent": rows.astype(np.int64), "parent_agent": self.parent_agent[rows],
            "alive": self.agent_alive[rows].copy(), "size": size.astype(np.int64),
            **means, "defector_fraction": fraction, "reserve": self.reserve[rows].copy(),
            "capacity": self.capacity[rows].copy(),
            "surveillance": self.surveillance[rows].copy(),
            "efficacy": self.efficacy[rows].copy(), "tolerance": self.tolerance[rows].copy(),
            "goal_output": r[:, K.R_GOAL_OUTPUT].copy(),
            "born_tick": self.born_tick[rows].copy(),
            "death_cause": np.array([DEATH_CAUSES[c] for c in self.death_cause[rows]],
                                    dtype=object),
        }

    # World-level aggregates of the current state.
    @property
    def size(self) -> int:
        return int(self.reduced[:, K.R_SIZE].sum())

    def mean_traits(self) -> np.ndarray:
        total = self.reduced[:, K.R_SIZE].sum()
        sums = self.reduced[:, K.R_SUM_DRIVE:K.R_SUM_DRIVE + K.N_TRAITS].sum(axis=0)
        return sums / total if total else np.full(K.N_TRAITS, np.nan)

    def agent_defector_fractions(self) -> np.ndarray:
        size = self.reduced[:, K.R_SIZE]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(size > 0, self.reduced[:, K.R_DEFECTORS] / size, 0.0)

    @property
    def living_agents(self) -> int:
        return int(self.agent_alive.sum())
