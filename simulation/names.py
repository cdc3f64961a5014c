"""Names defined once: traits, events, stop reasons, causes of agent death.

The scenario schema, the engine, the outputs and the analysis all import
these; nothing else spells them out.
"""

from __future__ import annotations

#: The four traits of a subcomponent, in the order of every trait column.
TRAITS = ("drive", "loyalty", "stealth", "fidelity")

#: Events a scenario may stop on (``stop.on``).
EVENTS = ("takeover", "convergence", "extinction", "fixation")

#: The event-tick columns of ``runs.parquet`` (null: not by the last tick).
EVENT_TICKS = ("takeover_tick", "convergence_tick", "first_defector_tick",
               "extinction_tick", "fixation_tick", "loss_tick", "drift_tick")

#: How a replicate failed (``runs.parquet`` ``failure_mode``): AI cancer
#: (takeover), value drift (drift_tick), both in the order they came, or neither.
FAILURE_MODES = ("none", "cancer", "drift", "cancer_then_drift", "drift_then_cancer")

#: Why a replicate ended (``runs.parquet`` ``stop_reason``), by engine code.
STOP_REASONS = ("", "horizon", "extinction", "takeover", "convergence",
                "fixation", "loss")

#: Why an agent died (``agents.parquet`` ``death_cause``), by engine code.
DEATH_CAUSES = ("", "empty", "starved", "oversight", "takeover")

#: Copy-error kernels and step directions (``copy.kernel``), by engine code.
KERNELS = ("normal", "cauchy", "step", "uniform")
DIRECTIONS = ("both", "up", "down")

#: Within-agent dynamics (``agent.dynamics``), by engine code.
DYNAMICS = ("birth_death", "wright_fisher", "moran")
