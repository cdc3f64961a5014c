"""Statistics of simulation outputs (imports :mod:`simulation`, never the reverse)."""

from simulation.io import Results, load  # the one reader of output folders

from .summary import hazard_rate, summarize, survival_curves
from .survival import (kaplan_meier, median_event_tick, summarize_run,
                       wilson_interval)

__all__ = ["Results", "hazard_rate", "kaplan_meier", "load", "median_event_tick",
           "summarize", "summarize_run", "survival_curves", "wilson_interval"]
