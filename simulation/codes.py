"""Every integer code, defined once, as an ``IntEnum``.

The compiled kernels compare and store these members directly (numba reads
an ``IntEnum`` member as a compile-time integer constant, in cached and
reference-count-free kernels alike); the state tables hold their values;
:mod:`simulation.names` derives the names the scenario schema, the outputs
and the analysis use from them (a member's name in lower case, the code 0
of a status that has none yet as ``""``). A member's value is its code in
every table: append new members, never renumber.

Iteration follows the definition order, which is the order the schema and
the README list the names in (``Direction``: up, down, both); codes need not
follow it.
"""

from __future__ import annotations

from enum import IntEnum


class Trait(IntEnum):
    """The traits of a subcomponent: the column of every trait array."""
    DRIVE = 0
    LOYALTY = 1
    STEALTH = 2
    FIDELITY = 3


class Dynamics(IntEnum):
    """Within-agent dynamics (``agent.dynamics``; ``PARAMS.dynamics``)."""
    BIRTH_DEATH = 0
    WRIGHT_FISHER = 1
    MORAN = 2


class Kernel(IntEnum):
    """Copy-error kernels (``copy.kernel.type``; ``PARAMS.kernel_type``)."""
    NORMAL = 0
    CAUCHY = 1
    STEP = 2
    UNIFORM = 3


class Direction(IntEnum):
    """Directions of the step kernel (``copy.kernel.direction``;
    ``PARAMS.kernel_direction``), in the schema's order."""
    UP = 1
    DOWN = 2
    BOTH = 0


class StopReason(IntEnum):
    """Why a replicate ended (``status.stop_reason``; ``runs.parquet``
    ``stop_reason``); RUNNING (``""``): it has not."""
    RUNNING = 0
    HORIZON = 1
    EXTINCTION = 2
    TAKEOVER = 3
    CONVERGENCE = 4
    FIXATION = 5
    LOSS = 6
    TYPE_FIXATION = 7
    TYPE_LOSS = 8
    TYPE_REACHED = 9
    SIZE_REACHED = 10


class DeathCause(IntEnum):
    """Why an agent died (``agents.death_cause``; ``agents.parquet``
    ``death_cause``); ALIVE (``""``): it has not."""
    ALIVE = 0
    EMPTY = 1
    STARVED = 2
    OVERSIGHT = 3
    TAKEOVER = 4


class ScoreEvent(IntEnum):
    """Events with a splitting score (``PARAMS.score_event``); NONE: no score kept."""
    NONE = 0
    TAKEOVER = 1
    FIXATION = 2
    CONVERGENCE = 3
    TYPE_FIXATION = 4
    TYPE_LOSS = 5
    TYPE_REACHED = 6
    SIZE_REACHED = 7


class ScoreKind(IntEnum):
    """The takeover event's splitting score (``PARAMS.score_kind``;
    ``substrate risk --score``; docs/model.md, "Rare events")."""
    FRACTION = 0
    DRIVE = 1
    LINEAGE = 2
    HAZARD = 3


class Advance(IntEnum):
    """What the compiled loops return (:mod:`simulation.kernels.driver`).

    NEED_ROOM only between the loops and their callers (before a tick whose
    worst case the tables cannot hold), FINAL_RECORD only from ``halt`` (the
    ended replicate's last record is still due), BATCH_DONE only from
    ``run_batch`` (every replicate of the batch has ended)."""
    PAUSED = 0
    STOPPED = 1
    RECORDED = 2
    BUFFER_FULL = 3
    SCORED = 4
    NEED_ROOM = 5
    FINAL_RECORD = 6
    BATCH_DONE = 7


class Cause(IntEnum):
    """How a replicate's time ends for one event (``analysis.estimators``):
    censored, the event, or a competing event that made it impossible."""
    CENSORED = 0
    EVENT = 1
    COMPETING = 2


def name(member: IntEnum) -> str:
    """A member's name in the outputs and the schema: its name in lower case
    (``""`` for code 0 of StopReason and DeathCause: none yet)."""
    if member.value == 0 and type(member) in (StopReason, DeathCause):
        return ""
    return member.name.lower()


def names(codes: type[IntEnum]) -> tuple[str, ...]:
    """The names of an enum's members in definition order (the schema's)."""
    return tuple(name(m) for m in codes)


def by_code(codes: type[IntEnum]) -> tuple[str, ...]:
    """The names of an enum's members indexed by code (codes 0..n-1)."""
    ordered = sorted(codes, key=int)
    assert [int(m) for m in ordered] == list(range(len(ordered))), codes
    return tuple(name(m) for m in ordered)


def code(codes: type[IntEnum], label: str) -> IntEnum:
    """The member of ``codes`` named ``label`` (as :func:`name` spells it)."""
    return codes[label.upper()] if label else codes(0)
