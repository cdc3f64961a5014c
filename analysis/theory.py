"""Classical population-genetics results the engine must reproduce.

Closed forms and exact Markov-chain solves (MODEL.md section 6), each with
its source. ``substrate validate`` compares the engine with these.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, optimize, stats


def neutral_fixation(n: int) -> float:
    """Fixation probability of one neutral mutant among n: 1/n (Kimura 1962)."""
    return 1.0 / n


def moran_fixation(r: float, n: int) -> float:
    """Fixation probability of one mutant of relative fitness r in a Moran
    process of size n: (1 - 1/r) / (1 - 1/r^n) (Moran 1958; Nowak 2006,
    Evolutionary Dynamics, eq. 6.13). r = 1 gives 1/n."""
    if r == 1.0:
        return 1.0 / n
    return (1 - 1 / r) / (1 - r ** (-n))


def moran_neutral_fixation_time(n: int) -> float:
    """Mean number of birth-death events to fixation of one neutral mutant,
    conditional on fixation: n (n - 1) (Kimura & Ohta 1969; Ewens 2004,
    Mathematical Population Genetics I, eq. 3.78 in discrete Moran form)."""
    return n * (n - 1.0)


def _moran_neutral_matrix(n: int) -> np.ndarray:
    """Transition matrix of the neutral Moran chain on 0..n (one event)."""
    P = np.zeros((n + 1, n + 1))
    P[0, 0] = P[n, n] = 1.0
    for i in range(1, n):
        up = (i / n) * ((n - i) / n)  # a mutant reproduces, a resident dies
        P[i, i + 1] = up
        P[i, i - 1] = up
        P[i, i] = 1 - 2 * up
    return P


def moran_neutral_fixation_ticks(n: int, tol: float = 1e-13) -> float:
    """E[ceil(T / n) | fixation] for the neutral Moran chain started at 1:
    the mean fixation *tick* when a tick is n events and fixation is seen at
    the end of a tick. Exact, from the chain conditioned on fixation (Doob
    h-transform with h(i) = i/n), by iterating its transient distribution."""
    P = _moran_neutral_matrix(n)
    h = np.arange(n + 1) / n
    Q = P[1:n, 1:n] * h[None, 1:n] / h[1:n, None]  # conditioned transient part
    v = np.zeros(n - 1)
    v[0] = 1.0
    expected_ticks = 0.0
    t = 0
    while True:
        if t % n == 0:
            survival = v.sum()  # P(T > t)
            if survival < tol:
                break
            expected_ticks += survival  # E[ceil(T/n)] = sum_k P(T > k n)
        v = v @ Q
        t += 1
    return expected_ticks


def wright_fisher_fixation_exact(n: int, s: float, start: int = 1) -> float:
    """Fixation probability of ``start`` mutants of relative fitness 1 + s in a
    haploid Wright-Fisher population of n, from the exact Markov chain:
    i -> Binomial(n, i(1+s) / (i(1+s) + n - i)) (Ewens 2004, ch. 1.5),
    absorption probabilities solved as a linear system."""
    i = np.arange(n + 1)
    p = i * (1 + s) / (i * (1 + s) + n - i)
    P = stats.binom.pmf(i[None, :], n, p[:, None])
    Q = P[1:n, 1:n]
    b = P[1:n, n]
    h = linalg.solve(np.eye(n - 1) - Q, b)
    return float(h[start - 1])


def kimura_fixation(s: float, n: int) -> float:
    """Kimura's diffusion approximation for one haploid mutant of advantage s
    in a population of n: (1 - exp(-2s)) / (1 - exp(-2ns)) (Kimura 1962).
    Accurate for small s and large n."""
    if s == 0:
        return 1.0 / n
    return -math.expm1(-2 * s) / -math.expm1(-2 * n * s)


def galton_watson_escape(birth: float, death: float) -> float:
    """Escape probability of one defector under the ``birth_death`` tick with
    no growth limit. Per tick a member dies with probability d and leaves a
    newborn (which does not die that tick) with probability b, so its
    offspring law is 0 w.p. d(1-b), 2 w.p. (1-d)b, else 1; the extinction
    probability is the smaller root of q = f(q), q = d(1-b) / (b(1-d))
    (Harris 1963, The Theory of Branching Processes, ch. 1)."""
    if birth <= 0:
        return 0.0
    return max(0.0, 1 - death * (1 - birth) / (birth * (1 - death)))


def selection_mutation_balance(mu: float, s: float) -> float:
    """Equilibrium mutant fraction under one-way mutation (rate mu per birth)
    and viability selection s against the mutant (haploid, selection then
    reproduction with mutation): the fixed point of
    q' = q_s + (1 - q_s) mu with q_s = q (1 - s) / (1 - s q).
    Approximately mu / s for mu << s (Haldane 1937; Crow & Kimura 1970, 6.2)."""
    def step(q):
        qs = q * (1 - s) / (1 - s * q)
        return qs + (1 - qs) * mu - q

    return float(optimize.brentq(step, 1e-15, 1 - 1e-15))


def majority_vote_error_rate(mu: float, redundancy: int, correlation: float) -> float:
    """Per-trait error after majority vote over r copies with a share rho of
    correlated errors: rho mu + (1 - rho) P(Binomial(r, mu) > r/2)
    (MODEL.md section 3, item 6; e.g. MacWilliams & Sloane 1977, repetition codes)."""
    majority = stats.binom.sf(redundancy // 2, redundancy, mu)
    return correlation * mu + (1 - correlation) * float(majority)
