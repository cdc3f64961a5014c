"""The classical within-agent dynamics: ``wright_fisher`` and ``moran``
(docs/model.md, "Other within-agent dynamics", for comparison with theory).

Both start with an immune phase (kills and repairs, drawn by
:func:`simulation.kernels.birth_death.draw_immune`).
"""

import math

import numpy as np

from .binomial import numpy_binomial
from .jit import kernel
from .clones import (DRIVE, FIDELITY, LOYALTY, clear_events, fitness,
                     found_mutant, grow_clones, has_room, mutation_rate, new_slot,
                     p_any_error, tilt_factor, tilt_front, tilted)
from .types import found_type_mutants, type_error_probability


@kernel()
def clone_fitness(cl, i, p, shape, types):
    """Relative fitness of clone ``i`` (:func:`.clones.fitness`), times its
    type's birth modifier in a types scenario."""
    w = fitness(cl.traits[i, DRIVE], cl.traits[i, LOYALTY], p, shape)
    if p.typed:
        w *= types.birth[cl.type[i]]
    return w


@kernel()
def error_probability(cl, ag, i, a, cfg, p, n_copy):
    """The probability that a newborn of clone ``i`` carries a copy error
    (a change of type, in a types scenario)."""
    if p.typed:
        return type_error_probability(cl, ag, i, a, cfg.types, p)
    return p_any_error(ag.error_rate[a], p.mutator_strength, ag.zref[a, FIDELITY],
                       cl.traits[i, FIDELITY], n_copy)


@kernel()
def draw_wright_fisher(cl, ag, ev, cfg, rng):
    """Draw the next Wright-Fisher generation; returns the clones it can found.

    Each agent's next generation has ``capacity[a]`` members drawn
    multinomially with weights ``n w``, by conditional binomials in slot
    order: clone i gets ``Binomial(remaining, n_i w_i / remaining weight)``
    and the last clone of positive weight gets all that remain. Every parent
    dies (``deaths = n``); ``mutants`` are the newborns with a copy error.
    """
    p = cfg.params[0]
    shape = cfg.landscape
    n_agents = ag.meta[0]
    n_slots = cl.meta[0]
    weight = np.zeros(n_agents)
    positive_left = np.zeros(n_agents, dtype=np.int64)
    for i in range(n_slots):
        if cl.count[i] > 0:
            w = cl.count[i] * clone_fitness(cl, i, p, shape, cfg.types)
            if w > 0.0:
                weight[cl.agent[i]] += w
                positive_left[cl.agent[i]] += 1
    remaining = np.zeros(n_agents, dtype=np.int64)
    for a in range(n_agents):
        if weight[a] > 0.0:
            remaining[a] = int(ag.capacity[a])
    n_copy = cfg.copy_traits.shape[0]
    needed = 0
    for i in range(n_slots):
        clear_events(ev, i)
        n = cl.count[i]
        if n <= 0:
            continue
        a = cl.agent[i]
        ev.deaths[i] = n
        w = n * clone_fitness(cl, i, p, shape, cfg.types)
        if w <= 0.0:
            continue
        positive_left[a] -= 1
        if positive_left[a] == 0:
            x = remaining[a]
        else:
            x = numpy_binomial(rng, remaining[a], min(w / weight[a], 1.0))
        remaining[a] -= x
        weight[a] -= w
        ev.births[i] = x
        m = numpy_binomial(rng, x, error_probability(cl, ag, i, a, cfg, p, n_copy))
        ev.mutants[i] = m
        needed += m
    return needed


@kernel()
def moran_tick(cl, ln, ev, ag, cfg, rng, tick, refill, totals):
    """:func:`moran_events` after growing the tables to hold the worst case
    (every event a mutant); returns the (possibly grown) tables."""
    n_events = 0
    for a in range(ag.meta[0]):
        n_events += refill[a] + int(ag.size[a])
    if not has_room(cl, ln, n_events):
        cl, ln, ev = grow_clones(cl, ln, ev, n_events)
    moran_events(cl, ln, ag, cfg, rng, tick, refill, totals)
    return cl, ln, ev


@kernel()
def moran_events(cl, ln, ag, cfg, rng, tick, refill, totals):
    """One Moran tick: per agent ``refill[a]`` births, then N birth-death
    events (N = the agent's size at the start of the tick).

    An event picks a parent in proportion to ``n w`` and, from the same
    state, a uniform victim among the agent's members; the newborn (which may
    carry copy errors and found a clone) replaces the victim. Refill births
    replace the members the immune system removed, so the size is constant.
    The tables must hold every event as a new clone (the caller makes room).
    """
    p = cfg.params[0]
    shape = cfg.landscape
    t = totals[0]
    n_agents = ag.meta[0]
    n_slots = cl.meta[0]
    n_copy = cfg.copy_traits.shape[0]
    front = tilt_front(cl, p)
    size = np.zeros(n_agents, dtype=np.int64)
    n_clones = np.zeros(n_agents, dtype=np.int64)
    for i in range(n_slots):
        if cl.count[i] > 0:
            size[cl.agent[i]] += cl.count[i]
            n_clones[cl.agent[i]] += 1
    # The agents' live slots, grouped by agent in slot order (counting sort).
    start = np.zeros(n_agents + 1, dtype=np.int64)
    for a in range(n_agents):
        start[a + 1] = start[a] + n_clones[a]
    grouped = np.empty(start[n_agents], dtype=np.int64)
    fill = start[:n_agents].copy()
    for i in range(n_slots):
        if cl.count[i] > 0:
            grouped[fill[cl.agent[i]]] = i
            fill[cl.agent[i]] += 1
    for a in range(n_agents):
        n_events = refill[a] + size[a]
        if n_events == 0:
            continue
        local = np.empty(n_clones[a] + n_events, dtype=np.int64)
        w = np.empty(n_clones[a] + n_events)
        n_local = n_clones[a]
        for c in range(n_local):
            i = grouped[start[a] + c]
            local[c] = i
            w[c] = clone_fitness(cl, i, p, shape, cfg.types)
        current = size[a]
        for e in range(n_events):
            total = 0.0
            for c in range(n_local):
                total += cl.count[local[c]] * w[c]
            if total <= 0.0:
                break  # no member can reproduce
            u = rng.random() * total
            parent = n_local - 1
            acc = 0.0
            for c in range(n_local):
                acc += cl.count[local[c]] * w[c]
                if u < acc:
                    parent = c
                    break
            victim = -1
            if e >= refill[a]:
                v = rng.integers(0, current)
                acc_n = 0
                for c in range(n_local):
                    acc_n += cl.count[local[c]]
                    if v < acc_n:
                        victim = c
                        break
            i = local[parent]
            p_any = error_probability(cl, ag, i, a, cfg, p, n_copy)
            tilt = tilt_factor(cl.traits[i, DRIVE], ag.zref[a, DRIVE], front, p)
            q_any = tilted(p_any, tilt) if tilt != 1.0 else p_any
            if q_any > 0.0 and rng.random() < q_any:
                if tilt != 1.0:
                    t.log_weight += math.log(p_any) - math.log(q_any)
                if p.typed:
                    j = found_type_mutants(rng, cl, ln, ag, i, a, a, 1, cfg, tick, totals)
                else:
                    mu = mutation_rate(ag.error_rate[a], p.mutator_strength,
                                       ag.zref[a, FIDELITY], cl.traits[i, FIDELITY])
                    j = new_slot(cl)
                    t.mutations += found_mutant(rng, cl, ln, i, j, a, mu, cfg.copy_traits,
                                                cfg.trait_bias, p, tick)
                local[n_local] = j
                w[n_local] = clone_fitness(cl, j, p, shape, cfg.types)
                n_local += 1
                t.mutants += 1
            else:
                if tilt != 1.0:
                    t.log_weight += math.log1p(-p_any) - math.log1p(-q_any)
                cl.count[i] += 1
            t.births += 1
            if victim >= 0:
                cl.count[local[victim]] -= 1
                t.deaths += 1
            else:
                current += 1
