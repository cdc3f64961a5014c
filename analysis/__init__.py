"""Statistics of simulation outputs (imports :mod:`simulation`, never the reverse)."""

from simulation.io import Output, Results, load  # the one reader of output folders

from .failure_modes import failure_mode_at, failure_mode_sensitivity
from .paired import compare, compare_runs, paired_difference
from .estimators import (aalen_johansen, bounded_mean_interval, estimate_event,
                         hazard_rate, kaplan_meier, mean_interval, median_event_tick,
                         poisson_rate_interval, stop_bounds, wilson_interval)
from .summary import (agent_outcomes, chi_square_homogeneity, failure_mode_price,
                      failure_mode_summary, homogeneity, incidence_curves, summarize,
                      summarize_run, survival_curves)

__all__ = ["Output", "Results", "aalen_johansen", "agent_outcomes", "bounded_mean_interval",
           "chi_square_homogeneity", "compare", "compare_runs", "estimate_event",
           "failure_mode_at", "failure_mode_price", "failure_mode_sensitivity",
           "failure_mode_summary", "hazard_rate", "homogeneity",
           "incidence_curves", "kaplan_meier", "load", "mean_interval",
           "median_event_tick", "paired_difference", "poisson_rate_interval",
           "stop_bounds", "summarize", "summarize_run", "survival_curves",
           "wilson_interval"]
