"""The birth_death tick as a typical Mesa user would write it: one
``mesa.Agent`` per subcomponent, Python draws from ``model.random``.

It is the engine's distribution-level cross-check (tests/test_naive_mesa.py:
same scenario, statistically indistinguishable outcomes) and its speed
baseline (benchmarks/naive_ratio.py). It follows docs/model.md ("One tick") one
subcomponent at a time: growth control from N and K at the start of the
tick, a birth with copy errors (each trait of copy.traits independently),
death, immune kill and repair of the members present at the start, and
newborns added at the end (they do not die in their birth tick).
"""

import math

import mesa

from simulation.kernels.clones import effective_error_rate

TRAITS = ("drive", "loyalty", "stealth", "fidelity")


class Subcomponent(mesa.Agent):
    def __init__(self, model, traits):
        super().__init__(model)
        self.traits = list(traits)

    def step(self):
        m = self.model
        sc = m.scenario
        drive, loyalty, stealth, fidelity = self.traits
        r = m.random
        # Growth control and birth.
        limit = m.capacity * (sc.agent.escape_headroom if drive > sc.agent.escape_threshold
                              else 1.0)
        g = max(0.0, 1.0 - m.size / limit)
        fit = 1.0 + sc.agent.drive_advantage * drive
        if sc.landscape.type == "rugged":
            fit += sc.landscape.ruggedness * math.sin(2 * math.pi * sc.landscape.peaks * drive)
        p_birth = min(1.0, sc.agent.birth_rate * max(fit, 0.0)
                      * (1 - sc.agent.loyalty_cost * loyalty) * g / m.redundancy_divisor)
        if r.random() < p_birth:
            child = list(self.traits)
            mu = min(1.0, m.mu_r * math.exp(sc.copy.mutator_strength * (m.zref[3] - fidelity)))
            for name in sc.copy.traits:
                if r.random() < mu:
                    k = TRAITS.index(name)
                    child[k] = m.mutate(child[k])
                    m.mutations += 1
            m.newborns.append(child)
        # Death, then the immune system, then repair.
        if r.random() < sc.agent.death_rate:
            self.remove()
            return
        dev = max(abs(self.traits[TRAITS.index(t)] - m.zref[TRAITS.index(t)])
                  for t in sc.immune.traits)
        if dev > sc.immune.tolerance:
            e_t = 1 - (1 - sc.immune.efficacy) * math.exp(-sc.immune.improvement * (m.steps - 1))
            p_kill = sc.immune.surveillance * e_t * (1 - stealth)
        else:
            p_kill = sc.immune.surveillance * sc.immune.false_positive
        if r.random() < p_kill:
            m.kills += 1
            self.remove()
            return
        # repair.sees_stealth: stealth hides a part from repair as from the immune system
        p_repair = sc.repair.rate * ((1 - stealth) if sc.repair.sees_stealth else 1)
        if dev > sc.repair.tolerance and r.random() < p_repair:
            self.traits = list(m.zref)


class NaiveWorld(mesa.Model):
    """A singleton world, one agent object per subcomponent."""

    def __init__(self, scenario, seed):
        super().__init__(seed=seed)
        self.scenario = scenario
        a = scenario.agent
        self.capacity = a.capacity
        self.zref = [getattr(a.initial_traits, t) for t in TRAITS]
        c = scenario.copy
        self.mu_r = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)
        self.redundancy_divisor = 1 + c.redundancy_cost * (c.redundancy - 1)
        self.mutations = self.kills = 0
        seeded = sum(s.count for s in a.seed_clones)
        for _ in range(a.initial_size - seeded):
            Subcomponent(self, self.zref)
        for clone in a.seed_clones:
            traits = [clone.traits.get(t, z) for t, z in zip(TRAITS, self.zref)]
            for _ in range(clone.count):
                Subcomponent(self, traits)

    def mutate(self, value):
        k = self.scenario.copy.kernel
        r = self.random
        if k.type == "normal":
            value += r.gauss(k.bias, k.sd)
        elif k.type == "cauchy":
            value += k.scale * math.tan(math.pi * (r.random() - 0.5))
        elif k.type == "step":
            sign = {"up": 1, "down": -1}.get(k.direction) or (1 if r.random() < 0.5 else -1)
            value += sign * k.size
        else:
            value = r.random()
        return min(max(value, 0.0), 1.0)

    @property
    def size(self):
        return self._size

    def step(self):
        self._size = len(self.agents)
        self.newborns = []
        self.agents.shuffle_do("step")
        for traits in self.newborns:
            Subcomponent(self, traits)

    def mean(self, trait):
        k = TRAITS.index(trait)
        n = len(self.agents)
        return sum(s.traits[k] for s in self.agents) / n if n else float("nan")
