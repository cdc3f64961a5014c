"""The kinds of failure, one exception class each (the tskit habit).

Messages are for people but name no command-line flag: the library does not
know how it was called. The command line (``substrate.cli``) turns every
:class:`SubstrateError` into one line on stderr and exit status 2.
"""

from __future__ import annotations


class SubstrateError(ValueError):
    """Base class of every error Substrate reports to its user."""


class ScenarioError(SubstrateError):
    """A mistake in a scenario file, an override or a parameter value."""


class OutputError(SubstrateError):
    """An output folder or file that cannot be written, or is not whole."""


class AnalysisError(SubstrateError):
    """A statistic or figure that the data at hand cannot give."""
