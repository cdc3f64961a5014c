"""Names defined once: traits, events, stop reasons, causes of agent death.

The scenario schema, the engine, the outputs and the analysis all import
these; nothing else spells them out. Names that stand for an integer code
of the engine are derived from :mod:`simulation.codes`.
"""

from __future__ import annotations

from . import codes
from .codes import Dynamics, Kernel, Direction, ScoreEvent, StopReason, DeathCause, Trait

#: The four traits of a subcomponent, in the order of every trait column.
TRAITS = codes.names(Trait)

#: Events that ``stop.on`` may list (``fixation``: the seeded lineage fixed or lost;
#: ``type_*``: the followed types of a types scenario, ``stop.type``; ``size_reached``:
#: ``stop.size``).
STOP_EVENTS = ("takeover", "convergence", "extinction", "fixation", "type_fixation",
               "type_loss", "type_reached", "size_reached")

#: Events a splitting estimate can score (``substrate risk --event``).
SCORE_EVENTS = tuple(codes.name(e) for e in ScoreEvent if e != ScoreEvent.NONE)

#: The splitting scores of each score event, the default first (takeover's
#: are codes.ScoreKind; the others have one score each).
SCORES = {"takeover": ("hazard", "lineage", "drive", "fraction"), "fixation": ("share",),
          "convergence": ("mean_drive",), "type_fixation": ("share",),
          "type_loss": ("share",), "type_reached": ("progress",), "size_reached": ("size",)}

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
    # Types scenarios (docs/model.md "Types and mutation graphs"): the
    # followed types (stop.type) first present, holding every subcomponent,
    # gone after having been present, at stop.type_count or stop.type_fraction;
    # and the world (or an agent) at stop.size subcomponents.
    "type_arrival": (None, "type_arrival_tick"),
    "type_fixation": ("type_fixed", "type_fixation_tick"),
    "type_loss": ("type_lost", "type_loss_tick"),
    "type_reached": ("type_reached", "type_reached_tick"),
    "size_reached": ("size_reached", "size_reached_tick"),
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

#: The event-tick columns of ``runs.parquet`` of a types scenario (after
#: :data:`EVENT_TICKS`), and the one of a scenario with ``stop.size``.
TYPE_EVENT_TICKS = tuple(EVENT_COLUMNS[e][1] for e in (
    "type_arrival", "type_fixation", "type_loss", "type_reached"))
SIZE_EVENT_TICKS = (EVENT_COLUMNS["size_reached"][1],)

#: How a replicate failed (``runs.parquet`` ``failure_mode``): AI cancer
#: (takeover), value drift (drift_tick), both in the order they came, or neither.
FAILURE_MODES = ("none", "cancer", "drift", "cancer_then_drift", "drift_then_cancer")

#: Why a replicate ended (``runs.parquet`` ``stop_reason``), by engine code.
STOP_REASONS = codes.by_code(StopReason)

#: Stop reasons that end a replicate although its world goes on (censoring
#: the other events): all but the horizon and extinction.
EARLY_STOPS = tuple(codes.name(r) for r in StopReason
                    if r not in (StopReason.RUNNING, StopReason.HORIZON, StopReason.EXTINCTION))

#: Why an agent died (``agents.parquet`` ``death_cause``), by engine code.
DEATH_CAUSES = codes.by_code(DeathCause)

#: ``runs.parquet`` columns of agent deaths by cause (``agents_died_empty`` ...).
AGENTS_DIED = tuple(f"agents_died_{cause}" for cause in DEATH_CAUSES[1:])

#: Copy-error kernels and step directions (``copy.kernel``), in the schema's order.
KERNELS = codes.names(Kernel)
DIRECTIONS = codes.names(Direction)

#: Within-agent dynamics (``agent.dynamics``), in the schema's order.
DYNAMICS = codes.names(Dynamics)
