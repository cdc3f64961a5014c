"""The Mesa face (simulation.model): its agents and reporters are the
engine's own records, for the same scenario and replicate."""

import numpy as np
import pytest

from simulation import run_replicate, validate


@pytest.fixture
def scenario():
    return validate({
        "seed": 7, "horizon": 60, "record_every": 5,
        "world": {"agents": 4, "income": 2500.0, "acquisition_bias": 1.0,
                  "takeover_kills": True, "transmission": 0.01,
                  "reproduction": {"threshold": 50.0, "bottleneck": 20}},
        "agent": {"capacity": 300, "initial_size": 150, "birth_rate": 0.3,
                  "escape_threshold": 0.4,
                  "seed_clones": [{"count": 40, "traits": {"drive": 0.8}}]},
        "copy": {"error_rate": 0.05, "kernel": {"type": "normal", "sd": 0.1}},
        "immune": {"surveillance": 0.3, "tolerance": 0.2}})


def test_reporters_are_the_run_records(scenario):
    from simulation.model import SubstrateModel

    model = SubstrateModel(scenario, replicate=1)
    while model.running and model.tick < scenario.horizon:
        model.step()
    collected = model.datacollector.get_model_vars_dataframe()
    expected = run_replicate(scenario, 1).timeseries
    assert len(collected) == len(expected)
    for name in ("size", "agents", "mean_drive", "defector_fraction", "price_within"):
        np.testing.assert_array_equal(collected[name].to_numpy(dtype=float),
                                      expected[name].astype(float))


def test_agentset_holds_the_live_ai_systems(scenario):
    from simulation.model import AISystem, SubstrateModel

    model = SubstrateModel(scenario)
    for _ in range(8):
        model.step()
        world = model.world
        alive = np.flatnonzero(world.agents.alive[: world.n_agents])
        assert sorted(model.agents.get("index")) == list(alive)
        assert all(isinstance(a, AISystem) for a in model.agents)
        sizes = dict(zip(model.agents.get("index"), model.agents.get("size")))
        assert sizes == {int(a): int(world.agents.size[a]) for a in alive}
    assert world.status["agents_born"] > 0  # the AgentSet grew with the world
    big = model.agents.select(lambda a: a.size > 100)
    assert all(a.size > 100 for a in big)
    table = model.agent_table()
    assert len(table) == len(model.agents) and "defector_fraction" in table
