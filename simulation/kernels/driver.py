"""The compiled replicate loop: ticks, outcomes and records in one call.

:func:`advance` runs ticks of one replicate until the horizon, a stop event,
a given tick, or (when Python must collect agent or clone records) the next
record, writing every ``timeseries`` row itself (Price terms included).
Python runs only between calls. One tick (docs/model.md, "One tick" to "Outcomes"):

1. the environment (with ``copy.noise``: the AR(1) step of the error rate),
   the economy (capacities and reserves from the tick's start), then, with
   ``immune.reference: tracking``, z_ref moves toward each agent's mean
   traits (so the tick's immune step and repair use the moved self);
2. the within-agent dynamics (``birth_death``, ``wright_fisher``, ``moran``);
3. transmission of defectors between agents;
4. outcomes observed: first defector, takeover, convergence, drift, the largest
   defector fraction (before any agent dies, so a takeover that kills its
   agent is seen);
5. agent deaths, then agent reproduction;
6. outcomes that need the tick's end: extinction, fixation, loss;
7. a record every ``record_every`` ticks and at the end.
"""

import types

import numpy as np

from .birth_death import apply_events, draw_events, draw_immune
from .clones import (DRIVE, LOYALTY, environment, free_and_reduce, grow_agents, grow_clones,
                     grow_snapshot, has_room, reset_tables, take_snapshot, track_reference)
from .scores import hazard_progress
from .seeding import replicate_seed, reseed
from .types import observe_types, record_types, type_score, type_stop_reason
from .glossary import documented
from .jit import entry, kernel
from .generations import draw_wright_fisher, moran_events, moran_tick
from .world import (agent_deaths, draw_migrants, economy, found_children, live_agents,
                    move_migrants, observe_takeovers, parents_due, world_totals)
from ..codes import Advance, DeathCause, Dynamics, ScoreEvent, ScoreKind, StopReason
from ..state import State

# Ticks whose worst case needs more clone slots than this run one at a time,
# growing the tables as the draws require. The worst case (every newborn a
# mutant, every member a migrant) is ~3 slots per subcomponent, far above
# what a tick founds; tables sized to it cost ~200 bytes per slot (2.5 GiB
# for 10^4 agents of 100) and their clearing dominated the tick. Above
# 2^17 slots (systems of ~5e4 subcomponents and more) a tick is long
# enough that its one allocating call costs nothing in comparison.
FAST_LIMIT = 1 << 17
SCORE_TIE = 1e-6  # the weight of time held in the drive and lineage scores


@kernel(_nrt=False, inline="always")
@documented()
def _clear_totals(totals):
    """Zero the event totals ``totals[0]``."""
    t = totals[0]
    t.births = 0
    t.deaths = 0
    t.immune_kills = 0
    t.repairs = 0
    t.mutations = 0
    t.mutants = 0
    t.migrants = 0
    t.log_weight = 0.0


@kernel(_nrt=False, inline="always")
@documented(into=("numpy.ndarray", "Event totals (``TOTALS``, one row) added to."),
            add=("numpy.ndarray", "Event totals (``TOTALS``, one row) to add (all but "
                                  "``log_weight``, which the status accumulates)."))
def _add_totals(into, add):
    """Add the event totals ``add[0]`` into ``into[0]``."""
    a, b = into[0], add[0]
    a.births += b.births
    a.deaths += b.deaths
    a.immune_kills += b.immune_kills
    a.repairs += b.repairs
    a.mutations += b.mutations
    a.mutants += b.mutants
    a.migrants += b.migrants


@kernel(_nrt=False)
@documented(r=("numpy.record", "The timeseries row (``TIMESERIES``) written."))
def price_terms(cl, ag, snap, r):
    """Multilevel Price decomposition of the change in mean drive and mean
    loyalty since the snapshot, written into the timeseries row ``r``
    (``price_*`` and ``price_loyalty_*``; NaN when the world was or is empty,
    or there is no snapshot yet).

    Every subcomponent alive now descends from exactly one clone c alive
    then (``ancestor``), in agent a(c). With n_c members then, w_c
    descendants now whose trait sum is S_c, N = sum n_c, W = sum w_c,
    agent sums N_a, w_a and means zbar_a = sum_{c in a} n_c z_c / N_a:

    - between = sum_a w_a zbar_a / W - zbar (between-agent selection)
    - within = sum_c w_c (z_c - zbar_a(c)) / W (within-agent selection)
    - transmission = sum_c (S_c - w_c z_c) / W (copy error, repair)

    and between + within + transmission = S/W - zbar = zbar' - zbar
    exactly (Price 1972; Okasha 2006, ch. 2, multilevel form). The
    snapshot's scratch arrays hold the sums, so nothing is allocated.
    """
    r.price_between = np.nan
    r.price_within = np.nan
    r.price_transmission = np.nan
    r.price_loyalty_between = np.nan
    r.price_loyalty_within = np.nan
    r.price_loyalty_transmission = np.nan
    n_anc = snap.meta[0]
    if n_anc == 0:
        return  # no snapshot yet (tick 0)
    n_agents = ag.meta[0]
    desc = snap.descendants  # w_c, S_c (drive), S_c (loyalty)
    for c in range(n_anc):
        desc[c, 0] = 0.0
        desc[c, 1] = 0.0
        desc[c, 2] = 0.0
    for i in range(cl.meta[0]):
        n = cl.count[i]
        if n > 0:
            c = cl.ancestor[i]
            desc[c, 0] += n
            desc[c, 1] += n * cl.traits[i, DRIVE]
            desc[c, 2] += n * cl.traits[i, LOYALTY]
    total0 = 0.0
    total1 = 0.0
    for c in range(n_anc):
        total0 += snap.count[c]
        total1 += desc[c, 0]
    if total0 == 0.0 or total1 == 0.0:
        return
    sums = snap.agent_sums  # N_a, w_a, N_a zbar_a (drive), N_a zbar_a (loyalty)
    for a in range(n_agents):
        for k in range(4):
            sums[a, k] = 0.0
    for c in range(n_anc):
        a = snap.agent[c]
        sums[a, 0] += snap.count[c]
        sums[a, 1] += desc[c, 0]
        sums[a, 2] += snap.count[c] * snap.drive[c]
        sums[a, 3] += snap.count[c] * snap.loyalty[c]
    for k in range(2):
        zbar0 = 0.0
        between = 0.0
        for a in range(n_agents):
            zbar0 += sums[a, 2 + k]
            if sums[a, 0] > 0:
                between += sums[a, 1] * sums[a, 2 + k] / sums[a, 0]
        zbar0 /= total0
        within = 0.0
        transmission = 0.0
        for c in range(n_anc):
            w = desc[c, 0]
            if w > 0:
                z0 = snap.drive[c] if k == 0 else snap.loyalty[c]
                a = snap.agent[c]
                within += w * (z0 - sums[a, 2 + k] / sums[a, 0])
                transmission += desc[c, 1 + k] - w * z0
        if k == 0:
            r.price_between = between / total1 - zbar0
            r.price_within = within / total1
            r.price_transmission = transmission / total1
        else:
            r.price_loyalty_between = between / total1 - zbar0
            r.price_loyalty_within = within / total1
            r.price_loyalty_transmission = transmission / total1


@kernel(_nrt=False)
@documented(interval=("numpy.ndarray", "The events since the last record (``TOTALS``, "
                                      "one row), cleared."),
            n_rows=("int", "The row of ``ts`` written."))
def write_record(cl, ag, st, interval, snap, ts, n_rows, typed):
    """Write the timeseries row of the current tick into ``ts[n_rows]``,
    then start a new interval (event totals, agent births and deaths, Price
    snapshot). The snapshot must hold the slots used and the agents
    (:func:`grow_snapshot`); nothing is allocated.
    """
    r = ts.rows[n_rows]
    if typed is not None:
        if ts.types.shape[1] > 0:  # a types scenario: counts by type, events per edge
            record_types(cl, ag, ts.types[n_rows])
    size, defectors, clones, living, _, s0, s1, s2, s3 = world_totals(ag)
    r.tick = st.tick
    r.agents = living
    r.size = int(size)
    r.mean_drive = s0 / size if size > 0 else np.nan
    r.mean_loyalty = s1 / size if size > 0 else np.nan
    r.mean_stealth = s2 / size if size > 0 else np.nan
    r.mean_fidelity = s3 / size if size > 0 else np.nan
    r.defector_fraction = defectors / size if size > 0 else 0.0
    r.clones = clones
    iv = interval[0]
    r.births = iv.births
    r.deaths = iv.deaths
    r.immune_kills = iv.immune_kills
    r.repairs = iv.repairs
    r.mutations = iv.mutations
    r.goal_output = s1
    price_terms(cl, ag, snap, r)
    r.migrants = iv.migrants
    r.agent_births = st.agents_born - st.born_at_record
    r.agent_deaths = st.agents_died - st.died_at_record
    r.error_rate = st.error_rate
    st.born_at_record = st.agents_born
    st.died_at_record = st.agents_died
    st.last_record_tick = st.tick
    _clear_totals(interval)
    take_snapshot(cl, snap)


@kernel(_nrt=False)
@documented()
def observe(ag, p, st):
    """Outcomes seen before agent deaths: first defector, takeover,
    convergence and the largest defector fraction (step 4).
    """
    n_taken, largest = observe_takeovers(ag, p)
    st.tick_takeovers = n_taken
    st.max_defector_fraction = max(st.max_defector_fraction, largest)
    size, defectors, _, _, _, drive, _, _, _ = world_totals(ag)
    if st.first_defector_tick < 0 and defectors > 0:
        st.first_defector_tick = st.tick
    if st.takeover_tick < 0 and n_taken > 0:
        st.takeover_tick = st.tick
        st.drift_rise_before_takeover = st.drift_rise  # to the tick before
    if st.convergence_tick < 0 and size > 0 and drive / size >= p.convergence_drive:
        st.convergence_tick = st.tick
    rise = drift_rise(ag, st)
    st.drift_rise = max(st.drift_rise, rise)
    if st.drift_tick < 0 and rise >= p.drift_delta:
        st.drift_tick = st.tick


@kernel(_nrt=False)
@documented()
def drift_baseline(ag, st):
    """Tick 0's resident drive (mean drive over the members of non-defector
    clones, world-wide) and reference drive (mean z_ref drive over the live
    agents): the baselines of the drift event; and tick 0's goal output
    (sum of n l over every agent), the baseline of goal output lost.
    """
    resident = 0.0
    members = 0.0
    reference = 0.0
    living = 0
    for a in range(ag.meta[0]):
        resident += ag.resident_drive[a]
        members += ag.size[a] - ag.defectors[a]
        if ag.alive[a]:
            reference += ag.zref[a, DRIVE]
            living += 1
    st.resident_drive0 = resident / members if members > 0 else 0.0
    st.reference_drive0 = reference / living if living > 0 else 0.0
    st.goal_output0 = world_totals(ag)[6]  # loyalty: sum n l


@kernel(_nrt=False)
@documented()
def drift_rise(ag, st):
    """The rise of drive that value drift measures (docs/model.md, "Failure
    modes"): the largest, over live agents, of the rise of its resident
    drive (mean over its non-defector members) and of its reference drive
    (its z_ref drive) above tick 0's. Drift happens when it reaches
    ``drift_delta``; its running maximum (``STATUS.drift_rise``) gives the
    failure mode at any threshold.

    Returns
    -------
    float
        The largest rise now (-inf without a live agent).
    """
    rise = -np.inf
    for a in range(ag.meta[0]):
        if not ag.alive[a]:
            continue
        rise = max(rise, ag.zref[a, DRIVE] - st.reference_drive0)
        residents = ag.size[a] - ag.defectors[a]
        if residents > 0:
            rise = max(rise, ag.resident_drive[a] / residents - st.resident_drive0)
    return rise


@kernel(_nrt=False)
@documented()
def score(cl, ag, st, p):
    """Progress toward the scored event now, 1 at the event (docs/model.md,
    "Splitting scores").

    takeover: with ``score_kind`` fraction, the largest live agent's defector
    fraction over ``takeover_fraction``; with drive or lineage, that fraction
    mapped onto [1/2, 1] once a live agent holds a defector, and before that
    half the leading clone's progress toward the escape threshold,
    ``x = (d - d0) / (theta - d0)`` clipped to [0, 1) (d0 the residents'
    drive at tick 0), weighted for lineage by ``(1 + y) / 2`` with
    ``y = log(1 + n) / log(1 + N_a)`` (n the clone's members, N_a its
    agent's size). Below 1, drive and lineage scores are then scaled by
    ``1 - SCORE_TIE`` and given ``SCORE_TIE t / T``: of two paths whose best
    progress is the same, the one that held it longer ranks higher (the
    running maximum keeps the last tick at it), so ties, which make
    splitting discard many paths at once (all the branches of one path
    until one of them progresses), are broken. fixation: the seeded lineage's share of the world.
    The type and size events: :func:`.types.type_score`.
    convergence: the mean drive over ``convergence_drive``.

    Returns
    -------
    float
        The score, in [0, 1].
    """
    size, _, _, _, seeded, drive, _, _, _ = world_totals(ag)
    if p.score_event >= ScoreEvent.TYPE_FIXATION:  # the type and size events
        return type_score(cl, ag, st, p, size)
    largest = 0.0
    for a in range(ag.meta[0]):
        if ag.alive[a] and ag.size[a] > 0:
            largest = max(largest, ag.defectors[a] / ag.size[a])
    if p.score_event == ScoreEvent.TAKEOVER:
        fraction = min(largest / p.takeover_fraction, 1.0)
        if p.score_kind == ScoreKind.FRACTION or fraction >= 1.0:
            return fraction
        best = 0.0
        span = p.escape_threshold - st.resident_drive0
        if p.score_kind == ScoreKind.HAZARD:
            best = hazard_progress(cl, ag, st, p, largest > 0.0)
            if best < 0.0:  # a defector, outside birth_death: its fraction
                best = 0.5 + 0.5 * fraction
        elif largest > 0.0:
            best = 0.5 + 0.5 * fraction
        elif span > 0.0:
            for i in range(cl.meta[0]):
                n = cl.count[i]
                if n <= 0 or not ag.alive[cl.agent[i]]:
                    continue
                x = min(max((cl.traits[i, DRIVE] - st.resident_drive0) / span, 0.0), 1.0)
                if p.score_kind == ScoreKind.LINEAGE:
                    y = min(np.log1p(n) / np.log1p(max(ag.size[cl.agent[i]], 1.0)), 1.0)
                    x *= 0.5 * (1.0 + y)
                best = max(best, 0.5 * x)
        return (1.0 - SCORE_TIE) * best + SCORE_TIE * min(st.tick / p.horizon, 1.0)
    if size <= 0:
        return 0.0
    if p.score_event == ScoreEvent.FIXATION:
        return seeded / size
    return min(drive / size / p.convergence_drive, 1.0)


@kernel(_nrt=False, inline="always")
@documented()
def conclude(ag, p, st, typed):
    """Outcomes of the tick's end (step 6), then the stop reason, if any."""
    size = 0.0
    seeded = 0.0
    for a in range(ag.meta[0]):
        size += ag.size[a]
        seeded += ag.seeded[a]
    if st.extinction_tick < 0 and size == 0:
        st.extinction_tick = st.tick
    if st.total_loss_tick < 0:
        # Total loss: no live agent that is not taken over (all dead, or
        # every survivor's defector fraction at least takeover_fraction).
        lost = True
        for a in range(ag.meta[0]):
            if ag.alive[a] and not ag.taken[a]:
                lost = False
                break
        if lost:
            st.total_loss_tick = st.tick
    if p.has_seeds and st.fixation_tick < 0 and st.loss_tick < 0:
        if seeded == 0:
            st.loss_tick = st.tick
        elif seeded == size:
            st.fixation_tick = st.tick
    if st.extinction_tick >= 0:
        st.stop_reason = StopReason.EXTINCTION  # absorbing: nothing can happen any more
    elif p.stop_takeover and st.takeover_tick >= 0:
        st.stop_reason = StopReason.TAKEOVER
    elif p.stop_convergence and st.convergence_tick >= 0:
        st.stop_reason = StopReason.CONVERGENCE
    elif p.stop_fixation and st.fixation_tick >= 0:
        st.stop_reason = StopReason.FIXATION
    elif p.stop_fixation and st.loss_tick >= 0:
        st.stop_reason = StopReason.LOSS
    elif typed is not None:  # the type and size events (.types)
        st.stop_reason = type_stop_reason(p, st)


@entry(_nrt=False, inline="always")
@documented()
def tick_bound(ag, p):
    """The most clones one tick can found, from the state at its start:
    every live clone a repair child (and a clone of newborns carrying only
    the systematic error), every newborn a mutant where copy errors can
    happen (birth_death: at most N births; wright_fisher: the capacities;
    moran: N events and the refills), every member after the dynamics a
    migrant, every parent's bottleneck.

    A newborn carries a copy error with probability 0 when its agent's
    mu_r (``ag.error_rate``) is 0 (``clones.mutation_rate``); with
    ``copy.noise`` the tick's mu_r is drawn before the dynamics, and is 0
    when ``copy.error_rate`` is (the noise multiplies it; the majority vote
    keeps 0 at 0). With ``copy.seeded_only`` only the seeded lineage's
    members can have mutant newborns.

    Returns
    -------
    float
        The bound (at most 1e18).
    """
    size = 0.0
    mutable = 0.0  # members of agents whose newborns can carry copy errors
    clones = 0
    alive = 0
    capacity = 0.0
    mutable_capacity = 0.0
    noisy = p.noise_sigma > 0.0 and p.error_rate > 0.0
    for a in range(ag.meta[0]):
        errors = noisy or ag.error_rate[a] > 0.0
        size += ag.size[a]
        if errors:
            # copy.seeded_only: only the seeded lineage's newborns can err
            mutable += ag.seeded[a] if p.seeded_only else ag.size[a]
        clones += ag.clones[a]
        if ag.alive[a]:
            alive += 1
            capacity += min(ag.capacity[a], 1e15)
            if errors:
                mutable_capacity += min(ag.capacity[a], 1e15)
    bound = float(clones)
    if p.dynamics == Dynamics.BIRTH_DEATH:
        bound += mutable
        after = 2.0 * size  # members after the dynamics: at most N + N births
        if p.systematic_rate > 0:
            bound += clones  # one clone of systematic-only newborns per parent
    elif p.dynamics == Dynamics.WRIGHT_FISHER:
        bound += mutable_capacity
        after = capacity
    else:
        bound += 2.0 * mutable
        after = size  # Moran keeps each size (refills replace the killed)
    if p.transmission > 0:
        bound += after  # every member after the dynamics a migrant
    if p.reproduce:
        bound += alive * p.bottleneck
    return min(bound, 1e18)


@kernel(_nrt=False, inline="always")
@documented()
def halt(st, p, stop_tick, horizon, scoring, ts, n_rows):
    """Why the loop stops before another tick, checked in this order: the
    replicate ended (the horizon or a stop event) and its last tick still
    needs its record (FINAL_RECORD), or has it (STOPPED); the score reached
    ``scoring`` (SCORED); ``stop_tick`` (PAUSED); no room for a tick's
    records (BUFFER_FULL). -1: go on.

    Returns
    -------
    int
        An :class:`~simulation.codes.Advance` code, or -1.
    """
    if st.stop_reason == StopReason.RUNNING and st.tick >= horizon:
        st.stop_reason = StopReason.HORIZON
    if st.stop_reason != StopReason.RUNNING:
        if st.last_record_tick == st.tick:
            return Advance.STOPPED
        return Advance.BUFFER_FULL if n_rows >= ts.rows.shape[0] else Advance.FINAL_RECORD
    if scoring is not None:
        if st.score >= scoring:
            return Advance.SCORED
    if st.tick >= stop_tick:
        return Advance.PAUSED
    if n_rows + 2 > ts.rows.shape[0]:
        return Advance.BUFFER_FULL
    return -1


def _into_the_loop(expr, caller, callee):
    """numba's inlining choice (``inline=`` a function of the call
    expression and of the caller's and the callee's untyped IR): inline
    into :func:`advance` only, the loop without reference counting, where
    a call per step would cost about what the step does; elsewhere
    (:func:`tick_alone`, :func:`generations`) the step stays a call to
    one compiled copy."""
    return caller.func_id.func_qualname == "advance"


def _inlined(original):
    """A copy of a reference-count-free kernel of another module, inlined
    into :func:`advance` (:func:`_into_the_loop`) and a call elsewhere;
    the original stays a call for its other callers.

    The copy is a function of its own name (``NAME_in_loop``): numba's cache
    files are named after a function's qualified name and line, not its
    options, so a copy of the same function would share the original's cache
    entry, and an entry kernel called from Python could load the copy's
    compiled code, which has no wrapper for calls from Python (a crash)."""
    func = original.py_func
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__,
                              func.__defaults__, func.__closure__)
    copy.__qualname__ = f"{func.__qualname__}_in_loop"
    copy.__doc__, copy.__module__ = func.__doc__, func.__module__
    return kernel(_nrt=False, inline=_into_the_loop)(copy)


_environment = _inlined(environment)
_economy = _inlined(economy)
_track = _inlined(track_reference)
_draw = _inlined(draw_events)
_apply = _inlined(apply_events)
_migrants = _inlined(draw_migrants)
_move = _inlined(move_migrants)
_reduce = _inlined(free_and_reduce)
_room = _inlined(has_room)
_record = _inlined(write_record)


@kernel(_nrt=True)
@documented(grow=("True or None", "Grow the tables as the draws require; None: they "
                                  "hold the tick's worst case (:func:`tick_bound`), and "
                                  "the growing steps are left out of the compiled code."))
def generations(cl, ln, ag, ev, cfg, rng, memo, tick, totals, grow):
    """Step 2 for ``wright_fisher`` and ``moran``: the immune step and
    repair (:func:`.birth_death.draw_immune`), then one Wright-Fisher
    generation or N Moran events (:mod:`.generations`), refilling the
    members the immune system removed. Allocates (a refill count per
    agent), so it is a call, not inlined, compiled with reference counting
    (``_nrt=True`` set, so not inherited from the loop that calls it).

    Returns
    -------
    cl, ln, ev : Clones, Lineage, Events
        The tables (grown ones only with ``grow``).
    """
    p = cfg.params[0]
    drawn_slots = cl.meta[0]
    needed = draw_immune(cl, ag, ev, cfg, rng, memo, tick - 1)
    if grow is not None:
        if not has_room(cl, ln, needed):
            cl, ln, ev = grow_clones(cl, ln, ev, needed)
    refill = np.zeros(ag.meta[0], np.int64)
    for i in range(drawn_slots):
        if ev.kills[i] > 0:
            refill[cl.agent[i]] += ev.kills[i]
    _apply(cl, ln, ag, ev, cfg, rng, tick, totals, True)  # (generations: types or not)
    if p.dynamics == Dynamics.WRIGHT_FISHER:
        needed = draw_wright_fisher(cl, ag, ev, cfg, rng)
        if grow is not None:
            if not has_room(cl, ln, needed):
                cl, ln, ev = grow_clones(cl, ln, ev, needed)
        _apply(cl, ln, ag, ev, cfg, rng, tick, totals, True)
    else:
        if grow is not None:
            cl, ln, ev = moran_tick(cl, ln, ev, ag, cfg, rng, tick, refill, totals)
        else:
            moran_events(cl, ln, ag, cfg, rng, tick, refill, totals)
        _reduce(cl, ln, ag, p, tick)
    return cl, ln, ev


@kernel(_nrt=True)
@documented()
def generations_in_place(cl, ln, ag, ev, cfg, rng, memo, tick, totals):
    """:func:`generations` in tables that hold the tick's worst case,
    nothing returned (so that the loop free of reference counting, which
    calls it, receives no new reference).
    """
    generations(cl, ln, ag, ev, cfg, rng, memo, tick, totals, None)


@kernel(_nrt=True)
@documented(agents=("int", "Agents to make room for."),
            clones=("int", "Clones to make room for."))
def grown(cl, ln, ag, ev, agents, clones):
    """The tables with room for ``agents`` more agents and ``clones`` more
    clones (grown by doubling, content kept; the same tables if they have
    it). Only :func:`one_tick` with ``grow`` calls it (the loop without
    reference counting never does: it would receive new references).

    Returns
    -------
    cl, ln, ag, ev : Clones, Lineage, Agents, Events
        The tables.
    """
    ag = grow_agents(ag, agents)
    if not has_room(cl, ln, clones):
        cl, ln, ev = grow_clones(cl, ln, ev, clones)
    return cl, ln, ag, ev


@kernel(_nrt=True)
@documented()
def children(cl, ln, ag, cfg, rng, tick, totals):
    """:func:`.world.found_children` (which allocates) as a call compiled with
    reference counting, from the loop without it; returns the number of
    children.
    """
    return found_children(cl, ln, ag, cfg, rng, tick, totals)


@kernel(_nrt=False, inline="always")
@documented(totals=("numpy.ndarray", "The tick's event totals (``TOTALS``, one row), "
                                  "cleared here."),
            interval=("numpy.ndarray", "The events since the last record (``TOTALS``, "
                                       "one row), to which the tick's are added."))
def one_tick(cl, ln, ag, ev, st, totals, interval, cfg, rng, memo, grow, generational,
             interacting, scoring, typed):
    """One tick, steps 1-6 of the module docstring: the only place the step
    order is written. Inlined into both loops: :func:`advance` (``grow``
    False: the tables already hold the tick's worst case,
    :func:`tick_bound`; nothing grows, nothing is rebound, and the loop
    carries no reference counting) and :func:`tick_alone` (``grow`` True:
    the tables grow as the draws require, for ticks whose worst case is too
    large to make room for in advance). The draws are the same either way.
    ``grow`` is a constant at both call sites, so the branches of the other
    kind compile to nothing; the growing calls (which allocate and return
    new tables) never run in the loop without reference counting. The steps
    that allocate are calls compiled with reference counting (``_nrt=True``
    set: :func:`generations`, :func:`children`, :func:`grown`); every other
    step is inlined into :func:`advance` and a call from :func:`tick_alone`
    (:func:`_into_the_loop`). The parts of the tick a scenario does not use
    are pruned before compiling (:func:`plan`: ``generational``,
    ``interacting`` and ``scoring`` None).

    Returns
    -------
    cl, ln, ag, ev : Clones, Lineage, Agents, Events
        The tables (grown ones only with ``grow``).
    """
    p = cfg.params[0]
    st.tick += 1
    tick = st.tick
    _clear_totals(totals)
    # 1. the environment, the economy, the tracking reference
    if p.noise_sigma > 0.0:
        _environment(ag, st, p, rng)
    if interacting is not None:
        if p.economy:
            _economy(ag, p)
    if p.tracking_rate > 0.0:
        _track(ag, p)
    # 2. the within-agent dynamics (draws from the tick's start, tick - 1)
    if generational is None or p.dynamics == Dynamics.BIRTH_DEATH:
        needed = _draw(cl, ag, ev, cfg, rng, memo, tick - 1, totals, typed)
        if grow:
            cl, ln, ag, ev = grown(cl, ln, ag, ev, 0, needed)
        _apply(cl, ln, ag, ev, cfg, rng, tick, totals, typed)
    elif grow:
        cl, ln, ev = generations(cl, ln, ag, ev, cfg, rng, memo, tick, totals, True)
    else:
        generations_in_place(cl, ln, ag, ev, cfg, rng, memo, tick, totals)
    # 3. transmission
    if interacting is not None:
        if p.transmission > 0:
            bound = _migrants(cl, ag, ev, p, rng)
            if bound > 0:
                if grow:
                    cl, ln, ag, ev = grown(cl, ln, ag, ev, 0, bound)
                totals[0].migrants = _move(cl, ln, ag, ev, rng, tick)
                _reduce(cl, ln, ag, p, tick)
    # 4-5. outcomes observed, agent deaths, agent reproduction
    _fates(cl, ln, ag, st, totals, cfg, rng, tick, scoring, typed)
    if interacting is not None:
        if p.reproduce:
            n_parents = parents_due(ag, p)
            if n_parents > 0:
                if grow:
                    cl, ln, ag, ev = grown(cl, ln, ag, ev, n_parents,
                                           n_parents * p.bottleneck)
                st.agents_born += children(cl, ln, ag, cfg, rng, tick, totals)
    # 6. outcomes of the tick's end
    conclude(ag, p, st, typed)
    _add_totals(interval, totals)
    return cl, ln, ag, ev


@kernel(_nrt=False, inline="always")
@documented()
def _fates(cl, ln, ag, st, totals, cfg, rng, tick, scoring, typed):
    """Steps 4-5 up to reproduction: the tick's likelihood ratio (importance
    sampling), outcomes observed, the score, deaths.
    """
    p = cfg.params[0]
    st.log_weight += totals[0].log_weight
    observe(ag, p, st)
    if typed is not None:  # the type and size events
        observe_types(cl, ag, p, st, world_totals(ag)[0])
    if scoring is not None:
        if p.score_event != ScoreEvent.NONE:
            st.score = max(st.score, score(cl, ag, st, p))
    died, lost_taken = agent_deaths(cl, ln, ag, p, rng, tick)
    st.agents_died += died
    st.agents_lost_to_takeover += lost_taken


@kernel(_nrt=False)
@documented()
def begin(cl, ln, ag, st, p, scoring, typed):
    """Tick 0, before its record: the set-up state reduced, the drift
    baselines, the outcomes observed and concluded (a call, not inlined:
    it runs once a replicate)."""
    free_and_reduce(cl, ln, ag, p, np.int64(0))  # not a literal: one compiled copy
    drift_baseline(ag, st)
    observe(ag, p, st)
    if typed is not None:  # the type and size events
        observe_types(cl, ag, p, st, world_totals(ag)[0])
    if scoring is not None:
        if p.score_event != ScoreEvent.NONE:
            st.score = score(cl, ag, st, p)
    conclude(ag, p, st, typed)


def plan(params, stop_score=np.inf):
    """The parts of the tick a run needs, as the last four arguments of
    :func:`advance`, :func:`tick_alone` and :func:`run_batch`
    (``generational, interacting, scoring, typed``). A part not needed is None:
    numba then prunes its branch before typing it, so its kernels are never
    compiled; each combination is compiled (and cached) once, on first use.

    Returns
    -------
    generational : True or None
        ``wright_fisher`` or ``moran`` (None: ``birth_death``).
    interacting : True or None
        Agents interact: the economy, transmission or reproduction (None:
        none of them).
    scoring : float or None
        The score's stop level (None: no ``score_event``, no score kept).
    typed : True or None
        The type and size events are observed and the counts by type
        recorded: a types scenario or ``stop.size`` (None: neither).
    """
    p = params[0]
    generational = None if p["dynamics"] == Dynamics.BIRTH_DEATH else True
    interacting = True if (p["economy"] or p["transmission"] > 0 or p["reproduce"]) else None
    scoring = None if p["score_event"] == ScoreEvent.NONE else float(stop_score)
    typed = True if (p["typed"] or p["size_target"] < np.inf) else None
    return generational, interacting, scoring, typed


@entry(_nrt=False)
@documented()
def advance(state, cfg, rng, memo, stop_tick, horizon, ts, n_rows, generational, interacting,
            scoring, typed):
    """Run ticks until ``horizon`` (the replicate ends), a stop event (it
    ends), ``stop_tick`` (it pauses), a full ``ts`` buffer, or (with a
    ``score_event``) the running maximum of the score reaching ``scoring``
    (it pauses: the branching point of splitting); with
    ``pause_at_records``, also return after each record; and NEED_ROOM
    when the tables must grow first (:func:`simulation.state.make_room`, or
    for a tick too large to make room for, :func:`tick_alone`).

    Returns ``(code, n_rows, bound)``: code PAUSED, STOPPED, RECORDED,
    BUFFER_FULL, SCORED or NEED_ROOM (with the next tick's worst case
    ``bound``); rows written to ``ts``. The tables are never replaced here
    (no state is returned), so a call costs no conversion of tables back to
    Python. At the start (tick 0, not yet started) it reduces the set-up
    state, observes tick 0 and writes its record.

    The ticks (:func:`one_tick`) are inlined, and the loop runs while the
    tables hold each tick's worst case, compiled without reference
    counting, so that a tick costs its draws and loops only (records
    included: they allocate nothing either).
    """
    p = cfg.params[0]
    st = state.status[0]
    cl, ln, ag, ev = state.clones, state.lineage, state.agents, state.events
    snap = state.snapshot
    totals, interval = state.tick_totals, state.interval
    code = -1
    record_due = not st.started
    if record_due:  # tick 0: the set-up state reduced and observed, then its record
        if snap.count.shape[0] < cl.meta[0] or snap.agent_sums.shape[0] < ag.meta[0]:
            return Advance.NEED_ROOM, n_rows, 0.0
        st.started = True
        begin(cl, ln, ag, st, p, scoring, typed)
    while True:
        if not record_due:
            code = halt(st, p, stop_tick, horizon, scoring, ts, n_rows)
            if code < 0:
                bound = tick_bound(ag, p)
                if (bound > FAST_LIMIT or not _room(cl, ln, int(bound))
                        or snap.count.shape[0] < cl.meta[0] + bound
                        or snap.agent_sums.shape[0] < (ag.alive.shape[0] if p.reproduce
                                                       else ag.meta[0])
                        or (p.reproduce and ag.alive.shape[0] < ag.meta[0] + live_agents(ag))):
                    return Advance.NEED_ROOM, n_rows, bound
                cl, ln, ag, ev = one_tick(cl, ln, ag, ev, st, totals, interval, cfg, rng, memo,
                                          False, generational, interacting, scoring, typed)
                if st.tick % p.record_every != 0:
                    continue
            elif code != Advance.FINAL_RECORD:
                return code, n_rows, 0.0
        record_due = False
        _record(cl, ag, st, interval, snap, ts, n_rows, typed)
        n_rows += 1
        if p.pause_at_records:
            return Advance.RECORDED, n_rows, 0.0
        if code == Advance.FINAL_RECORD:
            return Advance.STOPPED, n_rows, 0.0


@entry()
@documented()
def tick_alone(state, cfg, rng, memo, ts, n_rows, generational, interacting, scoring, typed):
    """One tick whose worst case is too large to make room for in advance
    (:data:`FAST_LIMIT`): the tables grow as its draws require
    (:func:`one_tick`), then its record if due (``ts`` must have a
    free row). Returns ``(code, state, n_rows)``: RECORDED after a record
    with ``pause_at_records``, else PAUSED.
    """
    p = cfg.params[0]
    st = state.status[0]
    cl, ln, ag, ev = one_tick(state.clones, state.lineage, state.agents, state.events, st,
                              state.tick_totals, state.interval, cfg, rng, memo, True,
                              generational, interacting, scoring, typed)
    snap = grow_snapshot(state.snapshot, cl.meta[0], ag.alive.shape[0])
    code = Advance.PAUSED
    if st.tick % p.record_every == 0:
        write_record(cl, ag, st, state.interval, snap, ts, n_rows, typed)
        n_rows += 1
        if p.pause_at_records:
            code = Advance.RECORDED
    return (code, State(cl, ln, ag, ev, snap, state.status, state.tick_totals,
                        state.interval), n_rows)


@kernel(_nrt=False, inline="always")
@documented(tick=("int", "The replicate's last tick."))
def agent_outcomes(ag, tick):
    """The agent-level outcomes of a replicate ended at ``tick`` (docs/model.md,
    "Agent-level outcomes").

    Returns
    -------
    tuple
        Agent-ticks lived, live agents taken over, the goal output (summed
        loyalty) of the live agents not taken, and the agents dead empty,
        starved, removed by oversight and killed by takeover.
    """
    agent_ticks = taken_alive = empty = starved = oversight = takeover = 0
    goal_output = 0.0
    for a in range(ag.meta[0]):
        if ag.alive[a]:
            agent_ticks += tick - ag.born_tick[a]
            if ag.taken[a]:
                taken_alive += 1
            else:
                goal_output += ag.trait_sums[a, LOYALTY]
            continue
        agent_ticks += ag.death_tick[a] - ag.born_tick[a]
        cause = ag.death_cause[a]
        if cause == DeathCause.EMPTY:
            empty += 1
        elif cause == DeathCause.STARVED:
            starved += 1
        elif cause == DeathCause.OVERSIGHT:
            oversight += 1
        elif cause == DeathCause.TAKEOVER:
            takeover += 1
    return agent_ticks, taken_alive, goal_output, empty, starved, oversight, takeover


@entry(_nrt=False)
@documented(seed=("int", "The replicate's seed."),
            k=("int", "The row of ``ends`` and ``statuses`` written."),
            first_row=("int", "The replicate's first row in the timeseries."),
            n_rows=("int", "Rows of the timeseries written so far (the replicate's "
                           "last ends there)."))
def record_end(ag, status, seed, ends, statuses, k, first_row, n_rows):
    """Row ``k`` of ``ends`` and ``statuses`` (:data:`simulation.state.ENDS`):
    the ended replicate's outcomes and final reductions."""
    e = ends[k]
    e.seed = seed
    e.size, e.defectors, e.clones, e.living_agents, _, e.sum_drive, e.sum_loyalty, _, _ = (
        world_totals(ag))
    # Agent-level outcomes (docs/model.md "Agent-level outcomes")
    e.agents_founded = ag.meta[0]
    (e.agent_ticks, e.taken_alive, e.goal_output_end, e.died_empty, e.died_starved,
     e.died_oversight, e.died_takeover) = agent_outcomes(ag, status[0].tick)
    e.first_row = first_row
    e.n_rows = n_rows - first_row
    statuses[k] = status[0]


@entry(nogil=True)
@documented(template=("State", "The state every replicate starts from."),
            where=("numpy.ndarray", "The generator's state in memory "
                                    "(:func:`.seeding.generator_memory`)."),
            master=("numpy.ndarray", "The master seed's uint32 words."),
            n_master=("int", "Words of ``master`` used."),
            point=("int", "The sweep point (0 outside sweeps)."),
            replicates=("numpy.ndarray", "The replicate numbers of the batch."),
            k=("int", "The first replicate (index into ``replicates``) to run."),
            in_progress=("bool", "Replicate ``k`` has begun (resume it, do not reset it)."),
            work=("numpy.ndarray", "Scratch words of the seed derivation (:mod:`.seeding`)."),
            pool=("numpy.ndarray", "Scratch words of the seed derivation (:mod:`.seeding`)."))
def run_batch(state, template, cfg, rng, memo, where, master, n_master, point, replicates,
              k, in_progress, horizon, ts, n_rows, ends, statuses, work, pool, generational,
              interacting, scoring, typed):
    """Replicates ``replicates[k:]`` of one scenario, one after another in
    the same tables, each to its end: reset to ``template``, the generator
    reseeded in place as ``default_rng(replicate_seed(master, r, point))``
    (:mod:`.seeding`; ``where`` from :func:`.seeding.generator_memory`;
    ``memo``, this thread's :class:`.binomial.BinomialMemo`), run
    by :func:`advance`, its end written to ``ends[k]``/``statuses[k]`` and
    its records appended to ``ts``. For scenarios whose replicates need no
    Python between ticks (no agent or clone records, no per-replicate
    landscape or systematic draws): then a replicate costs no Python at all.

    Returns ``(code, k, in_progress, n_rows, bound)``: BATCH_DONE, or
    NEED_ROOM / BUFFER_FULL with the replicate ``k`` that needs it
    (``in_progress``: it has begun); the caller grows the tables or the
    records and calls again from there.
    """
    while k < replicates.shape[0]:
        if not in_progress:
            reset_tables(state, template)
            seed = replicate_seed(master, n_master, point, replicates[k], work, pool)
            reseed(where, seed, work, pool)
            ends[k].seed = seed
            ends[k].first_row = n_rows
            in_progress = True
        code, n_rows, bound = advance(state, cfg, rng, memo, horizon, horizon, ts, n_rows,
                                      generational, interacting, scoring, typed)
        if code == Advance.NEED_ROOM or code == Advance.BUFFER_FULL:
            return code, k, in_progress, n_rows, bound
        record_end(state.agents, state.status, ends[k].seed, ends, statuses, k, ends[k].first_row,
                   n_rows)
        in_progress = False
        k += 1
    return Advance.BATCH_DONE, k, in_progress, n_rows, 0.0
