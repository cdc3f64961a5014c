"""The tables grown and reset in NumPy between calls of the compiled loop
(:func:`simulation.state.make_room`, :func:`simulation.state.reset_state`)
are what the compiled code's own growth (``grow_clones``, ``grow_agents``,
``grow_snapshot``, used within a tick too large to make room for) and
reset (``reset_tables``, between the replicates of a compiled batch) make:
the same capacities, the same content in every row the kernels read."""

import numpy as np
import pytest

from simulation import load_scenario
from simulation.codes import Advance
from simulation.engine import World, initial_state
from simulation.kernels.clones import grow_agents, grow_clones, grow_snapshot, reset_tables
from simulation.state import copy_state, make_room, reset_state

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def grown_world():
    """A world of agents that reproduce, lineages recorded, after 40 ticks
    (its tables grown several times)."""
    sc = load_scenario(ROOT / "scenarios" / "competition_immune_cost.yaml").model_copy(
        update={"horizon": 40, "record_clones": True})
    world = World(sc, seed=3)
    world.advance(40)
    assert world.state.clones.count.shape[0] > initial_state(sc).clones.count.shape[0]
    return world


def tables_equal(a, b):
    for table_a, table_b in zip(a[:5], b[:5]):
        for name, x, y in zip(table_a._fields, table_a, table_b):
            assert x.shape == y.shape, name
            np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("bound", [0, 10, 5000, 300_000])
def test_make_room_grows_as_the_compiled_growth(grown_world, bound):
    state = grown_world.state
    params = grown_world.config.params
    ours = make_room(copy_state(state), params, float(bound))
    theirs = copy_state(state)
    cl, ln, ev = grow_clones(theirs.clones, theirs.lineage, theirs.events, bound)
    ag = grow_agents(theirs.agents, int(theirs.agents.alive[: theirs.agents.meta[0]].sum()))
    snap = grow_snapshot(theirs.snapshot, int(cl.meta[0]) + bound, ag.alive.shape[0])
    tables_equal(ours, theirs._replace(clones=cl, lineage=ln, agents=ag, events=ev,
                                       snapshot=snap))
    assert ours.clones.count.shape[0] >= cl.meta[0] - cl.meta[1] + bound


def test_reset_state_resets_as_the_compiled_reset(grown_world):
    template = initial_state(grown_world.scenario)
    ours, theirs = copy_state(grown_world.state), copy_state(grown_world.state)
    reset_state(ours, template)
    reset_tables(theirs, template)
    used = int(template.clones.meta[0])
    for name in ("count", "agent", "traits", "clone_id", "seeded", "ancestor"):
        np.testing.assert_array_equal(getattr(ours.clones, name)[:used],
                                      getattr(theirs.clones, name)[:used])
    np.testing.assert_array_equal(ours.clones.count, theirs.clones.count)  # -1: free
    np.testing.assert_array_equal(ours.clones.meta, theirs.clones.meta)
    agents = int(template.agents.meta[0])
    for x, y in zip(ours.agents, theirs.agents):
        np.testing.assert_array_equal(x[:agents], y[:agents])
    for x, y in zip(ours.lineage, theirs.lineage):
        np.testing.assert_array_equal(x[:used], y[:used])
    assert ours.snapshot.meta[0] == theirs.snapshot.meta[0] == 0
    for name in ("status", "tick_totals", "interval"):
        assert getattr(ours, name).tobytes() == getattr(theirs, name).tobytes()


def test_a_reset_world_runs_as_a_new_one(grown_world):
    """Reset in its grown tables, a world runs its next replicate exactly as
    a new world with that seed does."""
    sc = grown_world.scenario

    def run_out(world):  # through the records (lineages recorded: it pauses at each)
        while world.advance(sc.horizon) != Advance.STOPPED:
            pass
        return world.timeseries().tobytes()

    expected = run_out(World(sc, seed=11))
    world = World(sc, seed=3)
    run_out(world)
    world.reset(11)
    assert run_out(world) == expected
