"""The events of a replicate, named once (MODEL.md sections 5 and 7).

Imported by the scenario loader (``stop.on``), the engine (the event-tick
columns it fills) and the statistics (which column holds which event).
"""

from __future__ import annotations

#: Events that ``stop.on`` may list (``fixation``: the seeded lineage fixed or lost).
STOP_EVENTS = ("takeover", "convergence", "extinction", "fixation")

#: Event name -> (boolean column, tick column) of ``runs.parquet``; a null
#: tick means "not by the replicate's last tick" (right-censored).
EVENT_COLUMNS = {
    "takeover": ("takeover", "takeover_tick"),
    "convergence": ("converged", "convergence_tick"),
    "extinction": ("extinct", "extinction_tick"),
    "first_defector": (None, "first_defector_tick"),
    "fixation": ("fixed", "fixation_tick"),
    "loss": ("lost", "loss_tick"),
}

#: The event-tick columns of ``runs.parquet``, in table order.
TICK_COLUMNS = tuple(tick for _, tick in (EVENT_COLUMNS[e] for e in (
    "takeover", "convergence", "first_defector", "extinction", "fixation", "loss")))
