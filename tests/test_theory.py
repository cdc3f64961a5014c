"""The engine against population-genetics theory (MODEL.md section 6).

Each test states its seed, its replicate count and its tolerance: 4 standard
errors of the estimate, so a correct engine fails about once in 16 000 runs
(and, the seeds being fixed, either always passes or always fails).
"""

import math

import numpy as np
import pytest

from simulation import kernels as K
from simulation import validate
from simulation.model import World


def escape_probability(b, d):
    """Galton-Watson escape of one defector under the birth_death tick.

    Per tick a member dies with probability d and (surviving or not) leaves a
    newborn with probability b that does not die this tick, so its offspring
    law is 0 w.p. d(1-b), 2 w.p. (1-d)b, else 1. The extinction probability
    is the smaller root of q = f(q): q = d(1-b) / (b(1-d)) (Harris 1963,
    The Theory of Branching Processes, ch. 1).
    """
    return max(0.0, 1 - d * (1 - b) / (b * (1 - d)))


@pytest.mark.parametrize("birth,death,seed", [(0.3, 0.1, 101), (0.5, 0.2, 202),
                                              (0.25, 0.15, 303)])
def test_galton_watson_escape(birth, death, seed):
    """One defector per agent in 4000 independent agents (agents share nothing
    without an economy). Capacity 10^9 makes growth control g = 1 - N/K
    differ from 1 by < 10^-6 while N < 1000. A lineage counts as escaped at
    200 members: from there its extinction probability q^200 is < 10^-40."""
    agents = 4000
    sc = validate({
        "seed": seed, "world": {"agents": agents},
        "agent": {"capacity": 10**9, "initial_size": 1, "birth_rate": birth,
                  "death_rate": death, "drive_advantage": 0.0, "loyalty_cost": 0.0,
                  "initial_traits": {"drive": 0.9}},
        "copy": {"error_rate": 0.0}, "immune": {"surveillance": 0.0}})
    world = World(sc, seed=seed)
    for _ in range(5000):
        size = world.reduced[:, K.R_SIZE]
        if np.all((size == 0) | (size >= 200)):
            break
        world.step()
    escaped = (world.reduced[:, K.R_SIZE] >= 200).mean()
    expected = escape_probability(birth, death)
    se = math.sqrt(expected * (1 - expected) / agents)
    assert abs(escaped - expected) < 4 * se, (escaped, expected, se)


@pytest.mark.parametrize("mu,r,rho,seed", [(0.01, 1, 0.0, 7), (0.05, 3, 0.0, 8),
                                           (0.02, 5, 0.3, 9)])
def test_per_trait_error_rate(mu, r, rho, seed):
    """Trait mutations per newborn and trait equal mu_r (MODEL.md 3.6).

    Counted over all births of a 20-tick run of 10^5 subcomponents; each
    newborn-trait is an independent Bernoulli(mu_r) trial, so the standard
    error is sqrt(mu_r (1 - mu_r) / trials)."""
    sc = validate({
        "seed": seed, "agent": {"capacity": 200000, "initial_size": 100000,
                                "birth_rate": 0.5},
        "copy": {"error_rate": mu, "redundancy": r, "error_correlation": rho},
        "immune": {"surveillance": 0.0}})
    world = World(sc, seed=seed)
    births = mutations = 0
    for _ in range(20):
        world.step()
        births += world.totals[K.E_BIRTHS]
        mutations += world.totals[K.E_MUTATIONS]
    mu_r = K.effective_error_rate(mu, r, rho)
    trials = births * 4
    se = math.sqrt(mu_r * (1 - mu_r) / trials)
    assert abs(mutations / trials - mu_r) < 4 * se, (mutations / trials, mu_r)
