"""The Mesa face of a world: a ``mesa.Model`` whose AI systems are ``mesa.Agent``s.

For people who explore a world from Python (and, later, in a browser): the
model advances the compiled engine from one record to the next
(:meth:`SubstrateModel.step`), then brings its :class:`AISystem` agents up to
date from the engine's agent table, so they can be queried, filtered, sorted
and plotted with Mesa's ``AgentSet``; a ``DataCollector`` gathers model- and
agent-level reporters at every step. The engine itself needs no Mesa: this
module is the only one that imports it, and only when used.

>>> from simulation import load_scenario
>>> from simulation.model import SubstrateModel
>>> model = SubstrateModel(load_scenario("scenarios/competition_immune_cost.yaml"))
>>> model.run_for(10)
>>> model.agents.select(lambda a: a.defector_fraction > 0.1).get("size")
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from .codes import StopReason
from .engine import World
from .names import DEATH_CAUSES, EVENT_TICKS, TRAITS
from .run import replicate_seed

#: Model-level reporters: the columns of ``timeseries.parquet`` they mirror.
MODEL_REPORTERS = ("agents", "size", "mean_drive", "mean_loyalty", "mean_stealth",
                   "mean_fidelity", "defector_fraction", "clones", "goal_output",
                   "price_between", "price_within", "price_transmission")
#: Agent-level reporters: attributes of :class:`AISystem`.
AGENT_REPORTERS = ("size", "defector_fraction", "mean_drive", "mean_loyalty",
                   "reserve", "surveillance", "goal_output", "taken_over")


class AISystem(mesa.Agent):
    """One AI system of the world (a row of the engine's agent table).

    Attributes are copied from the compiled state at every step of the model:
    ``index`` (its row), ``size``, ``clones``, ``defector_fraction``,
    ``mean_drive``, ``mean_loyalty``, ``mean_stealth``, ``mean_fidelity``,
    ``goal_output``, ``reserve``, ``capacity``, ``surveillance``,
    ``efficacy``, ``tolerance``, ``taken_over`` (its defector fraction has
    reached ``agent.takeover_fraction``), ``parent`` (-1: founded at set-up)
    and ``born_tick``. An agent that dies leaves the model's ``AgentSet``;
    its ``death_cause`` and ``death_tick`` are set first.
    """

    def __init__(self, model: "SubstrateModel", index: int):
        super().__init__(model)
        self.index = index
        self.death_cause = ""
        self.death_tick = -1

    def update(self, world: World, values: dict) -> None:
        """Copy this agent's row of the engine's tables; ``values``:
        :meth:`simulation.engine.World.agent_values` of every agent."""
        ag, a = world.agents, self.index
        size = float(values["size"][a])
        self.size = int(size)
        self.clones = int(ag.clones[a])
        self.defector_fraction = float(values["defector_fraction"][a])
        for name in TRAITS:
            setattr(self, f"mean_{name}", float(values[f"mean_{name}"][a]))
        self.goal_output = float(values["goal_output"][a])
        self.reserve = float(ag.reserve[a])
        self.capacity = float(ag.capacity[a])
        self.surveillance = float(ag.surveillance[a])
        self.efficacy = float(ag.efficacy[a])
        self.tolerance = float(ag.tolerance[a])
        self.taken_over = bool(size and self.defector_fraction
                               >= world.scenario.agent.takeover_fraction)
        self.parent = int(ag.parent[a])
        self.born_tick = int(ag.born_tick[a])


class SubstrateModel(mesa.Model):
    """A world of AI systems as a Mesa model, one replicate of a scenario.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with its seed resolved.
    replicate : int
        Which replicate: the engine runs with the same seed as replicate
        ``replicate`` of ``substrate run``, so its records are that run's.

    One :meth:`step` is ``record_every`` ticks of the engine (the horizon
    and stop events end the run: ``running`` becomes False).
    """

    def __init__(self, scenario, replicate: int = 0):
        seed = replicate_seed(scenario.seed, replicate)
        super().__init__(seed=seed)
        self.scenario = scenario
        self.world = World(scenario, seed)
        self.systems: dict[int, AISystem] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _model_reporter(name) for name in MODEL_REPORTERS},
            agent_reporters={name: name for name in AGENT_REPORTERS})
        self._sync()
        self.datacollector.collect(self)

    @property
    def tick(self) -> int:
        return self.world.tick

    @property
    def record(self) -> dict:
        """The engine's latest timeseries row, by column name."""
        row = self.world.timeseries()[-1]
        return {name: row[name].item() for name in row.dtype.names}

    @property
    def events(self) -> dict:
        """Outcome ticks reached so far (docs/model.md, "Outcomes"), by name."""
        st = self.world.status
        return {name: int(st[name]) for name in EVENT_TICKS if st[name] >= 0}

    def step(self) -> None:
        """Advance the engine to its next record, then update the agents."""
        self.world.advance(self.world.tick + self.scenario.record_every)
        self.running = int(self.world.status["stop_reason"]) == StopReason.RUNNING
        self._sync()
        self.datacollector.collect(self)

    def _sync(self) -> None:
        world = self.world
        ag = world.agents
        values = world.agent_values(np.arange(world.n_agents))
        for a in range(world.n_agents):
            system = self.systems.get(a)
            if system is None and ag.alive[a]:
                system = self.systems[a] = AISystem(self, a)
            if system is None:
                continue
            if ag.alive[a]:
                system.update(world, values)
            elif system.death_tick < 0:
                system.update(world, values)
                system.death_cause = DEATH_CAUSES[int(ag.death_cause[a])]
                system.death_tick = int(ag.death_tick[a])
                system.remove()

    def agent_table(self):
        """The live agents' reporters as a DataFrame (one row per agent)."""
        import pandas as pd

        return pd.DataFrame({name: self.agents.get(name) for name in
                             ("index",) + AGENT_REPORTERS})


def _model_reporter(name):
    def report(model):
        value = model.record[name]
        return value if not (isinstance(value, float) and np.isnan(value)) else math.nan
    report.__name__ = name
    return report
