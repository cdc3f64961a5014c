"""Every integer code is defined once (simulation.codes); the names the
schema, the tables and the analysis use are derived from it."""

import typing

from simulation import codes, names
from simulation.codes import (Advance, DeathCause, Direction, Dynamics, Kernel, ScoreEvent,
                              StopReason, Trait)
from simulation.scenario import Agent, Copy, Kernel as KernelSection


def test_names_are_the_codes_names():
    assert names.TRAITS == ("drive", "loyalty", "stealth", "fidelity")
    assert names.STOP_REASONS == ("", "horizon", "extinction", "takeover", "convergence",
                                  "fixation", "loss", "type_fixation", "type_loss",
                                  "type_reached", "size_reached")
    assert names.DEATH_CAUSES == ("", "empty", "starved", "oversight", "takeover")
    assert names.DYNAMICS == ("birth_death", "wright_fisher", "moran")
    assert names.KERNELS == ("normal", "cauchy", "step", "uniform")
    assert names.DIRECTIONS == ("up", "down", "both")  # the schema's order
    assert names.SCORE_EVENTS == ("takeover", "fixation", "convergence", "type_fixation",
                                  "type_loss", "type_reached", "size_reached")
    assert names.EARLY_STOPS == ("takeover", "convergence", "fixation", "loss",
                                 "type_fixation", "type_loss", "type_reached", "size_reached")
    for reason in StopReason:
        assert names.STOP_REASONS[reason] == codes.name(reason)
    for cause in DeathCause:
        assert names.DEATH_CAUSES[cause] == codes.name(cause)


def test_a_name_finds_its_code():
    assert codes.code(Direction, "both") is Direction.BOTH and Direction.BOTH == 0
    assert codes.code(StopReason, "") is StopReason.RUNNING
    assert codes.code(ScoreEvent, "none") is ScoreEvent.NONE
    for enum in (Trait, Dynamics, Kernel, Direction, StopReason, DeathCause, ScoreEvent,
                 Advance, codes.Cause):
        values = [int(m) for m in enum]
        assert sorted(values) == list(range(len(values))), enum


def test_the_schema_literals_are_the_names():
    def literal(annotation):
        while typing.get_origin(annotation) is not typing.Literal:
            annotation = typing.get_args(annotation)[0]
        return typing.get_args(annotation)

    assert literal(Agent.model_fields["dynamics"].annotation) == names.DYNAMICS
    assert literal(KernelSection.model_fields["type"].annotation) == names.KERNELS
    assert literal(KernelSection.model_fields["direction"].annotation) == names.DIRECTIONS
    assert literal(Copy.model_fields["traits"].annotation) == names.TRAITS


def test_the_engine_stores_the_codes():
    from simulation import validate
    from simulation.engine import build_config

    sc = validate({"agent": {"dynamics": "moran"},
                   "copy": {"kernel": {"type": "step", "direction": "down"}}})
    p = build_config(sc, score_event="fixation").params[0]
    assert p["dynamics"] == Dynamics.MORAN and p["kernel_type"] == Kernel.STEP
    assert p["kernel_direction"] == Direction.DOWN and p["score_event"] == ScoreEvent.FIXATION
    assert build_config(sc).params[0]["score_event"] == ScoreEvent.NONE
