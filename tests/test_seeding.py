"""Replicate streams derived in compiled code (simulation/kernels/seeding.py)
against NumPy itself, the reference: the same seeds, the same PCG64 states,
the same draws."""

import numpy as np
import pytest

from simulation.kernels import seeding
from simulation.run import master_words, replicate_seed

CASES = [(0, 0, 0), (1, 0, 7), (4242, 3, 999), (2**32 - 1, 2**32, 5), (2**32, 1, 2**33 + 7),
         (2**63 - 1, 12, 0), (123456789012345, 2**40, 2**31)]


def work():
    return np.zeros(16, np.int64), np.zeros(4, np.int64)


@pytest.mark.parametrize("master, point, replicate", CASES)
def test_replicate_seeds_are_numpys(master, point, replicate):
    words, n = master_words(master)
    assert seeding.replicate_seed(words, n, point, replicate, *work()) == \
        replicate_seed(master, replicate, point)


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 2**32, 2**62 + 12345, 2**63 - 1]
                         + [int(s) for s in np.random.default_rng(5).integers(0, 2**63, 20)])
def test_pcg64_states_are_numpys(seed):
    state = np.random.default_rng(seed).bit_generator.state["state"]
    s_hi, s_lo, inc_hi, inc_lo = seeding.pcg64_state(seed, *work())
    assert (int(s_hi) << 64 | int(s_lo)) == state["state"]
    assert (int(inc_hi) << 64 | int(inc_lo)) == state["inc"]


def test_a_reseeded_generator_draws_as_a_new_one():
    rng = np.random.default_rng(99)
    rng.random(3)
    rng.integers(0, 2**32, dtype=np.uint32)  # leaves a buffered 32-bit half
    where = seeding.generator_memory(rng)
    for seed in (17, 2**40 + 3):
        seeding.reseed(where, seed, *work())
        fresh = np.random.default_rng(seed)
        assert rng.bit_generator.state == fresh.bit_generator.state
        np.testing.assert_array_equal(rng.binomial(200, 0.1, 50), fresh.binomial(200, 0.1, 50))
        assert rng.integers(0, 2**32, dtype=np.uint32) == fresh.integers(0, 2**32,
                                                                        dtype=np.uint32)
