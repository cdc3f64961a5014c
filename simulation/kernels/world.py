"""World-level steps of a tick (docs/model.md, "Worlds of agents"): the economy,
transmission, agent fates and agent reproduction, compiled.
"""

import numpy as np

from ..codes import DeathCause
from .binomial import numpy_binomial
from .jit import entry, kernel
from .clones import (DRIVE, FIDELITY, LOYALTY, N_TRAITS, found_clone,
                     draw_clone_systematic, draw_systematic, found_mutant, free_and_reduce, grow_agents, grow_clones, has_room,
                     mutation_rate, mutation_step, new_slot, noisy_error_rate, p_any_error)


@kernel(_nrt=False)
def _income_weight(ag, p, a):
    """N_a (1 + acquisition_bias * mean drive_a) for a live agent, else 0."""
    size = ag.size[a]
    if not ag.alive[a] or size <= 0:
        return 0.0
    return size * (1.0 + p.acquisition_bias * ag.trait_sums[a, DRIVE] / size)


@entry(_nrt=False)
def economy(ag, p):
    """Income shares, capacities K_a and reserves from the tick's start:
    share_a = income * N_a (1 + bias * dbar_a) / sum over live agents;
    K_a = min(capacity, share_a / upkeep_a) (floored at 1e-9 so that
    g = 1 - N/K stays finite); reserve_a += share_a - upkeep_a N_a, with
    upkeep_a = upkeep + immune_cost * q_a."""
    n = ag.meta[0]
    total = 0.0
    for a in range(n):
        total += _income_weight(ag, p, a)
    for a in range(n):
        share = p.income * _income_weight(ag, p, a) / total if total > 0 else 0.0
        upkeep = p.upkeep + p.immune_cost * ag.surveillance[a]
        ag.capacity[a] = max(min(p.max_capacity, share / upkeep), 1e-9)
        if ag.alive[a]:
            ag.reserve[a] += share - upkeep * ag.size[a]


@kernel(_nrt=False)
def live_agents(ag):
    """The number of live agents."""
    n = 0
    for a in range(ag.meta[0]):
        if ag.alive[a]:
            n += 1
    return n


@entry(_nrt=False, inline="always")
def world_totals(ag):
    """The world's sums over its agents, in agent order (the one place they
    are summed: the records, the outcomes, the splitting score and
    :class:`simulation.engine.World` read them here).

    Parameters
    ----------
    ag : Agents
        The agent table.

    Returns
    -------
    tuple
        ``(size, defectors, clones, living, seeded, drive, loyalty,
        stealth, fidelity)``: members, members of defector clones, live
        clones, live agents, members of the seeded lineage, and the sums of
        the members' traits (``trait_sums``), over every agent (a dead
        agent holds none).
    """
    size = defectors = seeded = s0 = s1 = s2 = s3 = 0.0
    clones = living = 0
    for a in range(ag.meta[0]):
        size += ag.size[a]
        defectors += ag.defectors[a]
        clones += ag.clones[a]
        if ag.alive[a]:
            living += 1
        seeded += ag.seeded[a]
        s0 += ag.trait_sums[a, 0]
        s1 += ag.trait_sums[a, 1]
        s2 += ag.trait_sums[a, 2]
        s3 += ag.trait_sums[a, 3]
    return size, defectors, clones, living, seeded, s0, s1, s2, s3


@kernel(_nrt=False)
def draw_migrants(cl, ag, ev, p, rng):
    """Per defector clone (drive > theta) of a live agent, the members that
    leave this tick: ``Binomial(n, transmission)`` (none unless another agent
    is alive). Returns the number of clones the moves can found."""
    n_alive = live_agents(ag)
    bound = 0
    for i in range(cl.meta[0]):
        ev.movers[i] = 0
        if cl.count[i] <= 0 or cl.traits[i, DRIVE] <= p.escape_threshold or n_alive < 2:
            continue
        if not ag.alive[cl.agent[i]]:
            continue
        m = numpy_binomial(rng, cl.count[i], p.transmission)
        ev.movers[i] = m
        bound += min(m, n_alive - 1)
    return bound


@kernel(_nrt=False)
def move_migrants(cl, ln, ag, ev, rng, tick):
    """Move each clone's migrants to uniformly chosen other live agents.

    The m movers of clone i (in agent a) are spread over the other live
    agents (in increasing order, a skipped) by conditional binomials: agent b
    gets ``Binomial(remaining, 1 / agents left)``. Those arriving in b found
    a clone there with i's traits, parent i and i's ancestor: subcomponents
    are moved, never created or lost. Returns the number moved.
    """
    n_alive = live_agents(ag)
    moved = 0
    for i in range(cl.meta[0]):
        m = ev.movers[i]
        if m == 0:
            continue
        moved += m
        a = cl.agent[i]
        cl.count[i] -= m
        remaining = m
        others = n_alive - 1
        for b in range(ag.meta[0]):
            if b == a or not ag.alive[b]:
                continue
            if others == 1:
                x = remaining
            else:
                x = numpy_binomial(rng, remaining, 1.0 / others)
            others -= 1
            remaining -= x
            if x == 0:
                continue
            j = new_slot(cl)
            found_clone(cl, ln, i, j, b, x, tick)
            if remaining == 0:
                break
    return moved


@kernel(_nrt=False)
def observe_takeovers(ag, p):
    """Mark the live agents taken over now (members, defector fraction at
    least ``takeover_fraction``); returns (number taken, largest defector
    fraction of a live agent)."""
    n_taken = 0
    largest = 0.0
    for a in range(ag.meta[0]):
        ag.taken[a] = False
        size = ag.size[a]
        if not ag.alive[a] or size <= 0:
            continue
        fraction = ag.defectors[a] / size
        largest = max(largest, fraction)
        if fraction >= p.takeover_fraction:
            ag.taken[a] = True
            n_taken += 1
    return n_taken, largest


@kernel(_nrt=False)
def agent_deaths(cl, ln, ag, p, rng, tick):
    """Agent deaths, in this order of cause: no subcomponents, reserve below
    0, oversight shutdown (probability ``oversight`` for a live agent whose
    goal output per subcomponent is below the threshold; one uniform draw per
    such agent, in index order), takeover (with ``takeover_kills``).
    Returns (agents that died, of which taken over this tick)."""
    n = ag.meta[0]
    died = 0
    lost_taken = 0
    for a in range(n):
        if not ag.alive[a]:
            continue
        size = ag.size[a]
        cause = DeathCause.ALIVE
        if size <= 0:
            cause = DeathCause.EMPTY
        elif p.economy and ag.reserve[a] < 0:
            cause = DeathCause.STARVED
        if cause == DeathCause.ALIVE and p.oversight > 0 and size > 0:
            if ag.trait_sums[a, LOYALTY] / size < p.oversight_threshold:
                if rng.random() < p.oversight:
                    cause = DeathCause.OVERSIGHT
        if cause == DeathCause.ALIVE and p.takeover_kills and ag.taken[a]:
            cause = DeathCause.TAKEOVER
        if cause != DeathCause.ALIVE:
            ag.alive[a] = False
            ag.death_tick[a] = tick
            ag.death_cause[a] = cause
            died += 1
            if ag.taken[a]:
                lost_taken += 1
    if died > 0:
        for i in range(cl.meta[0]):
            if cl.count[i] > 0 and not ag.alive[cl.agent[i]]:
                cl.count[i] = 0
        free_and_reduce(cl, ln, ag, p, tick)
    return died, lost_taken


@kernel(_nrt=False)
def _heritable_step(rng, value, p):
    return mutation_step(rng, value, p.kernel_bias, p)


@entry()
def choose_parents(ag, p, rng):
    """Agents that reproduce this tick: those alive with reserve at the
    threshold, in index order; when ``max_agents`` leaves room for fewer,
    that many are chosen uniformly at random among them (a partial
    Fisher-Yates shuffle, one ``integers`` draw per place), then sorted."""
    n = ag.meta[0]
    eligible = np.empty(n, np.int64)
    k = 0
    alive = 0
    for a in range(n):
        if ag.alive[a]:
            alive += 1
            if ag.reserve[a] >= p.reproduction_threshold:
                eligible[k] = a
                k += 1
    if p.max_agents >= 0:
        room = max(p.max_agents - alive, 0)
        if room < k:
            for c in range(room):
                j = rng.integers(c, k)
                eligible[c], eligible[j] = eligible[j], eligible[c]
            k = room
    return np.sort(eligible[:k])


@kernel(_nrt=False)
def parents_due(ag, p):
    """How many agents reproduce this tick (known before any draw): the
    eligible, or fewer if ``max_agents`` leaves less room."""
    eligible = 0
    alive = 0
    for a in range(ag.meta[0]):
        if ag.alive[a]:
            alive += 1
            if ag.reserve[a] >= p.reproduction_threshold:
                eligible += 1
    if p.max_agents >= 0:
        return min(eligible, max(p.max_agents - alive, 0))
    return eligible


@kernel()
def reproduce(cl, ln, ag, ev, cfg, rng, tick, totals):
    """:func:`found_children` after growing the tables for them; returns the
    tables and the number of children."""
    p = cfg.params[0]
    n_par = parents_due(ag, p)
    if n_par == 0:
        return cl, ln, ag, ev, 0
    ag = grow_agents(ag, n_par)
    if not has_room(cl, ln, n_par * p.bottleneck):
        cl, ln, ev = grow_clones(cl, ln, ev, n_par * p.bottleneck)
    return cl, ln, ag, ev, found_children(cl, ln, ag, cfg, rng, tick, totals)


@kernel()
def found_children(cl, ln, ag, cfg, rng, tick, totals):
    """Agents whose reserve reached the threshold found children
    (:func:`choose_parents`); a child takes half its parent's reserve.
    The tables must hold the children and their founders (the caller makes
    room: :func:`parents_due` agents, ``bottleneck`` clones each).

    Per parent: ``min(bottleneck, N)`` of its members are chosen in
    proportion to clone counts (a multinomial by conditional binomials over
    its clones in slot order) and *copied* (the parent keeps them): each
    copy carries copy errors at its clone's rate. Copies without error found
    one clone per parent clone in the child; each mutant copy founds its
    own. The child's z_ref is its founders' mean traits
    (``founder_reference``) or its parent's; its surveillance, efficacy and
    tolerance are the parent's, each mutated with probability
    ``agent_mutation`` by a step of copy.kernel; then it draws its own
    systematic error vector (:func:`~.clones.draw_systematic`; under lineage
    scope each mutant founder draws its clone's vector after its copy errors
    instead), then, under ``copy.noise.scope: agent``, its own environment
    X_0 (one ``standard_normal``). Returns the number of children.
    """
    p = cfg.params[0]
    parents = choose_parents(ag, p, rng)
    n_par = parents.shape[0]
    if n_par == 0:
        return 0
    n_copy = cfg.copy_traits.shape[0]
    t = totals[0]
    for q in range(n_par):
        a = parents[q]
        c = ag.meta[0]
        ag.meta[0] += 1
        ag.alive[c] = True
        ag.capacity[c] = p.max_capacity
        ag.reserve[a] /= 2
        ag.reserve[c] = ag.reserve[a]
        ag.parent[c] = a
        ag.born_tick[c] = tick
        ag.death_tick[c] = -1
        ag.death_cause[c] = DeathCause.ALIVE
        size = 0
        for i in range(cl.meta[0]):
            if cl.count[i] > 0 and cl.agent[i] == a:
                size += cl.count[i]
        remaining = min(p.bottleneck, size)
        left = size
        sums = np.zeros(N_TRAITS)
        founders = 0
        start_slots = cl.meta[0]
        for i in range(start_slots):
            if remaining == 0:
                break
            n = cl.count[i]
            if n <= 0 or cl.agent[i] != a:
                continue
            if left == n:
                x = remaining
            else:
                x = numpy_binomial(rng, remaining, n / left)
            left -= n
            remaining -= x
            if x == 0:
                continue
            f_ref, f = ag.zref[a, FIDELITY], cl.traits[i, FIDELITY]
            mu = mutation_rate(ag.error_rate[a], p.mutator_strength, f_ref, f)
            m = numpy_binomial(rng, x, p_any_error(ag.error_rate[a], p.mutator_strength,
                                                   f_ref, f, n_copy))
            if x - m > 0:
                j = new_slot(cl)
                found_clone(cl, ln, i, j, c, x - m, tick)
                for k in range(N_TRAITS):
                    sums[k] += (x - m) * cl.traits[i, k]
            for _ in range(m):
                j = new_slot(cl)
                t.mutations += found_mutant(rng, cl, ln, i, j, c, mu, cfg.copy_traits, cfg.trait_bias,
                                            p, tick)
                if p.systematic_rate > 0.0 and p.systematic_lineage:
                    draw_clone_systematic(rng, cl, ln, j, cfg.copy_traits, p)
                for k in range(N_TRAITS):
                    sums[k] += cl.traits[j, k]
            founders += x
        for k in range(N_TRAITS):
            if p.founder_reference and founders > 0:
                ag.zref[c, k] = sums[k] / founders
            else:
                ag.zref[c, k] = ag.zref[a, k]
        ag.surveillance[c] = ag.surveillance[a]
        ag.efficacy[c] = ag.efficacy[a]
        ag.tolerance[c] = ag.tolerance[a]
        if rng.random() < p.agent_mutation:
            ag.surveillance[c] = _heritable_step(rng, ag.surveillance[c], p)
        if rng.random() < p.agent_mutation:
            ag.efficacy[c] = _heritable_step(rng, ag.efficacy[c], p)
        if rng.random() < p.agent_mutation:
            ag.tolerance[c] = _heritable_step(rng, ag.tolerance[c], p)
        draw_systematic(rng, ag, c, cfg.copy_traits, p)
        # The environment: the parent's (world scope: the world's), or under
        # agent scope the child's own X_0 ~ Normal(0, 1) (stationary).
        ag.noise[c] = ag.noise[a]
        ag.error_rate[c] = ag.error_rate[a]
        if p.noise_sigma > 0.0 and p.noise_per_agent:
            ag.noise[c] = rng.standard_normal()
            ag.error_rate[c] = noisy_error_rate(ag.noise[c], p)
    free_and_reduce(cl, ln, ag, p, tick)
    return n_par
