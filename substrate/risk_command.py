"""``substrate risk``: resolve the scenario, estimate (or solve), write ``risk.json``.

Kept in its own module so that the ``risk`` command touches
:mod:`substrate.cli` only where it is declared.
"""

from __future__ import annotations

import json
import sys

from simulation import io, load_scenario
from simulation.risk import estimate_risk, solve_defence


def risk_command(scenario: str, *, event="takeover", method="splitting", particles=100,
                 repeats=10, workers=None, scheduler=None, out=None, overrides=(),
                 seed=None, horizon=None, solve=None, target=None,
                 steps=8, rel_error=None, command=None) -> str:
    """Estimate P(event by the horizon) (or, with ``solve``, the value of a
    key at which it meets ``target``), write ``risk.json`` into the output
    folder and return the summary line."""
    from simulation.scenario import to_yaml

    from .commands import default_out, resolve_scenario

    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed, horizon=horizon)
    if solve is not None or target is not None:
        result = solve_defence(sc, solve, target, event=event, method=method,
                               particles=particles, repeats=repeats, workers=workers,
                               scheduler=scheduler, steps=steps, source=str(path))
    else:
        result = estimate_risk(sc, event, method, particles, repeats, workers, scheduler,
                               rel_error=rel_error)
    started = io.now()
    with io.claim(out if out is not None else default_out(f"{sc.name}-risk"),
                  command) as owner:
        folder = owner.folder
        result["scenario"] = sc.model_dump(mode="json")
        result["scenario_yaml"] = to_yaml(sc)
        result["versions"] = io.versions()
        result["command"] = list(command) if command is not None else list(sys.argv)
        result["provenance"] = io.provenance(
            "risk", owner.run_id, scenario=sc,
            command=command if command is not None else sys.argv, started=started,
            files=["risk.json"])
        io.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n",
                      folder / "risk.json")
    return summary_line(result, sc.name) + f"  -> {folder}/risk.json"


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def summary_line(result: dict, name: str) -> str:
    """One line: the estimate, its interval, its relative error and cost."""
    if "solve" in result:
        s = result["solve"]
        head = (f"{name}: {s['key']} for P({result['event']} by {result['horizon']}) = "
                f"{s['target']:g}: ")
        tail = f" ({s['evaluations']} estimates, {result['ticks_simulated']} ticks)"
        if not s["met"]:
            ends = ", ".join(f"{v['p']:.3g} at {v['value']:g}" for v in s["values"][:2])
            return head + f"not crossed in the key's range (P = {ends})" + tail
        return (head + f"between {s['low']:g} and {s['high']:g}, safe at {s['safe_value']:g}"
                f" (undecided by the intervals: {s['uncertain_low']:g} to "
                f"{s['uncertain_high']:g})" + tail)
    rel = result["rel_error"]
    equivalent = result["direct_equivalent_replicates"]
    return (f"{name}: P({result['event']} by {result['horizon']}) = {result['p']:.3g} "
            f"[{result['low']:.3g}, {result['high']:.3g}] ({result['method']}, "
            f"rel. error {rel:.2f}, {result['ticks_simulated']} ticks; direct Monte Carlo "
            f"would need {equivalent:.3g} replicates)" if equivalent else
            f"{name}: P({result['event']} by {result['horizon']}) = {result['p']:.3g} "
            f"[{result['low']:.3g}, {result['high']:.3g}] ({result['method']}, "
            f"{result['ticks_simulated']} ticks)")
