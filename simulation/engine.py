"""The engine: a validated scenario in, compiled state and records out.

:func:`build_config` turns a :class:`~simulation.scenario.Scenario` into the
low-level constants of the compiled loop (once per scenario);
:class:`World` holds one replicate's :class:`~simulation.state.State`, its
random generator and its timeseries rows, and advances it by calling
:func:`simulation.kernels.driver.advance`. No Python runs per clone, per
subcomponent, per agent or per tick: only between calls of the compiled loop
(at the end, when its record buffer is full, or at records when agent rows or
clone counts are collected).
"""

from __future__ import annotations

import numpy as np

from . import codes, names
from .codes import Advance, Direction, Dynamics, Kernel, ScoreEvent, ScoreKind
from .kernels import driver
from .kernels.binomial import new_memo
from .kernels.world import world_totals
from .kernels.clones import (draw_clone_systematic, draw_systematic, effective_error_rate,
                             p_any_error, start_environment)
from .kernels.types import draw_clone_targets, draw_targets
from .state import (PARAMS, Config, Records, State, TypeTable, copy_state, empty_types,
                    grown_records, make_room, new_records, new_state, reset_state)

#: Ticks a World.step() may run past the scenario's horizon (tests, explorers).
NO_HORIZON = np.iinfo(np.int64).max


def trait_vector(traits) -> np.ndarray:
    return np.array([getattr(traits, name) for name in names.TRAITS], dtype=np.float64)


def build_config(scenario, score_event: str | None = None,
                 score_kind: str | None = None, tilt=None) -> Config:
    """The compiled loop's constants for a validated scenario; with
    ``score_event`` (``takeover``, ``fixation`` or ``convergence``) the loop
    also tracks that event's score (``status.score``, its running maximum),
    of kind ``score_kind`` (one of ``SCORES[score_event]``; default the
    first); with ``tilt`` (a :class:`simulation.risk.Tilt`, or a factor for
    every birth) copy errors are drawn at tilted rates and the path's
    likelihood ratio is kept (``status.log_weight``)."""
    a, c, k = scenario.agent, scenario.copy, scenario.copy.kernel
    w, im, stop = scenario.world, scenario.immune, scenario.stop
    params = np.zeros(1, PARAMS)
    p = params[0]
    p["dynamics"] = codes.code(Dynamics, a.dynamics)
    for key in ("birth_rate", "death_rate", "drive_advantage", "loyalty_cost",
                "escape_threshold", "escape_headroom", "takeover_fraction"):
        p[key] = getattr(a, key)
    p["ruggedness"] = scenario.landscape.ruggedness
    p["peaks"] = scenario.landscape.peaks
    p["error_rate_r"] = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)
    p["redundancy_divisor"] = 1.0 + c.redundancy_cost * (c.redundancy - 1)
    p["mutator_strength"] = c.mutator_strength
    p["drive_guard"] = c.drive_guard
    p["kernel_type"] = codes.code(Kernel, k.type)
    p["kernel_sd"] = k.sd
    if isinstance(k.bias, dict):  # per trait; heritable immune steps unbiased
        p["kernel_bias"] = 0.0
        trait_bias = np.array([k.bias.get(t, 0.0) for t in names.TRAITS])
    else:
        p["kernel_bias"] = k.bias
        trait_bias = np.full(len(names.TRAITS), k.bias)
    p["systematic_rate"] = c.systematic.rate
    p["systematic_sd"] = c.systematic.sd
    p["systematic_lineage"] = c.systematic.scope == "lineage"
    p["error_rate"], p["redundancy"] = c.error_rate, c.redundancy
    p["error_correlation"] = c.error_correlation
    p["noise_sigma"] = c.noise.sigma
    p["noise_phi"] = np.exp(-1.0 / c.noise.correlation_time)
    p["noise_per_agent"] = c.noise.scope == "agent"
    p["tracking_rate"] = im.tracking_rate if im.reference == "tracking" else 0.0
    p["drift_delta"] = stop.drift_delta if stop.drift_delta is not None else np.inf
    p["kernel_scale"], p["kernel_size"] = k.scale, k.size
    p["kernel_direction"] = codes.code(Direction, k.direction)
    p["improvement"], p["false_positive"] = im.improvement, im.false_positive
    p["repair_rate"] = scenario.repair.rate
    p["repair_tolerance"] = scenario.repair.tolerance
    p["repair_sees_stealth"] = scenario.repair.sees_stealth
    p["economy"] = w.income is not None
    p["income"] = w.income if w.income is not None else 0.0
    p["upkeep"], p["acquisition_bias"] = w.upkeep, w.acquisition_bias
    p["immune_cost"] = im.cost
    p["max_capacity"] = float(a.capacity)
    p["oversight"], p["oversight_threshold"] = w.oversight, w.oversight_threshold
    p["transmission"], p["takeover_kills"] = w.transmission, w.takeover_kills
    p["reproduce"] = w.reproduction.threshold is not None
    p["reproduction_threshold"] = (w.reproduction.threshold
                                   if w.reproduction.threshold is not None else np.inf)
    p["bottleneck"] = w.reproduction.bottleneck
    p["agent_mutation"] = w.reproduction.agent_mutation
    p["founder_reference"] = w.reproduction.reference == "founder"
    p["max_agents"] = w.max_agents if w.max_agents is not None else -1
    p["convergence_drive"] = stop.convergence_drive
    p["has_seeds"] = any(clone.tracked for clone in a.seed_clones)
    p["seeded_only"] = c.seeded_only
    p["stop_takeover"] = "takeover" in stop.on
    p["stop_convergence"] = "convergence" in stop.on
    p["stop_fixation"] = "fixation" in stop.on
    p["score_event"] = codes.code(ScoreEvent, score_event or "none")
    if isinstance(tilt, (int, float)):
        tilt = (float(tilt), None, 1.0)
    factor, start, resident = tilt if tilt is not None else (0.0, None, 1.0)
    p["error_tilt"] = factor
    p["tilt_from"] = start if start is not None else -np.inf
    p["resident_tilt"] = resident
    if score_event == "takeover":
        p["score_kind"] = codes.code(ScoreKind, score_kind or names.SCORES["takeover"][0])
    p["error_cap"] = 1.0
    p["type_count"] = p["type_fraction"] = p["size_target"] = np.inf
    if stop.size is not None:
        p["size_target"] = float(stop.size)
    p["size_of_agent"] = stop.size_of == "agent"
    p["stop_size"] = "size_reached" in stop.on
    types = type_config(scenario, p)
    p["horizon"], p["record_every"] = scenario.horizon, scenario.record_every
    p["pause_at_records"] = scenario.record_clones or records_agents(scenario)
    copy_traits = np.array([names.TRAITS.index(t) for t in c.traits], dtype=np.int64)
    p["error_probability"] = p_any_error(p["error_rate_r"], 0.0, 0.0, 0.0,
                                         copy_traits.shape[0])
    immune_mask = np.array([t in im.traits for t in names.TRAITS])
    ls = scenario.landscape
    if ls.type == "rugged":
        shape = np.array([[1.0], [float(ls.peaks)], [0.0]])
    elif ls.type == "random" and ls.seed is not None:
        shape = random_landscape(ls.peaks, np.random.default_rng(ls.seed))
    else:  # linear; random without a seed: each World draws its own
        shape = np.zeros((3, 0))
    return Config(params, copy_traits, immune_mask, trait_bias, shape, types)


def type_bits(names_, chosen) -> int:
    """The 64-bit mask of the types ``chosen`` (bit t: the t-th of ``names_``),
    as a signed int64 (bit 63 is the sign bit)."""
    mask = sum(1 << names_.index(name) for name in chosen)
    return mask - (1 << 64) if mask >= 1 << 63 else mask


def defector_types(scenario) -> list[str]:
    """The defector types: flagged, or (no flag) with drive above
    ``agent.escape_threshold``."""
    theta = scenario.agent.escape_threshold
    return [name for name, spec in scenario.types.items()
            if (spec.defector if spec.defector is not None else spec.drive > theta)]


def type_config(scenario, p) -> TypeTable:
    """The type table of a types scenario (and its ``PARAMS``: ``typed``,
    the reference type, the defector and followed masks, the type events'
    thresholds and stops), or :func:`simulation.state.empty_types`.

    Copy errors of a types scenario (docs/model.md, "Types and mutation
    graphs"): an edge's per-copy rate u_e goes through the majority vote on
    its own, ``rho u_e + (1 - rho) maj_r(u_e)`` (exact: a majority for one
    target excludes one for another); the noise factor exp(sigma X)
    multiplies every u_e (``error_rate`` 1 and ``error_cap`` inf make
    ``mu(t)`` that factor), the mutator the voted total."""
    if not scenario.types:
        return empty_types()
    stop, c = scenario.stop, scenario.copy
    names_ = list(scenario.types)
    specs = list(scenario.types.values())
    p["typed"] = True
    p["reference_type"] = names_.index(reference_type(scenario))
    defectors = defector_types(scenario)
    p["defector_types"] = type_bits(names_, defectors)
    p["followed_types"] = type_bits(names_, [stop.type] if stop.type else defectors)
    p["error_rate"], p["error_cap"] = 1.0, np.inf
    if stop.type_count is not None:
        p["type_count"] = float(stop.type_count)
    if stop.type_fraction is not None:
        p["type_fraction"] = stop.type_fraction
    for event in ("type_fixation", "type_loss", "type_reached"):
        p[f"stop_{event}"] = event in stop.on
    order = sorted(range(len(scenario.mutations)),
                   key=lambda k: names_.index(scenario.mutations[k].source))
    edges = [scenario.mutations[k] for k in order]
    start = np.searchsorted([names_.index(e.source) for e in edges],
                            np.arange(len(names_) + 1))
    rate = np.array([e.rate for e in edges], dtype=np.float64)
    voted = np.array([effective_error_rate(u, c.redundancy, c.error_correlation)
                      for u in rate], dtype=np.float64)
    total = np.zeros(len(names_))
    raw = np.zeros(len(names_))
    for t in range(len(names_)):
        for e in range(start[t], start[t + 1]):  # (in edge order, as the kernels sum)
            total[t] += voted[e]
            raw[t] += rate[e]
    with np.errstate(divide="ignore"):
        cap = np.where(raw > 0, 1.0 / np.where(raw > 0, raw, 1.0), np.inf)
    return TypeTable(
        traits=np.array([trait_vector(spec) for spec in specs]).reshape(-1, len(names.TRAITS)),
        birth=np.array([spec.birth for spec in specs], dtype=np.float64),
        death=np.array([spec.death for spec in specs], dtype=np.float64),
        edge_start=start.astype(np.int64),
        edge_to=np.array([names_.index(e.to) for e in edges], dtype=np.int64),
        edge_rate=rate, edge_voted=voted, voted_total=total, factor_cap=cap,
        edge_index=np.array(order, dtype=np.int64))


def reference_type(scenario) -> str:
    """The reference type of a types scenario: ``agent.initial_type`` or the
    first type listed."""
    return scenario.agent.initial_type or next(iter(scenario.types))


def record_columns(scenario) -> list[str]:
    """The type columns of a types scenario's records (``Records.types``):
    ``count_NAME`` per type, then ``mutations_FROM_to_TO`` per edge, in
    ``mutations`` order (docs/outputs.md); none without types."""
    return ([f"count_{name}" for name in scenario.types]
            + [f"mutations_{e.source}_to_{e.to}" for e in scenario.mutations])


#: Mixed into a replicate's seed for its own landscape realisation, so that
#: drawing it leaves the replicate's main random stream untouched.
LANDSCAPE_STREAM = 0x1A5D5CA9E


def random_landscape(peaks: int, rng: np.random.Generator) -> np.ndarray:
    """One realisation of ``landscape.type: random``: the (3, peaks) array
    of amplitudes ``A_j ~ Normal(0, sqrt(2/peaks))`` (drawn first, j = 1..
    peaks), frequencies j and phases ``phi_j ~ Uniform(0, 2 pi)``. The sum
    ``sum_j A_j sin(2 pi j d + phi_j)`` then has variance 1 over d and over
    realisations, so ``ruggedness`` is its standard deviation."""
    amplitude = rng.normal(0.0, np.sqrt(2.0 / peaks), peaks)
    phase = rng.uniform(0.0, 2.0 * np.pi, peaks)
    return np.array([amplitude, np.arange(1.0, peaks + 1.0), phase])


def records_agents(scenario) -> bool:
    """Whether runs of the scenario write ``agents.parquet``."""
    return (scenario.world.agents > 1 or scenario.world.reproduction.threshold is not None
            or scenario.copy.systematic.rate > 0)


def initial_state(scenario) -> State:
    """The set-up state: every agent holds its resident clone (the
    ``initial_size`` members not in seed clones, if any) then its seed clones
    (seeded unless ``tracked: false``), in slot order agent by agent; each
    clone is its own lineage root."""
    a, w = scenario.agent, scenario.world
    n_agents = w.agents
    typed = bool(scenario.types)
    type_names = list(scenario.types)
    if typed:
        home = reference_type(scenario)
        resident = trait_vector(scenario.types[home])
        home = type_names.index(home)
    else:
        resident, home = trait_vector(a.initial_traits), -1
    templates = []  # (traits, count, seeded, type) of one agent's clones
    n_seeded = sum(c.count for c in a.seed_clones)
    if a.initial_size - n_seeded > 0:
        templates.append((resident, a.initial_size - n_seeded, False, home))
    for clone in a.seed_clones:
        if clone.type is not None:
            templates.append((trait_vector(scenario.types[clone.type]), clone.count,
                              clone.tracked, type_names.index(clone.type)))
            continue
        traits = resident.copy()
        for name, value in clone.traits.items():
            traits[names.TRAITS.index(name)] = value
        templates.append((traits, clone.count, clone.tracked, -1))
    m = len(templates)
    n = n_agents * m
    lineage_rows = max(n, 256) if scenario.record_clones else 1
    lineage_vectors = (scenario.copy.systematic.rate > 0
                       and scenario.copy.systematic.scope == "lineage")
    vector = len(type_names) if typed else len(names.TRAITS)  # a systematic error's columns
    state = new_state(slots=max(2 * n, 64), lineage_rows=lineage_rows,
                      agent_rows=n_agents, vectors=vector if lineage_vectors else 0,
                      agent_vectors=vector, edges=len(scenario.mutations))
    cl, ln, ag = state.clones, state.lineage, state.agents
    traits = np.array([t for t, _, _, _ in templates]).reshape(m, -1)
    cl.count[:n] = np.tile([c for _, c, _, _ in templates], n_agents)
    cl.agent[:n] = np.repeat(np.arange(n_agents), m)
    cl.traits[:n] = np.tile(traits, (n_agents, 1))
    cl.clone_id[:n] = np.arange(n)
    cl.seeded[:n] = np.tile([s for _, _, s, _ in templates], n_agents)
    cl.type[:n] = np.tile([k for _, _, _, k in templates], n_agents)
    cl.meta[:] = (n, 0, n)
    if scenario.record_clones:
        ln.parent[:n] = -1
        ln.agent[:n] = cl.agent[:n]
        ln.end[:n] = -1
        ln.traits[:n] = cl.traits[:n]
        ln.seeded[:n] = cl.seeded[:n]
        ln.type[:n] = cl.type[:n]
    ag.meta[0] = n_agents
    ag.alive[:] = True
    ag.capacity[:] = float(a.capacity)
    ag.reserve[:] = w.initial_reserve if w.income is not None else 0.0
    ag.zref[:] = resident
    ag.surveillance[:] = scenario.immune.surveillance
    ag.efficacy[:] = scenario.immune.efficacy
    ag.tolerance[:] = scenario.immune.tolerance
    c = scenario.copy
    if typed:  # the noise factor that multiplies every edge rate
        ag.error_rate[:] = 1.0
        state.status[0]["error_rate"] = 1.0
    else:
        ag.error_rate[:] = effective_error_rate(c.error_rate, c.redundancy,
                                                c.error_correlation)
        state.status[0]["error_rate"] = c.error_rate
    return state


class World:
    """One replicate of a scenario: compiled state, generator and records.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (:func:`simulation.load_scenario`).
    seed : int
        This replicate's seed; ``self.rng`` is ``numpy.random.default_rng(seed)``.
    config : Config, optional
        :func:`build_config` of the scenario (built if not given).

    start : bool
        Reduce the set-up state, observe tick 0 and write its record now
        (default); otherwise the first :meth:`advance` does it.
    template : State, optional
        :func:`initial_state` of the scenario, copied rather than rebuilt
        (replicates of one scenario share it).
    guard : simulation.budget.MemoryGuard, optional
        The memory budget every growth of the tables is checked against
        (default: half of the machine's memory).
    """

    def __init__(self, scenario, seed: int, config: Config | None = None,
                 start: bool = True, template: State | None = None, guard=None):
        from .budget import MemoryGuard

        self.scenario = scenario
        self.guard = guard if guard is not None else MemoryGuard(name=scenario.name)
        self.base_config = config if config is not None else build_config(scenario)
        self.template = template
        self.state = (copy_state(template) if template is not None
                      else initial_state(scenario))
        rows = scenario.horizon // scenario.record_every + 2
        self.records = new_records(min(rows, 4096),
                                   len(scenario.types) + len(scenario.mutations))
        self.memo = new_memo()  # the binomial draws' tables (no draw depends on them)
        self._begin(seed)
        self.code = self.advance(0) if start else Advance.PAUSED

    def _begin(self, seed: int) -> None:
        """This replicate's generator, landscape and systematic errors."""
        self.config = self.base_config
        ls = self.scenario.landscape
        if ls.type == "random" and ls.seed is None:  # this replicate's realisation
            shape = random_landscape(ls.peaks, np.random.default_rng([seed, LANDSCAPE_STREAM]))
            self.config = self.config._replace(landscape=shape)
        self.rng = np.random.default_rng(seed)
        p = self.config.params[0]
        types = self.config.types
        if p["systematic_rate"] > 0 and not p["systematic_lineage"]:
            # Each agent's systematic error vector, drawn at its founding (tick 0);
            # types: per type, the target of one of its out-edges.
            for a in range(self.n_agents):
                if p["typed"]:
                    draw_targets(self.rng, self.state.agents.systematic[a], types)
                else:
                    draw_systematic(self.rng, self.state.agents, a,
                                    self.config.copy_traits, p)
        elif p["systematic_rate"] > 0:
            # Scope lineage: each set-up clone (a lineage root), in slot order.
            cl = self.state.clones
            for j in range(int(cl.meta[0])):
                if p["typed"]:
                    draw_clone_targets(self.rng, cl, self.state.lineage, j, types)
                else:
                    draw_clone_systematic(self.rng, cl, self.state.lineage, j,
                                          self.config.copy_traits, p)
        if p["noise_sigma"] > 0:
            start_environment(self.state.agents, self.state.status, self.config.params,
                              self.rng)
        self.n_records = 0

    def reset(self, seed: int) -> None:
        """Start another replicate (seed ``seed``) of the same scenario in
        this world's tables: the set-up state is copied into them in place
        (no new tables), exactly as a new ``World(scenario, seed,
        start=False)`` would begin."""
        if self.template is None:
            self.template = initial_state(self.scenario)
        reset_state(self.state, self.template)
        self._begin(seed)
        self.code = Advance.PAUSED

    def advance(self, stop_tick: int, horizon: int | None = None,
                stop_score: float = np.inf) -> int:
        """Run the compiled loop until ``stop_tick``, the horizon (default
        the scenario's), a stop event, a record at which Python collects
        agent rows or clone counts, or (with a score event in the config,
        see :func:`build_config`) the running maximum of the score reaching
        ``stop_score``. Returns the driver's code (``PAUSED``, ``STOPPED``,
        ``RECORDED`` or ``SCORED``)."""
        horizon = self.scenario.horizon if horizon is None else horizon
        guard, p = self.guard, self.config.params[0]
        plan = driver.plan(self.config.params, stop_score)
        while True:
            code, self.n_records, bound = driver.advance(
                self.state, self.config, self.rng, self.memo, stop_tick, horizon, self.records,
                self.n_records, *plan)
            if code == Advance.BUFFER_FULL:
                self._grow_records()
            elif code != Advance.NEED_ROOM:
                return code
            elif bound <= driver.FAST_LIMIT:  # (records: see _grow_records)
                guard.check_room(self.state, p, bound)  # before the tables grow
                try:
                    self.state = make_room(self.state, self.config.params, bound)
                except MemoryError:
                    raise guard.out_of_memory() from None
            else:
                if self.n_records + 2 > self.records.rows.shape[0]:
                    self._grow_records()
                guard.check_alone(self.state, p, p["dynamics"] == Dynamics.MORAN)
                try:
                    code, self.state, self.n_records = driver.tick_alone(
                        self.state, self.config, self.rng, self.memo, self.records,
                        self.n_records, *plan)
                except MemoryError:
                    raise guard.out_of_memory() from None
                guard.check(self.state)
                if code == Advance.RECORDED:
                    return code

    def _grow_records(self) -> None:
        rows = 2 * self.records.rows.shape[0]
        self.guard.check_records(self.state, self.records.rows, rows)
        self.records = grown_records(self.records, self.n_records, rows)

    def step(self) -> None:
        """One tick, whatever the horizon (for tests and interactive use)."""
        self.advance(self.tick + 1, NO_HORIZON)

    def snapshot(self) -> tuple:
        """A copy of the state, the generator state and the records, from
        which :meth:`restore` continues exactly as this world would."""
        return (copy_state(self.state), self.rng.bit_generator.state,
                self.records.rows[: self.n_records].copy(),
                self.records.types[: self.n_records].copy())

    def restore(self, snapshot: tuple, rng: np.random.Generator | None = None) -> None:
        """Return to a :meth:`snapshot`; with ``rng``, continue on that
        generator (a branch) instead of the snapshot's stream."""
        state, rng_state, rows, types = snapshot
        self.state = copy_state(state)
        if rng is None:
            self.rng.bit_generator.state = rng_state
        else:
            self.rng = rng
        self.n_records = rows.shape[0]
        self.records = grown_records(Records(rows, types), self.n_records,
                                     max(self.n_records * 2, 64))

    # --- reading the state by name ------------------------------------------
    @property
    def clones(self):
        return self.state.clones

    @property
    def lineage(self):
        return self.state.lineage

    @property
    def agents(self):
        return self.state.agents

    @property
    def status(self):
        """The replicate's clock and outcomes (one row of ``state.STATUS``)."""
        return self.state.status[0]

    @property
    def tick(self) -> int:
        return int(self.state.status[0]["tick"])

    @property
    def n_agents(self) -> int:
        return int(self.state.agents.meta[0])

    @property
    def tick_totals(self) -> dict:
        t = self.state.tick_totals[0]
        return {name: int(t[name]) for name in t.dtype.names}

    @property
    def size(self) -> int:
        """Subcomponents in every agent."""
        return int(world_totals(self.agents)[0])

    @property
    def living_agents(self) -> int:
        return int(world_totals(self.agents)[3])

    def mean_traits(self) -> np.ndarray:
        """The mean traits of every subcomponent (NaN in an empty world)."""
        size, *_, drive, loyalty, stealth, fidelity = world_totals(self.agents)
        sums = np.array([drive, loyalty, stealth, fidelity])
        return sums / size if size else np.full(len(names.TRAITS), np.nan)

    def agent_values(self, rows) -> dict:
        """Per agent of ``rows``: ``size``, the mean of each trait
        (``mean_drive`` ...: NaN for an agent without members),
        ``defector_fraction`` (0 without members) and ``goal_output`` (the
        sum of its members' loyalty): what ``agents.parquet`` and the Mesa
        model report of an agent."""
        ag = self.agents
        size = ag.size[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = {f"mean_{name}": np.where(size > 0, ag.trait_sums[rows, k] / size, np.nan)
                     for k, name in enumerate(names.TRAITS)}
            fraction = np.where(size > 0, ag.defectors[rows] / size, 0.0)
        return {"size": size, **means, "defector_fraction": fraction,
                "goal_output": ag.trait_sums[rows, 1]}

    def timeseries(self) -> np.ndarray:
        """The records so far (a structured array of ``state.TIMESERIES``)."""
        return self.records.rows[: self.n_records]

    def type_records(self) -> np.ndarray:
        """The type columns of the records so far (rows x (types + edges):
        :func:`record_columns`)."""
        return self.records.types[: self.n_records]

    def _agent_error_rates(self, rows) -> np.ndarray:
        """Each agent's per-copy error rate of the last tick, before majority
        vote: ``copy.error_rate``, or with ``copy.noise`` mu(t) (the world's,
        or under scope agent the agent's own ``min(mu exp(sigma X_a), 1)``)."""
        p = self.config.params[0]
        if p["noise_sigma"] > 0 and p["noise_per_agent"]:
            return np.minimum(p["error_rate"] * np.exp(p["noise_sigma"]
                                                      * self.agents.noise[rows]), 1.0)
        return np.full(rows.size, float(self.status["error_rate"]))

    def agent_rows(self, since_tick: int) -> dict:
        """One row per agent alive now or dead since ``since_tick``
        (exclusive): the agents.parquet record."""
        ag, n = self.agents, self.n_agents
        rows = np.flatnonzero(ag.alive[:n] | (ag.death_tick[:n] > since_tick))
        values = self.agent_values(rows)
        causes = np.array(names.DEATH_CAUSES, dtype=object)
        lineage_scope = bool(self.config.params[0]["systematic_lineage"])
        typed = bool(self.scenario.types)  # (an agent's vector: a target per type)
        return {
            "tick": np.full(rows.size, self.tick, dtype=np.int64),
            "agent": rows.astype(np.int64), "parent_agent": ag.parent[rows],
            "alive": ag.alive[rows], "size": values["size"].astype(np.int64),
            **{f"mean_{name}": values[f"mean_{name}"] for name in names.TRAITS},
            "defector_fraction": values["defector_fraction"], "reserve": ag.reserve[rows],
            "capacity": ag.capacity[rows], "surveillance": ag.surveillance[rows],
            "efficacy": ag.efficacy[rows], "tolerance": ag.tolerance[rows],
            "goal_output": values["goal_output"], "born_tick": ag.born_tick[rows],
            # (scope lineage: no vector per agent, see clones.parquet)
            **{f"systematic_{name}": (np.full(rows.size, np.nan) if lineage_scope or typed
                                      else ag.systematic[rows, k])
               for k, name in enumerate(names.TRAITS)},
            **({f"systematic_type_{name}": (np.full(rows.size, np.nan) if lineage_scope
                                       else ag.systematic[rows, k])
                for k, name in enumerate(self.scenario.types)} if typed else {}),
            "error_rate": self._agent_error_rates(rows),
            "death_cause": causes[ag.death_cause[rows]],
        }
