"""Naive reference implementations of the kernels, for testing only.

Written from docs/model.md ("One tick") in plain Python, one clone at a time, with
dictionaries instead of slot arrays. They make the same random draws in the
same order as :mod:`simulation.kernels` (numba's Generator draws the NumPy
stream), so a test can demand identical results, not just similar ones.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

TRAITS = ("drive", "loyalty", "stealth", "fidelity")


def error_rate_after_vote(mu, r, rho):
    """mu_r by brute force: enumerate every pattern of errors over r copies."""
    wrong = 0.0
    for pattern in itertools.product((0, 1), repeat=r):
        errors = sum(pattern)
        if errors > r // 2:
            wrong += mu**errors * (1 - mu) ** (r - errors)
    return rho * mu + (1 - rho) * wrong


@dataclass
class Clone:
    id: int
    agent: int
    count: int
    traits: list  # [drive, loyalty, stealth, fidelity]
    parent: int
    origin: int
    seeded: bool = False
    repair_child: int = -1  # id of the clone its repaired members join
    #: The clone's systematic error vector under copy.systematic.scope lineage
    #: (4 numbers, inherited by its descendants); empty under any other scope.
    systematic: list = field(default_factory=list)


@dataclass
class Params:
    birth_rate: float = 0.2
    death_rate: float = 0.1
    drive_advantage: float = 1.0
    loyalty_cost: float = 0.2
    escape_threshold: float = 0.5
    escape_headroom: float = 10.0
    landscape: str = "linear"
    ruggedness: float = 0.0
    peaks: int = 1
    landscape_seed: int | None = None  # random: the realisation's seed
    replicate_seed: int | None = None  # random without landscape_seed
    error_rate: float = 1e-3
    redundancy: int = 1
    error_correlation: float = 0.0
    redundancy_cost: float = 0.0
    mutator_strength: float = 0.0
    drive_guard: float = 0.0  # P(a copy error of drive is caught)
    copy_traits: tuple = (0, 1, 2, 3)
    kernel: str = "normal"
    sd: float = 0.05
    bias: float = 0.0
    trait_bias: tuple | None = None  # per-trait mean step (None: bias for all)
    systematic_rate: float = 0.0
    systematic_sd: float = 0.05
    systematic_lineage: bool = False  # copy.systematic.scope: lineage
    noise_sigma: float = 0.0  # copy.noise: mu(t) = error_rate exp(sigma X_t)
    noise_correlation_time: float = 10.0
    noise_per_agent: bool = False  # copy.noise.scope: agent
    tracking_rate: float = 0.0
    scale: float = 0.05
    size: float = 0.1
    direction: str = "both"
    improvement: float = 0.0
    false_positive: float = 0.0
    repair_rate: float = 0.0
    repair_tolerance: float = 0.1
    repair_sees_stealth: bool = True
    immune_traits: tuple = (0, 1, 2, 3)


@dataclass
class AgentParams:
    capacity: float
    zref: list
    surveillance: float
    efficacy: float
    tolerance: float
    reserve: float = 0.0
    alive: bool = True
    parent: int = -1
    death_cause: str = ""
    systematic: list = field(default_factory=lambda: [0.0] * 4)
    noise: float = 0.0  # X_a (copy.noise.scope agent)
    error_rate: float | None = None  # per-copy mu(t) of this tick (None: error_rate)


@dataclass
class WorldParams:
    """docs/model.md, "Worlds of agents" (and the tick's order), for :func:`world_tick`."""
    dynamics: str = "birth_death"
    economy: bool = False
    income: float = 0.0
    upkeep: float = 0.0
    acquisition_bias: float = 0.0
    immune_cost: float = 0.0
    max_capacity: float = 1000.0
    oversight: float = 0.0
    oversight_threshold: float = 0.0
    transmission: float = 0.0
    takeover_kills: bool = False
    takeover_fraction: float = 0.5
    reproduce: bool = False
    threshold: float = math.inf
    bottleneck: int = 10
    agent_mutation: float = 0.0
    founder_reference: bool = True
    max_agents: int | None = None
    noise: float = 0.0  # the world's X_t (copy.noise.scope world), updated in place


@dataclass
class Totals:
    births: int = 0
    deaths: int = 0
    kills: int = 0
    repairs: int = 0
    mutations: int = 0
    mutants: int = 0
    extra: dict = field(default_factory=dict)


def binomial(rng, n, p):
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    return int(rng.binomial(n, p))


def step_trait(rng, value, p: Params, trait=None):
    """One copy error of ``trait`` (None: a heritable immune parameter)."""
    if p.kernel == "normal":
        bias = p.bias if p.trait_bias is None else (
            p.trait_bias[trait] if trait is not None else 0.0)
        value += rng.normal(bias, p.sd)
    elif p.kernel == "cauchy":
        value += p.scale * rng.standard_cauchy()
    elif p.kernel == "step":
        if p.direction == "up":
            value += p.size
        elif p.direction == "down":
            value -= p.size
        else:
            value += p.size if rng.random() < 0.5 else -p.size
    else:
        value = rng.random()
    return min(max(value, 0.0), 1.0)


def repair_into_children(clones, new, repaired, agents, t, next_id, last_record):
    """Repaired members of each clone (slot order) are reset to z_ref and join
    its repair child, founded (parent: the clone) unless it has one alive
    that was founded after the last record (so that the Price decomposition
    books repair as transmission)."""
    alive = {c.id: c for c in clones}
    for c in clones:
        r = repaired.get(c.id, 0)
        if r == 0:
            continue
        child = alive.get(c.repair_child)
        if child is not None and child.origin <= last_record:
            child = None
        if child is None:
            child = Clone(next_id, c.agent, 0, list(agents[c.agent].zref), c.id, t,
                          c.seeded, systematic=list(c.systematic))
            c.repair_child = next_id
            alive[next_id] = child
            new.append(child)
            next_id += 1
        child.count += r
    return next_id


def found_mutant(c: Clone, mu, p: Params, t, rng, next_id, totals) -> Clone:
    """A one-member mutant of clone c: which traits mutate is drawn given
    that at least one does (without rejection, as the kernel does)."""
    traits = list(c.traits)
    hit = False
    for pos, k in enumerate(p.copy_traits):
        remaining = len(p.copy_traits) - pos
        prob = mu if hit else mu / (1 - (1 - mu) ** remaining)
        if rng.random() < prob:
            hit = True
            if k == 0 and p.drive_guard > 0 and rng.random() < p.drive_guard:
                continue  # copy.drive_guard: a drive error caught as it is made
            traits[k] = step_trait(rng, traits[k], p, k)
            totals.mutations += 1
    return Clone(next_id, c.agent, 1, traits, c.id, t, c.seeded,
                 systematic=list(c.systematic))


def shifted(traits, vector, p: Params):
    """Traits plus a systematic error vector, clipped (copied traits)."""
    out = list(traits)
    for k in p.copy_traits:
        out[k] = min(max(out[k] + vector[k], 0.0), 1.0)
    return out


def copier_vector(c: Clone, ag: AgentParams, p: Params):
    """The systematic error vector a copy by clone c carries: its lineage's
    (scope lineage) or its agent's."""
    return c.systematic if p.systematic_lineage else ag.systematic


def draw_vector(rng, p: Params):
    """A systematic error vector: Normal(0, sd) per copied trait, in order."""
    vector = [0.0] * 4
    for k in p.copy_traits:
        vector[k] = float(rng.normal(0.0, p.systematic_sd))
    return vector


def noisy_rate(x, p: Params):
    """mu(t) = min(error_rate exp(sigma x), 1) (before majority vote)."""
    return min(p.error_rate * math.exp(p.noise_sigma * x), 1.0)


def environment(agents, p: Params, wp: "WorldParams", rng):
    """One AR(1) step, X <- phi X + sqrt(1 - phi^2) eps with phi =
    exp(-1/tau): the world's X, or each live agent's in index order; then
    every agent's error rate of the tick."""
    phi = math.exp(-1.0 / p.noise_correlation_time)
    innovation = math.sqrt(1.0 - phi * phi)
    if p.noise_per_agent:
        for ag in agents:
            if ag.alive:
                ag.noise = phi * ag.noise + innovation * float(rng.standard_normal())
                ag.error_rate = noisy_rate(ag.noise, p)
    else:
        wp.noise = phi * wp.noise + innovation * float(rng.standard_normal())
        for ag in agents:
            ag.error_rate = noisy_rate(wp.noise, p)


def start_environment(agents, p: Params, wp: "WorldParams", rng):
    """Tick 0: X_0 ~ Normal(0, 1), the world's or each agent's in order."""
    if p.noise_per_agent:
        for ag in agents:
            ag.noise = float(rng.standard_normal())
            ag.error_rate = noisy_rate(ag.noise, p)
    else:
        wp.noise = float(rng.standard_normal())
        for ag in agents:
            ag.error_rate = noisy_rate(wp.noise, p)


def start(clones, agents, p: Params, wp: "WorldParams", rng):
    """The replicate's draws at tick 0, in the engine's order: each agent's
    systematic vector (scope agent) or each set-up clone's in slot order
    (scope lineage), then the environment's X_0."""
    if p.systematic_rate > 0 and not p.systematic_lineage:
        for ag in agents:
            ag.systematic = draw_vector(rng, p)
    elif p.systematic_rate > 0:
        for c in clones:
            c.systematic = draw_vector(rng, p)
    if p.noise_sigma > 0:
        start_environment(agents, p, wp, rng)


def track(clones, agents, p: Params):
    """z_ref += tracking_rate (mean traits - z_ref), live non-empty agents."""
    for a, ag in enumerate(agents):
        mine = [c for c in clones if c.agent == a and c.count > 0]
        size = sum(c.count for c in mine)
        if not ag.alive or size <= 0:
            continue
        for k in range(4):
            total = 0.0
            for c in mine:
                total += c.count * c.traits[k]
            ag.zref[k] += p.tracking_rate * (total / size - ag.zref[k])


def agent_error_rate(p: Params, ag: AgentParams):
    """mu_r of the agent this tick: its per-copy rate through the vote."""
    mu = p.error_rate if ag.error_rate is None else ag.error_rate
    return error_rate_after_vote(mu, p.redundancy, p.error_correlation)


def mutation_rate(p: Params, ag: AgentParams, c: Clone):
    mu_r = agent_error_rate(p, ag)
    return min(1.0, mu_r * math.exp(p.mutator_strength * (ag.zref[3] - c.traits[3])))


LANDSCAPE_STREAM = 0x1A5D5CA9E


def random_terms(p: Params):
    """The random landscape's (amplitude, frequency, phase) terms: amplitudes
    Normal(0, sqrt(2/peaks)) then phases Uniform(0, 2 pi), one by one, from
    landscape_seed, else from [replicate seed, LANDSCAPE_STREAM]."""
    import numpy as np

    rng = np.random.default_rng(p.landscape_seed if p.landscape_seed is not None
                                else [p.replicate_seed, LANDSCAPE_STREAM])
    amplitudes = [rng.normal(0.0, math.sqrt(2.0 / p.peaks)) for _ in range(p.peaks)]
    phases = [rng.uniform(0.0, 2.0 * math.pi) for _ in range(p.peaks)]
    return [(a, j + 1.0, phi) for j, (a, phi) in enumerate(zip(amplitudes, phases))]


def landscape(d, p: Params):
    """L(d), clipped at 0 (docs/model.md, "One tick", item 3; random: "Random landscapes")."""
    fit = 1 + p.drive_advantage * d
    if p.landscape == "rugged":
        fit += p.ruggedness * math.sin(2 * math.pi * p.peaks * d)
    elif p.landscape == "random":
        for amplitude, frequency, phase in random_terms(p):
            fit += p.ruggedness * amplitude * math.sin(2 * math.pi * frequency * d + phase)
    return max(fit, 0.0)


def fitness(c: Clone, p: Params):
    """w = L(d) (1 - loyalty_cost l) for wright_fisher and moran."""
    return landscape(c.traits[0], p) * (1 - p.loyalty_cost * c.traits[1])


def wright_fisher(clones, agents, p: Params, t, rng, next_id):
    """Next WF generation of size capacity per agent; clones in slot order."""
    weight = [0.0] * len(agents)
    positive = [0] * len(agents)
    for c in clones:
        if c.count * fitness(c, p) > 0:
            weight[c.agent] += c.count * fitness(c, p)
            positive[c.agent] += 1
    remaining = [int(ag.capacity) if weight[a] > 0 else 0 for a, ag in enumerate(agents)]
    totals = Totals()
    offspring = {}
    for c in clones:
        w = c.count * fitness(c, p)
        x = m = 0
        if w > 0:
            positive[c.agent] -= 1
            if positive[c.agent] == 0:
                x = remaining[c.agent]
            else:
                x = binomial(rng, remaining[c.agent], min(w / weight[c.agent], 1.0))
            remaining[c.agent] -= x
            weight[c.agent] -= w
            mu = mutation_rate(p, agents[c.agent], c)
            m = binomial(rng, x, 1 - (1 - mu) ** len(p.copy_traits))
        offspring[c.id] = (x, m)
        totals.births += x
        totals.deaths += c.count
        totals.mutants += m
    new = []
    for c in clones:
        x, m = offspring[c.id]
        c.count = x - m
    for c in clones:
        for _ in range(offspring[c.id][1]):
            new.append(found_mutant(c, mutation_rate(p, agents[c.agent], c), p, t,
                                    rng, next_id, totals))
            next_id += 1
    return clones + new, totals, next_id


def moran(clones, agents, p: Params, t, rng, next_id, refill):
    """refill[a] births then N birth-death events per agent; slot order."""
    totals = Totals()
    out = list(clones)
    for a in range(len(agents)):
        local = [c for c in clones if c.agent == a]
        size = sum(c.count for c in local)
        current = size
        for e in range(refill[a] + size):
            weights = [c.count * fitness(c, p) for c in local]
            total = 0.0
            for w in weights:
                total += w
            if total <= 0:
                break
            u = rng.random() * total
            parent, acc = local[-1], 0.0
            for c, w in zip(local, weights):
                acc += w
                if u < acc:
                    parent = c
                    break
            victim = None
            if e >= refill[a]:
                v = int(rng.integers(0, current))
                acc_n = 0
                for c in local:
                    acc_n += c.count
                    if v < acc_n:
                        victim = c
                        break
            mu = mutation_rate(p, agents[a], parent)
            p_any = 1 - (1 - mu) ** len(p.copy_traits)
            if p_any > 0 and rng.random() < p_any:
                child = found_mutant(parent, mu, p, t, rng, next_id, totals)
                next_id += 1
                local.append(child)
                out.append(child)
                totals.mutants += 1
            else:
                parent.count += 1
            totals.births += 1
            if victim is not None:
                victim.count -= 1
                totals.deaths += 1
            else:
                current += 1
    return out, totals, next_id


def repair_probability(c: Clone, p: Params):
    """repair.rate, scaled by (1 - stealth) unless repair.sees_stealth is false."""
    return p.repair_rate * (1 - c.traits[2]) if p.repair_sees_stealth else p.repair_rate


def immune_phase(clones, agents, p: Params, t, rng, next_id, last_record=-1):
    """Immune kills and repairs only (the first phase of WF and Moran ticks)."""
    totals = Totals()
    repaired = {}
    kills_by_agent = [0] * len(agents)
    for c in clones:
        ag = agents[c.agent]
        dev = max(abs(c.traits[k] - ag.zref[k]) for k in p.immune_traits)
        if dev > ag.tolerance:
            e_t = 1 - (1 - ag.efficacy) * math.exp(-p.improvement * (t - 1))
            p_kill = ag.surveillance * e_t * (1 - c.traits[2])
        else:
            p_kill = ag.surveillance * p.false_positive
        kills = binomial(rng, c.count, p_kill)
        repairs = 0
        if dev > p.repair_tolerance:
            repairs = binomial(rng, c.count - kills, repair_probability(c, p))
        c.count -= kills + repairs
        repaired[c.id] = repairs
        kills_by_agent[c.agent] += kills
        totals.kills += kills
        totals.repairs += repairs
    new = []
    next_id = repair_into_children(clones, new, repaired, agents, t, next_id,
                                   last_record)
    totals.extra["kills_by_agent"] = kills_by_agent
    return clones + new, totals, next_id


def tick(clones: list[Clone], agents: list[AgentParams], p: Params, t: int,
         rng, next_id: int, last_record: int = -1):
    """One birth_death tick. ``clones`` in slot order; returns
    (clones after the tick, in creation order; totals; next_id)."""
    size = [sum(c.count for c in clones if c.agent == a) for a in range(len(agents))]
    events = {}
    for c in clones:
        ag = agents[c.agent]
        mu_r = agent_error_rate(p, ag)
        d, l, s, f = c.traits
        if d > p.escape_threshold:
            g = max(0.0, 1 - size[c.agent] / (p.escape_headroom * ag.capacity))
        else:
            g = max(0.0, 1 - size[c.agent] / ag.capacity)
        fit = landscape(d, p)
        p_birth = min(1.0, p.birth_rate * fit * (1 - p.loyalty_cost * l) * g
                      / (1 + p.redundancy_cost * (p.redundancy - 1)))
        births = binomial(rng, c.count, p_birth)
        mu = min(1.0, mu_r * math.exp(p.mutator_strength * (ag.zref[3] - f)))
        p_any = 1 - (1 - mu) ** len(p.copy_traits)
        mutants = binomial(rng, births, p_any)
        systematic = 0
        if p.systematic_rate > 0:  # newborns with only the systematic error
            systematic = binomial(rng, births - mutants, p.systematic_rate)
        deaths = binomial(rng, c.count, p.death_rate)
        dev = max(abs(c.traits[k] - ag.zref[k]) for k in p.immune_traits)
        if dev > ag.tolerance:
            e_t = 1 - (1 - ag.efficacy) * math.exp(-p.improvement * (t - 1))
            p_kill = ag.surveillance * e_t * (1 - s)
        else:
            p_kill = ag.surveillance * p.false_positive
        kills = binomial(rng, c.count - deaths, p_kill)
        repairs = 0
        if dev > p.repair_tolerance:
            repairs = binomial(rng, c.count - deaths - kills, repair_probability(c, p))
        events[c.id] = (births, mutants, deaths, kills, repairs, mu, systematic)
    totals = Totals()
    new = []
    for c in clones:
        births, mutants, deaths, kills, repairs, _, systematic = events[c.id]
        c.count += births - mutants - deaths - kills - repairs - systematic
        totals.births += births
        totals.deaths += deaths
        totals.kills += kills
        totals.repairs += repairs
        totals.mutants += mutants + systematic
    for c in clones:
        mutants, mu, systematic = events[c.id][1], events[c.id][5], events[c.id][6]
        ag = agents[c.agent]
        for _ in range(mutants):
            mutant = found_mutant(c, mu, p, t, rng, next_id, totals)
            if p.systematic_rate > 0:
                if rng.random() < p.systematic_rate:  # the copier's vector
                    mutant.traits = shifted(mutant.traits, copier_vector(c, ag, p), p)
                if p.systematic_lineage:  # a mutant clone: its own vector
                    mutant.systematic = draw_vector(rng, p)
            new.append(mutant)
            next_id += 1
        if systematic:  # one clone, inheriting its parent's vector
            new.append(Clone(next_id, c.agent, systematic,
                             shifted(c.traits, copier_vector(c, ag, p), p), c.id,
                             t, c.seeded, systematic=list(c.systematic)))
            next_id += 1
    next_id = repair_into_children(clones, new, {c.id: events[c.id][4] for c in clones},
                                   agents, t, next_id, last_record)
    return clones + new, totals, next_id


def migrate(clones, alive_agents, p: Params, rate, t, rng, next_id):
    """Defector members move to uniformly chosen other live agents
    (draws: every clone's Binomial(n, rate) first, then the destinations)."""
    movers = {}
    for c in clones:
        m = 0
        if c.count > 0 and c.traits[0] > p.escape_threshold and len(alive_agents) >= 2 \
                and c.agent in alive_agents:
            m = binomial(rng, c.count, rate)
        movers[c.id] = m
    new = []
    for c in clones:
        m = movers[c.id]
        if m == 0:
            continue
        c.count -= m
        remaining, others = m, len(alive_agents) - 1
        for b in alive_agents:
            if b == c.agent:
                continue
            x = remaining if others == 1 else binomial(rng, remaining, 1.0 / others)
            others -= 1
            remaining -= x
            if x:
                new.append(Clone(next_id, b, x, list(c.traits), c.id, t, c.seeded,
                                 systematic=list(c.systematic)))
                next_id += 1
            if remaining == 0:
                break
    return clones + new, sum(movers.values()), next_id


def found_children(clones, parents, children, agents, p: Params, bottleneck, t, rng,
                   next_id, founder_reference, agent_mutation):
    """Each parent agent founds a child from min(bottleneck, N) copied members."""
    totals = Totals()
    new_agents = {}
    for a, child in zip(parents, children):
        mine = [c for c in clones if c.agent == a and c.count > 0]
        size = sum(c.count for c in mine)
        remaining, left = min(bottleneck, size), size
        founders = []
        for c in mine:
            if remaining == 0:
                break
            x = remaining if left == c.count else binomial(rng, remaining, c.count / left)
            left -= c.count
            remaining -= x
            if x == 0:
                continue
            mu = mutation_rate(p, agents[a], c)
            m = binomial(rng, x, 1 - (1 - mu) ** len(p.copy_traits))
            if x - m:
                founders.append(Clone(next_id, child, x - m, list(c.traits), c.id, t, c.seeded,
                                      systematic=list(c.systematic)))
                next_id += 1
            for _ in range(m):
                mutant = found_mutant(c, mu, p, t, rng, next_id, totals)
                if p.systematic_rate > 0 and p.systematic_lineage:
                    mutant.systematic = draw_vector(rng, p)
                mutant.agent = child
                founders.append(mutant)
                next_id += 1
        n = sum(f.count for f in founders)
        parent = agents[a]
        if founder_reference and n:
            zref = [sum(f.count * f.traits[k] for f in founders) / n for k in range(4)]
        else:
            zref = list(parent.zref)
        immune = [parent.surveillance, parent.efficacy, parent.tolerance]
        for k in range(3):
            if rng.random() < agent_mutation:
                immune[k] = step_trait(rng, immune[k], p)
        systematic = [0.0] * 4
        if p.systematic_rate > 0 and not p.systematic_lineage:  # the child's own
            systematic = draw_vector(rng, p)
        kid = AgentParams(parent.capacity, zref, *immune, systematic=systematic,
                          noise=parent.noise, error_rate=parent.error_rate)
        if p.noise_sigma > 0 and p.noise_per_agent:  # the child's own X_0
            kid.noise = float(rng.standard_normal())
            kid.error_rate = noisy_rate(kid.noise, p)
        new_agents[child] = kid
        clones = clones + founders
    return clones, new_agents, totals, next_id


def economy(clones, agents, wp: WorldParams):
    """Income shares, capacities and reserves (docs/model.md, "Worlds of agents")."""
    weight = []
    for a, ag in enumerate(agents):
        mine = [c for c in clones if c.agent == a and c.count > 0]
        size = sum(c.count for c in mine)
        drive = sum(c.count * c.traits[0] for c in mine) / size if size else 0.0
        weight.append(size * (1 + wp.acquisition_bias * drive) if ag.alive else 0.0)
    total = sum(weight)
    for a, ag in enumerate(agents):
        share = wp.income * weight[a] / total if total > 0 else 0.0
        upkeep = wp.upkeep + wp.immune_cost * ag.surveillance
        ag.capacity = max(min(wp.max_capacity, share / upkeep), 1e-9)
        if ag.alive:
            size = sum(c.count for c in clones if c.agent == a and c.count > 0)
            ag.reserve += share - upkeep * size


def place(slots, free, clones, first_new_id):
    """Put the clones founded in a phase (ids from ``first_new_id``, in
    creation order) into slots as the engine does: pop the free stack, else
    a new slot at the end."""
    for c in clones:
        if c.id < first_new_id:
            continue
        if free:
            slots[free.pop()] = c
        else:
            slots.append(c)


def release(slots, free):
    """Free the slots of clones with no members left, in slot order."""
    for i, c in enumerate(slots):
        if c is not None and c.count <= 0:
            slots[i] = None
            free.append(i)


def live(slots):
    """The clones alive, in slot order (the order of the engine's draws)."""
    return [c for c in slots if c is not None and c.count > 0]


def world_tick(slots, free, agents, p: Params, wp: WorldParams, t, rng, next_id,
               last_record=-1):
    """One whole tick of a world, in the engine's order (docs/model.md):
    environment (copy.noise), economy, tracking of z_ref, within-agent dynamics,
    transmission, takeovers observed, agent deaths, agent reproduction. ``slots`` (clones or None) and ``free`` (the
    free-slot stack) are updated in place, as the engine's slot table.
    Returns (totals, next_id, facts) with facts: taken (agents taken over,
    before deaths), died, lost_taken, born."""
    if p.noise_sigma > 0:
        environment(agents, p, wp, rng)
    if wp.economy:
        economy(live(slots), agents, wp)
    if p.tracking_rate > 0:  # the self moves before the immune step
        track(live(slots), agents, p)
    first = next_id
    if wp.dynamics == "birth_death":
        out, totals, next_id = tick(live(slots), agents, p, t, rng, next_id, last_record)
        place(slots, free, out, first)
        release(slots, free)
    else:
        out, totals, next_id = immune_phase(live(slots), agents, p, t, rng, next_id,
                                            last_record)
        place(slots, free, out, first)
        release(slots, free)
        first = next_id
        if wp.dynamics == "wright_fisher":
            out, gen, next_id = wright_fisher(live(slots), agents, p, t, rng, next_id)
        else:
            out, gen, next_id = moran(live(slots), agents, p, t, rng, next_id,
                                      totals.extra["kills_by_agent"])
        place(slots, free, out, first)
        release(slots, free)
        for name in ("births", "deaths", "mutations", "mutants"):
            setattr(totals, name, getattr(totals, name) + getattr(gen, name))
    moved = 0
    if wp.transmission > 0:
        alive = [a for a, ag in enumerate(agents) if ag.alive]
        first = next_id
        out, moved, next_id = migrate(live(slots), alive, p, wp.transmission, t, rng,
                                      next_id)
        place(slots, free, out, first)
        release(slots, free)
    totals.extra["migrants"] = moved
    # Takeovers, observed before any agent dies.
    clones = live(slots)
    sizes = [sum(c.count for c in clones if c.agent == a) for a in range(len(agents))]
    defectors = [sum(c.count for c in clones if c.agent == a
                     and c.traits[0] > p.escape_threshold) for a in range(len(agents))]
    taken = [ag.alive and sizes[a] > 0 and defectors[a] / sizes[a] >= wp.takeover_fraction
             for a, ag in enumerate(agents)]
    # Agent deaths: empty, starved, oversight (one draw each), takeover.
    died = lost_taken = 0
    for a, ag in enumerate(agents):
        if not ag.alive:
            continue
        cause = ""
        if sizes[a] == 0:
            cause = "empty"
        elif wp.economy and ag.reserve < 0:
            cause = "starved"
        if not cause and wp.oversight > 0 and sizes[a] > 0:
            goal = sum(c.count * c.traits[1] for c in clones if c.agent == a)
            if goal / sizes[a] < wp.oversight_threshold and rng.random() < wp.oversight:
                cause = "oversight"
        if not cause and wp.takeover_kills and taken[a]:
            cause = "takeover"
        if cause:
            ag.alive, ag.death_cause = False, cause
            died += 1
            lost_taken += taken[a]
    if died:
        for c in clones:
            if not agents[c.agent].alive:
                c.count = 0
        release(slots, free)
    # Reproduction: parents at random among the eligible when the cap binds.
    born = 0
    if wp.reproduce:
        eligible = [a for a, ag in enumerate(agents) if ag.alive and ag.reserve >= wp.threshold]
        if wp.max_agents is not None:
            room = max(wp.max_agents - sum(ag.alive for ag in agents), 0)
            if room < len(eligible):
                for c in range(room):
                    j = int(rng.integers(c, len(eligible)))
                    eligible[c], eligible[j] = eligible[j], eligible[c]
                eligible = eligible[:room]
        parents = sorted(eligible)
        children = list(range(len(agents), len(agents) + len(parents)))
        if parents:
            first = next_id
            for a in parents:
                agents[a].reserve /= 2
            out, new_agents, kid_totals, next_id = found_children(
                live(slots), parents, children, agents, p, wp.bottleneck, t, rng, next_id,
                wp.founder_reference, wp.agent_mutation)
            place(slots, free, out, first)
            release(slots, free)
            for a, child in zip(parents, children):
                kid = new_agents[child]
                kid.capacity = wp.max_capacity
                kid.reserve = agents[a].reserve
                kid.parent = a
                agents.append(kid)
            totals.mutations += kid_totals.mutations
            born = len(parents)
    facts = {"taken": sum(taken), "died": died, "lost_taken": lost_taken, "born": born}
    return totals, next_id, facts
