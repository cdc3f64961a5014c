"""The kernels' parameters, each described once.

Kernels take the same arguments under the same names (the tables, the
run's constants, the generator...); :func:`documented` builds a kernel's
numpydoc ``Parameters`` section from its signature, describing each name
from :data:`GLOSSARY` unless the kernel gives its own meaning
(tests/test_docstrings.py checks that every driver kernel documents each
parameter, as stumpy's kernels do).
"""

from __future__ import annotations

import inspect

#: name: (type, meaning), numpydoc style.
GLOSSARY = {
    "state": ("State", "The replicate's tables."),
    "cl": ("Clones", "The clone table."),
    "ln": ("Lineage", "The lineage table (one scratch row when lineages are not recorded)."),
    "ag": ("Agents", "The agent table."),
    "ev": ("Events", "The event buffers, one row per clone slot."),
    "snap": ("Snapshot", "The clones and agents at the last record (the Price terms)."),
    "st": ("numpy.record", "The replicate's status (``STATUS``): tick, outcomes, stop reason."),
    "status": ("numpy.ndarray", "The replicate's status (``STATUS``, one row)."),
    "p": ("numpy.record", "The run's parameters (``PARAMS``; ``cfg.params[0]``)."),
    "cfg": ("Config", "The run's constants (``cfg.params[0]``, the parameters)."),
    "rng": ("numpy.random.Generator", "The replicate's generator."),
    "memo": ("BinomialMemo", "This thread's remembered binomial tables (:mod:`.binomial`)."),
    "tick": ("int", "The tick being run (its start time is ``tick - 1``)."),
    "totals": ("numpy.ndarray", "The tick's event totals (``TOTALS``, one row)."),
    "interval": ("numpy.ndarray", "The events since the last record (``TOTALS``, one row)."),
    "ts": ("numpy.ndarray", "The timeseries rows (``TIMESERIES``) being written."),
    "n_rows": ("int", "Rows of ``ts`` written so far."),
    "stop_tick": ("int", "Pause at this tick."),
    "horizon": ("int", "The replicate ends at this tick."),
    "grow": ("bool", "Grow the tables as the draws require; if False they must already "
                     "hold the tick's worst case (:func:`.driver.tick_bound`)."),
    # the parts of the tick a run needs (driver.plan): None where not needed
    "generational": ("True or None", "``wright_fisher`` or ``moran`` (None: ``birth_death``; "
                                     ":func:`.driver.plan`)."),
    "interacting": ("True or None", "Agents interact: the economy, transmission or "
                                    "reproduction (None: none of them)."),
    "scoring": ("float or None", "Pause when the running maximum of the score reaches it "
                                 "(None: no score is kept)."),
    "ends": ("numpy.ndarray", "The replicates' ends (``ENDS``), one row per replicate."),
    "statuses": ("numpy.ndarray", "The replicates' final statuses (``STATUS``)."),
}


def documented(**own):
    """Decorator: append to the function's docstring a numpydoc
    ``Parameters`` section (before ``Returns``, if any) naming each of its
    parameters, described by ``own`` (``name=(type, meaning)``) or else by
    :data:`GLOSSARY`. A name described by neither is an error here, at
    import."""
    def decorate(function):
        entries = ["    Parameters", "    ----------"]
        for name in inspect.signature(function).parameters:
            if name not in own and name not in GLOSSARY:
                raise KeyError(f"{function.__qualname__}: parameter {name!r} is not described")
            kind, meaning = own.get(name) or GLOSSARY[name]
            entries += [f"    {name} : {kind}", f"        {meaning}"]
        doc = function.__doc__
        at = doc.find("\n    Returns\n")
        head, tail = (doc, "\n    ") if at < 0 else (doc[:at], "\n" + doc[at:])
        function.__doc__ = head.rstrip() + "\n\n" + "\n".join(entries) + tail
        return function
    return decorate
