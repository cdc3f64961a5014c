"""NumPy's binomial draws, with the inversion sampler's tables remembered.

``Generator.binomial(n, p)`` (NumPy, and numba's copy of it) draws by
inversion when ``min(p, 1 - p) n <= 30``: with ``q = 1 - p``, it walks
``X = 0, 1, ...`` subtracting ``px_X`` from one uniform ``U`` while
``U > px_X``, where

    px_0 = exp(n log q),  px_X = ((n - X + 1) p px_{X-1}) / (X q),

restarting with a new ``U`` if ``X`` passes ``bound = min(n, np + 10
sqrt(npq + 1))``. Each call recomputes ``exp``, ``log``, ``sqrt`` and one
division per step, although the ``px`` sequence depends on ``(n, p)`` only,
and within-agent ticks draw from the same few ``(n, p)`` over and over (a
clone's size and its birth, death or kill probability).

:func:`binomial` makes the very same draws, bit for bit, faster. For a
key ``(n, p)`` it keeps the partial sums ``D_X = px_0 + ... + px_X`` (as
far as draws have needed them) in a direct-mapped table (:func:`new_memo`),
and finds the first ``X`` with ``U <= D_X`` by a scan without a chain of
dependent subtractions. That is NumPy's answer whenever ``U`` is not within
``M_X`` of ``D_X``: NumPy's running ``U - px_0 - ... - px_{X-1}`` (rounded
at each step) differs from ``U - (px_0 + ... + px_{X-1})`` by at most
``X 2^-54``, and ``D_X`` from the exact sum by at most ``(X + 1) 2^-53``:
so with ``M_X = (2X + 10) 2^-53``, kept as ``A_X = D_X + M_X`` (rounded),
NumPy goes on past every ``X`` with ``U > A_X`` and stops at the first
``X`` with ``U < A_X - 2 M_X`` (rounded: within ``2^-52`` of ``D_X -
M_X``). When ``U`` is within ``M_X`` (probability
about 1e-14 a draw) the draw is made by NumPy's own walk from the same
``U``. The ``px`` are computed by the same recurrence, in the same
floating-point operations, as NumPy's.

A slot holds one key. A key takes a slot only when it missed there at
its previous draw too, so keys drawn once (a short-lived clone's birth
probability depends on its traits and its agent's size) are drawn by
NumPy's walk and do not evict the keys that recur. What the table holds
never changes a draw, only its cost, so it is not part of the state (not
copied by snapshots, not reset between replicates); each thread has its
own.

Other draws (``min(p, 1 - p) n > 30``: NumPy's BTPE sampler) go to the
generator's own ``binomial``.
"""

import numpy as np

from .jit import entry, kernel

#: A slot's columns: its key (n, p <= 0.5; n = -1: empty), its bound
#: floor(min(n, np + 10 sqrt(npq + 1))), the entries filled so far, the
#: last key that missed at this slot (n, p), px and D of the last entry
#: filled (one cache line); then the thresholds D_X + M_X for X = 0..bound,
#: +inf after the last filled (bound <= 30 + 10 sqrt(31) < 86 when
#: n min(p, 1 - p) <= 30). Rows of 96 float64: 768 bytes, whole cache lines.
KEY_N, KEY_P, BOUND, FILLED, SEEN_N, SEEN_P, LAST_PX, LAST_SUM = range(8)
ABOVE = 8
ROW = 96
#: 2^-53
EPS = 2.0 ** -53


def new_memo(slots: int = 4096) -> np.ndarray:
    """An empty table of ``slots`` keys (a power of two): float64 (slots,
    ROW), one row per key (integers are held exactly)."""
    memo = np.zeros((slots, ROW))
    memo[:, KEY_N] = -1.0
    memo[:, SEEN_N] = -1.0
    return memo


@entry(_nrt=False, inline="always")
def binomial(rng, memo, n, p, keep=True):
    """``rng.binomial(n, p)``, draw for draw, for ``n >= 0``; through the
    table ``memo`` if ``keep``, else by NumPy's walk (for keys that seldom
    recur: the same draws, without a slot looked up). Inlined where it is
    called; NumPy's BTPE sampler stays a call (:func:`numpy_binomial`), so
    that each call site stays small. An impossible or certain event draws
    nothing from the stream (NumPy draws nothing for ``n == 0`` or ``p ==
    0``; the guard makes that explicit for ``tests/naive.py``, which guards
    the same way)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p <= 0.5:
        if p * n <= 30.0:
            if keep:
                return inversion(rng, memo, n, p)
            return walk(rng, n, p, rng.random())
    elif (1.0 - p) * n <= 30.0:
        if keep:
            return n - inversion(rng, memo, n, 1.0 - p)
        return n - walk(rng, n, 1.0 - p, rng.random())
    return numpy_binomial(rng, n, p)


@kernel(_nrt=False)
def numpy_binomial(rng, n, p):
    """``rng.binomial(n, p)`` as it is, for ``n >= 0``, with the same guard
    as :func:`binomial` (for draws without a table: the world's steps,
    ``wright_fisher`` and ``moran``; and NumPy's BTPE sampler here)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    return rng.binomial(n, p)


@kernel(_nrt=False)
def bound_of(n, p):
    """NumPy's ``min(n, np + 10 sqrt(npq + 1))`` of the inversion sampler."""
    np_ = n * p
    return min(n, np_ + 10.0 * np.sqrt(np_ * (1.0 - p) + 1))


@kernel(_nrt=False)
def inversion(rng, memo, n, p):
    """NumPy's ``random_binomial_inversion(n, p)`` (``p <= 0.5``, ``np <=
    30``), by a scan of the key's thresholds in ``memo``."""
    # The slot: a multiplicative hash of n and of p in 52-bit fixed point.
    key = (n * np.int64(-7046029254386353131)) ^ (
        np.int64(p * 4503599627370496.0) * np.int64(-4658895280553007687))
    row = memo[(key >> 32) & (memo.shape[0] - 1)]
    if row[KEY_N] != n or row[KEY_P] != p:
        if row[SEEN_N] != n or row[SEEN_P] != p:
            row[SEEN_N] = n
            row[SEEN_P] = p
            return walk(rng, n, p, rng.random())
        row[BOUND] = np.floor(bound_of(n, p))
        row[KEY_N] = n
        row[KEY_P] = p
        fill(row, n, p, np.int64(0), np.exp(n * np.log(1.0 - p)), 0.0)  # not a literal
    bound = row[BOUND]
    while True:
        u = rng.random()
        x = 0
        while u > row[ABOVE + x]:  # NumPy's walk goes on past x
            x += 1
        if x <= bound and x == row[FILLED]:  # stopped at the end of the entries
            while True:
                fill(row, n, p, x, ((n - x + 1) * p * row[LAST_PX]) / (x * (1.0 - p)),
                     row[LAST_SUM])
                if u <= row[ABOVE + x]:
                    break
                x += 1
                if x > bound:
                    break
        if x > bound:
            continue  # NumPy starts again with a new U
        if u < row[ABOVE + x] - (4 * x + 20) * EPS:
            return x  # NumPy's walk stops at x
        return walk(rng, n, p, u)  # too close to call: NumPy's walk itself


@kernel(_nrt=False)
def fill(row, n, p, x, px, before):
    """Entry ``x`` of a slot from px_x and D_{x-1} (``before``); the entry
    after it (unfilled) stops scans: +inf."""
    d = before + px
    row[LAST_PX] = px
    row[LAST_SUM] = d
    row[ABOVE + x] = d + (2 * x + 10) * EPS
    row[ABOVE + x + 1] = np.inf
    row[FILLED] = x + 1.0


@entry(_nrt=False)
def walk(rng, n, p, u):
    """NumPy's ``random_binomial_inversion(n, p)`` as it is, from its first
    uniform ``u`` (``p <= 0.5``, ``np <= 30``)."""
    q = 1.0 - p
    qn = np.exp(n * np.log(q))
    bound = bound_of(n, p)
    x = 0
    px = qn
    while u > px:
        x += 1
        if x > bound:
            x = 0
            px = qn
            u = rng.random()
        else:
            u -= px
            px = ((n - x + 1) * p * px) / (x * q)
    return x
