"""How kernels are compiled: :func:`kernel` for those that only compiled
code calls, :func:`entry` for those that Python calls too.

numba compiles, besides each function, a wrapper through which Python calls
it (unboxing each array of each table argument) and one through which a
function pointer calls it. No kernel is called through a function pointer,
and a kernel only other kernels call needs neither wrapper: leaving them
out cut about a sixth of a cold compile (docs/performance.md). Kernels
that Python calls (the driver's entry points, the set-up draws, a few
tested on their own) are :func:`entry` kernels; calling a :func:`kernel`
from Python would crash the interpreter, so tests/test_compile.py checks
that Python code calls no other.

Each kernel's cache is stamped with every kernel source, the codes and the
tables (:func:`sources_stamp`), so that editing a callee recompiles the
kernels that hold its compiled code.
"""

import functools
import hashlib
from pathlib import Path

from numba import njit
from numba.core import caching

#: The sources a kernel's compiled code can hold: every kernel (one inlines
#: or calls another, compiled into it), and the codes and tables they are
#: compiled against.
SOURCES = Path(__file__).parent
DEPENDENCIES = (SOURCES.parent / "codes.py", SOURCES.parent / "state.py")


def _sources() -> list[Path]:
    return sorted(SOURCES.glob("*.py")) + list(DEPENDENCIES)


@functools.lru_cache(maxsize=None)
def _digest(stats: tuple) -> bytes:
    digest = hashlib.sha256()
    for path, *_ in stats:
        digest.update(Path(path).read_bytes())
    return digest.digest()


def sources_stamp() -> bytes:
    """A digest of every file in :func:`_sources` (hashed again only when
    one's modification time or size changed)."""
    return _digest(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                         for p in _sources()))


def _whole_source(locator):
    """numba's cache ``locator`` class, for the kernels' files only, stamping
    each cached kernel with :func:`sources_stamp` rather than its own file's
    hash: numba checks only the file a function is written in (numba issue
    #1833), so a kernel that inlines or calls one of another file kept its
    old compiled code after that file changed; now an edit of any kernel,
    of the codes or of the tables recompiles every kernel."""
    class WholeSource(locator):
        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent != SOURCES.resolve():
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return sources_stamp()

    WholeSource.__name__ = WholeSource.__qualname__ = f"WholeSource{locator.__name__}"
    return WholeSource


# Before any kernel is decorated (the locator is chosen then). With
# NUMBA_CACHE_LOCATOR_CLASSES set, numba uses those instead.
_LOCATORS = caching.CacheImpl._locator_classes
_LOCATORS[:0] = [_whole_source(locator) for locator in _LOCATORS
                 if locator.__name__ in ("UserProvidedCacheLocator", "InTreeCacheLocator")]


def kernel(**options):
    """``njit(cache=True, **options)`` without the wrappers for calls from
    Python and through function pointers."""
    return njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, **options)


def entry(**options):
    """``njit(cache=True, **options)`` without the wrapper for calls through
    function pointers."""
    return njit(cache=True, no_cfunc_wrapper=True, **options)
