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

# Columns of the per-tick event totals returned by apply_events.
E_BIRTHS, E_DEATHS, E_KILLS, E_REPAIRS, E_MUTATIONS, E_MUTANTS = 0, 1, 2, 3, 4, 5
N_EVENTS = 6

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
    false_positive = params[P_FALSE_POSITIVE]
    repair_rate = params[P_REPAIR_RATE]
    repair_tolerance = params[P_REPAIR_TOLERANCE]
    for i in range(n_slots):
        n = count[i]
        births[i] = 0
        mutants[i] = 0
        deaths[i] = 0
        kills[i] = 0
        repairs[i] = 0
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
        mu = mu_r * math.exp(mutator * (zref[a, FIDELITY] - traits[i, FIDELITY]))
        mu = min(mu, 1.0)
        p_any = -math.expm1(n_copy_traits * math.log1p(-mu)) if mu < 1.0 else 1.0
        m = _binomial(rng, b, p_any)
        # 7. deaths among the members present at the start of the tick
        d = _binomial(rng, n, death_rate)
        # 8. immune system
        dev = 0.0
        for k in range(N_TRAITS):
            if immune_mask[k]:
                dev = max(dev, abs(traits[i, k] - zref[a, k]))
        q = surveillance[a]
        if dev > tolerance[a]:
            e_t = immune_efficacy(efficacy[a], params[P_IMPROVEMENT], tick)
            p_kill = q * e_t * (1.0 - traits[i, STEALTH])
        else:
            p_kill = q * false_positive
        kl = _binomial(rng, n - d, p_kill)
        # 9. repair
        r = 0
        if dev > repair_tolerance:
            r = _binomial(rng, n - d - kl, repair_rate)
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
def _new_slot(free, n_free, n_slots):
    # Pop a free slot; the engine guarantees one exists. Returns the slot and
    # the updated stack height and slot high-water mark.
    if n_free > 0:
        n_free -= 1
        return free[n_free], n_free, n_slots
    return n_slots, n_free, n_slots + 1


@njit(cache=True)
def apply_events(
    n_slots, n_free, next_id, count, agent, traits, clone_id, seeded, free,
    ref_slot, zref, copy_traits, params, tick, rng,
    births, mutants, deaths, kills, repairs,
    lineage_parent, lineage_agent, lineage_origin, lineage_end, lineage_traits,
    lineage_seeded, n_agents, totals, reduce,
):
    """Apply one tick's drawn events and reduce the state per agent.

    Returns ``(n_slots, n_free, next_id)``: the new slot high-water mark,
    free-stack height and next clone id. ``totals`` receives the tick's event
    counts (``E_*``); ``reduce`` (``n_agents x N_REDUCE``) the per-agent sums
    (``R_*``) after the tick.
    """
    mu_r = params[P_ERROR_RATE_R]
    mutator = params[P_MUTATOR_STRENGTH]
    kernel_type = int(params[P_KERNEL_TYPE])
    direction = int(params[P_KERNEL_DIRECTION])
    n_copy = copy_traits.shape[0]
    for j in range(N_EVENTS):
        totals[j] = 0
    repaired = np.zeros(n_agents, dtype=np.int64)
    start_slots = n_slots
    # Existing clones: survivors plus newborns that carry no copy error.
    for i in range(start_slots):
        if count[i] <= 0:
            continue
        count[i] += births[i] - mutants[i] - deaths[i] - kills[i] - repairs[i]
        repaired[agent[i]] += repairs[i]
        totals[E_BIRTHS] += births[i]
        totals[E_DEATHS] += deaths[i]
        totals[E_KILLS] += kills[i]
        totals[E_REPAIRS] += repairs[i]
        totals[E_MUTANTS] += mutants[i]
    # Mutant newborns: each founds a clone. Which traits mutate is drawn
    # conditionally on at least one doing so (exact for independent errors).
    for i in range(start_slots):
        m = mutants[i]
        if m == 0:
            continue
        a = agent[i]
        mu = mu_r * math.exp(mutator * (zref[a, FIDELITY] - traits[i, FIDELITY]))
        mu = min(mu, 1.0)
        log_keep = math.log1p(-mu) if mu < 1.0 else -np.inf
        for _ in range(m):
            j, n_free, n_slots = _new_slot(free, n_free, n_slots)
            for k in range(N_TRAITS):
                traits[j, k] = traits[i, k]
            any_yet = False
            for c in range(n_copy):
                if any_yet:
                    p = mu
                else:
                    remaining = n_copy - c
                    p = mu / -math.expm1(remaining * log_keep)
                if rng.random() < p:
                    any_yet = True
                    k = copy_traits[c]
                    traits[j, k] = mutation_step(
                        rng, traits[j, k], kernel_type, params[P_KERNEL_SD],
                        params[P_KERNEL_BIAS], params[P_KERNEL_SCALE],
                        params[P_KERNEL_SIZE], direction)
                    totals[E_MUTATIONS] += 1
            count[j] = 1
            agent[j] = a
            seeded[j] = seeded[i]
            clone_id[j] = next_id
            lineage_parent[next_id] = clone_id[i]
            lineage_agent[next_id] = a
            lineage_origin[next_id] = tick
            lineage_end[next_id] = -1
            lineage_seeded[next_id] = seeded[i]
            for k in range(N_TRAITS):
                lineage_traits[next_id, k] = traits[j, k]
            next_id += 1
    # Repaired members are reset to z_ref: they join the agent's reference
    # clone, founded (as a root, parent -1) if the agent has none alive.
    for a in range(n_agents):
        if repaired[a] == 0:
            continue
        j = ref_slot[a]
        if j < 0:
            j, n_free, n_slots = _new_slot(free, n_free, n_slots)
            for k in range(N_TRAITS):
                traits[j, k] = zref[a, k]
                lineage_traits[next_id, k] = zref[a, k]
            count[j] = 0
            agent[j] = a
            seeded[j] = False
            clone_id[j] = next_id
            lineage_parent[next_id] = -1
            lineage_agent[next_id] = a
            lineage_origin[next_id] = tick
            lineage_end[next_id] = -1
            lineage_seeded[next_id] = False
            next_id += 1
            ref_slot[a] = j
        count[j] += repaired[a]
    # Free extinct clones and reduce per agent.
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
            lineage_end[clone_id[i]] = tick
            if ref_slot[a] == i:
                ref_slot[a] = -1
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
    return n_slots, n_free, next_id
