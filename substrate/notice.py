"""The one line said before numba compiles the simulation kernels.

The kernels are compiled on their first call after an install (or an edit
of their source) and cached by numba (``cache=True``). A run compiles the
replicate loop for the parts of the tick its scenario uses
(:func:`simulation.kernels.driver.plan`), each combination once:
:func:`compile_notice` says so first, with about how long it takes, when
the cache holds no compiled loop (``kernels.driver.advance``, where most of
the compile time goes) for the run's parts.
"""

from __future__ import annotations

import sys

#: What a cold compile of a lone ``birth_death`` agent's loop takes, in
#: seconds, on the 2-core development machine, and what each optional part
#: of the tick adds (docs/performance.md, "Compile time": CPU seconds of
#: ``benchmarks/compile_profile.py`` on the loaded machine, times 0.73 for a
#: quiet one). The score's share includes the direct batches that
#: ``substrate risk`` compiles to time its speed-up.
COMPILE_SECONDS = 15
PART_SECONDS = {"generational": 12, "interacting": 10, "scoring": 18}


def _plan_of(scenario, score_event=None):
    """The parts of the tick ``scenario``'s runs use (``driver.plan``; with
    ``score_event``, they keep its score)."""
    from simulation.engine import build_config
    from simulation.kernels import driver

    return driver.plan(build_config(scenario, score_event).params, 1.0)


def kernels_cold(kernel=None, plan=None) -> bool:
    """True if numba's cache has no compiled ``kernel`` (default
    ``driver.advance``) for its current source, or (with ``plan``, the
    trailing arguments of ``driver.advance``) none for those parts of the
    tick: its first call will compile. Reads only the cache's small index
    file; False when it cannot tell."""
    try:
        if kernel is None:
            from simulation.kernels import driver

            kernel = driver.advance
        # numba's cache index: {} when the file is missing, of another
        # numba version, or stamped with another source (mtime, size); its
        # keys begin with the argument types of a compiled specialisation.
        index = kernel._cache._cache_file._load_index()
        if not index or plan is None:
            return not index
        from numba import typeof

        parts = tuple(typeof(part) for part in plan)
        return not any(tuple(key[0][-len(parts):]) == parts for key in index)
    except Exception:  # a numba without these internals, caching off: say nothing
        return False


def compile_seconds(plan=None) -> int:
    """About how long compiling the kernels of ``plan`` takes (:data:`COMPILE_SECONDS`)."""
    names = ("generational", "interacting", "scoring")
    return COMPILE_SECONDS + sum(PART_SECONDS[name] for name, part in zip(names, plan or ())
                                 if part is not None)


def compile_notice(notify=None, scenario=None, score_event=None) -> None:
    """Say that the kernels are about to compile, if they are: for the
    parts of the tick ``scenario``'s runs use (with ``score_event``, keeping
    its score), or for any if no scenario is given."""
    plan = None if scenario is None else _plan_of(scenario, score_event)
    if kernels_cold(plan=plan):
        text = (f"compiling the simulation kernels, once per install: about "
                f"{compile_seconds(plan)} s")
        if notify is None:
            print(f"note: {text}", file=sys.stderr, flush=True)
        else:
            notify(text)
