"""Statistics of simulation outputs (imports :mod:`simulation`, never the reverse)."""

from .survival import (kaplan_meier, median_event_tick, summarize_run,
                       wilson_interval)

__all__ = ["kaplan_meier", "median_event_tick", "summarize_run", "wilson_interval"]
