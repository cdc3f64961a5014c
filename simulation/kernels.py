"""numba kernels of one ``birth_death`` tick (MODEL.md section 3).

The kernels take plain arrays, scalars and a ``numpy.random.Generator`` and
never validate: the engine (:mod:`simulation.model`) has done that. A tick is
two kernel calls with a capacity check between them:

1. :func:`draw_events` draws, for every live clone, its births, mutant births,
   deaths, immune kills and repairs from the state at the start of the tick.
2. The engine makes sure there are enough free slots for the mutants (and for
   one reference clone per agent), growing the arrays if needed.
3. :func:`apply_events` applies the counts, founds the mutant clones (drawing
   which traits mutate and by how much), moves repaired members to their
   agent's reference clone, frees the slots of extinct clones and reduces the
   state to per-agent sums.

The draws are made in a fixed order (slot order, then within a clone: births,
mutant births, deaths, kills, repairs), so that the pure-Python reference in
``tests/naive.py`` makes the very same draws and gives identical results.
"""

import math

import numpy as np
from numba import njit

# Trait columns of ``traits``.
DRIVE, LOYALTY, STEALTH, FIDELITY = 0, 1, 2, 3
N_TRAITS = 4

# Indices into the float parameter vector ``params`` (see model.pack_params).
P_BIRTH_RATE = 0
P_DEATH_RATE = 1
P_DRIVE_ADVANTAGE = 2
P_LOYALTY_COST = 3
P_ESCAPE_THRESHOLD = 4
P_ESCAPE_HEADROOM = 5
P_RUGGEDNESS = 6
P_PEAKS = 7
P_ERROR_RATE_R = 8  # mu_r: error rate after redundancy and correlation
P_REDUNDANCY_DIVISOR = 9  # 1 + redundancy_cost * (r - 1)
P_MUTATOR_STRENGTH = 10
P_KERNEL_TYPE = 11
P_KERNEL_SD = 12
P_KERNEL_BIAS = 13
P_KERNEL_SCALE = 14
P_KERNEL_SIZE = 15
P_KERNEL_DIRECTION = 16
P_IMPROVEMENT = 17
P_FALSE_POSITIVE = 18
P_REPAIR_RATE = 19
P_REPAIR_TOLERANCE = 20
N_PARAMS = 21

KERNEL_NORMAL, KERNEL_CAUCHY, KERNEL_STEP, KERNEL_UNIFORM = 0, 1, 2, 3
DIRECTION_BOTH, DIRECTION_UP, DIRECTION_DOWN = 0, 1, 2

# Columns of the per-tick event totals (apply_events and the world step).
E_BIRTHS, E_DEATHS, E_KILLS, E_REPAIRS, E_MUTATIONS, E_MUTANTS = 0, 1, 2, 3, 4, 5
E_MIGRANTS = 6
N_EVENTS = 7

# Columns of the per-agent reduction returned by apply_events.
R_SIZE = 0
R_DEFECTORS = 1
R_SUM_DRIVE = 2  # R_SUM_DRIVE + trait index: sum of count * trait
R_GOAL_OUTPUT = 6  # sum of count * loyalty (equal to the loyalty sum)
R_SEEDED = 7  # members of the seeded lineage
R_CLONES = 8
N_REDUCE = 9


def effective_error_rate(error_rate, redundancy, correlation):
    """Per-trait error rate after majority vote over ``redundancy`` copies.

    ``mu_r = rho*mu + (1 - rho) * sum_{j=(r+1)/2..r} C(r, j) mu^j (1-mu)^(r-j)``
    (MODEL.md section 3, item 6). Computed once per run, outside the tick.
    """
    majority = 0.0
    for j in range((redundancy + 1) // 2, redundancy + 1):
        majority += (
            math.comb(redundancy, j)
            * error_rate**j
            * (1.0 - error_rate) ** (redundancy - j)
        )
    return correlation * error_rate + (1.0 - correlation) * majority


@njit(cache=True)
def landscape(drive, drive_advantage, ruggedness, peaks):
    """Fitness landscape ``L(d)``, clipped at 0."""
    value = 1.0 + drive_advantage * drive
    if ruggedness != 0.0:
        value += ruggedness * math.sin(2.0 * math.pi * peaks * drive)
    return max(value, 0.0)


@njit(cache=True)
def immune_efficacy(efficacy, improvement, tick):
    """Efficacy ``e(t) = 1 - (1 - efficacy) * exp(-improvement * t)``."""
    return 1.0 - (1.0 - efficacy) * math.exp(-improvement * tick)


@njit(cache=True)
def _binomial(rng, n, p):
    # Guard so that an impossible event draws nothing from the stream (NumPy
    # also draws nothing then; the guard makes it explicit for naive.py).
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    return rng.binomial(n, p)


@njit(cache=True)
def _mutation_rate(mu_r, mutator, f_ref, f):
    """mu_eff = min(1, mu_r exp(mutator (f_ref - f))): the mutator effect."""
    if mu_r <= 0.0:
        return 0.0
    x = mutator * (f_ref - f)
    if x > 700.0:  # exp would overflow; the rate is capped at 1 anyway
        return 1.0
    return min(mu_r * math.exp(x), 1.0)


@njit(cache=True)
def _p_any_error(mu_r, mutator, f_ref, f, n_copy_traits):
    """Probability that a newborn carries at least one copy error."""
    mu = _mutation_rate(mu_r, mutator, f_ref, f)
    return -math.expm1(n_copy_traits * math.log1p(-mu)) if mu < 1.0 else 1.0


@njit(cache=True)
def _immune_and_repair(rng, i, a, n_avail, traits, zref, surveillance, efficacy,
                       tolerance, immune_mask, params, tick):
    """Immune kills then repairs among ``n_avail`` members of clone ``i``
    (MODEL.md section 3, items 8-9). Returns (kills, repairs)."""
    dev = 0.0
    for k in range(N_TRAITS):
        if immune_mask[k]:
            dev = max(dev, abs(traits[i, k] - zref[a, k]))
    q = surveillance[a]
    if dev > tolerance[a]:
        e_t = immune_efficacy(efficacy[a], params[P_IMPROVEMENT], tick)
        p_kill = q * e_t * (1.0 - traits[i, STEALTH])
    else:
        p_kill = q * params[P_FALSE_POSITIVE]
    kills = _binomial(rng, n_avail, p_kill)
    repairs = 0
    if dev > params[P_REPAIR_TOLERANCE]:
        repairs = _binomial(rng, n_avail - kills, params[P_REPAIR_RATE])
    return kills, repairs


@njit(cache=True)
def _clear_events(i, births, mutants, deaths, kills, repairs):
    births[i] = 0
    mutants[i] = 0
    deaths[i] = 0
    kills[i] = 0
    repairs[i] = 0


@njit(cache=True)
def draw_events(
    n_slots, count, agent, traits, size, capacity, zref, surveillance,
    efficacy, tolerance, n_copy_traits, immune_mask, params, tick, rng,
    births, mutants, deaths, kills, repairs,
):
    """Draw every live clone's events for one tick (MODEL.md section 3).

    ``size`` and ``capacity`` are per agent, taken at the start of the tick.
    Writes into ``births``, ``mutants``, ``deaths``, ``kills``, ``repairs``
    (one entry per slot; zero for empty slots).
    """
    birth_rate = params[P_BIRTH_RATE]
    death_rate = params[P_DEATH_RATE]
    theta = params[P_ESCAPE_THRESHOLD]
    headroom = params[P_ESCAPE_HEADROOM]
    mu_r = params[P_ERROR_RATE_R]
    mutator = params[P_MUTATOR_STRENGTH]
    for i in range(n_slots):
        n = count[i]
        _clear_events(i, births, mutants, deaths, kills, repairs)
        if n <= 0:
            continue
        a = agent[i]
        drive = traits[i, DRIVE]
        loyalty = traits[i, LOYALTY]
        # 1-2. growth control; a defector has escaped it up to H * K.
        if drive > theta:
            g = 1.0 - size[a] / (headroom * capacity[a])
        else:
            g = 1.0 - size[a] / capacity[a]
        g = max(g, 0.0)
        # 3-4. births
        fit = landscape(drive, params[P_DRIVE_ADVANTAGE], params[P_RUGGEDNESS],
                        params[P_PEAKS])
        p_birth = (birth_rate * fit * (1.0 - params[P_LOYALTY_COST] * loyalty)
                   * g / params[P_REDUNDANCY_DIVISOR])
        p_birth = min(p_birth, 1.0)
        b = _binomial(rng, n, p_birth)
        # 5-6. newborns carrying at least one copy error
        m = 0
        if b > 0:  # (no draw either way when b = 0: skip the exp and log)
            m = _binomial(rng, b, _p_any_error(mu_r, mutator, zref[a, FIDELITY],
                                               traits[i, FIDELITY], n_copy_traits))
        # 7. deaths among the members present at the start of the tick
        d = _binomial(rng, n, death_rate)
        # 8-9. immune system and repair, among the members that did not die
        kl, r = _immune_and_repair(rng, i, a, n - d, traits, zref, surveillance,
                                   efficacy, tolerance, immune_mask, params, tick)
        births[i] = b
        mutants[i] = m
        deaths[i] = d
        kills[i] = kl
        repairs[i] = r


@njit(cache=True)
def mutation_step(rng, value, kernel_type, sd, bias, scale, size, direction):
    """One copy error of a trait value, clipped to [0, 1] (MODEL.md 3.5)."""
    if kernel_type == KERNEL_NORMAL:
        value = value + rng.normal(bias, sd)
    elif kernel_type == KERNEL_CAUCHY:
        value = value + scale * rng.standard_cauchy()
    elif kernel_type == KERNEL_STEP:
        if direction == DIRECTION_UP:
            value = value + size
        elif direction == DIRECTION_DOWN:
            value = value - size
        elif rng.random() < 0.5:
            value = value + size
        else:
            value = value - size
    else:
        value = rng.random()
    return min(max(value, 0.0), 1.0)


@njit(cache=True)
def _row(index, table):
    """The lineage row of clone ``index``. Without lineage recording the
    tables have one row, which every write then uses (scratch), so memory
    does not grow with the clones ever founded."""
    return min(index, table.shape[0] - 1)


@njit(cache=True)
def _new_slot(free, n_free, n_slots):
    # Pop a free slot; the engine guarantees one exists. Returns the slot and
    # the updated stack height and slot high-water mark.
    if n_free > 0:
        n_free -= 1
        return free[n_free], n_free, n_slots
    return n_slots, n_free, n_slots + 1


@njit(cache=True)
def _found_clone(i, j, a, n, next_id, count, agent, traits, clone_id, seeded,
                 repair_slot, ancestor, tick, lineage_parent, lineage_agent,
                 lineage_origin, lineage_end, lineage_traits, lineage_seeded):
    """Found in slot ``j`` a clone of ``n`` members in agent ``a`` with clone
    ``i``'s traits, as ``i``'s child: lineage, seeded flag and ancestor."""
    r = _row(next_id, lineage_parent)
    for k in range(N_TRAITS):
        traits[j, k] = traits[i, k]
        lineage_traits[r, k] = traits[i, k]
    count[j] = n
    agent[j] = a
    seeded[j] = seeded[i]
    clone_id[j] = next_id
    repair_slot[j] = -1
    ancestor[j] = ancestor[i]
    lineage_parent[r] = clone_id[i]
    lineage_agent[r] = a
    lineage_origin[r] = tick
    lineage_end[r] = -1
    lineage_seeded[r] = seeded[i]


@njit(cache=True)
def _found_mutant(rng, i, j, a, traits, agent, count, clone_id, seeded, repair_slot,
                  ancestor, next_id, mu, copy_traits, params, tick, lineage_parent,
                  lineage_agent, lineage_origin, lineage_end, lineage_traits,
                  lineage_seeded):
    """Found in slot ``j`` of agent ``a`` a one-member mutant clone of clone ``i``.

    Which traits mutate is drawn from k independent Bernoulli(mu) trials
    conditioned on at least one success, without rejection: while none has
    mutated, trait c of the k' remaining mutates with probability
    mu / (1 - (1 - mu)^k'); after the first, each with probability mu.
    Returns the number of traits mutated.
    """
    n_copy = copy_traits.shape[0]
    log_keep = math.log1p(-mu) if mu < 1.0 else -np.inf
    _found_clone(i, j, a, 1, next_id, count, agent, traits, clone_id, seeded,
                 repair_slot, ancestor, tick, lineage_parent, lineage_agent,
                 lineage_origin, lineage_end, lineage_traits, lineage_seeded)
    hits = 0
    for c in range(n_copy):
        if hits > 0:
            p = mu
        else:
            p = mu / -math.expm1((n_copy - c) * log_keep)
        if rng.random() < p:
            hits += 1
            k = copy_traits[c]
            traits[j, k] = mutation_step(
                rng, traits[j, k], int(params[P_KERNEL_TYPE]), params[P_KERNEL_SD],
                params[P_KERNEL_BIAS], params[P_KERNEL_SCALE], params[P_KERNEL_SIZE],
                int(params[P_KERNEL_DIRECTION]))
            lineage_traits[_row(next_id, lineage_traits), k] = traits[j, k]
    return hits


@njit(cache=True)
def free_and_reduce(n_slots, n_free, count, agent, traits, seeded, free, params,
                    tick, clone_id, lineage_end, n_agents, reduce):
    """Free the slots of extinct clones and reduce the state per agent.

    Returns the new free-stack height. ``reduce`` (n_agents x N_REDUCE)
    receives the per-agent sums ``R_*``.
    """
    for a in range(n_agents):
        for c in range(N_REDUCE):
            reduce[a, c] = 0.0
    theta = params[P_ESCAPE_THRESHOLD]
    for i in range(n_slots):
        n = count[i]
        if n < 0:
            continue  # a free slot (marked -1)
        a = agent[i]
        if n == 0:
            count[i] = -1
            free[n_free] = i
            n_free += 1
            lineage_end[_row(clone_id[i], lineage_end)] = tick
            continue
        reduce[a, R_SIZE] += n
        if traits[i, DRIVE] > theta:
            reduce[a, R_DEFECTORS] += n
        for k in range(N_TRAITS):
            reduce[a, R_SUM_DRIVE + k] += n * traits[i, k]
        if seeded[i]:
            reduce[a, R_SEEDED] += n
        reduce[a, R_CLONES] += 1
    for a in range(n_agents):
        reduce[a, R_GOAL_OUTPUT] = reduce[a, R_SUM_DRIVE + LOYALTY]
    return n_free


@njit(cache=True)
def apply_events(
    n_slots, n_free, next_id, count, agent, traits, clone_id, seeded, free,
    repair_slot, repair_id, ancestor, zref, copy_traits, params, tick, rng,
    births, mutants, deaths, kills, repairs,
    lineage_parent, lineage_agent, lineage_origin, lineage_end, lineage_traits,
    lineage_seeded, n_agents, totals, reduce,
):
    """Apply drawn events, found mutant clones, and reduce per agent.

    Each clone's count becomes ``n + births - mutants - deaths - kills -
    repairs``; each mutant newborn founds a clone; a clone's repaired members
    are reset to z_ref and join its *repair child*, a clone with traits z_ref
    whose parent it is (founded the first time, reused while it lives), so
    lineages stay exact. New clones inherit their parent's ``ancestor``.
    Returns ``(n_slots, n_free, next_id)``; ``totals`` receives the event
    counts (``E_*``), ``reduce`` the per-agent sums.
    """
    mu_r = params[P_ERROR_RATE_R]
    mutator = params[P_MUTATOR_STRENGTH]
    for j in range(N_EVENTS):
        totals[j] = 0
    start_slots = n_slots
    # Existing clones: survivors plus newborns that carry no copy error.
    for i in range(start_slots):
        if count[i] <= 0:
            continue
        count[i] += births[i] - mutants[i] - deaths[i] - kills[i] - repairs[i]
        totals[E_BIRTHS] += births[i]
        totals[E_DEATHS] += deaths[i]
        totals[E_KILLS] += kills[i]
        totals[E_REPAIRS] += repairs[i]
        totals[E_MUTANTS] += mutants[i]
    # Mutant newborns: each founds a clone.
    for i in range(start_slots):
        m = mutants[i]
        if m == 0:
            continue
        mu = _mutation_rate(mu_r, mutator, zref[agent[i], FIDELITY], traits[i, FIDELITY])
        for _ in range(m):
            j, n_free, n_slots = _new_slot(free, n_free, n_slots)
            totals[E_MUTATIONS] += _found_mutant(
                rng, i, j, agent[i], traits, agent, count, clone_id, seeded,
                repair_slot, ancestor, next_id, mu, copy_traits, params, tick,
                lineage_parent, lineage_agent, lineage_origin, lineage_end,
                lineage_traits, lineage_seeded)
            next_id += 1
    # Repaired members: reset to z_ref, into the clone's repair child.
    for i in range(start_slots):
        r = repairs[i]
        if r == 0:
            continue
        j = repair_slot[i]
        if j < 0 or clone_id[j] != repair_id[i] or count[j] < 0:
            a = agent[i]
            j, n_free, n_slots = _new_slot(free, n_free, n_slots)
            _found_clone(i, j, a, 0, next_id, count, agent, traits, clone_id, seeded,
                         repair_slot, ancestor, tick, lineage_parent, lineage_agent,
                         lineage_origin, lineage_end, lineage_traits, lineage_seeded)
            for k in range(N_TRAITS):  # reset to the agent's z_ref
                traits[j, k] = zref[a, k]
                lineage_traits[_row(next_id, lineage_traits), k] = zref[a, k]
            repair_slot[i] = j
            repair_id[i] = next_id
            next_id += 1
        count[j] += r
    n_free = free_and_reduce(n_slots, n_free, count, agent, traits, seeded, free,
                             params, tick, clone_id, lineage_end, n_agents, reduce)
    return n_slots, n_free, next_id


@njit(cache=True)
def draw_immune(n_slots, count, agent, traits, zref, surveillance, efficacy,
                tolerance, immune_mask, params, tick, rng,
                births, mutants, deaths, kills, repairs):
    """Immune kills and repairs only (the first phase of a ``wright_fisher``
    or ``moran`` tick); births, mutants and deaths are set to 0."""
    for i in range(n_slots):
        _clear_events(i, births, mutants, deaths, kills, repairs)
        n = count[i]
        if n <= 0:
            continue
        kl, r = _immune_and_repair(rng, i, agent[i], n, traits, zref, surveillance,
                                   efficacy, tolerance, immune_mask, params, tick)
        kills[i] = kl
        repairs[i] = r


@njit(cache=True)
def fitness(drive, loyalty, params):
    """Relative fitness ``w = L(d) (1 - loyalty_cost l)`` of WF and Moran."""
    return landscape(drive, params[P_DRIVE_ADVANTAGE], params[P_RUGGEDNESS],
                     params[P_PEAKS]) * (1.0 - params[P_LOYALTY_COST] * loyalty)


@njit(cache=True)
def draw_wright_fisher(n_slots, count, agent, traits, capacity, zref, n_copy_traits,
                       params, n_agents, rng, births, mutants, deaths, kills, repairs):
    """Draw the next Wright-Fisher generation (MODEL.md section 3).

    Each agent's next generation has ``capacity[a]`` members drawn
    multinomially with weights ``n w``, by conditional binomials in slot
    order: clone i gets ``Binomial(remaining, n_i w_i / remaining weight)``
    and the last clone of positive weight gets all that remain. Every parent
    dies (``deaths = n``); ``mutants`` are the newborns with a copy error.
    """
    weight = np.zeros(n_agents)
    positive_left = np.zeros(n_agents, dtype=np.int64)
    for i in range(n_slots):
        if count[i] > 0:
            w = count[i] * fitness(traits[i, DRIVE], traits[i, LOYALTY], params)
            if w > 0.0:
                weight[agent[i]] += w
                positive_left[agent[i]] += 1
    remaining = np.zeros(n_agents, dtype=np.int64)
    for a in range(n_agents):
        if weight[a] > 0.0:
            remaining[a] = int(capacity[a])
    mu_r = params[P_ERROR_RATE_R]
    mutator = params[P_MUTATOR_STRENGTH]
    for i in range(n_slots):
        _clear_events(i, births, mutants, deaths, kills, repairs)
        n = count[i]
        if n <= 0:
            continue
        a = agent[i]
        deaths[i] = n
        w = n * fitness(traits[i, DRIVE], traits[i, LOYALTY], params)
        if w <= 0.0:
            continue
        positive_left[a] -= 1
        if positive_left[a] == 0:
            x = remaining[a]
        else:
            x = _binomial(rng, remaining[a], min(w / weight[a], 1.0))
        remaining[a] -= x
        weight[a] -= w
        births[i] = x
        mutants[i] = _binomial(rng, x, _p_any_error(mu_r, mutator, zref[a, FIDELITY],
                                                    traits[i, FIDELITY], n_copy_traits))


@njit(cache=True)
def moran_events(start_agent, n_agents, n_slots, n_free, next_id, count, agent,
                 traits, clone_id, seeded, free, repair_slot, ancestor, zref,
                 copy_traits, params, tick, rng, refill, lineage_parent, lineage_agent, lineage_origin,
                 lineage_end, lineage_traits, lineage_seeded, totals):
    """One Moran tick for agents ``start_agent..``: ``refill[a]`` births, then
    N birth-death events (N = the agent's size at the start of the tick).

    An event picks a parent in proportion to ``n w`` and, from the same
    state, a uniform victim among the agent's members; the newborn (which may
    carry copy errors and found a clone) replaces the victim. Refill births
    replace the members the immune system removed, so the size is constant.
    Returns ``(next_agent, n_slots, n_free, next_id)``: when the free slots or
    lineage rows could run out for agent a, it stops before a's first draw
    and returns a, so the engine can grow the arrays and call again.
    """
    mu_r = params[P_ERROR_RATE_R]
    mutator = params[P_MUTATOR_STRENGTH]
    n_copy = copy_traits.shape[0]
    size = np.zeros(n_agents, dtype=np.int64)
    n_clones = np.zeros(n_agents, dtype=np.int64)
    for i in range(n_slots):
        if count[i] > 0:
            size[agent[i]] += count[i]
            n_clones[agent[i]] += 1
    # The agents' live slots, grouped by agent in slot order (counting sort).
    start = np.zeros(n_agents + 1, dtype=np.int64)
    for a in range(n_agents):
        start[a + 1] = start[a] + n_clones[a]
    grouped = np.empty(start[n_agents], dtype=np.int64)
    fill = start[:n_agents].copy()
    for i in range(n_slots):
        if count[i] > 0:
            grouped[fill[agent[i]]] = i
            fill[agent[i]] += 1
    capacity = count.shape[0]
    for a in range(start_agent, n_agents):
        n_events = refill[a] + size[a]
        if n_events == 0:
            continue
        # (A one-row lineage table is scratch: lineages are not recorded.)
        if (n_free + capacity - n_slots < n_events
                or (lineage_parent.shape[0] > 1
                    and lineage_parent.shape[0] - next_id < n_events)):
            return a, n_slots, n_free, next_id
        local = np.empty(n_clones[a] + n_events, dtype=np.int64)
        w = np.empty(n_clones[a] + n_events)
        n_local = n_clones[a]
        for c in range(n_local):
            i = grouped[start[a] + c]
            local[c] = i
            w[c] = fitness(traits[i, DRIVE], traits[i, LOYALTY], params)
        current = size[a]
        for e in range(n_events):
            total = 0.0
            for c in range(n_local):
                total += count[local[c]] * w[c]
            if total <= 0.0:
                break  # no member can reproduce
            u = rng.random() * total
            parent = n_local - 1
            acc = 0.0
            for c in range(n_local):
                acc += count[local[c]] * w[c]
                if u < acc:
                    parent = c
                    break
            victim = -1
            if e >= refill[a]:
                v = rng.integers(0, current)
                acc_n = 0
                for c in range(n_local):
                    acc_n += count[local[c]]
                    if v < acc_n:
                        victim = c
                        break
            i = local[parent]
            p_any = _p_any_error(mu_r, mutator, zref[a, FIDELITY], traits[i, FIDELITY],
                                 n_copy)
            if p_any > 0.0 and rng.random() < p_any:
                mu = _mutation_rate(mu_r, mutator, zref[a, FIDELITY], traits[i, FIDELITY])
                j, n_free, n_slots = _new_slot(free, n_free, n_slots)
                totals[E_MUTATIONS] += _found_mutant(
                    rng, i, j, a, traits, agent, count, clone_id, seeded, repair_slot,
                    ancestor, next_id, mu, copy_traits, params, tick, lineage_parent,
                    lineage_agent, lineage_origin, lineage_end, lineage_traits,
                    lineage_seeded)
                next_id += 1
                local[n_local] = j
                w[n_local] = fitness(traits[j, DRIVE], traits[j, LOYALTY], params)
                n_local += 1
                totals[E_MUTANTS] += 1
            else:
                count[i] += 1
            totals[E_BIRTHS] += 1
            if victim >= 0:
                count[local[victim]] -= 1
                totals[E_DEATHS] += 1
            else:
                current += 1
    return n_agents, n_slots, n_free, next_id


@njit(cache=True)
def draw_migrants(n_slots, count, agent, traits, agent_alive, n_alive, params,
                  transmission, rng, movers):
    """Per defector clone (drive > theta) of a live agent, the members that
    leave this tick: ``Binomial(n, transmission)`` (none if no other agent
    is alive). Returns the number of clones the moves can found."""
    theta = params[P_ESCAPE_THRESHOLD]
    bound = 0
    for i in range(n_slots):
        movers[i] = 0
        if count[i] <= 0 or traits[i, DRIVE] <= theta or n_alive < 2:
            continue
        if not agent_alive[agent[i]]:
            continue
        m = _binomial(rng, count[i], transmission)
        movers[i] = m
        bound += min(m, n_alive - 1)
    return bound


@njit(cache=True)
def move_migrants(n_slots, n_free, next_id, count, agent, traits, clone_id, seeded,
                  free, repair_slot, ancestor, alive_agents, movers, tick, rng,
                  lineage_parent, lineage_agent, lineage_origin, lineage_end,
                  lineage_traits, lineage_seeded):
    """Move each clone's migrants to uniformly chosen other live agents.

    The m movers of clone i (in agent a) are spread over the other live
    agents (``alive_agents`` in increasing order, a skipped) by conditional
    binomials: agent b gets ``Binomial(remaining, 1 / agents left)``. Those
    arriving in b found a clone there with i's traits, parent i and i's
    ancestor: subcomponents are moved, never created or lost.
    Returns ``(n_slots, n_free, next_id)``.
    """
    start_slots = n_slots
    for i in range(start_slots):
        m = movers[i]
        if m == 0:
            continue
        a = agent[i]
        count[i] -= m
        remaining = m
        others = alive_agents.shape[0] - 1
        for b in alive_agents:
            if b == a:
                continue
            if others == 1:
                x = remaining
            else:
                x = _binomial(rng, remaining, 1.0 / others)
            others -= 1
            remaining -= x
            if x == 0:
                continue
            j, n_free, n_slots = _new_slot(free, n_free, n_slots)
            _found_clone(i, j, b, x, next_id, count, agent, traits, clone_id, seeded,
                         repair_slot, ancestor, tick, lineage_parent, lineage_agent,
                         lineage_origin, lineage_end, lineage_traits, lineage_seeded)
            next_id += 1
            if remaining == 0:
                break
    return n_slots, n_free, next_id


@njit(cache=True)
def found_children(parents, children, bottleneck, n_slots, n_free, next_id, count,
                   agent, traits, clone_id, seeded, free, repair_slot, ancestor, zref,
                   copy_traits, params, tick, rng, founder_reference, agent_mutation,
                   surveillance, efficacy, tolerance, lineage_parent, lineage_agent,
                   lineage_origin, lineage_end, lineage_traits, lineage_seeded, totals):
    """Found child agent ``children[p]`` of each parent agent ``parents[p]``.

    ``min(bottleneck, N)`` of the parent's members are chosen in proportion
    to clone counts (a multinomial by conditional binomials over the
    parent's clones in slot order) and *copied* (the parent keeps them):
    each copy carries copy errors with the parent clone's error rate. Copies
    without error found one clone per parent clone in the child; each
    mutant copy founds its own. The child's z_ref is its founders' mean
    traits (``founder_reference``) or the parent's z_ref; its surveillance,
    efficacy and tolerance are the parent's, each mutated with probability
    ``agent_mutation`` by a step of copy.kernel. Returns
    ``(n_slots, n_free, next_id)``.
    """
    mu_r = params[P_ERROR_RATE_R]
    mutator = params[P_MUTATOR_STRENGTH]
    n_copy = copy_traits.shape[0]
    for p in range(parents.shape[0]):
        a = parents[p]
        c = children[p]
        size = 0
        for i in range(n_slots):
            if count[i] > 0 and agent[i] == a:
                size += count[i]
        remaining = min(bottleneck, size)
        left = size
        sums = np.zeros(N_TRAITS)
        founders = 0
        start_slots = n_slots
        for i in range(start_slots):
            if remaining == 0:
                break
            n = count[i]
            if n <= 0 or agent[i] != a:
                continue
            if left == n:
                x = remaining
            else:
                x = _binomial(rng, remaining, n / left)
            left -= n
            remaining -= x
            if x == 0:
                continue
            mu = _mutation_rate(mu_r, mutator, zref[a, FIDELITY], traits[i, FIDELITY])
            m = _binomial(rng, x, _p_any_error(mu_r, mutator, zref[a, FIDELITY],
                                               traits[i, FIDELITY], n_copy))
            if x - m > 0:
                j, n_free, n_slots = _new_slot(free, n_free, n_slots)
                _found_clone(i, j, c, x - m, next_id, count, agent, traits, clone_id,
                             seeded, repair_slot, ancestor, tick, lineage_parent,
                             lineage_agent, lineage_origin, lineage_end, lineage_traits,
                             lineage_seeded)
                for k in range(N_TRAITS):
                    sums[k] += (x - m) * traits[i, k]
                next_id += 1
            for _ in range(m):
                j, n_free, n_slots = _new_slot(free, n_free, n_slots)
                totals[E_MUTATIONS] += _found_mutant(
                    rng, i, j, c, traits, agent, count, clone_id, seeded, repair_slot,
                    ancestor, next_id, mu, copy_traits, params, tick, lineage_parent,
                    lineage_agent, lineage_origin, lineage_end, lineage_traits,
                    lineage_seeded)
                for k in range(N_TRAITS):
                    sums[k] += traits[j, k]
                next_id += 1
            founders += x
        for k in range(N_TRAITS):
            if founder_reference and founders > 0:
                zref[c, k] = sums[k] / founders
            else:
                zref[c, k] = zref[a, k]
        surveillance[c] = surveillance[a]
        efficacy[c] = efficacy[a]
        tolerance[c] = tolerance[a]
        if rng.random() < agent_mutation:
            surveillance[c] = _heritable_step(rng, surveillance[c], params)
        if rng.random() < agent_mutation:
            efficacy[c] = _heritable_step(rng, efficacy[c], params)
        if rng.random() < agent_mutation:
            tolerance[c] = _heritable_step(rng, tolerance[c], params)
    return n_slots, n_free, next_id


@njit(cache=True)
def _heritable_step(rng, value, params):
    return mutation_step(rng, value, int(params[P_KERNEL_TYPE]), params[P_KERNEL_SD],
                         params[P_KERNEL_BIAS], params[P_KERNEL_SCALE],
                         params[P_KERNEL_SIZE], int(params[P_KERNEL_DIRECTION]))


@njit(cache=True)
def tick_birth_death(
    n_slots, n_free, next_id, count, agent, traits, clone_id, seeded, free,
    repair_slot, repair_id, ancestor, size, capacity, zref, surveillance, efficacy,
    tolerance, immune_mask, copy_traits, params, tick, rng,
    births, mutants, deaths, kills, repairs,
    lineage_parent, lineage_agent, lineage_origin, lineage_end, lineage_traits,
    lineage_seeded, n_agents, totals, reduce,
):
    """A whole birth_death tick in one call: :func:`draw_events`, then, when
    the free slots (and lineage rows) hold every clone the events can found,
    :func:`apply_events`. Returns ``(applied, needed, n_slots, n_free,
    next_id)``; when not applied the state is untouched and the drawn events
    wait in the buffers: the engine grows the arrays and applies them (the
    same draws, so the result does not depend on the array sizes)."""
    draw_events(n_slots, count, agent, traits, size, capacity, zref, surveillance,
                efficacy, tolerance, copy_traits.shape[0], immune_mask, params, tick,
                rng, births, mutants, deaths, kills, repairs)
    needed = 0
    for i in range(n_slots):
        needed += mutants[i]
        if repairs[i] > 0:
            needed += 1
    room = n_free + count.shape[0] - n_slots
    lineage_room = lineage_parent.shape[0] - next_id
    if needed > room or (lineage_parent.shape[0] > 1 and needed > lineage_room):
        return False, needed, n_slots, n_free, next_id
    n_slots, n_free, next_id = apply_events(
        n_slots, n_free, next_id, count, agent, traits, clone_id, seeded, free,
        repair_slot, repair_id, ancestor, zref, copy_traits, params, tick, rng,
        births, mutants, deaths, kills, repairs, lineage_parent, lineage_agent,
        lineage_origin, lineage_end, lineage_traits, lineage_seeded, n_agents,
        totals, reduce)
    return True, needed, n_slots, n_free, next_id


@njit(cache=True)
def agent_fates(reduce, alive, takeover_fraction, taken, empty, low_goal,
                oversight_threshold):
    """Per agent: taken over now (alive, members, defector fraction at least
    ``takeover_fraction``), empty (alive, no members), and goal output per
    subcomponent below ``oversight_threshold``. Returns the number taken and
    the largest defector fraction of a live agent."""
    n_taken = 0
    largest = 0.0
    for a in range(reduce.shape[0]):
        size = reduce[a, R_SIZE]
        taken[a] = False
        empty[a] = False
        low_goal[a] = False
        if not alive[a]:
            continue
        if size <= 0:
            empty[a] = True
            continue
        fraction = reduce[a, R_DEFECTORS] / size
        largest = max(largest, fraction)
        if fraction >= takeover_fraction:
            taken[a] = True
            n_taken += 1
        if reduce[a, R_GOAL_OUTPUT] / size < oversight_threshold:
            low_goal[a] = True
    return n_taken, largest
