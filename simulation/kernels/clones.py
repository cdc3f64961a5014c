"""Shared clone kernels: draws, copy errors, founding, growth and reduction.

numba only: tables of :mod:`simulation.state` and a
``numpy.random.Generator`` in, nothing validated. ``p`` is the one row of
:data:`simulation.state.PARAMS`.
"""

import math

import numpy as np

from ..codes import Direction, Kernel, Trait
from ..state import Agents, Clones, Events, Lineage, Snapshot
from .jit import entry, kernel

# Trait columns (codes.Trait).
DRIVE, LOYALTY, STEALTH, FIDELITY = (int(t) for t in Trait)
N_TRAITS = len(Trait)

# Clones.meta entries.
SLOTS_USED, FREE_SLOTS, NEXT_ID = 0, 1, 2


@entry()
def effective_error_rate(error_rate, redundancy, correlation):
    """Per-trait error rate after majority vote over ``redundancy`` copies.

    ``mu_r = rho*mu + (1 - rho) * sum_{j=(r+1)/2..r} C(r, j) mu^j (1-mu)^(r-j)``
    (docs/model.md, "One tick", item 5). Computed once per run, or once per tick
    (per agent) under environmental noise (``copy.noise``); C(r, j) by the
    product formula, in floating point.
    """
    if redundancy == 1:
        return error_rate
    majority = 0.0
    coefficient = 1.0  # C(r, j)
    for j in range(redundancy + 1):
        if 2 * j > redundancy:
            majority += (coefficient * error_rate**j
                         * (1.0 - error_rate) ** (redundancy - j))
        coefficient = coefficient * (redundancy - j) / (j + 1)
    return correlation * error_rate + (1.0 - correlation) * majority


@kernel(_nrt=False)
def noisy_copy_rate(x, p):
    """The per-copy error rate of an environment in state ``x``
    (``copy.noise``): ``mu(t) = min(mu exp(sigma x), 1)``; in a types
    scenario (``error_rate`` 1, ``error_cap`` inf) the noise factor
    ``exp(sigma x)`` that multiplies every edge rate."""
    return min(p.error_rate * math.exp(p.noise_sigma * x), p.error_cap)


@kernel(_nrt=False)
def noisy_error_rate(x, p):
    """mu_r of an environment in state ``x``: :func:`noisy_copy_rate`
    through the majority vote; in a types scenario the noise factor itself
    (each edge's rate goes through the vote on its own: .types.edge_weight)."""
    if p.typed:
        return noisy_copy_rate(x, p)
    return effective_error_rate(noisy_copy_rate(x, p), p.redundancy, p.error_correlation)


@kernel(_nrt=False)
def environment(ag, st, p, rng):
    """One step of the environmental noise (``copy.noise``, sigma > 0): the
    AR(1) process ``X_t = phi X_(t-1) + sqrt(1 - phi^2) eps_t``, eps_t
    ~ Normal(0, 1) (one ``standard_normal`` draw: the world's, or each live
    agent's in index order), then every agent's mu_r of the tick, and the
    per-copy rate mu(t) in ``st.error_rate`` (scope agent: the mean over
    the live agents)."""
    phi = p.noise_phi
    innovation = math.sqrt(1.0 - phi * phi)
    if p.noise_per_agent:
        total = 0.0
        living = 0
        for a in range(ag.meta[0]):
            if ag.alive[a]:
                x = phi * ag.noise[a] + innovation * rng.standard_normal()
                ag.noise[a] = x
                ag.error_rate[a] = noisy_error_rate(x, p)
                total += noisy_copy_rate(x, p)
                living += 1
        st.error_rate = total / living if living > 0 else np.nan
    else:
        x = phi * st.noise + innovation * rng.standard_normal()
        st.noise = x
        rate = noisy_error_rate(x, p)
        for a in range(ag.meta[0]):
            ag.error_rate[a] = rate
        st.error_rate = noisy_copy_rate(x, p)


@entry(_nrt=False)
def start_environment(ag, status, params, rng):
    """The environment at tick 0 (``copy.noise``, sigma > 0): X_0 ~
    Normal(0, 1), the stationary law (one ``standard_normal``: the world's,
    or each agent's in index order), and the agents' mu_r from it."""
    p = params[0]
    st = status[0]
    if p.noise_per_agent:
        total = 0.0
        for a in range(ag.meta[0]):
            ag.noise[a] = rng.standard_normal()
            ag.error_rate[a] = noisy_error_rate(ag.noise[a], p)
            total += noisy_copy_rate(ag.noise[a], p)
        st.error_rate = total / ag.meta[0]
    else:
        st.noise = rng.standard_normal()
        rate = noisy_error_rate(st.noise, p)
        for a in range(ag.meta[0]):
            ag.error_rate[a] = rate
        st.error_rate = noisy_copy_rate(st.noise, p)


@entry()
def landscape(drive, drive_advantage, ruggedness, shape):
    """Fitness landscape ``L(d) = 1 + a d + ruggedness sum_j A_j sin(2 pi f_j d
    + phi_j)``, clipped at 0; ``shape`` rows are the amplitudes A, the
    frequencies f and the phases phi (``rugged``: one term, A = 1, f =
    peaks, phi = 0; ``random``: see :func:`simulation.engine.random_landscape`)."""
    value = 1.0 + drive_advantage * drive
    if ruggedness != 0.0:
        for j in range(shape.shape[1]):
            value += ruggedness * shape[0, j] * math.sin(2.0 * math.pi * shape[1, j] * drive
                                                         + shape[2, j])
    return max(value, 0.0)


@kernel()
def fitness(drive, loyalty, p, shape):
    """Relative fitness ``w = L(d) (1 - loyalty_cost l)`` of WF and Moran."""
    return (landscape(drive, p.drive_advantage, p.ruggedness, shape)
            * (1.0 - p.loyalty_cost * loyalty))


@entry()
def immune_efficacy(efficacy, improvement, t):
    """Efficacy ``e(t) = 1 - (1 - efficacy) * exp(-improvement * t)``."""
    return 1.0 - (1.0 - efficacy) * math.exp(-improvement * t)


@kernel()
def mutation_rate(mu_r, mutator, f_ref, f):
    """mu_eff = min(1, mu_r exp(mutator (f_ref - f))): the mutator effect."""
    if mu_r <= 0.0:
        return 0.0
    x = mutator * (f_ref - f)
    if x > 700.0:  # exp would overflow; the rate is capped at 1 anyway
        return 1.0
    return min(mu_r * math.exp(x), 1.0)


@kernel(_nrt=False)
def tilted(p_error, tilt):
    """The error probability drawn under importance sampling: the tilt times
    ``p_error``, at most 1/2 (or ``p_error`` itself if larger)."""
    return min(tilt * p_error, max(p_error, 0.5))


@entry(_nrt=False)
def tilt_front(cl, p):
    """The drive of the world's front at the tick's start, for a front tilt
    (``tilt_from`` not -inf): the largest drive among live clones, or +inf
    while a live clone is a defector (docs/model.md, "Importance sampling")."""
    if p.error_tilt <= 0.0 or p.tilt_from == -np.inf:
        return -np.inf
    front = -np.inf
    for i in range(cl.meta[0]):
        if cl.count[i] > 0:
            if cl.traits[i, DRIVE] > p.escape_threshold:
                return np.inf
            front = max(front, cl.traits[i, DRIVE])
    return front


@entry(_nrt=False)
def tilt_factor(drive, reference, front, p):
    """The factor f by which a clone's births draw their copy errors (at
    min(f p, max(p, 1/2)); 1: untilted), for a clone of drive ``drive``
    whose agent's reference drive is ``reference`` and the world's front
    ``front`` (:func:`tilt_front`). Without a band (``tilt_from`` -inf):
    ``error_tilt`` for every birth. With one: none while a defector lives;
    ``resident_tilt`` for every birth while the front lies within
    ``tilt_from`` of the reference (no clone has deviated yet); otherwise
    ``error_tilt`` for the clones at the front, none for the others. The
    front's births are few, so the likelihood ratio stays steady where
    tilting every resident birth would make it degenerate."""
    if p.error_tilt <= 0.0:
        return 1.0
    if p.tilt_from == -np.inf:
        return p.error_tilt
    if front == np.inf:
        return 1.0
    if front - reference <= p.tilt_from:
        return p.resident_tilt
    if drive >= front:
        return p.error_tilt
    return 1.0


@kernel(_nrt=False)
def log_ratio(k, n, p, q):
    """ln of the likelihood ratio of ``k`` errors in ``n`` copies at the
    error probability ``p`` against ``q`` (the tilted one)."""
    out = 0.0
    if k > 0:
        out += k * (math.log(p) - math.log(q))
    if n > k:
        out += (n - k) * (math.log1p(-p) - math.log1p(-q))
    return out


@entry()
def p_any_error(mu_r, mutator, f_ref, f, n_copy_traits):
    """Probability that a newborn carries at least one copy error."""
    mu = mutation_rate(mu_r, mutator, f_ref, f)
    return -math.expm1(n_copy_traits * math.log1p(-mu)) if mu < 1.0 else 1.0


@kernel(_nrt=False)
def mutation_step(rng, value, bias, p):
    """One copy error of a trait value by ``copy.kernel``, clipped to [0, 1];
    ``bias`` is the normal kernel's mean step for this trait."""
    kind = p.kernel_type
    if kind == Kernel.NORMAL:
        value = value + rng.normal(bias, p.kernel_sd)
    elif kind == Kernel.CAUCHY:
        value = value + p.kernel_scale * rng.standard_cauchy()
    elif kind == Kernel.STEP:
        if p.kernel_direction == Direction.UP:
            value = value + p.kernel_size
        elif p.kernel_direction == Direction.DOWN:
            value = value - p.kernel_size
        elif rng.random() < 0.5:
            value = value + p.kernel_size
        else:
            value = value - p.kernel_size
    else:
        value = rng.random()
    return min(max(value, 0.0), 1.0)


@kernel(_nrt=False)
def is_defector(cl, i, theta, p):
    """Whether clone ``i`` is a defector: its drive above ``theta`` (the
    escape threshold), or in a types scenario its type's defector flag
    (bit ``type`` of ``p.defector_types``)."""
    if p.typed:
        return (p.defector_types >> cl.type[i]) & 1 == 1
    return cl.traits[i, DRIVE] > theta


@kernel(_nrt=False)
def row(index, lineage):
    """The lineage row of clone ``index``. Without lineage recording the
    table has one row, which every write then uses (scratch), so memory
    does not grow with the clones ever founded."""
    return min(index, lineage.parent.shape[0] - 1)


@kernel(_nrt=False)
def new_slot(cl):
    """Pop a free slot (the caller has made room) and return it."""
    meta = cl.meta
    if meta[FREE_SLOTS] > 0:
        meta[FREE_SLOTS] -= 1
        return cl.free[meta[FREE_SLOTS]]
    j = meta[SLOTS_USED]
    meta[SLOTS_USED] += 1
    return j


@kernel(_nrt=False)
def has_room(cl, ln, new_clones):
    """Whether ``new_clones`` more clones fit without growing the tables."""
    meta = cl.meta
    room = meta[FREE_SLOTS] + cl.count.shape[0] - meta[SLOTS_USED]
    if new_clones > room:
        return False
    recorded = ln.parent.shape[0] > 1
    return not (recorded and meta[NEXT_ID] + new_clones > ln.parent.shape[0])


@kernel()
def _grown1(a, size, fill):
    out = np.full(size, fill, a.dtype)
    _prefix(out, a, a.shape[0])  # a loop: an array slice assignment compiles its error message
    return out


@kernel()
def _grown2(a, size):
    out = np.zeros((size, a.shape[1]), a.dtype)
    _prefix2(out, a, a.shape[0])
    return out


@entry()
def grow_clones(cl, ln, ev, new_clones):
    """Tables with room for ``new_clones`` more clones (amortised doubling);
    the event buffers keep the events already drawn."""
    meta = cl.meta
    need = meta[SLOTS_USED] - meta[FREE_SLOTS] + new_clones
    cap = cl.count.shape[0]
    if need > cap:
        size = max(need, 2 * cap)
        ancestor = np.arange(size)
        _prefix(ancestor, cl.ancestor, cap)
        cl = Clones(_grown1(cl.count, size, -1), _grown1(cl.agent, size, 0),
                    _grown2(cl.traits, size), _grown1(cl.clone_id, size, 0),
                    _grown1(cl.seeded, size, False), _grown1(cl.type, size, -1),
                    _grown1(cl.repair_slot, size, -1),
                    _grown1(cl.repair_id, size, -1), ancestor,
                    _grown2(cl.systematic, size), _grown1(cl.free, size, 0), meta)
        ev = Events(_grown1(ev.births, size, 0), _grown1(ev.mutants, size, 0),
                    _grown1(ev.deaths, size, 0), _grown1(ev.kills, size, 0),
                    _grown1(ev.repairs, size, 0), _grown1(ev.systematic, size, 0),
                    _grown1(ev.movers, size, 0))
    rows = ln.parent.shape[0]
    need_ids = meta[NEXT_ID] + new_clones
    if rows > 1 and need_ids > rows:
        size = max(need_ids, 2 * rows)
        ln = Lineage(_grown1(ln.parent, size, 0), _grown1(ln.agent, size, 0),
                     _grown1(ln.origin, size, 0), _grown1(ln.end, size, 0),
                     _grown2(ln.traits, size), _grown1(ln.seeded, size, False),
                     _grown1(ln.type, size, -1), _grown2(ln.systematic, size))
    return cl, ln, ev


@entry()
def grow_agents(ag, new_agents):
    """An agent table with room for ``new_agents`` more rows."""
    used = ag.meta[0]
    cap = ag.alive.shape[0]
    if used + new_agents <= cap:
        return ag
    size = max(used + new_agents, 2 * cap)
    return Agents(_grown1(ag.alive, size, False), _grown1(ag.capacity, size, 0.0),
                  _grown1(ag.reserve, size, 0.0), _grown2(ag.zref, size),
                  _grown1(ag.surveillance, size, 0.0), _grown1(ag.efficacy, size, 0.0),
                  _grown1(ag.tolerance, size, 0.0), _grown1(ag.parent, size, -1),
                  _grown1(ag.born_tick, size, 0), _grown1(ag.death_tick, size, -1),
                  _grown1(ag.death_cause, size, 0), _grown1(ag.size, size, 0.0),
                  _grown1(ag.defectors, size, 0.0), _grown2(ag.trait_sums, size),
                  _grown1(ag.seeded, size, 0.0), _grown1(ag.clones, size, 0),
                  _grown1(ag.taken, size, False), _grown2(ag.systematic, size),
                  _grown1(ag.resident_drive, size, 0.0), _grown1(ag.noise, size, 0.0),
                  _grown1(ag.error_rate, size, 0.0), _grown2(ag.edge_events, size), ag.meta)


@kernel(_nrt=False)
def found_clone(cl, ln, i, j, a, n, tick):
    """Found in slot ``j`` a clone of ``n`` members in agent ``a`` with clone
    ``i``'s traits, as ``i``'s child: lineage, seeded flag and ancestor.
    Takes the next clone id."""
    cid = cl.meta[NEXT_ID]
    cl.meta[NEXT_ID] += 1
    r = row(cid, ln)
    for k in range(N_TRAITS):
        cl.traits[j, k] = cl.traits[i, k]
        ln.traits[r, k] = cl.traits[i, k]
    cl.count[j] = n
    cl.agent[j] = a
    cl.seeded[j] = cl.seeded[i]
    cl.type[j] = cl.type[i]
    ln.type[r] = cl.type[i]
    cl.clone_id[j] = cid
    cl.repair_slot[j] = -1
    cl.ancestor[j] = cl.ancestor[i]
    ln.parent[r] = cl.clone_id[i]
    ln.agent[r] = a
    ln.origin[r] = tick
    ln.end[r] = -1
    ln.seeded[r] = cl.seeded[i]
    for k in range(cl.systematic.shape[1]):  # lineage scope: inherited
        cl.systematic[j, k] = cl.systematic[i, k]
        ln.systematic[r, k] = cl.systematic[i, k]


@kernel(_nrt=False)
def found_mutant(rng, cl, ln, i, j, a, mu, copy_traits, bias, p, tick):
    """Found in slot ``j`` of agent ``a`` a one-member mutant clone of clone ``i``.

    Which traits mutate is drawn from k independent Bernoulli(mu) trials
    conditioned on at least one success, without rejection: while none has
    mutated, trait c of the k' remaining mutates with probability
    mu / (1 - (1 - mu)^k'); after the first, each with probability mu.
    An error of drive is caught with probability ``p.drive_guard`` (one
    more uniform draw, only when it is above 0): the copy keeps its
    parent's drive. ``bias`` holds the normal kernel's mean step per trait.
    Returns the number of traits mutated (caught errors not counted).
    """
    n_copy = copy_traits.shape[0]
    log_keep = math.log1p(-mu) if mu < 1.0 else -np.inf
    found_clone(cl, ln, i, j, a, np.int64(1), tick)  # not a literal: one compiled copy
    r = row(cl.clone_id[j], ln)
    errors = 0
    hits = 0
    for c in range(n_copy):
        if errors > 0:
            q = mu
        else:
            q = mu / -math.expm1((n_copy - c) * log_keep)
        if rng.random() < q:
            errors += 1
            k = copy_traits[c]
            if k == DRIVE and p.drive_guard > 0.0 and rng.random() < p.drive_guard:
                continue  # caught as it was made
            hits += 1
            cl.traits[j, k] = mutation_step(rng, cl.traits[j, k], bias[k], p)
            ln.traits[r, k] = cl.traits[j, k]
    return hits


@kernel(_nrt=False)
def add_systematic(cl, ln, ag, j, i, a, copy_traits):
    """Shift clone ``j``'s copied traits by the systematic error vector of
    its copier (``copy.systematic``): agent ``a``'s, or under lineage scope
    clone ``i``'s, clipped to [0, 1]; no random draw."""
    r = row(cl.clone_id[j], ln)
    lineage = cl.systematic.shape[1] > 0
    for c in range(copy_traits.shape[0]):
        k = copy_traits[c]
        shift = cl.systematic[i, k] if lineage else ag.systematic[a, k]
        cl.traits[j, k] = min(max(cl.traits[j, k] + shift, 0.0), 1.0)
        ln.traits[r, k] = cl.traits[j, k]


@entry(_nrt=False)
def draw_clone_systematic(rng, cl, ln, j, copy_traits, p):
    """Clone ``j``'s own systematic error vector (scope lineage, at the
    founding of a lineage root or a mutant clone): ``Normal(0,
    systematic_sd)`` per copied trait, in ``copy.traits`` order."""
    r = row(cl.clone_id[j], ln)
    for k in range(cl.systematic.shape[1]):
        cl.systematic[j, k] = 0.0
        ln.systematic[r, k] = 0.0
    for c in range(copy_traits.shape[0]):
        k = copy_traits[c]
        cl.systematic[j, k] = rng.normal(0.0, p.systematic_sd)
        ln.systematic[r, k] = cl.systematic[j, k]


@kernel(_nrt=False)
def track_reference(ag, p):
    """A self that drifts (``immune.reference: tracking``): each live,
    non-empty agent's z_ref moves toward its current mean traits,
    ``z_ref += tracking_rate * (zbar - z_ref)``, from the reduction at the
    tick's start (before the immune step); no random draw."""
    rate = p.tracking_rate
    for a in range(ag.meta[0]):
        size = ag.size[a]
        if not ag.alive[a] or size <= 0:
            continue
        for k in range(N_TRAITS):
            ag.zref[a, k] += rate * (ag.trait_sums[a, k] / size - ag.zref[a, k])


@entry(_nrt=False)
def draw_systematic(rng, ag, a, copy_traits, p):
    """Agent ``a``'s systematic error vector: ``Normal(0, systematic_sd)``
    for each copied trait in ``copy.traits`` order (no draw when the rate
    is 0 or the scope is lineage: then the vectors are the clones')."""
    for k in range(N_TRAITS):
        ag.systematic[a, k] = 0.0
    if p.systematic_rate <= 0.0 or p.systematic_lineage:
        return
    for c in range(copy_traits.shape[0]):
        ag.systematic[a, copy_traits[c]] = rng.normal(0.0, p.systematic_sd)


@kernel(_nrt=False)
def clear_sums(ag, a):
    """Zero agent ``a``'s reductions over its clones."""
    ag.size[a] = ag.defectors[a] = ag.seeded[a] = ag.resident_drive[a] = 0.0
    ag.clones[a] = 0
    for k in range(N_TRAITS):
        ag.trait_sums[a, k] = 0.0


@kernel(_nrt=False)
def add_to_sums(cl, ag, i, n, theta, p):
    """Add clone ``i``'s ``n`` members to its agent's reductions (a
    defector by :func:`is_defector`). An
    agent's sums are these additions over its clones in slot order, from
    zero (:func:`clear_sums`), wherever they are made, so that they are the
    same bit for bit."""
    a = cl.agent[i]
    ag.size[a] += n
    if is_defector(cl, i, theta, p):
        ag.defectors[a] += n
    else:
        ag.resident_drive[a] += n * cl.traits[i, DRIVE]
    for k in range(N_TRAITS):
        ag.trait_sums[a, k] += n * cl.traits[i, k]
    if cl.seeded[i]:
        ag.seeded[a] += n
    ag.clones[a] += 1


@kernel(_nrt=False)
def free_slot(cl, ln, i, tick):
    """Free the slot of clone ``i``, extinct at ``tick``: onto the stack
    of free slots (the next :func:`new_slot` takes the last freed)."""
    meta = cl.meta
    cl.count[i] = -1
    cl.free[meta[FREE_SLOTS]] = i
    meta[FREE_SLOTS] += 1
    ln.end[row(cl.clone_id[i], ln)] = tick


@kernel(_nrt=False)
def free_and_reduce(cl, ln, ag, p, tick):
    """Free the slots of extinct clones and reduce the clones per agent
    (``Agents.size``, ``defectors``, ``trait_sums``, ``seeded``, ``clones``,
    ``resident_drive``)."""
    for a in range(ag.meta[0]):
        clear_sums(ag, a)
    theta = p.escape_threshold
    for i in range(cl.meta[SLOTS_USED]):
        n = cl.count[i]
        if n < 0:
            continue  # a free slot
        if n == 0:
            free_slot(cl, ln, i, tick)
            continue
        add_to_sums(cl, ag, i, n, theta, p)


@kernel()
def reduce_agent(cl, ag, a, slots, theta, p):
    """Agent ``a``'s reductions from scratch, over its clones ``slots``
    (every one of them; sorted here, in place): what
    :func:`free_and_reduce` gives it, without a pass over the table."""
    slots.sort()
    clear_sums(ag, a)
    for s in range(slots.shape[0]):
        add_to_sums(cl, ag, slots[s], cl.count[slots[s]], theta, p)


@kernel(_nrt=False)
def free_dead_agents(cl, ln, ag, tick):
    """After agents died (their reductions cleared, :func:`clear_sums`):
    free the slots of their clones, and of any extinct clone, in slot
    order. This is :func:`free_and_reduce` where the other agents' sums are
    already those of their clones (a reduction since the last change of a
    clone count): they would be summed again to the same values, so one
    pass reading no traits does it."""
    for i in range(cl.meta[SLOTS_USED]):
        n = cl.count[i]
        if n == 0 or (n > 0 and not ag.alive[cl.agent[i]]):
            free_slot(cl, ln, i, tick)


@kernel(_nrt=False)
def clear_events(ev, i):
    ev.births[i] = 0
    ev.mutants[i] = 0
    ev.deaths[i] = 0
    ev.kills[i] = 0
    ev.repairs[i] = 0
    ev.systematic[i] = 0


@entry()
def grow_snapshot(snap, slots, agents):
    """A snapshot whose arrays hold ``slots`` slots and ``agents`` agents
    (doubling; the content is kept)."""
    if snap.count.shape[0] >= slots and snap.agent_sums.shape[0] >= agents:
        return snap
    size = max(slots, 2 * snap.count.shape[0])
    rows = max(agents, 2 * snap.agent_sums.shape[0])
    return Snapshot(_grown1(snap.count, size, 0.0), _grown1(snap.agent, size, 0),
                    _grown1(snap.drive, size, 0.0), _grown1(snap.loyalty, size, 0.0),
                    _grown2(snap.descendants, size), _grown2(snap.agent_sums, rows),
                    snap.meta)


@kernel(_nrt=False)
def take_snapshot(cl, snap):
    """Remember the state at a record (each live clone its own ancestor);
    the snapshot's arrays must hold the slots used (:func:`grow_snapshot`)."""
    n = cl.meta[SLOTS_USED]
    for i in range(n):
        snap.count[i] = cl.count[i] if cl.count[i] > 0 else 0.0
        snap.agent[i] = cl.agent[i]
        snap.drive[i] = cl.traits[i, DRIVE]
        snap.loyalty[i] = cl.traits[i, LOYALTY]
        cl.ancestor[i] = i
    snap.meta[0] = n


@kernel(_nrt=False)
def _prefix(dst, src, n):
    for i in range(n):
        dst[i] = src[i]


@kernel(_nrt=False)
def _prefix2(dst, src, n):
    for i in range(n):
        for k in range(src.shape[1]):
            dst[i, k] = src[i, k]


@entry(_nrt=False)
def reset_tables(state, template):
    """Copy the set-up tables ``template`` (:func:`simulation.engine.initial_state`)
    into ``state``'s own, in place: the next replicate of a scenario reuses
    the previous one's tables (at least as large) instead of new ones."""
    cl, tc = state.clones, template.clones
    ln, tl = state.lineage, template.lineage
    ag, ta = state.agents, template.agents
    n = tc.meta[0]
    m = ta.meta[0]
    for i in range(n, cl.meta[0]):
        cl.count[i] = -1
    _prefix(cl.count, tc.count, n)
    _prefix(cl.agent, tc.agent, n)
    _prefix2(cl.traits, tc.traits, n)
    _prefix(cl.clone_id, tc.clone_id, n)
    _prefix(cl.seeded, tc.seeded, n)
    _prefix(cl.type, tc.type, n)
    _prefix(cl.repair_slot, tc.repair_slot, n)
    _prefix(cl.repair_id, tc.repair_id, n)
    _prefix(cl.ancestor, tc.ancestor, n)
    _prefix2(cl.systematic, tc.systematic, n)
    for k in range(3):
        cl.meta[k] = tc.meta[k]
    if ln.parent.shape[0] > 1:
        _prefix(ln.parent, tl.parent, n)
        _prefix(ln.agent, tl.agent, n)
        _prefix(ln.origin, tl.origin, n)
        _prefix(ln.end, tl.end, n)
        _prefix2(ln.traits, tl.traits, n)
        _prefix(ln.seeded, tl.seeded, n)
        _prefix(ln.type, tl.type, n)
        _prefix2(ln.systematic, tl.systematic, n)
    _prefix(ag.alive, ta.alive, m)
    _prefix(ag.capacity, ta.capacity, m)
    _prefix(ag.reserve, ta.reserve, m)
    _prefix2(ag.zref, ta.zref, m)
    _prefix(ag.surveillance, ta.surveillance, m)
    _prefix(ag.efficacy, ta.efficacy, m)
    _prefix(ag.tolerance, ta.tolerance, m)
    _prefix(ag.parent, ta.parent, m)
    _prefix(ag.born_tick, ta.born_tick, m)
    _prefix(ag.death_tick, ta.death_tick, m)
    _prefix(ag.death_cause, ta.death_cause, m)
    _prefix(ag.size, ta.size, m)
    _prefix(ag.defectors, ta.defectors, m)
    _prefix2(ag.trait_sums, ta.trait_sums, m)
    _prefix(ag.seeded, ta.seeded, m)
    _prefix(ag.clones, ta.clones, m)
    _prefix(ag.taken, ta.taken, m)
    _prefix2(ag.systematic, ta.systematic, m)
    _prefix(ag.resident_drive, ta.resident_drive, m)
    _prefix(ag.noise, ta.noise, m)
    _prefix(ag.error_rate, ta.error_rate, m)
    _prefix2(ag.edge_events, ta.edge_events, m)
    ag.meta[0] = m
    state.snapshot.meta[0] = 0
    state.status[0] = template.status[0]
    state.tick_totals[0] = template.tick_totals[0]
    state.interval[0] = template.interval[0]
