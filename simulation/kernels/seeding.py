"""Replicate streams derived inside compiled code, draw for draw as NumPy.

A replicate's generator is ``numpy.random.default_rng(seed)`` with
``seed = SeedSequence(master, spawn_key=(point, replicate))
.generate_state(1, uint64)[0] >> 1`` (:func:`simulation.run.replicate_seed`).
Deriving it in Python costs ~10 us per replicate, as much as a short
replicate's ticks. Here the same two steps run compiled: NumPy's
``SeedSequence`` hash (``numpy/random/bit_generator.pyx``) and PCG64's
seeding (``pcg64_set_seed``: two LCG steps over 128-bit integers, done
here in 64-bit halves); :func:`reseed` then writes the new PCG64 state into
an existing generator's memory, so that compiled draws (and NumPy's) continue
from it. ``tests/test_seeding.py`` checks states and draws against NumPy.
"""

import ctypes

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .jit import entry, kernel

M32 = 0xFFFFFFFF
INIT_A = 0x43B0D7E5
MULT_A = 0x931E8875
INIT_B = 0x8B51F9DD
MULT_B = 0x58F38DED
MIX_MULT_L = 0xCA01F9DD
MIX_MULT_R = 0x4973F715
POOL = 4
# PCG64's 128-bit LCG multiplier (PCG_DEFAULT_MULTIPLIER_128), in halves.
MUL_HI = np.uint64(2549297995355413924)
MUL_LO = np.uint64(4865540595714422341)


@kernel(_nrt=False)
def _hashmix(value, hash_const):
    """NumPy's hashmix on uint32 words held in int64; returns (value, const)."""
    value = (value ^ hash_const) & M32
    hash_const = (hash_const * MULT_A) & M32
    value = (value * hash_const) & M32
    value ^= value >> 16
    return value, hash_const


@kernel(_nrt=False)
def _mix(x, y):
    result = (MIX_MULT_L * x - MIX_MULT_R * y) & M32
    result ^= result >> 16
    return result


@kernel(_nrt=False)
def _words(n, out, at):
    """The uint32 words of a non-negative integer, lowest first, into
    ``out[at:]`` (0 is one word); returns the next free index."""
    if n == 0:
        out[at] = 0
        return at + 1
    while n > 0:
        out[at] = n & M32
        n >>= 32
        at += 1
    return at


@kernel(_nrt=False)
def _pool(entropy, n, pool):
    """SeedSequence.mix_entropy of ``entropy[:n]`` into ``pool`` (4 words)."""
    hc = INIT_A
    for i in range(POOL):
        value = entropy[i] if i < n else 0
        pool[i], hc = _hashmix(value, hc)
    for i_src in range(POOL):
        for i_dst in range(POOL):
            if i_src != i_dst:
                h, hc = _hashmix(pool[i_src], hc)
                pool[i_dst] = _mix(pool[i_dst], h)
    for i_src in range(POOL, n):
        for i_dst in range(POOL):
            h, hc = _hashmix(entropy[i_src], hc)
            pool[i_dst] = _mix(pool[i_dst], h)


@kernel(_nrt=False)
def _generate(pool, out, n_words):
    """SeedSequence.generate_state: ``n_words`` uint32 words into ``out``."""
    hc = INIT_B
    for i in range(n_words):
        value = (pool[i % POOL] ^ hc) & M32
        hc = (hc * MULT_B) & M32
        value = (value * hc) & M32
        value ^= value >> 16
        out[i] = value


@entry(_nrt=False)
def replicate_seed(master_words, n_master, point, replicate, scratch, pool):
    """:func:`simulation.run.replicate_seed` compiled: ``master_words[:n_master]``
    are the master seed's uint32 words. ``scratch`` (>= 12) and ``pool``
    (4) are work arrays of int64."""
    n = 0
    for i in range(n_master):
        scratch[n] = master_words[i]
        n += 1
    while n < POOL:  # a spawn key pads the run entropy to the pool size
        scratch[n] = 0
        n += 1
    n = _words(point, scratch, n)
    n = _words(replicate, scratch, n)
    _pool(scratch, n, pool)
    _generate(pool, scratch, 2)
    word = (np.uint64(scratch[1]) << np.uint64(32)) | np.uint64(scratch[0])
    return np.int64(word >> np.uint64(1))


@kernel(_nrt=False)
def _mul_full(a, b):
    """64 x 64 -> 128 bits: (hi, lo) of a * b, on uint64."""
    m = np.uint64(M32)
    s = np.uint64(32)
    a_lo, a_hi = a & m, a >> s
    b_lo, b_hi = b & m, b >> s
    lo_lo = a_lo * b_lo
    hi_lo = a_hi * b_lo
    lo_hi = a_lo * b_hi
    hi_hi = a_hi * b_hi
    cross = (lo_lo >> s) + (hi_lo & m) + lo_hi
    hi = hi_hi + (hi_lo >> s) + (cross >> s)
    lo = (cross << s) | (lo_lo & m)
    return hi, lo


@kernel(_nrt=False)
def _step(s_hi, s_lo, inc_hi, inc_lo):
    """One PCG64 LCG step: state * MULT + inc (mod 2^128)."""
    hi, lo = _mul_full(s_lo, MUL_LO)
    hi += s_hi * MUL_LO + s_lo * MUL_HI
    lo2 = lo + inc_lo
    carry = np.uint64(1) if lo2 < lo else np.uint64(0)
    return hi + inc_hi + carry, lo2


@entry(_nrt=False)
def pcg64_state(seed, scratch, pool):
    """The PCG64 state of ``default_rng(seed)``: (state_hi, state_lo,
    inc_hi, inc_lo) as uint64."""
    n = _words(seed, scratch, 0)
    _pool(scratch, n, pool)
    _generate(pool, scratch, 8)
    one = np.uint64(1)
    w0 = np.uint64(scratch[0]) | (np.uint64(scratch[1]) << np.uint64(32))
    w1 = np.uint64(scratch[2]) | (np.uint64(scratch[3]) << np.uint64(32))
    w2 = np.uint64(scratch[4]) | (np.uint64(scratch[5]) << np.uint64(32))
    w3 = np.uint64(scratch[6]) | (np.uint64(scratch[7]) << np.uint64(32))
    # pcg64_set_seed: initstate = (w0, w1), initseq = (w2, w3) as (high, low).
    inc_hi = (w2 << one) | (w3 >> np.uint64(63))
    inc_lo = (w3 << one) | one
    s_hi, s_lo = _step(np.uint64(0), np.uint64(0), inc_hi, inc_lo)
    s_lo2 = s_lo + w1
    carry = one if s_lo2 < s_lo else np.uint64(0)
    s_hi = s_hi + w0 + carry
    s_hi, s_lo = _step(s_hi, s_lo2, inc_hi, inc_lo)
    return s_hi, s_lo, inc_hi, inc_lo


@intrinsic
def _store_u64(typingctx, address, value):
    """Store the uint64 ``value`` at the integer ``address``."""
    sig = types.void(address, value)

    def codegen(context, builder, signature, args):
        ptr = builder.inttoptr(args[0], ir.PointerType(ir.IntType(64)))
        builder.store(args[1], ptr)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _store_u32(typingctx, address, value):
    """Store the low 32 bits of ``value`` at the integer ``address``."""
    sig = types.void(address, value)

    def codegen(context, builder, signature, args):
        ptr = builder.inttoptr(args[0], ir.PointerType(ir.IntType(32)))
        builder.store(builder.trunc(args[1], ir.IntType(32)), ptr)
        return context.get_dummy_value()

    return sig, codegen


@entry(_nrt=False)
def reseed(where, seed, scratch, pool):
    """Make the generator described by ``where`` (:func:`generator_memory`)
    continue exactly as ``numpy.random.default_rng(seed)`` would."""
    s_hi, s_lo, inc_hi, inc_lo = pcg64_state(seed, scratch, pool)
    words = where[0]
    high_first = where[1]
    if high_first:
        _store_u64(words, s_hi)
        _store_u64(words + 8, s_lo)
        _store_u64(words + 16, inc_hi)
        _store_u64(words + 24, inc_lo)
    else:
        _store_u64(words, s_lo)
        _store_u64(words + 8, s_hi)
        _store_u64(words + 16, inc_lo)
        _store_u64(words + 24, inc_hi)
    _store_u32(where[2], np.int64(0))  # has_uint32
    _store_u32(where[2] + 4, np.int64(0))  # uinteger


def generator_memory(rng: np.random.Generator) -> np.ndarray:
    """Where :func:`reseed` writes ``rng``'s PCG64 state: (address of the
    128-bit state and increment, 1 if each stores its high half first,
    address of ``has_uint32``). The order is found by setting a known
    state and reading it back, not assumed."""
    bg = rng.bit_generator
    if type(bg) is not np.random.PCG64:
        raise TypeError("reseed needs a PCG64 generator")
    # pcg64_state: {pcg64_random_t *pcg_state; int has_uint32; uint32 uinteger}
    address = bg.ctypes.state_address
    words = ctypes.cast(address, ctypes.POINTER(ctypes.c_void_p))[0]
    saved = bg.state
    bg.state = {"bit_generator": "PCG64", "has_uint32": 0, "uinteger": 0,
                "state": {"state": (1 << 64) | 2, "inc": (3 << 64) | 5}}
    raw = list(ctypes.cast(words, ctypes.POINTER(ctypes.c_uint64))[0:4])
    bg.state = saved
    if raw == [2, 1, 5, 3]:
        high_first = 0
    elif raw == [1, 2, 3, 5]:
        high_first = 1
    else:  # pragma: no cover - an unknown PCG64 layout
        raise RuntimeError(f"unrecognised PCG64 state layout {raw}")
    return np.array([words, high_first, address + ctypes.sizeof(ctypes.c_void_p)],
                    dtype=np.int64)
