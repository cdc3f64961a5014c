"""The engine's state: named tables of arrays, each column documented once.

Every table is a ``NamedTuple`` of NumPy arrays (numba compiles functions
that take them, and caches them; tskit's tables are the model). Scalars live
in one-row structured arrays (``numpy.dtype`` with named fields), which numba
reads and writes by name. A whole replicate is one :class:`State`; a copy of
it (:func:`copy_state`) is a snapshot that continues exactly as the original
would, given the same random stream.

Tables grow by amortised doubling (:func:`make_room` between calls of the
compiled loop, the compiled code itself within a tick too large to make room
for), so capacities are not fixed here; the ``count`` of a free clone slot
is -1.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .names import TRAITS

N_TRAITS = len(TRAITS)


class Clones(NamedTuple):
    """The clone table: one slot per clone alive (free slots are recycled).

    Every column has one entry per slot; slots ``0..meta[0]`` have been used.
    """

    #: int64. Members of the clone; 0 = died this tick; -1 = a free slot.
    count: np.ndarray
    #: int64. The agent (row of :class:`Agents`) the clone lives in.
    agent: np.ndarray
    #: float64 (slots x 4). Drive, loyalty, stealth, fidelity, each in [0, 1].
    traits: np.ndarray
    #: int64. The clone's id: its row in :class:`Lineage` when recorded.
    clone_id: np.ndarray
    #: bool. Descends from ``agent.seed_clones`` (the seeded lineage).
    seeded: np.ndarray
    #: int64. The clone's type (a row of :class:`TypeTable`) in a types
    #: scenario; -1 in a scenario of continuous traits.
    type: np.ndarray
    #: int64. Slot of the clone's repair child (-1: none founded yet).
    repair_slot: np.ndarray
    #: int64. Clone id of that repair child (to tell a recycled slot).
    repair_id: np.ndarray
    #: int64. Slot, at the last record, of the clone's ancestor (Price).
    ancestor: np.ndarray
    #: float64 (slots x 4, or slots x 0). The clone's systematic error vector
    #: (``copy.systematic.scope: lineage``; zero for traits copy errors do not
    #: touch). No columns under any other scope, so clones cost no memory for it.
    #: In a types scenario (slots x types): per type, the type its systematic
    #: error leads to (-1: none), see :class:`Agents`.
    systematic: np.ndarray
    #: int64. Stack of free slots (the first ``meta[1]`` entries).
    free: np.ndarray
    #: int64 (3,). Slots used, free slots on the stack, next clone id.
    meta: np.ndarray


class Lineage(NamedTuple):
    """Every clone ever founded, by clone id (only with ``record_clones``;
    otherwise one scratch row that every write uses)."""

    #: int64. Parent clone id (-1: founded at set-up).
    parent: np.ndarray
    #: int64. Agent the clone was founded in.
    agent: np.ndarray
    #: int64. Tick of founding.
    origin: np.ndarray
    #: int64. Tick the clone's last member died (-1: alive).
    end: np.ndarray
    #: float64 (rows x 4). Traits at founding.
    traits: np.ndarray
    #: bool. In the seeded lineage.
    seeded: np.ndarray
    #: int64. The clone's type at founding (-1: continuous traits).
    type: np.ndarray
    #: float64 (rows x 4, or rows x 0). The clone's systematic error vector
    #: (``copy.systematic.scope: lineage`` only, as in :class:`Clones`).
    systematic: np.ndarray


class Agents(NamedTuple):
    """The agent table: one row per agent ever founded (dead ones stay)."""

    #: bool. Alive.
    alive: np.ndarray
    #: float64. Capacity K_a this tick (docs/model.md, "Worlds of agents").
    capacity: np.ndarray
    #: float64. Resource reserve.
    reserve: np.ndarray
    #: float64 (agents x 4). Reference phenotype z_ref ("self").
    zref: np.ndarray
    #: float64. Immune surveillance q (heritable).
    surveillance: np.ndarray
    #: float64. Immune efficacy at tick 0 (heritable).
    efficacy: np.ndarray
    #: float64. Immune tolerance (heritable).
    tolerance: np.ndarray
    #: int64. Parent agent (-1: founded at set-up).
    parent: np.ndarray
    #: int64. Tick of founding.
    born_tick: np.ndarray
    #: int64. Tick of death (-1: alive).
    death_tick: np.ndarray
    #: int64. Cause of death, a ``codes.DeathCause`` (``names.DEATH_CAUSES``).
    death_cause: np.ndarray
    #: float64. Subcomponents (sum of clone counts), reduced after each step.
    size: np.ndarray
    #: float64. Members of defector clones (drive > escape threshold).
    defectors: np.ndarray
    #: float64 (agents x 4). Sum over members of each trait.
    trait_sums: np.ndarray
    #: float64. Members of the seeded lineage.
    seeded: np.ndarray
    #: int64. Live clones.
    clones: np.ndarray
    #: bool. Taken over this tick (defector fraction >= takeover fraction).
    taken: np.ndarray
    #: float64 (agents x 4). Systematic error vector, drawn at founding
    #: (``copy.systematic``; zero for traits copy errors do not touch). In a
    #: types scenario (agents x types): per type, the type that its systematic
    #: error leads to (one of its out-edges' targets; -1: none).
    systematic: np.ndarray
    #: float64. Sum of drive over the members of non-defector clones.
    resident_drive: np.ndarray
    #: float64. The agent's environmental noise X_a, an AR(1) process
    #: (``copy.noise.scope: agent``; 0 otherwise).
    noise: np.ndarray
    #: float64. mu_r of this tick: the error rate after majority vote, from
    #: ``copy.error_rate`` times the environmental noise (``copy.noise``).
    #: In a types scenario: the noise factor exp(sigma X) that multiplies
    #: every edge rate (1 without noise).
    error_rate: np.ndarray
    #: int64 (agents x edges; agents x 0 without types). Mutation events
    #: along each edge of the mutation graph since the last record.
    edge_events: np.ndarray
    #: int64 (1,). Rows used (agents ever founded).
    meta: np.ndarray


class Events(NamedTuple):
    """Per-slot event buffers of one tick (drawn, then applied)."""

    births: np.ndarray  #: int64. Newborns of the clone.
    mutants: np.ndarray  #: int64. Newborns carrying a copy error.
    deaths: np.ndarray  #: int64. Deaths.
    kills: np.ndarray  #: int64. Immune kills.
    repairs: np.ndarray  #: int64. Members reset to z_ref.
    systematic: np.ndarray  #: int64. Newborns with only the systematic error.
    movers: np.ndarray  #: int64. Members that migrate to other agents.


class Snapshot(NamedTuple):
    """The state at the last record, for the Price decomposition (arrays
    are reused from record to record while they are large enough)."""

    count: np.ndarray  #: float64. Members of each slot then (0 if none).
    agent: np.ndarray  #: int64. Agent of each slot then.
    drive: np.ndarray  #: float64. Drive of each slot then.
    loyalty: np.ndarray  #: float64. Loyalty of each slot then.
    descendants: np.ndarray  #: float64 (slots x 3). Scratch: w_c, S_c drive, S_c loyalty.
    agent_sums: np.ndarray  #: float64 (agents x 4). Scratch: N_a, w_a, N_a zbar_a (drive, loyalty).
    meta: np.ndarray  #: int64 (1,). Slots in the snapshot.


#: Event counts (of one tick, or of the interval since the last record).
TOTALS = np.dtype([("births", np.int64), ("deaths", np.int64),
                   ("immune_kills", np.int64), ("repairs", np.int64),
                   ("mutations", np.int64), ("mutants", np.int64),
                   ("migrants", np.int64),
                   # importance sampling: ln of the tick's likelihood ratio
                   ("log_weight", np.float64)])

#: The replicate's clock and outcomes (docs/model.md, "Outcomes"). Event ticks are
#: -1 until the event happens.
STATUS = np.dtype([
    ("tick", np.int64),
    ("started", np.bool_),
    ("takeover_tick", np.int64), ("convergence_tick", np.int64),
    ("first_defector_tick", np.int64), ("extinction_tick", np.int64),
    ("fixation_tick", np.int64), ("loss_tick", np.int64),
    ("stop_reason", np.int64),  # codes.StopReason (names.STOP_REASONS)
    ("max_defector_fraction", np.float64),
    ("tick_takeovers", np.int64),
    ("agents_born", np.int64), ("agents_died", np.int64),
    ("agents_lost_to_takeover", np.int64),
    ("last_record_tick", np.int64),
    ("score", np.float64),  # running maximum of the splitting score (risk.py)
    ("born_at_record", np.int64), ("died_at_record", np.int64),
    # failure modes (docs/model.md "Failure modes"): value drift
    ("drift_tick", np.int64),
    ("resident_drive0", np.float64),  # world resident drive at tick 0
    ("reference_drive0", np.float64),  # mean z_ref drive of the agents at tick 0
    # the running maximum of the drift rise (kernels/driver.py drift_rise): drift
    # at any threshold delta happened by now iff it is >= delta (0 at the start)
    ("drift_rise", np.float64),
    # drift_rise at the end of the tick before the takeover (NaN: no takeover):
    # drift came before cancer at threshold delta iff it is >= delta
    ("drift_rise_before_takeover", np.float64),
    # environmental noise (copy.noise.scope: world): the AR(1) state X_t
    ("noise", np.float64),
    # the per-copy error rate of the tick, before majority vote: mu(t) (scope
    # agent: the mean over the agents alive at the tick's start)
    ("error_rate", np.float64),
    # agent-level outcomes: every agent dead or taken over (docs/model.md)
    ("total_loss_tick", np.int64),
    ("goal_output0", np.float64),  # goal output sum(n l) at tick 0
    # importance sampling (PARAMS.error_tilt): ln of the path's likelihood
    # ratio, target law over the simulated (tilted) law (risk.py)
    ("log_weight", np.float64),
    # types scenarios: events of the followed types (stop.type), and the
    # size event (stop.size) of any scenario (docs/model.md, "Types")
    ("type_arrival_tick", np.int64), ("type_fixation_tick", np.int64),
    ("type_loss_tick", np.int64), ("type_reached_tick", np.int64),
    ("size_reached_tick", np.int64),
])

#: The STATUS columns that hold an event's tick (-1 until it happens).
EVENT_STATUS = ("takeover_tick", "convergence_tick", "first_defector_tick",
                "extinction_tick", "fixation_tick", "loss_tick", "drift_tick",
                "total_loss_tick", "type_arrival_tick", "type_fixation_tick",
                "type_loss_tick", "type_reached_tick", "size_reached_tick")


#: One row per replicate at its end, beside its final STATUS row: what the
#: runs table is built from (:func:`simulation.run.runs_frame`), written by
#: the compiled batch of replicates or after a replicate run alone
#: (:func:`simulation.kernels.driver.record_end`).
ENDS = np.dtype([
    ("seed", np.int64),  # the replicate's seed (simulation.run.replicate_seed)
    ("size", np.float64),  # subcomponents in every agent
    ("living_agents", np.int64),
    ("defectors", np.float64),  # subcomponents of defector clones
    ("clones", np.int64),  # live clones
    ("sum_drive", np.float64), ("sum_loyalty", np.float64),  # sums over members
    ("first_row", np.int64), ("n_rows", np.int64),  # its rows of the batch's records
    # agent-level outcomes (docs/model.md "Agent-level outcomes")
    ("agents_founded", np.int64),  # agents ever founded (at set-up and born)
    ("died_empty", np.int64), ("died_starved", np.int64),  # deaths by cause
    ("died_oversight", np.int64), ("died_takeover", np.int64),  # (names.DEATH_CAUSES)
    ("taken_alive", np.int64),  # alive and taken over at the end
    ("agent_ticks", np.int64),  # ticks lived, summed over agents
    ("goal_output_end", np.float64),  # sum(n l) over live agents not taken over
])

class State(NamedTuple):
    """One replicate's whole state: what a snapshot copies."""

    clones: Clones
    lineage: Lineage
    agents: Agents
    events: Events
    snapshot: Snapshot
    status: np.ndarray  #: STATUS, one row.
    tick_totals: np.ndarray  #: TOTALS, one row: this tick's events.
    interval: np.ndarray  #: TOTALS, one row: events since the last record.


#: Scalar parameters of the compiled loop, one row (built by the engine from
#: a validated scenario; the kernels never validate).
PARAMS = np.dtype([
    # within-agent dynamics (docs/model.md, "One tick")
    ("dynamics", np.int64),  # codes.Dynamics
    ("birth_rate", np.float64), ("death_rate", np.float64),
    ("drive_advantage", np.float64), ("loyalty_cost", np.float64),
    ("escape_threshold", np.float64), ("escape_headroom", np.float64),
    ("ruggedness", np.float64), ("peaks", np.float64),
    ("error_rate_r", np.float64),  # mu_r: after majority vote and correlation
    ("redundancy_divisor", np.float64),  # 1 + redundancy_cost (r - 1)
    # P(a newborn carries at least one copy error) at mu_r: every clone's,
    # without a mutator effect or environmental noise
    ("error_probability", np.float64),
    ("mutator_strength", np.float64),
    ("drive_guard", np.float64),  # P(a copy error of drive is caught as it is made)
    ("kernel_type", np.int64),  # codes.Kernel
    ("kernel_sd", np.float64), ("kernel_bias", np.float64),
    ("kernel_scale", np.float64), ("kernel_size", np.float64),
    ("kernel_direction", np.int64),  # codes.Direction
    ("systematic_rate", np.float64), ("systematic_sd", np.float64),
    ("systematic_lineage", np.bool_),  # copy.systematic.scope: lineage
    # environmental noise (copy.noise): mu(t) = error_rate exp(sigma X_t), X AR(1)
    ("error_rate", np.float64), ("redundancy", np.int64),
    ("error_correlation", np.float64),
    ("noise_sigma", np.float64),  # 0: off (no draws)
    ("noise_phi", np.float64),  # exp(-1 / correlation_time)
    ("noise_per_agent", np.bool_),  # scope agent (else world)
    ("tracking_rate", np.float64),  # 0: z_ref stays the founder's
    ("improvement", np.float64), ("false_positive", np.float64),
    ("repair_rate", np.float64), ("repair_tolerance", np.float64),
    ("repair_sees_stealth", np.bool_),  # repair probability scaled by (1 - stealth)
    # world (section 4)
    ("economy", np.bool_), ("income", np.float64), ("upkeep", np.float64),
    ("acquisition_bias", np.float64), ("immune_cost", np.float64),
    ("max_capacity", np.float64),
    ("oversight", np.float64), ("oversight_threshold", np.float64),
    ("transmission", np.float64), ("takeover_kills", np.bool_),
    ("reproduce", np.bool_), ("reproduction_threshold", np.float64),
    ("bottleneck", np.int64), ("agent_mutation", np.float64),
    ("founder_reference", np.bool_), ("max_agents", np.int64),  # -1: no cap
    # outcomes and stopping (section 5)
    ("takeover_fraction", np.float64), ("convergence_drive", np.float64),
    ("drift_delta", np.float64),  # inf: no drift event
    ("has_seeds", np.bool_), ("stop_takeover", np.bool_),
    ("stop_convergence", np.bool_), ("stop_fixation", np.bool_),
    # rare-event splitting: the event whose score the loop tracks
    ("score_event", np.int64),  # codes.ScoreEvent
    ("score_kind", np.int64),  # codes.ScoreKind (the takeover score)
    # importance sampling: copy errors drawn at min(tilt p, max(p, 1/2)) for a
    # newborn's error probability p, the likelihood ratio kept (0: no tilt)
    ("error_tilt", np.float64),
    # copy.seeded_only: copy errors only in clones of the seeded lineage
    ("seeded_only", np.bool_),
    # a front tilt (kernels.clones.tilt_factor): error_tilt for the births of
    # the clones at the front more than tilt_from above the reference drive,
    # resident_tilt for every birth while none is (-inf: every birth at
    # error_tilt)
    ("tilt_from", np.float64), ("resident_tilt", np.float64),
    # records
    ("horizon", np.int64), ("record_every", np.int64),
    ("pause_at_records", np.bool_),  # return to Python at each record
    # types and mutation graphs (docs/model.md "Types"; Config.types)
    ("typed", np.bool_),  # a types scenario (clones carry a type)
    ("reference_type", np.int64),  # agent.initial_type: repair's target
    # bit t set: type t is a defector / is followed by the type events
    # (stop.type; default the defector types); at most 64 types
    ("defector_types", np.int64), ("followed_types", np.int64),
    # the noise factor's cap in noisy_copy_rate: 1 (a probability) with
    # continuous traits; inf with types (a factor; each type caps its own)
    ("error_cap", np.float64),
    ("type_count", np.float64),  # stop.type_count (inf: none)
    ("type_fraction", np.float64),  # stop.type_fraction (inf: none)
    ("size_target", np.float64),  # stop.size (inf: none)
    ("size_of_agent", np.bool_),  # stop.size_of: agent (else world)
    ("stop_type_fixation", np.bool_), ("stop_type_loss", np.bool_),
    ("stop_type_reached", np.bool_), ("stop_size", np.bool_),
])


class TypeTable(NamedTuple):
    """The types and the mutation graph of a types scenario (docs/model.md,
    "Types and mutation graphs"); every array empty with continuous traits.
    Edges are grouped by source type: those of type t are
    ``edge_start[t]:edge_start[t + 1]``, in the order ``mutations`` lists them."""

    traits: np.ndarray  #: float64 (types x 4). Each type's traits.
    birth: np.ndarray  #: float64 (types,). Birth modifier beta_t.
    death: np.ndarray  #: float64 (types,). Death modifier delta_t.
    edge_start: np.ndarray  #: int64 (types + 1,). First edge of each source type.
    edge_to: np.ndarray  #: int64 (edges,). Target type of each edge.
    edge_rate: np.ndarray  #: float64 (edges,). u_e: the per-copy rate of the edge.
    #: float64 (edges,). u_e after the majority vote: rho u + (1 - rho) maj_r(u).
    edge_voted: np.ndarray
    #: float64 (types,). U_t = sum of the voted rates of t's out-edges: the
    #: probability that a newborn of t changes type (no mutator, no noise).
    voted_total: np.ndarray
    #: float64 (types,). 1 / sum of the raw out-rates of t (inf: none): the
    #: largest noise factor its per-copy rates take.
    factor_cap: np.ndarray
    #: int64 (edges,). The edge's index in ``mutations`` (output columns).
    edge_index: np.ndarray


class Config(NamedTuple):
    """What the compiled loop needs besides the state: constant for a run."""

    params: np.ndarray  #: PARAMS, one row.
    copy_traits: np.ndarray  #: int64. Trait columns that copy errors touch.
    immune_mask: np.ndarray  #: bool (4,). Traits the immune system monitors.
    trait_bias: np.ndarray  #: float64 (4,). Mean step of the normal kernel, per trait.
    #: float64 (3, terms). The landscape's sine terms: amplitudes, frequencies,
    #: phases (no terms for a linear landscape).
    landscape: np.ndarray
    types: TypeTable  #: The types and mutation graph (empty: continuous traits).


def empty_types() -> TypeTable:
    """The type table of a scenario of continuous traits: no types, no edges."""
    return TypeTable(np.zeros((0, N_TRAITS)), np.zeros(0), np.zeros(0),
                     np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0),
                     np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, np.int64))


class Records(NamedTuple):
    """What the compiled loop writes at records: one timeseries row each,
    and in a types scenario the counts by type and the mutation events per
    edge since the previous record (docs/outputs.md)."""

    rows: np.ndarray  #: TIMESERIES rows.
    #: int64 (rows x (types + edges); rows x 0 without types): members of
    #: each type, then mutation events along each edge (``mutations`` order).
    types: np.ndarray


def new_records(rows: int, columns: int = 0) -> Records:
    """Zeroed records with room for ``rows`` rows (``columns``: types + edges)."""
    return Records(np.zeros(rows, TIMESERIES), np.zeros((rows, columns), np.int64))


def grown_records(records: Records, n_rows: int, rows: int) -> Records:
    """Records with room for ``rows`` rows, the first ``n_rows`` kept."""
    out = new_records(rows, records.types.shape[1])
    out.rows[:n_rows] = records.rows[:n_rows]
    out.types[:n_rows] = records.types[:n_rows]
    return out


#: One row of ``timeseries.parquet`` (docs/outputs.md), as written by the
#: compiled loop at every record.
TIMESERIES = np.dtype([
    ("tick", np.int64), ("agents", np.int64), ("size", np.int64),
    ("mean_drive", np.float64), ("mean_loyalty", np.float64),
    ("mean_stealth", np.float64), ("mean_fidelity", np.float64),
    ("defector_fraction", np.float64), ("clones", np.int64),
    ("births", np.int64), ("deaths", np.int64), ("immune_kills", np.int64),
    ("repairs", np.int64), ("mutations", np.int64), ("goal_output", np.float64),
    ("price_between", np.float64), ("price_within", np.float64),
    ("price_transmission", np.float64),
    ("price_loyalty_between", np.float64), ("price_loyalty_within", np.float64),
    ("price_loyalty_transmission", np.float64),
    ("migrants", np.int64), ("agent_births", np.int64), ("agent_deaths", np.int64),
    ("error_rate", np.float64),
])


def new_clones(slots: int, vectors: int = 0) -> Clones:
    """An empty clone table with room for ``slots`` clones (``vectors``:
    columns of the systematic error vector, N_TRAITS under lineage scope)."""
    return Clones(
        count=np.full(slots, -1, np.int64), agent=np.zeros(slots, np.int64),
        traits=np.zeros((slots, N_TRAITS)), clone_id=np.zeros(slots, np.int64),
        seeded=np.zeros(slots, np.bool_), type=np.full(slots, -1, np.int64),
        repair_slot=np.full(slots, -1, np.int64),
        repair_id=np.full(slots, -1, np.int64), ancestor=np.arange(slots, dtype=np.int64),
        systematic=np.zeros((slots, vectors)), free=np.zeros(slots, np.int64), meta=np.zeros(3, np.int64))


def new_lineage(rows: int, vectors: int = 0) -> Lineage:
    """An empty lineage table (``rows`` = 1: a scratch row, not recorded)."""
    return Lineage(parent=np.zeros(rows, np.int64), agent=np.zeros(rows, np.int64),
                   origin=np.zeros(rows, np.int64), end=np.zeros(rows, np.int64),
                   traits=np.zeros((rows, N_TRAITS)), seeded=np.zeros(rows, np.bool_),
                   type=np.full(rows, -1, np.int64), systematic=np.zeros((rows, vectors)))


def new_agents(rows: int, vectors: int = N_TRAITS, edges: int = 0) -> Agents:
    """An agent table with ``rows`` rows, none used yet (``vectors``: columns
    of the systematic error vector, the number of types in a types scenario;
    ``edges``: of the mutation events per edge)."""
    f = lambda: np.zeros(rows)  # noqa: E731
    i = lambda: np.zeros(rows, np.int64)  # noqa: E731
    return Agents(
        alive=np.zeros(rows, np.bool_), capacity=f(), reserve=f(),
        zref=np.zeros((rows, N_TRAITS)), surveillance=f(), efficacy=f(), tolerance=f(),
        parent=np.full(rows, -1, np.int64), born_tick=i(),
        death_tick=np.full(rows, -1, np.int64), death_cause=i(), size=f(),
        defectors=f(), trait_sums=np.zeros((rows, N_TRAITS)), seeded=f(), clones=i(),
        taken=np.zeros(rows, np.bool_), systematic=np.zeros((rows, vectors)),
        resident_drive=f(), noise=f(), error_rate=f(),
        edge_events=np.zeros((rows, edges), np.int64), meta=np.zeros(1, np.int64))


def new_events(slots: int) -> Events:
    return Events(*(np.zeros(slots, np.int64) for _ in Events._fields))


def new_snapshot(slots: int, agents: int) -> Snapshot:
    """An empty snapshot with room for ``slots`` clone slots and ``agents`` agents."""
    return Snapshot(np.zeros(slots), np.zeros(slots, np.int64), np.zeros(slots),
                    np.zeros(slots), np.zeros((slots, 3)), np.zeros((agents, 4)),
                    np.zeros(1, np.int64))


def new_state(slots: int, lineage_rows: int, agent_rows: int, vectors: int = 0,
              agent_vectors: int = N_TRAITS, edges: int = 0) -> State:
    """An empty state (``vectors``: columns of a clone's systematic vector;
    ``agent_vectors``: of an agent's; ``edges``: of the mutation graph)."""
    status = np.zeros(1, STATUS)
    for name in EVENT_STATUS:
        status[name] = -1
    status["drift_rise_before_takeover"] = np.nan
    return State(clones=new_clones(slots, vectors), lineage=new_lineage(lineage_rows, vectors),
                 agents=new_agents(agent_rows, agent_vectors, edges), events=new_events(slots),
                 snapshot=new_snapshot(0, agent_rows),
                 status=status, tick_totals=np.zeros(1, TOTALS),
                 interval=np.zeros(1, TOTALS))


def copy_state(state: State) -> State:
    """A deep copy: the snapshot that rare-event splitting branches from."""
    def copy(x):
        if isinstance(x, tuple):
            return type(x)(*(copy(v) for v in x))
        return x.copy()
    return copy(state)


def grown(table, fresh):
    """``fresh``, a larger empty table of ``table``'s kind (``new_clones``,
    ``new_agents``...: its rows hold what a new row holds), with ``table``'s
    rows copied at its start and ``table``'s ``meta`` (the same array)."""
    for name, old, new in zip(table._fields, table, fresh):
        if name != "meta":
            new[: old.shape[0]] = old
    return fresh._replace(meta=table.meta) if "meta" in table._fields else fresh


def make_room(state: State, params: np.ndarray, bound: float) -> State:
    """The state with tables that hold a tick's worst case ``bound`` (clones
    it can found, from ``simulation.kernels.driver.tick_bound``), room for
    as many agents as are alive (with reproduction), and a snapshot of
    every slot and agent: each table that lacks room doubled (or grown to
    what is needed), its content kept. The compiled loop returns NEED_ROOM
    when the tables lack it; growing them here, in NumPy between its calls,
    compiles nothing (``grow_clones``, ``grow_agents`` and ``grow_snapshot``
    of ``simulation/kernels/clones.py`` grow them the same way within a
    tick too large to make room for)."""
    cl, ln, ag, ev, snap = state.clones, state.lineage, state.agents, state.events, state.snapshot
    need = int(bound)
    used, free, next_id = (int(x) for x in cl.meta[:3])
    capacity = cl.count.shape[0]
    if used - free + need > capacity:
        size = max(used - free + need, 2 * capacity)
        cl = grown(cl, new_clones(size, cl.systematic.shape[1]))
        ev = grown(ev, new_events(size))
    rows = ln.parent.shape[0]
    if rows > 1 and next_id + need > rows:
        ln = grown(ln, new_lineage(max(next_id + need, 2 * rows), ln.systematic.shape[1]))
    if params[0]["reproduce"]:
        agents, capacity = int(ag.meta[0]), ag.alive.shape[0]
        wanted = agents + int(ag.alive[:agents].sum())
        if wanted > capacity:
            ag = grown(ag, new_agents(max(wanted, 2 * capacity), ag.systematic.shape[1],
                                      ag.edge_events.shape[1]))
    slots, agents = used + need, ag.alive.shape[0]
    if snap.count.shape[0] < slots or snap.agent_sums.shape[0] < agents:
        snap = grown(snap, new_snapshot(max(slots, 2 * snap.count.shape[0]),
                                        max(agents, 2 * snap.agent_sums.shape[0])))
    return state._replace(clones=cl, lineage=ln, agents=ag, events=ev, snapshot=snap)


def reset_state(state: State, template: State) -> None:
    """Set ``state``'s tables, in place, to the set-up tables ``template``
    (:func:`simulation.engine.initial_state`), which they are at least as
    large as: the next replicate of a scenario reuses the previous one's
    tables. The same as ``simulation.kernels.clones.reset_tables``, which
    the compiled batch of replicates runs between them; in NumPy here, for
    replicates run one at a time (nothing to compile, and no slower: the
    compiled call's conversion of two states costs more than the copies).
    Rows past the template's are left as they are, but for the clone
    counts (-1: free slots); events and the snapshot's arrays are scratch."""
    tables = [(state.clones, template.clones), (state.agents, template.agents)]
    if state.lineage.parent.shape[0] > 1:  # lineages recorded
        tables.append((state.lineage, template.lineage))
    for table, source in tables:
        for column, set_up in zip(table, source):
            column[: set_up.shape[0]] = set_up
    state.clones.count[template.clones.count.shape[0]:] = -1
    state.snapshot.meta[0] = 0
    for name in ("status", "tick_totals", "interval"):
        getattr(state, name)[0] = getattr(template, name)[0]
