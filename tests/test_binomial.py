"""The remembered binomial sampler (simulation/kernels/binomial.py) makes
NumPy's draws, bit for bit: tested against ``Generator.binomial`` itself on
the same stream, with tables small enough that keys keep being admitted,
replaced and drawn without a slot, and on the boundary cases of NumPy's
branches (p > 1/2, np > 30, n = 0, p in {0, 1})."""

import numpy as np
import pytest
from numba import njit

from simulation.kernels.binomial import KEY_N, binomial, new_memo, walk


@njit(cache=True)
def _draws(rng, memo, ns, ps, out, keep):
    for i in range(ns.shape[0]):
        out[i] = binomial(rng, memo, ns[i], ps[i], keep)


def _numpy(seed, ns, ps):
    """NumPy's draws, with the guard both samplers share (nothing is drawn
    for n = 0, p = 0 or p = 1)."""
    rng = np.random.default_rng(seed)
    return np.array([0 if n <= 0 or p <= 0 else n if p >= 1 else rng.binomial(n, p)
                     for n, p in zip(ns, ps)])


def _keys(seed, k):
    """A stream of (n, p) like a tick's: a few recurring keys (a resident
    clone's deaths, births at a few sizes) among one-off ones, with every
    branch of NumPy's sampler."""
    g = np.random.default_rng(seed)
    ns = g.integers(0, 400, k)
    recurring = g.choice([0.1, 0.05, 0.18, 0.9, 0.97, 0.5, 1e-3, 0.02, 0.0, 1.0], k)
    ps = np.where(g.random(k) < 0.6, recurring, g.random(k))
    ns[g.random(k) < 0.3] = 200  # a resident clone's size
    return ns, ps


@pytest.mark.parametrize("slots", [1, 4, 4096])
def test_draws_are_numpys(slots):
    # 1 and 4 slots: keys evict each other all the time (most draws are
    # NumPy's walk, the rest admissions and scans); 4096: mostly scans.
    ns, ps = _keys(3, 200_000)
    memo = new_memo(slots)
    out = np.zeros(ns.shape[0], np.int64)
    _draws(np.random.default_rng(9), memo, ns, ps, out, True)
    np.testing.assert_array_equal(out, _numpy(9, ns, ps))
    assert (memo[:, KEY_N] >= 0).any()  # keys were admitted and scanned
    # A table that already holds keys draws the same as an empty one.
    again = np.zeros_like(out)
    _draws(np.random.default_rng(10), memo, ns, ps, again, True)
    np.testing.assert_array_equal(again, _numpy(10, ns, ps))


def test_draws_without_the_table_are_numpys():
    # keep=False (a small clone's births): NumPy's walk, the table untouched.
    ns, ps = _keys(4, 100_000)
    memo = new_memo(16)
    out = np.zeros(ns.shape[0], np.int64)
    _draws(np.random.default_rng(11), memo, ns, ps, out, False)
    np.testing.assert_array_equal(out, _numpy(11, ns, ps))
    assert (memo[:, KEY_N] == -1).all()


def test_many_draws_of_one_key():
    # One recurring key scanned from its thresholds 10^5 times; the answer
    # is NumPy's for every uniform, including those that fall within the
    # margin M_X of a threshold (the walk from the same uniform).
    ns = np.full(100_000, 200)
    ps = np.full(100_000, 0.1)
    out = np.zeros(ns.shape[0], np.int64)
    _draws(np.random.default_rng(1), new_memo(), ns, ps, out, True)
    np.testing.assert_array_equal(out, _numpy(1, ns, ps))


@njit(cache=True)
def _walk_from(rng, uniforms, n, p):
    out = np.zeros(uniforms.shape[0], np.int64)
    for i in range(uniforms.shape[0]):
        out[i] = walk(rng, n, p, uniforms[i])
    return out


def test_walk_at_the_thresholds():
    # The uniforms next to each partial sum D_X (the draws the scan hands
    # to NumPy's walk): the walk's answer is the smallest X whose
    # sequentially rounded remainder is at most px_X, computed here by
    # NumPy's own loop in Python.
    n, p = 200, 0.1
    q = 1.0 - p
    px = [np.exp(n * np.log(q))]
    for x in range(1, 60):
        px.append(((n - x + 1) * p * px[-1]) / (x * q))
    sums = np.cumsum(px)[:50]
    uniforms = np.concatenate([sums, np.nextafter(sums, 0), np.nextafter(sums, 1)])

    def numpy_walk(u):
        x, v = 0, px[0]
        while u > v:
            x += 1
            u -= v
            v = px[x]
        return x

    expected = [numpy_walk(u) for u in uniforms]
    np.testing.assert_array_equal(_walk_from(np.random.default_rng(0), uniforms, n, p), expected)
