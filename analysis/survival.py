"""The former home of the survival estimators, kept so that old imports work.

Everything lives in :mod:`analysis.estimators` now (one module, no import
circle with :mod:`analysis.summary`).
"""

from .estimators import (hazard_rate, kaplan_meier, median_event_tick,  # noqa: F401
                         wilson_interval)
