"""Statistics of simulation outputs (imports :mod:`simulation`, never the reverse)."""

from .summary import Results, hazard_rate, load, summarize, survival_curves
from .survival import (kaplan_meier, median_event_tick, summarize_run,
                       wilson_interval)

__all__ = ["Results", "hazard_rate", "kaplan_meier", "load", "median_event_tick",
           "summarize", "summarize_run", "survival_curves", "wilson_interval"]
