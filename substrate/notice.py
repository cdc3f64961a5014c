"""The one line said before numba compiles the simulation kernels.

The kernels are compiled on their first call after an install (or an edit
of their source) and cached by numba (``cache=True``); a cold compile takes
minutes of silence on a small machine. :func:`compile_notice` says so first,
when the cache holds no compiled replicate loop (``kernels.driver.advance``,
where most of the compile time goes) for the current source.
"""

from __future__ import annotations

import sys

#: What the notice says a cold compile takes (the first run from a fresh
#: numba cache on the 2-core development machine: 66-101 s; docs/performance.md).
COMPILE_SECONDS = 100


def kernels_cold(kernel=None) -> bool:
    """True if numba's cache has no index of ``kernel`` (default
    ``driver.advance``) for its current source: its first call will compile.
    Reads only the cache's small index file; False when it cannot tell."""
    try:
        if kernel is None:
            from simulation.kernels import driver

            kernel = driver.advance
        # numba's cache file: {} when the index is missing, of another
        # numba version, or stamped with another source (mtime, size).
        return not kernel._cache._cache_file._load_index()
    except Exception:  # a numba without these internals, caching off: say nothing
        return False


def compile_notice(notify=None) -> None:
    """Say that the kernels are about to compile, if they are."""
    if kernels_cold():
        text = (f"compiling the simulation kernels, once per install: about "
                f"{COMPILE_SECONDS} s")
        if notify is None:
            print(f"note: {text}", file=sys.stderr, flush=True)
        else:
            notify(text)
