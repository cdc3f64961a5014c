"""Types and mutation graphs (docs/model.md, "Types and mutation graphs"):
the compiled tick against the naive reference draw for draw, the schema's
checks, the events, the records and the runs columns."""

import math

import numpy as np
import pytest

from simulation import ScenarioError, run_scenario, validate
from simulation.engine import World, build_config, record_columns
from tests.test_kernels import assert_ticks_match_naive

#: Four types: a resident A, a fitter B, a defector C (by its flag), a
#: mutator D (low fidelity, dies faster); C returns to A at a small rate.
TYPES = {"A": {},
         "B": {"drive": 0.3, "loyalty": 0.6, "birth": 1.2, "death": 0.8},
         "C": {"drive": 0.7, "stealth": 0.4, "birth": 1.5, "defector": True},
         "D": {"fidelity": 0.5, "death": 1.5}}
EDGES = [{"from": "A", "to": "B", "rate": 0.05}, {"from": "A", "to": "D", "rate": 0.02},
         {"from": "B", "to": "C", "rate": 0.05}, {"from": "C", "to": "A", "rate": 0.01},
         {"from": "D", "to": "B", "rate": 0.03}]

CASES = {
    "plain": {},
    "vote_noise_mutator": {"copy": {"redundancy": 3, "error_correlation": 0.2,
                                    "mutator_strength": 2.0,
                                    "noise": {"sigma": 1.0, "correlation_time": 3.0}}},
    "noise_agent": {"copy": {"noise": {"sigma": 1.5, "correlation_time": 0.5,
                                       "scope": "agent"}}},
    "systematic_agent": {"copy": {"systematic": {"rate": 0.3}}},
    "systematic_lineage": {"copy": {"systematic": {"rate": 0.3, "scope": "lineage"}}},
    "repair_tracking": {"immune": {"reference": "tracking", "tracking_rate": 0.2,
                                   "tolerance": 0.05},
                        "repair": {"rate": 0.3, "tolerance": 0.05}},
    "world": {"world": {"income": 900.0, "upkeep": 1.0, "transmission": 0.05,
                        "acquisition_bias": 0.5,
                        "reproduction": {"threshold": 30.0, "bottleneck": 12}}},
}


def types_scenario(overrides=(), **top):
    base = {
        "seed": 1, "horizon": 10,
        "world": {"agents": 3},
        "agent": {"capacity": 400, "initial_size": 200, "birth_rate": 0.3,
                  "death_rate": 0.1, "drive_advantage": 1.5,
                  "seed_clones": [{"count": 20, "type": "C"}, {"count": 5, "type": "D"}]},
        "immune": {"surveillance": 0.4, "tolerance": 0.1, "efficacy": 0.7},
        "types": TYPES, "mutations": EDGES,
    }
    for section, values in dict(overrides).items():
        for key, value in values.items():
            base.setdefault(section, {})[key] = value
    base.update(top)
    return validate(base)


@pytest.mark.parametrize("case, dynamics", [
    (case, dynamics) for case in sorted(CASES)
    for dynamics in ("birth_death", "wright_fisher", "moran")
    if dynamics == "birth_death" or not case.startswith("systematic")])
def test_types_tick_matches_naive(case, dynamics):
    """Every slot, the free stack, the agents, the totals, the generator and
    the mutation events per edge, tick after tick (seed 12345)."""
    overrides = {k: dict(v) for k, v in CASES[case].items()}
    overrides.setdefault("agent", {})["dynamics"] = dynamics
    if dynamics != "birth_death":  # death modifiers are birth_death's
        sc0 = {name: {k: v for k, v in spec.items() if k != "death"}
               for name, spec in TYPES.items()}
        overrides["types"] = sc0
    sc = types_scenario({k: v for k, v in overrides.items() if k != "types"},
                        **({"types": overrides["types"]} if "types" in overrides else {}))
    sc.record_every = 4
    _, seen = assert_ticks_match_naive(sc, 12345, 25 if dynamics == "birth_death" else 8)
    assert seen["mutations"] > 0, "the case must exercise changes of type"
    assert seen["kills"] > 0, "the case must exercise the immune system"
    if case == "world":
        assert seen["migrants"] > 0 and seen["born"] > 0


def test_clones_carry_their_types_traits_and_defector_flag():
    sc = types_scenario(horizon=30)
    world = World(sc, seed=3)
    world.advance(30)
    cl = world.clones
    alive = np.flatnonzero(cl.count[: cl.meta[0]] > 0)
    types = build_config(sc).types
    np.testing.assert_array_equal(cl.traits[alive], types.traits[cl.type[alive]])
    # C is a defector by its flag (its drive 0.7 is above 0.5 too); B (drive
    # 0.3) is not; the agent's defectors are exactly C's members.
    ag = world.agents
    for a in range(world.n_agents):
        mine = alive[cl.agent[alive] == a]
        assert ag.defectors[a] == cl.count[mine][cl.type[mine] == 2].sum()


def test_a_defector_flag_overrides_the_drive_rule():
    sc = types_scenario(types={"A": {}, "H": {"drive": 0.9, "defector": False},
                               "L": {"drive": 0.0, "defector": True}},
                        mutations=[{"from": "A", "to": "H", "rate": 0.01}],
                        agent={"seed_clones": [{"count": 10, "type": "H"},
                                               {"count": 7, "type": "L"}]})
    world = World(sc, seed=1)
    assert world.agents.defectors[0] == 7


def test_mutations_follow_the_edges_only_and_are_counted_per_edge():
    """A ladder A -> B -> C: every clone founded by a copy error is one step
    up from its parent's type, and the runs' per-edge counts are the
    records' sums (seed 5, 4 replicates)."""
    sc = validate({"seed": 5, "replicates": 4, "horizon": 60, "record_every": 7,
                   "agent": {"capacity": 500, "initial_size": 500},
                   "immune": {"surveillance": 0.0},
                   "types": {"A": {}, "B": {"birth": 1.3}, "C": {"birth": 1.6}},
                   "mutations": [{"from": "A", "to": "B", "rate": 0.01},
                                 {"from": "B", "to": "C", "rate": 0.02}]})
    result = run_scenario(sc, show_progress=False)
    clones = result.clones
    parent_type = clones.set_index(["replicate", "clone"])["type"]
    founded = clones[clones.parent >= 0]
    steps = [(parent_type[(r, q)], t) for r, q, t in zip(founded.replicate, founded.parent,
                                                          founded.type)]
    assert steps and set(steps) <= {("A", "B"), ("B", "C")}
    ts, runs = result.timeseries, result.runs
    for column in ("mutations_A_to_B", "mutations_B_to_C"):
        assert (ts.groupby("replicate")[column].sum().to_numpy()
                == runs[column].to_numpy()).all()
    # the mutation events per record are the timeseries' mutations column
    assert (ts.mutations_A_to_B + ts.mutations_B_to_C == ts.mutations).all()
    last = ts.groupby("replicate").tail(1).set_index("replicate")
    for name in "ABC":
        assert (last[f"count_{name}"].to_numpy() == runs[f"final_count_{name}"]).all()
    assert (ts.count_A + ts.count_B + ts.count_C == ts["size"]).all()
    assert record_columns(sc) == ["count_A", "count_B", "count_C", "mutations_A_to_B",
                                  "mutations_B_to_C"]


def test_type_events_and_stops():
    """Fixation, reaching a count, loss and the size event, each at the
    first tick it holds (checked against the records, record_every 1)."""
    sc = validate({"seed": 2, "replicates": 6, "horizon": 400, "record_every": 1,
                   "agent": {"dynamics": "moran", "capacity": 30, "initial_size": 30,
                             "seed_clones": [{"count": 3, "type": "B"}]},
                   "immune": {"surveillance": 0.0},
                   "types": {"A": {}, "B": {"birth": 1.5}},
                   "stop": {"type": "B", "type_count": 20, "size": 30,
                            "on": ["type_fixation", "type_loss"]}})
    result = run_scenario(sc, show_progress=False)
    runs, ts = result.runs, result.timeseries
    assert set(runs.stop_reason) <= {"type_fixation", "type_loss"}
    assert len(set(runs.stop_reason)) == 2, "seed 2 must show both ends"
    for _, run in runs.iterrows():
        mine = ts[ts.replicate == run.replicate].set_index("tick")
        assert run.type_arrival_tick == 0 and run.size_reached_tick == 0
        if run.stop_reason == "type_fixation":
            assert run.type_fixation_tick == run.ticks
            assert (mine.count_B == mine["size"]).idxmax() == run.type_fixation_tick
            assert (mine.count_B >= 20).idxmax() == run.type_reached_tick
        else:
            assert run.type_loss_tick == run.ticks
            assert mine.count_B.loc[run.ticks] == 0 and (mine.count_B.iloc[:-1] > 0).all()
            assert run.type_fixed is False or not run.type_fixed


@pytest.mark.parametrize("event", ["type_fixation", "type_reached", "size_reached",
                                   "type_loss"])
def test_scores_reach_one_at_the_event(event):
    """The splitting score is in [0, 1] and its running maximum is 1 exactly
    when the event has happened (seed 4)."""
    sc = validate({"seed": 4, "horizon": 200, "record_every": 200,
                   "agent": {"dynamics": "moran", "capacity": 20, "initial_size": 20,
                             "seed_clones": [{"count": 4, "type": "B"}]},
                   "immune": {"surveillance": 0.0},
                   "types": {"A": {}, "B": {"birth": 1.2}},
                   "stop": {"type": "B", "type_fraction": 0.6, "size": 20}})
    world = World(sc, seed=9, config=build_config(sc, event))
    tick_column = {"type_fixation": "type_fixation_tick", "type_reached": "type_reached_tick",
                   "size_reached": "size_reached_tick", "type_loss": "type_loss_tick"}[event]
    while world.tick < 200:
        world.step()
        score = float(world.status["score"])
        assert 0.0 <= score <= 1.0
        happened = world.status[tick_column] >= 0
        assert (score == 1.0) == bool(happened)
        if happened:
            break


def test_noise_caps_each_types_rates_and_the_mutator_scales_them():
    """The per-copy rate of a change of type: the noise factor capped at
    1/sum u_e, each edge through the vote, the mutator on the total."""
    from simulation.kernels.clones import effective_error_rate
    sc = types_scenario({"copy": {"redundancy": 3, "error_correlation": 0.1,
                                  "mutator_strength": 1.0,
                                  "noise": {"sigma": 1.0}}})
    world = World(sc, seed=1)
    cfg = world.config
    from simulation.kernels.types import type_error_probability
    cl, ag = world.clones, world.agents
    slot = int(np.flatnonzero(cl.type[: cl.meta[0]] == 3)[0])  # a clone of D
    a = int(cl.agent[slot])
    ag.error_rate[a] = 50.0  # a noise factor far above D's cap 1/0.03
    got = type_error_probability(cl, ag, slot, a, cfg.types, cfg.params[0])
    voted = effective_error_rate(1.0, 3, 0.1)  # u c = 0.03 / 0.03 = 1
    assert got == pytest.approx(min(1.0, voted * math.exp(1.0 * (1.0 - 0.5))))
    ag.error_rate[a] = 2.0
    got = type_error_probability(cl, ag, slot, a, cfg.types, cfg.params[0])
    assert got == pytest.approx(effective_error_rate(0.06, 3, 0.1) * math.exp(0.5))


@pytest.mark.parametrize("data, message", [
    ({"mutations": [{"from": "A", "to": "Z", "rate": 0.1}]},
     "mutations[0].to = 'Z': not a type (types: A, B)"),
    ({"mutations": [{"from": "B", "to": "B", "rate": 0.1}]}, "self-loop"),
    ({"mutations": [{"from": "A", "to": "B", "rate": 0.7},
                    {"from": "A", "to": "B", "rate": 0.1}]}, "listed twice"),
    ({"mutations": [{"from": "A", "to": "B", "rate": 1.5}]},
     "mutations.0.rate = 1.5: out of range (allowed: 0.0 <= value <= 1.0)"),
    ({"types": {"A": {}, "B": {}, "C": {}},
      "mutations": [{"from": "A", "to": "B", "rate": 0.7},
                    {"from": "A", "to": "C", "rate": 0.4}]},
     "mutations out of type 'A' sum to 1.1"),
    ({"copy": {"error_rate": 0.01}}, "copy.error_rate is not used by a types scenario"),
    ({"copy": {"drive_guard": 0.5}}, "copy.drive_guard is not used by a types scenario"),
    ({"copy": {"kernel": {"type": "cauchy"}}}, "copy.kernel is not used"),
    ({"copy": {"systematic": {"sd": 0.2}}}, "copy.systematic.sd is not used"),
    ({"agent": {"initial_traits": {"drive": 0.2}}}, "agent.initial_traits is not used"),
    ({"agent": {"initial_type": "Q"}}, "agent.initial_type = 'Q': not a type"),
    ({"agent": {"seed_clones": [{"count": 2}]}}, "needs a type (types: A, B)"),
    ({"agent": {"seed_clones": [{"count": 2, "type": "B", "traits": {"drive": 0.1}}]}},
     "a type ('B') or traits, not both"),
    ({"stop": {"type": "Q"}}, "stop.type = 'Q': not a type"),
    ({"stop": {"on": ["type_reached"]}}, "neither type_count nor type_fraction"),
    ({"stop": {"type_count": 3, "type_fraction": 0.5}}, "not both"),
    ({"types": {"A": {}, "B b": {}}}, "a type name is"),
    ({"agent": {"dynamics": "moran"}, "types": {"A": {}, "B": {"death": 2.0}}},
     "types.B.death = 2: a death modifier needs agent.dynamics 'birth_death'"),
    ({"mutations": [{"from": "A", "too": "B", "rate": 0.1}]},
     "unknown key; did you mean 'mutations.0.to'? (allowed here: from, rate, to)"),
])
def test_types_errors_name_key_value_and_what_is_allowed(data, message):
    base = {"types": {"A": {}, "B": {}}}
    base.update(data)
    with pytest.raises(ScenarioError) as err:
        validate(base)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("data, message", [
    ({"mutations": [{"from": "A", "to": "B", "rate": 0.1}]}, "mutations needs a types"),
    ({"agent": {"initial_type": "A"}}, "agent.initial_type = 'A' needs a types section"),
    ({"agent": {"seed_clones": [{"count": 1, "type": "A"}]}}, "needs a types section"),
    ({"stop": {"on": ["type_fixation"]}}, "an event of a types scenario"),
    ({"stop": {"on": ["size_reached"]}}, "stop.size is not given"),
])
def test_types_keys_need_types(data, message):
    with pytest.raises(ScenarioError) as err:
        validate(data)
    assert message in str(err.value)


def test_a_types_scenario_resolves_to_a_scenario_that_validates_again():
    from simulation.scenario import to_yaml
    from simulation.loading import safe_load

    sc = types_scenario({"world": {"reproduction": {"agent_mutation": 0.1}}})
    again = validate(safe_load(to_yaml(sc)))
    assert again == sc
    assert "error_rate" not in to_yaml(sc).split("copy:")[1].split("immune:")[0]


@pytest.mark.parametrize("scope", ["agent", "lineage"])
def test_tables_of_a_multi_agent_types_run_with_systematic_error(scope):
    """agents.parquet and clones.parquet carry each type's systematic target
    (seed 1, 2 replicates), and summarize reports the type events."""
    from analysis import summarize

    sc = types_scenario({"copy": {"systematic": {"rate": 0.2, "scope": scope}},
                         "stop": {"type": "C", "type_fraction": 0.2}},
                        replicates=2, horizon=20)
    result = run_scenario(sc, show_progress=False)
    table = result.agents if scope == "agent" else result.clones
    targets = table[[f"systematic_type_{name}" for name in TYPES]]
    if scope == "agent":
        assert targets.notna().all().all()
        # A's out-edges lead to B or D, C's to A only
        assert set(targets.systematic_type_A) <= {1.0, 3.0}
        assert set(targets.systematic_type_C) == {0.0}
    assert set(result.clones.type) <= set(TYPES)
    summary = summarize(result.runs, horizon=20)
    assert {f"p_{event}" for event in ("type_arrival", "type_fixation", "type_loss",
                                       "type_reached")} <= set(summary.columns)
