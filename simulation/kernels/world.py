"""World-level steps of a tick (docs/model.md, "Worlds of agents"): the economy,
transmission, agent fates and agent reproduction, compiled.
"""

import numpy as np

from ..codes import DeathCause
from .binomial import numpy_binomial
from .jit import entry, kernel
from .clones import (DRIVE, FIDELITY, LOYALTY, N_TRAITS, clear_sums, found_clone,
                     draw_clone_systematic, draw_systematic, found_mutant, free_dead_agents,
                     grow_agents, grow_clones, has_room, is_defector, mutation_rate,
                     mutation_step, new_slot, noisy_error_rate, reduce_agent)
from .generations import error_probability
from .types import draw_targets, found_type_mutants


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
    """Per defector clone (:func:`.clones.is_defector`) of a live agent, the members that
    leave this tick: ``Binomial(n, transmission)`` (none unless another agent
    is alive). Returns the number of clones the moves can found."""
    n_alive = live_agents(ag)
    bound = 0
    for i in range(cl.meta[0]):
        ev.movers[i] = 0
        if (cl.count[i] <= 0 or not is_defector(cl, i, p.escape_threshold, p)
                or n_alive < 2):
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
            clear_sums(ag, a)  # (nothing below reads the dead agent's sums)
            died += 1
            if ag.taken[a]:
                lost_taken += 1
    if died > 0:
        free_dead_agents(cl, ln, ag, tick)
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
def parent_clones(cl, ag, parents):
    """The live clones of each parent (``parents``: agents, sorted), in
    slot order, from one pass over the clone table: parent ``q``'s are
    ``slots[first[q]:first[q + 1]]``. (A pass per parent cost parents x
    clones a tick, the largest step of a world of 10^6 agents.)"""
    n_par = parents.shape[0]
    is_parent = np.zeros(ag.meta[0], np.bool_)
    for q in range(n_par):
        is_parent[parents[q]] = True
    first = np.zeros(n_par + 1, np.int64)
    n_slots = cl.meta[0]
    for i in range(n_slots):
        if cl.count[i] > 0 and is_parent[cl.agent[i]]:
            first[np.searchsorted(parents, cl.agent[i]) + 1] += 1
    for q in range(n_par):
        first[q + 1] += first[q]
    slots = np.empty(first[n_par], np.int64)
    filled = first[:n_par].copy()
    for i in range(n_slots):
        if cl.count[i] > 0 and is_parent[cl.agent[i]]:
            q = np.searchsorted(parents, cl.agent[i])
            slots[filled[q]] = i
            filled[q] += 1
    return first, slots


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
    X_0 (one ``standard_normal``). Each child's reductions are summed over
    its own clones (:func:`~.clones.reduce_agent`): no other agent's clones
    change, and none dies. Returns the number of children.
    """
    p = cfg.params[0]
    parents = choose_parents(ag, p, rng)
    n_par = parents.shape[0]
    if n_par == 0:
        return 0
    n_copy = cfg.copy_traits.shape[0]
    t = totals[0]
    first, slots = parent_clones(cl, ag, parents)
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
        for s in range(first[q], first[q + 1]):
            size += cl.count[slots[s]]
        remaining = min(p.bottleneck, size)
        left = size
        sums = np.zeros(N_TRAITS)
        founders = 0
        born = np.empty(remaining, np.int64)  # the child's clones (at most one per founder)
        n_born = 0
        for s in range(first[q], first[q + 1]):
            if remaining == 0:
                break
            i = slots[s]
            n = cl.count[i]
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
            m = numpy_binomial(rng, x, error_probability(cl, ag, i, a, cfg, p, n_copy))
            if x - m > 0:
                j = new_slot(cl)
                found_clone(cl, ln, i, j, c, x - m, tick)
                born[n_born] = j
                n_born += 1
                for k in range(N_TRAITS):
                    sums[k] += (x - m) * cl.traits[i, k]
            if p.typed:  # (the founders' trait sums: below, over the child's clones)
                if m > 0:
                    found_type_mutants(rng, cl, ln, ag, i, a, c, m, cfg, tick, totals)
                founders += x
                continue
            for _ in range(m):
                j = new_slot(cl)
                t.mutations += found_mutant(rng, cl, ln, i, j, c, mu, cfg.copy_traits, cfg.trait_bias,
                                            p, tick)
                if p.systematic_rate > 0.0 and p.systematic_lineage:
                    draw_clone_systematic(rng, cl, ln, j, cfg.copy_traits, p)
                born[n_born] = j
                n_born += 1
                for k in range(N_TRAITS):
                    sums[k] += cl.traits[j, k]
            founders += x
        if p.typed:  # (the founders' traits, summed over the child's clones,
            # which include the type mutants found_type_mutants founded)
            for k in range(N_TRAITS):
                sums[k] = 0.0
            born = np.empty(cl.meta[0], np.int64)
            n_born = 0
            for j in range(cl.meta[0]):
                if cl.count[j] > 0 and cl.agent[j] == c:
                    born[n_born] = j
                    n_born += 1
                    for k in range(N_TRAITS):
                        sums[k] += cl.count[j] * cl.traits[j, k]
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
        for e in range(ag.edge_events.shape[1]):
            ag.edge_events[c, e] = 0
        if p.typed and p.systematic_rate > 0.0 and not p.systematic_lineage:
            draw_targets(rng, ag.systematic[c], cfg.types)
        else:
            draw_systematic(rng, ag, c, cfg.copy_traits, p)
        # The environment: the parent's (world scope: the world's), or under
        # agent scope the child's own X_0 ~ Normal(0, 1) (stationary).
        ag.noise[c] = ag.noise[a]
        ag.error_rate[c] = ag.error_rate[a]
        if p.noise_sigma > 0.0 and p.noise_per_agent:
            ag.noise[c] = rng.standard_normal()
            ag.error_rate[c] = noisy_error_rate(ag.noise[c], p)
        # The child's sums (no clone of another agent changed, none died)
        reduce_agent(cl, ag, c, born[:n_born], p.escape_threshold, p)
    return n_par
