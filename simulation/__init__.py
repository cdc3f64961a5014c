"""Substrate: when does natural selection take hold inside and between AI systems?

The public API: load a scenario, run it, write its outputs.

>>> from simulation import load_scenario, run_scenario
>>> result = run_scenario(load_scenario("scenarios/singleton_baseline.yaml"))
"""

from .errors import AnalysisError, ClusterError, OutputError, SubstrateError
from .model import AgentView, World
from .run import ReplicateResult, RunResult, replicate_seed, run_replicate, run_scenario
from .scenario import Scenario, ScenarioError, load_scenario, validate

__version__ = "0.1.0"

__all__ = ["AgentView", "AnalysisError", "ClusterError", "OutputError", "SubstrateError", "ReplicateResult", "RunResult", "Scenario", "ScenarioError",
           "World", "load_scenario", "replicate_seed", "run_replicate", "run_scenario",
           "validate", "__version__"]
