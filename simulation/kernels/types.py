"""Types and mutation graphs (docs/model.md, "Types and mutation graphs").

In a types scenario every clone carries a type (``Clones.type``), a row of
:class:`simulation.state.TypeTable`: its traits, birth and death modifiers
and out-edges. A copy error moves a newborn along one out-edge of its
parent's type; the newborns of one clone that change type in one tick are
split among the out-edges multinomially, and those that land on the same
target type found one clone together (a clone is a set of exchangeable
members, so this is exact; under ``copy.systematic.scope: lineage`` each
founds its own, since each draws its own systematic error).

numba only, nothing validated; ``p`` is the one row of ``PARAMS``,
``types`` the run's :class:`~simulation.state.TypeTable`.
"""

import numpy as np

from .binomial import numpy_binomial
from .clones import (FIDELITY, N_TRAITS, effective_error_rate, found_clone, mutation_rate,
                     new_slot, row)
from .jit import entry, kernel
from ..codes import ScoreEvent, StopReason


@kernel(_nrt=False)
def capped_factor(factor, types, t):
    """The noise factor of type ``t``'s per-copy rates: ``min(c, 1/sum_e
    u_e)``, so that the probabilities of a copy's changes of type sum to at
    most 1."""
    return min(factor, types.factor_cap[t])


@kernel(_nrt=False)
def edge_weight(types, e, c, p):
    """The voted rate of edge ``e`` at the capped noise factor ``c``:
    ``rho u + (1 - rho) maj_r(u)`` with ``u = c u_e`` (precomputed when
    there is no noise)."""
    if p.noise_sigma == 0.0:
        return types.edge_voted[e]
    return effective_error_rate(types.edge_rate[e] * c, p.redundancy, p.error_correlation)


@entry(_nrt=False)
def type_error_probability(cl, ag, i, a, types, p):
    """The probability that a newborn of clone ``i`` (in agent ``a``)
    changes type: ``min(1, U_t(c) exp(mutator_strength (f_ref - f)))``,
    ``U_t(c)`` the sum of its type's voted edge rates at the agent's noise
    factor ``c`` (``ag.error_rate``)."""
    t = cl.type[i]
    if p.noise_sigma == 0.0:
        total = types.voted_total[t]
        if p.mutator_strength == 0.0:  # (mutation_rate's exp(0) = 1: the same value)
            return min(total, 1.0)
    else:
        c = capped_factor(ag.error_rate[a], types, t)
        total = 0.0
        for e in range(types.edge_start[t], types.edge_start[t + 1]):
            total += edge_weight(types, e, c, p)
    return mutation_rate(total, p.mutator_strength, ag.zref[a, FIDELITY],
                         cl.traits[i, FIDELITY])


@kernel(_nrt=False)
def set_type(cl, ln, j, t, types):
    """Give clone ``j`` type ``t``: its type and its traits (and its lineage
    row's), no random draw."""
    r = row(cl.clone_id[j], ln)
    cl.type[j] = t
    ln.type[r] = t
    for k in range(N_TRAITS):
        cl.traits[j, k] = types.traits[t, k]
        ln.traits[r, k] = types.traits[t, k]


@entry(_nrt=False)
def draw_targets(rng, out, types):
    """A systematic error of a types scenario into ``out`` (one entry per
    type): for each type with out-edges, in type order, one of them drawn
    with probability proportional to its rate u_e (one uniform draw), and
    its target stored; -1 for a type without out-edges (no draw)."""
    for t in range(types.traits.shape[0]):
        first, last = types.edge_start[t], types.edge_start[t + 1]
        out[t] = -1.0
        if last == first:
            continue
        total = 0.0
        for e in range(first, last):
            total += types.edge_rate[e]
        u = rng.random() * total
        chosen = last - 1
        acc = 0.0
        for e in range(first, last):
            acc += types.edge_rate[e]
            if u < acc:
                chosen = e
                break
        out[t] = types.edge_to[chosen]


@kernel(_nrt=False)
def systematic_target(cl, ag, i, a, p):
    """The type a systematic error of clone ``i``'s copies leads to (its
    agent's, or under lineage scope its own, entry for its type); -1: none."""
    t = cl.type[i]
    if p.systematic_lineage:
        return int(cl.systematic[i, t])
    return int(ag.systematic[a, t])


@kernel(_nrt=False)
def found_type_mutants(rng, cl, ln, ag, i, a, dest, m, cfg, tick, totals):
    """Found in agent ``dest`` the ``m`` newborns (copies) of clone ``i``, of
    agent ``a``, that change type: split among the out-edges of its type by conditional binomials
    in edge order (edge e gets ``Binomial(remaining, w_e / W_left)``, the
    last edge of positive weight all that remain: a multinomial with
    probabilities ``w_e / sum w``), each edge's share founding one clone of
    its target type whose parent is ``i`` (under lineage scope one clone
    per newborn, each then drawing its own systematic error). The tables
    must hold ``m`` more clones. Counts the mutation events per edge
    (``ag.edge_events``) and in ``totals``; returns the last slot founded
    (-1: none)."""
    types = cfg.types
    p = cfg.params[0]
    t = cl.type[i]
    first, last = types.edge_start[t], types.edge_start[t + 1]
    c = capped_factor(ag.error_rate[a], types, t)
    weight_left = 0.0
    positive_left = 0
    for e in range(first, last):
        w = edge_weight(types, e, c, p)
        if w > 0.0:
            weight_left += w
            positive_left += 1
    remaining = m
    j = -1
    one_each = p.systematic_rate > 0.0 and p.systematic_lineage
    for e in range(first, last):
        if remaining == 0:
            break
        w = edge_weight(types, e, c, p)
        if w <= 0.0:
            continue
        positive_left -= 1
        if positive_left == 0:
            x = remaining
        else:
            x = numpy_binomial(rng, remaining, min(w / weight_left, 1.0))
        weight_left -= w
        remaining -= x
        if x == 0:
            continue
        ag.edge_events[a, types.edge_index[e]] += x
        totals[0].mutations += x
        target = types.edge_to[e]
        if one_each:
            for _ in range(x):
                j = new_slot(cl)
                found_clone(cl, ln, i, j, dest, 1, tick)
                set_type(cl, ln, j, target, types)
                draw_clone_targets(rng, cl, ln, j, types)
        else:
            j = new_slot(cl)
            found_clone(cl, ln, i, j, dest, x, tick)
            set_type(cl, ln, j, target, types)
    return j


@entry(_nrt=False)
def draw_clone_targets(rng, cl, ln, j, types):
    """Clone ``j``'s own systematic error (lineage scope, types), into its
    clone and lineage rows (:func:`draw_targets`)."""
    draw_targets(rng, cl.systematic[j], types)
    r = row(cl.clone_id[j], ln)
    for t in range(cl.systematic.shape[1]):
        ln.systematic[r, t] = cl.systematic[j, t]


@kernel(_nrt=False)
def followed_members(cl, p):
    """Members of the followed types (bit ``type`` of ``followed_types``)
    over every live clone."""
    total = 0.0
    for i in range(cl.meta[0]):
        n = cl.count[i]
        if n > 0 and (p.followed_types >> cl.type[i]) & 1 == 1:
            total += n
    return total


@kernel(_nrt=False)
def largest_agent(ag):
    """The size of the largest live agent."""
    largest = 0.0
    for a in range(ag.meta[0]):
        if ag.alive[a]:
            largest = max(largest, ag.size[a])
    return largest


@kernel(_nrt=False)
def observe_types(cl, ag, p, st, size):
    """The type events and the size event, first ticks only (docs/model.md,
    "Types and mutation graphs"): the followed types present (arrival),
    holding every subcomponent of a non-empty world (fixation), with no
    member after having had one (loss), at ``type_count`` members or
    ``type_fraction`` of the world (reached); the world (``size``, its
    subcomponents; ``size_of_agent``: some live agent) at ``size_target``."""
    if p.size_target < np.inf and st.size_reached_tick < 0:
        reached = largest_agent(ag) if p.size_of_agent else size
        if reached >= p.size_target:
            st.size_reached_tick = st.tick
    if not p.typed:
        return
    members = followed_members(cl, p)
    if members > 0 and st.type_arrival_tick < 0:
        st.type_arrival_tick = st.tick
    if st.type_fixation_tick < 0 and members > 0 and members == size:
        st.type_fixation_tick = st.tick
    if st.type_loss_tick < 0 and members == 0 and st.type_arrival_tick >= 0:
        st.type_loss_tick = st.tick
    if st.type_reached_tick < 0 and (members >= p.type_count or (
            size > 0 and members / size >= p.type_fraction)):
        st.type_reached_tick = st.tick


@kernel(_nrt=False)
def type_stop_reason(p, st):
    """The stop reason of a type or size event listed in ``stop.on`` that has
    happened (checked in this order), else the status's own."""
    if p.stop_type_fixation and st.type_fixation_tick >= 0:
        return StopReason.TYPE_FIXATION
    if p.stop_type_loss and st.type_loss_tick >= 0:
        return StopReason.TYPE_LOSS
    if p.stop_type_reached and st.type_reached_tick >= 0:
        return StopReason.TYPE_REACHED
    if p.stop_size and st.size_reached_tick >= 0:
        return StopReason.SIZE_REACHED
    return st.stop_reason


@kernel(_nrt=False)
def type_score(cl, ag, st, p, size):
    """The splitting score of a type or size event, 1 at the event:
    type_fixation the followed types' share of the world; type_loss 0
    until they arrive, then 1 minus their share (1 when none is left);
    type_reached their members over ``type_count`` (or share over
    ``type_fraction``); size_reached the world's (or the largest live
    agent's) size over ``size_target``; each at most 1. ``size``: the
    world's subcomponents."""
    if p.score_event == ScoreEvent.SIZE_REACHED:
        reached = largest_agent(ag) if p.size_of_agent else size
        return min(reached / p.size_target, 1.0)
    members = followed_members(cl, p)
    if p.score_event == ScoreEvent.TYPE_LOSS:
        if st.type_arrival_tick < 0:
            return 0.0
        return 1.0 - members / size if size > 0 else 1.0
    if p.score_event == ScoreEvent.TYPE_REACHED:
        if p.type_count < np.inf:
            return min(members / p.type_count, 1.0)
        return min(members / size / p.type_fraction, 1.0) if size > 0 else 0.0
    return members / size if size > 0 else 0.0


@kernel(_nrt=False)
def record_types(cl, ag, out):
    """A record's type columns (``Records.types``, one row ``out``): the
    members of each type, then the mutation events along each edge since
    the last record (summed over the agents, whose counters restart)."""
    n_types = out.shape[0] - ag.edge_events.shape[1]
    for k in range(out.shape[0]):
        out[k] = 0
    for i in range(cl.meta[0]):
        if cl.count[i] > 0:
            out[cl.type[i]] += cl.count[i]
    for a in range(ag.meta[0]):
        for e in range(ag.edge_events.shape[1]):
            out[n_types + e] += ag.edge_events[a, e]
            ag.edge_events[a, e] = 0


@kernel(_nrt=False)
def type_fitness(cl, i, types, p):
    """The birth modifier of clone ``i``'s type (1 with continuous traits)."""
    return types.birth[cl.type[i]] if p.typed else 1.0


@kernel(_nrt=False)
def death_probability(cl, i, types, p):
    """The death probability of clone ``i``'s members: ``death_rate``, times
    its type's death modifier (at most 1) in a types scenario."""
    if p.typed:
        return min(p.death_rate * types.death[cl.type[i]], 1.0)
    return p.death_rate
