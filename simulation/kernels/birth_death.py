"""The default within-agent tick, ``birth_death`` (docs/model.md, "One tick").

A tick draws every live clone's events from the state at the start of the
tick (:func:`draw_events`), makes room for the clones they can found, then
applies them (:func:`apply_events`). The draws are made in a fixed order
(slot order; within a clone: births, mutant births, deaths, kills, repairs),
so that ``tests/naive.py`` makes the very same draws (NumPy's binomial
draws, made faster by :mod:`.binomial`).

The immune system uses ``e(t)`` at the tick's start time: tick ``t`` (1, 2,
...) runs from time ``t - 1``, so the first tick uses ``immune.efficacy``.
"""

import numpy as np

from .binomial import binomial
from .jit import kernel
from .clones import (DRIVE, FIDELITY, N_TRAITS, NEXT_ID, STEALTH, add_systematic,
                     clear_events, draw_clone_systematic, found_clone, found_mutant, free_and_reduce,
                     immune_efficacy, is_defector, landscape, log_ratio, mutation_rate, new_slot,
                     p_any_error, row, tilt_factor, tilt_front, tilted)
from .prefetch import AHEAD, prefetch
from .types import (death_probability, found_type_mutants, set_type, systematic_target,
                    type_error_probability)


#: Clones of at least this many members draw their births through the
#: binomial table (:mod:`.binomial`); smaller ones, mostly short-lived
#: mutants whose birth probability (their traits, their agent's size) seldom
#: recurs, draw them without it, as NumPy does. The draws are the same
#: either way; this only saves time (measured: 32-100 alike, 16 slower).
KEEP_BIRTHS = 64


@kernel(_nrt=False)
def immune_and_repair(rng, memo, cl, ag, i, a, n_avail, immune_mask, p, t0):
    """Immune kills then repairs among ``n_avail`` members of clone ``i``
    (docs/model.md, "One tick", items 7-8), at time ``t0``. Returns (kills, repairs)."""
    dev = 0.0
    for k in range(N_TRAITS):
        if immune_mask[k]:
            dev = max(dev, abs(cl.traits[i, k] - ag.zref[a, k]))
    q = ag.surveillance[a]
    if dev > ag.tolerance[a]:
        e_t = immune_efficacy(ag.efficacy[a], p.improvement, t0)
        p_kill = q * e_t * (1.0 - cl.traits[i, STEALTH])
    else:
        p_kill = q * p.false_positive
    kills = binomial(rng, memo, n_avail, p_kill)
    repairs = 0
    if dev > p.repair_tolerance:
        p_repair = p.repair_rate
        if p.repair_sees_stealth:  # stealth hides a part from repair too
            p_repair *= 1.0 - cl.traits[i, STEALTH]
        repairs = binomial(rng, memo, n_avail - kills, p_repair)
    return kills, repairs


@kernel(_nrt=False)
def fetch_agent(ag, a):
    """Prefetch the columns of agent ``a`` that a clone's draws read
    (:mod:`.prefetch`): growth control, self, immune surveillance and tolerance."""
    prefetch(ag.size, a)
    prefetch(ag.capacity, a)
    prefetch(ag.zref, a)
    prefetch(ag.surveillance, a)
    prefetch(ag.tolerance, a)


@kernel(_nrt=False)
def draw_events(cl, ag, ev, cfg, rng, memo, t0, totals, typed):
    """Draw every live clone's events for one tick into ``ev``; returns the
    number of clones the events can found (mutants and repair children).
    With ``error_tilt``, mutants are drawn at the probability tilted by the
    clone's factor (:func:`.clones.tilt_factor`) and the log likelihood
    ratio is added to ``totals``. ``typed`` None (no types,
    :func:`.driver.plan`): the types' code is left out of the compiled code."""
    p = cfg.params[0]
    theta = p.escape_threshold
    n_copy = cfg.copy_traits.shape[0]
    needed = 0
    # Without a mutator effect or environmental noise every clone's error
    # probability is the same (every agent's rate is copy.error_rate's, and
    # mutation_rate ignores fidelity): computed once per run, by the same
    # code (PARAMS.error_probability, simulation.engine.build_config).
    fixed_error = p.mutator_strength == 0.0 and p.noise_sigma == 0.0
    p_error = p.error_probability
    # growth control of the last agent seen (clones of an agent mostly
    # follow one another): the same values, without a division per clone
    g_agent = -1
    g_resident = g_escaped = 0.0
    front = tilt_front(cl, p)
    slots = cl.meta[0]
    for i in range(slots):
        if i + AHEAD < slots:  # (the agent rows of a clone further on)
            fetch_agent(ag, cl.agent[i + AHEAD])
        n = cl.count[i]
        clear_events(ev, i)
        if n <= 0:
            continue
        a = cl.agent[i]
        drive = cl.traits[i, DRIVE]
        # 1-2. growth control; a defector has escaped it up to H * K.
        if a != g_agent:
            g_agent = a
            g_resident = max(1.0 - ag.size[a] / ag.capacity[a], 0.0)
            g_escaped = -1.0  # computed when a defector needs it
        if is_defector(cl, i, theta, p):
            if g_escaped < 0.0:
                g_escaped = max(1.0 - ag.size[a] / (p.escape_headroom * ag.capacity[a]), 0.0)
            g = g_escaped
        else:
            g = g_resident
        # 3-4. births
        fit = landscape(drive, p.drive_advantage, p.ruggedness, cfg.landscape)
        p_birth = p.birth_rate * fit * (1.0 - p.loyalty_cost * cl.traits[i, 1]) * g
        if p.redundancy_divisor != 1.0:  # (x / 1 is x: no division without its cost)
            p_birth /= p.redundancy_divisor
        if typed is not None:
            if p.typed:  # the type's birth modifier
                p_birth *= cfg.types.birth[cl.type[i]]
        # (a small clone's birth probability, which depends on its traits
        # and its agent's size, seldom recurs: drawn without the table)
        b = binomial(rng, memo, n, min(p_birth, 1.0), n >= KEEP_BIRTHS)
        # 5-6. newborns carrying at least one copy error
        m = 0
        if b > 0 and (cl.seeded[i] or not p.seeded_only):
            if typed is not None:  # a change of type along an out-edge
                if p.typed:
                    p_error = type_error_probability(cl, ag, i, a, cfg.types, p)
            if not fixed_error and not p.typed:
                p_error = p_any_error(ag.error_rate[a], p.mutator_strength,
                                      ag.zref[a, FIDELITY], cl.traits[i, FIDELITY], n_copy)
            tilt = tilt_factor(drive, ag.zref[a, DRIVE], front, p)
            if tilt != 1.0:
                q = tilted(p_error, tilt)
                m = binomial(rng, memo, b, q)
                totals[0].log_weight += log_ratio(m, b, p_error, q)
            else:
                m = binomial(rng, memo, b, p_error)
        # 5b. systematic error (copy.systematic): newborns without an
        # ordinary error that carry only the agent's (or under lineage
        # scope the clone's) systematic one
        # (types: when the copier's systematic error has a target for its type)
        s = 0
        if p.systematic_rate > 0.0:
            targeted = True
            if typed is not None:
                if p.typed:
                    targeted = systematic_target(cl, ag, i, a, p) >= 0
            if targeted:
                s = binomial(rng, memo, b - m, p.systematic_rate)
        # 7. deaths among the members present at the start of the tick
        d = binomial(rng, memo, n, death_probability(cl, i, cfg.types, p))
        # 8-9. immune system and repair, among the members that did not die
        kl, r = immune_and_repair(rng, memo, cl, ag, i, a, n - d, cfg.immune_mask, p, t0)
        ev.births[i] = b
        ev.mutants[i] = m
        ev.deaths[i] = d
        ev.kills[i] = kl
        ev.repairs[i] = r
        ev.systematic[i] = s
        needed += m
        if r > 0:
            needed += 1
        if s > 0:
            needed += 1
    return needed


@kernel(_nrt=False)
def draw_immune(cl, ag, ev, cfg, rng, memo, t0):
    """Immune kills and repairs only (the first phase of a ``wright_fisher``
    or ``moran`` tick); returns the clones they can found."""
    p = cfg.params[0]
    needed = 0
    for i in range(cl.meta[0]):
        clear_events(ev, i)
        n = cl.count[i]
        if n <= 0:
            continue
        kl, r = immune_and_repair(rng, memo, cl, ag, i, cl.agent[i], n, cfg.immune_mask, p, t0)
        ev.kills[i] = kl
        ev.repairs[i] = r
        if r > 0:
            needed += 1
    return needed


@kernel(_nrt=False)
def apply_events(cl, ln, ag, ev, cfg, rng, tick, totals, typed):
    """Apply drawn events, found mutant clones, and reduce per agent.

    Each clone's count becomes ``n + births - mutants - systematic - deaths
    - kills - repairs``; each mutant newborn founds a clone, and the
    newborns carrying only the systematic error found one together; a clone's repaired members
    are reset to z_ref and join its *repair child*, a clone with traits z_ref
    whose parent it is. The repair child is reused while it lives *and*
    shares the clone's ancestor (so since the last record); otherwise a new
    one is founded, so the Price decomposition books repair as transmission.
    ``totals`` (one TOTALS row) receives the tick's event counts. ``typed``
    None (no types, :func:`.driver.plan`): the types' code is left out.
    """
    p = cfg.params[0]
    t = totals[0]
    start_slots = cl.meta[0]
    for i in range(start_slots):
        if cl.count[i] <= 0:
            continue
        cl.count[i] += (ev.births[i] - ev.mutants[i] - ev.deaths[i] - ev.kills[i]
                        - ev.repairs[i] - ev.systematic[i])
        t.births += ev.births[i]
        t.deaths += ev.deaths[i]
        t.immune_kills += ev.kills[i]
        t.repairs += ev.repairs[i]
        t.mutants += ev.mutants[i] + ev.systematic[i]
    # Mutant newborns: each founds a clone; with copy.systematic, each also
    # carries the agent's (lineage scope: its parent clone's) systematic
    # error with its rate (one uniform draw each), and under lineage scope
    # then draws its own vector. Then the newborns with only the systematic
    # error found one clone (which inherits its parent's vector). In a types
    # scenario the mutants are split among the out-edges of the parent's
    # type (.types.found_type_mutants), and the systematic error moves its
    # newborns to the copier's target type.
    for i in range(start_slots):
        m = ev.mutants[i]
        s = ev.systematic[i]
        if m == 0 and s == 0:
            continue
        a = cl.agent[i]
        if typed is not None:
            if p.typed:
                if m > 0:
                    found_type_mutants(rng, cl, ln, ag, i, a, a, m, cfg, tick, totals)
                if s > 0:
                    j = new_slot(cl)
                    found_clone(cl, ln, i, j, a, s, tick)
                    set_type(cl, ln, j, systematic_target(cl, ag, i, a, p), cfg.types)
                continue
        mu = mutation_rate(ag.error_rate[a], p.mutator_strength, ag.zref[a, FIDELITY],
                           cl.traits[i, FIDELITY])
        for _ in range(m):
            j = new_slot(cl)
            t.mutations += found_mutant(rng, cl, ln, i, j, a, mu, cfg.copy_traits,
                                        cfg.trait_bias, p, tick)
            if p.systematic_rate > 0.0:
                if rng.random() < p.systematic_rate:
                    add_systematic(cl, ln, ag, j, i, a, cfg.copy_traits)
                if p.systematic_lineage:
                    draw_clone_systematic(rng, cl, ln, j, cfg.copy_traits, p)
        if s > 0:
            j = new_slot(cl)
            found_clone(cl, ln, i, j, a, s, tick)
            add_systematic(cl, ln, ag, j, i, a, cfg.copy_traits)
    # Repaired members: reset to z_ref, into the clone's repair child.
    for i in range(start_slots):
        r = ev.repairs[i]
        if r == 0:
            continue
        j = cl.repair_slot[i]
        if (j < 0 or cl.clone_id[j] != cl.repair_id[i] or cl.count[j] < 0
                or cl.ancestor[j] != cl.ancestor[i]):
            a = cl.agent[i]
            j = new_slot(cl)
            found_clone(cl, ln, i, j, a, np.int64(0), tick)  # not a literal: one compiled copy
            rr = row(cl.clone_id[j], ln)
            for k in range(N_TRAITS):  # reset to the agent's z_ref
                cl.traits[j, k] = ag.zref[a, k]
                ln.traits[rr, k] = ag.zref[a, k]
            if typed is not None:
                if p.typed:  # types: to the reference type
                    set_type(cl, ln, j, p.reference_type, cfg.types)
            cl.repair_slot[i] = j
            cl.repair_id[i] = cl.meta[NEXT_ID] - 1
        cl.count[j] += r
    free_and_reduce(cl, ln, ag, p, tick)
