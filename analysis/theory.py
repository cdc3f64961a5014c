"""Classical population-genetics results the engine must reproduce.

Closed forms and exact Markov-chain solves (docs/model.md, "Validation"), each with
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
    (docs/model.md, "One tick", item 5; e.g. MacWilliams & Sloane 1977, repetition codes)."""
    majority = stats.binom.sf(redundancy // 2, redundancy, mu)
    return correlation * mu + (1 - correlation) * float(majority)


def _compositions(n: int, types: int):
    """Every (n_0, ..., n_{types-1}) of non-negative integers summing to n."""
    if types == 1:
        yield (n,)
        return
    for first in range(n, -1, -1):
        for rest in _compositions(n - first, types - 1):
            yield (first,) + rest


def moran_ladder_takeover(n: int, fitness, mutation, horizon: int,
                          defector_from: int, takeover_fraction: float) -> np.ndarray:
    """Exact P(takeover by tick t), t = 0..horizon, of a Moran population of
    n on a ladder of types 0..L-1 (``fitness[k]`` the relative fitness of
    type k), all starting as type 0.

    One birth-death event (the engine's ``moran`` dynamics): the parent is
    type i with probability n_i w_i / sum_j n_j w_j; its newborn is type
    i + 1 with probability ``mutation`` (one rate for every step, or a
    sequence: ``mutation[i]`` for the step i -> i + 1; type L-1 stays L-1) and replaces a
    victim drawn uniformly among the n (from the same state). A tick is n
    events; takeover is seen at a tick's end, when the members of types
    >= ``defector_from`` are at least ``takeover_fraction`` n. The
    distribution over compositions is carried forward through the sparse
    one-event matrix, the taken-over mass removed at each tick's end, so
    the result is exact to rounding (a transient solve over C(n+L-1, L-1)
    compositions)."""
    from scipy import sparse

    w = np.asarray(fitness, dtype=float)
    types = w.size
    step_rate = np.broadcast_to(np.asarray(mutation, dtype=float), (max(types - 1, 1),))
    states = list(_compositions(n, types))
    index = {s: i for i, s in enumerate(states)}
    rows, cols, probs = [], [], []
    for s in states:
        here = index[s]
        weights = np.array(s) * w
        total = weights.sum()
        for parent in range(types):
            if s[parent] == 0:
                continue
            p_parent = weights[parent] / total
            u = step_rate[parent] if parent + 1 < types else 0.0
            children = ([(parent + 1, u), (parent, 1.0 - u)]
                        if parent + 1 < types else [(parent, 1.0)])
            for child, p_child in children:
                for victim in range(types):
                    if s[victim] == 0 or p_child == 0.0:
                        continue
                    new = list(s)
                    new[child] += 1
                    new[victim] -= 1
                    rows.append(here)
                    cols.append(index[tuple(new)])
                    probs.append(p_parent * p_child * s[victim] / n)
    step = sparse.csr_matrix((probs, (rows, cols)), shape=(len(states), len(states)))
    taken = np.array([sum(s[defector_from:]) >= takeover_fraction * n for s in states])
    mass = np.zeros(len(states))
    mass[index[(n,) + (0,) * (types - 1)]] = 1.0
    out = np.zeros(horizon + 1)
    stepT = step.T.tocsr()
    for t in range(1, horizon + 1):
        for _ in range(n):
            mass = stepT @ mass
        out[t] = out[t - 1] + mass[taken].sum()
        mass[taken] = 0.0
    return out


def luria_delbruck_stopped(start: int, stop_size: int, birth: float, mutation: float,
                           max_ticks: int = 10_000) -> np.ndarray:
    """Exact distribution of the mutant count of a culture stopped at a size,
    under the engine's ``birth_death`` tick: P(M = m) for m = 0, 1, ...

    The culture starts as ``start`` wild-type members; no member dies; per
    tick every member has a newborn with probability ``birth``, whatever
    its type (neutral mutants), and a wild-type parent's newborn is a mutant
    with probability ``mutation`` (no back mutation); the culture stops at
    the first tick at which it holds ``stop_size`` members or more, and M
    is its mutant count then (``stop.size`` with ``stop.on: [size_reached]``).

    Derivation, for the discrete tick (the Luria-Delbrueck / Lea-Coulson
    setting, with divisions drawn per tick instead of in continuous time):
    a wild-type member independently leaves a wild-type newborn
    (probability b (1 - u)), a mutant newborn (b u) or none (1 - b), so from
    (W, M) the tick draws (A, X) ~ Multinomial(W; b (1 - u), b u) and
    Y ~ Binomial(M, b), and moves to (W + A, M + Y + X). The pair (W, M)
    is a Markov chain; its law is carried forward tick by tick over the
    states with W + M < stop_size, and the mass that reaches W + M >=
    stop_size is the stopped law, collected by M. This is exact (to
    rounding) where Ma, Sandri & Sarkar's recursion p_n = (m / n)
    sum_{i<n} p_i / (n - i + 1) (1992, J. Appl. Probab. 29: 255) holds
    only for the continuous-time model with a fixed final size. The chance
    of no mutant, p0 = E[(1 - u)^(N_stop - start)] with N_stop the size at
    the stop (every newborn wild-type), is the Lea-Coulson exp(-m),
    m = u (N_stop - start), with the overshoot of the stopping size kept.
    """
    from scipy import stats

    b, u = float(birth), float(mutation)
    top = 2 * stop_size  # a stopped culture holds fewer than 2 stop_size members
    mass = np.zeros((stop_size, top))  # P(W = w, M = m), w + m < stop_size
    mass[start, 0] = 1.0
    stopped = np.zeros(top)
    m_values = np.arange(top)
    # grow[m, m'] = P(m + Binomial(m, b) = m'): the mutants' own newborns
    grow = np.zeros((top, top))
    for m in range(stop_size):
        grow[m, m:2 * m + 1] = stats.binom.pmf(np.arange(m + 1), m, b)
    for _ in range(max_ticks):
        if mass.sum() < 1e-15:
            break
        new = np.zeros_like(mass)
        for w in range(stop_size):
            row = mass[w]
            if not row.any():
                continue
            after = row @ grow  # the law of M + Y
            p_wild = b * (1 - u)  # A ~ Binomial(w, p_wild); X | A ~ Binomial(w - A, q)
            q = min(b * u / (1 - p_wild), 1.0) if p_wild < 1 else 0.0
            p_a = stats.binom.pmf(np.arange(w + 1), w, p_wild)
            for a in range(w + 1):  # A wild-type newborns, X mutants among the rest
                if p_a[a] == 0:
                    continue
                joint = p_a[a] * stats.binom.pmf(np.arange(w - a + 1), w - a, q)
                shifted = np.convolve(after, joint)[:top]
                wild = w + a
                total = wild + m_values
                inside = total < stop_size
                if wild < stop_size:
                    new[wild, inside] += shifted[inside]
                stopped[~inside] += shifted[~inside]
        mass = new
    return stopped[: int(np.flatnonzero(stopped)[-1]) + 1] if stopped.any() else stopped
