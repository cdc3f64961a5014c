"""The kinds of failure, one exception class each (the tskit habit).

Messages are for people but name no command-line flag: the library does not
know how it was called. The command line (``substrate.cli``) turns every
:class:`SubstrateError` into one line on stderr and exit status 2.
"""

from __future__ import annotations


class SubstrateError(ValueError):
    """Base class of every error Substrate reports to its user.

    ``argument`` optionally names the library argument (e.g. ``"resume"``,
    ``"block_size"``) whose value the user should change: a front end can
    then name its own option for it.
    """

    def __init__(self, message: str, *, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class ScenarioError(SubstrateError):
    """A mistake in a scenario file, an override or a parameter value."""


class MemoryBudgetError(ScenarioError):
    """A run, sweep or risk estimate that needs more memory than its budget:
    refused before it starts (from its estimate), or stopped when its tables
    would grow past the budget (naming what grew and what to change)."""


class OutputError(SubstrateError):
    """An output folder or file that cannot be written, or is not whole."""


class DamagedError(OutputError):
    """A file of an output folder that is damaged, truncated, empty or not
    Substrate's; ``path`` is the file."""

    def __init__(self, message: str, *, path=None, argument: str | None = None):
        super().__init__(message, argument=argument)
        self.path = path


class AnalysisError(SubstrateError):
    """A statistic or figure that the data at hand cannot give."""


class ClusterError(SubstrateError):
    """A Dask cluster that cannot be reached, or was lost, during a sweep."""
