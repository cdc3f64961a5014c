"""Names defined once: traits, events, stop reasons, causes of agent death.

The scenario schema, the engine, the outputs and the analysis all import
these; nothing else spells them out.
"""

from __future__ import annotations

#: The four traits of a subcomponent, in the order of every trait column.
TRAITS = ("drive", "loyalty", "stealth", "fidelity")

#: Events a scenario may stop on (``stop.on``).
EVENTS = ("takeover", "convergence", "extinction", "fixation")

#: Events that ``stop.on`` may list (``fixation``: the seeded lineage fixed or lost).
STOP_EVENTS = EVENTS

#: Event name -> (boolean column, tick column) of ``runs.parquet``; a null
#: tick means "not by the replicate's last tick" (right-censored).
EVENT_COLUMNS = {
    "takeover": ("takeover", "takeover_tick"),
    "convergence": ("converged", "convergence_tick"),
    "extinction": ("extinct", "extinction_tick"),
    "first_defector": (None, "first_defector_tick"),
    "fixation": ("fixed", "fixation_tick"),
    "loss": ("lost", "loss_tick"),
    "drift": ("drifted", "drift_tick"),
    # Agent-level: every agent founded is dead or taken over (docs/model.md
    # "Agent-level outcomes"); not "loss", the seeded lineage's loss.
    "total_loss": ("total_loss", "total_loss_tick"),
    # Failure modes as competing risks (columns added by
    # analysis.estimators.with_failure_modes): which of cancer (takeover) and
    # value drift came first, and the tick at which the second followed.
    "cancer_first": (None, "cancer_first_tick"),
    "drift_first": (None, "drift_first_tick"),
    "cancer_then_drift": (None, "cancer_then_drift_tick"),
    "drift_then_cancer": (None, "drift_then_cancer_tick"),
}

#: The event-tick columns of ``runs.parquet``, in table order.
EVENT_TICKS = tuple(EVENT_COLUMNS[e][1] for e in (
    "takeover", "convergence", "first_defector", "extinction", "fixation", "loss", "drift",
    "total_loss"))

#: How a replicate failed (``runs.parquet`` ``failure_mode``): AI cancer
#: (takeover), value drift (drift_tick), both in the order they came, or neither.
FAILURE_MODES = ("none", "cancer", "drift", "cancer_then_drift", "drift_then_cancer")

#: Why a replicate ended (``runs.parquet`` ``stop_reason``), by engine code.
STOP_REASONS = ("", "horizon", "extinction", "takeover", "convergence",
                "fixation", "loss")

#: Why an agent died (``agents.parquet`` ``death_cause``), by engine code.
DEATH_CAUSES = ("", "empty", "starved", "oversight", "takeover")

#: ``runs.parquet`` columns of agent deaths by cause (``agents_died_empty`` ...).
AGENTS_DIED = tuple(f"agents_died_{cause}" for cause in DEATH_CAUSES[1:])

#: Copy-error kernels and step directions (``copy.kernel``), by engine code.
KERNELS = ("normal", "cauchy", "step", "uniform")
DIRECTIONS = ("both", "up", "down")

#: Within-agent dynamics (``agent.dynamics``), by engine code.
DYNAMICS = ("birth_death", "wright_fisher", "moran")
