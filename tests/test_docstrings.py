"""Every compiled kernel of the tick's driver documents its parameters
(numpydoc, as stumpy does): a ``Parameters`` section naming each argument
of its Python function, grouped names (``cl, ln, ag, ev : ...``) allowed."""

import inspect
import re

import pytest
from numba.core.registry import CPUDispatcher

from simulation.kernels import driver

KERNELS = sorted(name for name, obj in vars(driver).items()
                 if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == driver.__name__)


def documented(doc: str) -> set[str]:
    """The names of a numpydoc ``Parameters`` section."""
    match = re.search(r"\n\s*Parameters\n\s*-+\n(.*?)(?:\n\s*\n\s*\w+\n\s*-+\n|\Z)", doc, re.DOTALL)
    if match is None:
        return set()
    names = set()
    for line in match.group(1).splitlines():
        entry = re.match(r"^    (\w+(?:, \w+)*) :", line)
        if entry:
            names.update(entry.group(1).split(", "))
    return names


def test_the_driver_has_kernels():
    assert {"advance", "one_tick", "tick_alone", "run_batch"} <= set(KERNELS)


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_documents_each_parameter(name):
    func = getattr(driver, name).py_func
    doc = func.__doc__
    assert doc, f"{name} has no docstring"
    params = set(inspect.signature(func).parameters)
    missing = params - documented(doc)
    assert not missing, f"{name}: parameters not documented: {sorted(missing)}"
    extra = documented(doc) - params
    assert not extra, f"{name}: documents parameters it does not take: {sorted(extra)}"
