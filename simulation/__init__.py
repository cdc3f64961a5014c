"""Substrate: when does natural selection take hold inside and between AI systems?

The public API: load a scenario, run it, write its outputs.

>>> from simulation import load_scenario, run_scenario
>>> result = run_scenario(load_scenario("scenarios/singleton_baseline.yaml"))

The engine needs no Mesa: :mod:`simulation.model` (a ``mesa.Model`` of a
world, for exploring from Python) imports it only when used.
"""

from .engine import World
from .errors import AnalysisError, ClusterError, OutputError, ScenarioError, SubstrateError
from .run import ReplicateResult, RunResult, replicate_seed, run_replicate, run_scenario
from .scenario import Scenario, load_scenario, validate

__version__ = "0.2.0"

__all__ = ["AnalysisError", "ClusterError", "OutputError", "ReplicateResult", "RunResult",
           "Scenario", "ScenarioError", "SubstrateError", "World", "load_scenario",
           "replicate_seed", "run_replicate", "run_scenario", "validate", "__version__"]
