"""``substrate risk``: resolve the scenario, estimate (or solve), write ``risk.json``.

Kept in its own module so that the ``risk`` command touches
:mod:`substrate.cli` only where it is declared.
"""

from __future__ import annotations

import json
import sys

from simulation import io, load_scenario
from simulation.defence import solve_defence
from simulation.risk import estimate_risk
from substrate.notice import compile_notice


def risk_command(scenario: str, *, event="takeover", method="splitting", score=None,
                 tilt=None, tilt_from=None,
                 particles=100,
                 repeats=20, workers=None, scheduler=None, out=None, overrides=(),
                 seed=None, horizon=None, solve=None, target=None,
                 steps=8, rel_error=None, resume=False, command=None,
                 notify=lambda text: None) -> str:
    """Estimate P(event by the horizon) (or, with ``solve``, the value of a
    key at which it meets ``target``), write ``risk.json`` into the output
    folder and return the summary line.

    The folder is claimed first, as a :class:`simulation.jobs.JobFolder`;
    every repetition is kept in it as a part as it finishes, so an
    interrupted estimate is finished with ``resume`` (same request, same
    folder), which runs only the missing repetitions (and those whose part
    is damaged). ``risk.json`` is written last, then ``manifest.json``."""
    import secrets

    from simulation.defence import check_solve
    from simulation.errors import ScenarioError
    from simulation.jobs import RISK, JobFolder, request_identity
    from simulation.risk import check_request
    from simulation.scenario import to_yaml
    from simulation.cluster import check_scheduler

    from .commands import _again, claim_out, interruptible, resolve_scenario, resume_command

    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed, horizon=horizon, resolve_seed=False)
    # Refuse a request that cannot give an estimate before any folder is made.
    check_request(sc, event, method, particles, repeats, score, tilt, tilt_from)
    solving = solve is not None or target is not None
    if solving:
        check_solve(solve, target)
    if rel_error is not None and not rel_error > 0:
        raise ScenarioError(f"relative error target {rel_error}: must be positive")
    if scheduler:
        check_scheduler(scheduler)
    started = io.now()
    with claim_out(out, f"{sc.name}-risk", command, notify) as owner:
        folder = owner.folder
        compile_notice(notify, sc, event)
        parts = JobFolder(RISK, owner, notify)
        held = parts.held()
        if sc.seed is None:  # a resumed estimate keeps the seed it started with
            sc.seed = held["seed"] if held and resume else secrets.randbits(63)
        request = json.dumps([to_yaml(sc), event, method, particles, repeats, solve,
                              target, steps, rel_error] + ([score] if score else [])
                             + ([tilt] if tilt else [])
                             + ([tilt_from] if tilt_from is not None else []))
        held = parts.check(request_identity(request), resume)
        parts.start(held, scenario=sc.name, seed=sc.seed)

        def kept():
            done = parts.count(".json")
            return (f"{done} finished repetition(s) kept in {folder}/{io.PARTS}; to finish: "
                    f"{resume_command(command) if command else _again(command)}")

        with interruptible(kept, owner):
            if solving:
                result = solve_defence(sc, solve, target, event=event, method=method,
                                       particles=particles, repeats=repeats,
                                       workers=workers, scheduler=scheduler, steps=steps,
                                       source=str(path), parts=parts, score=score,
                                       tilt=tilt, tilt_from=tilt_from)
            else:
                result = estimate_risk(sc, event, method, particles, repeats, workers,
                                       scheduler, rel_error=rel_error, parts=parts,
                                       score=score, tilt=tilt, tilt_from=tilt_from)
            result["scenario"] = sc.model_dump(mode="json")
            result["scenario_yaml"] = to_yaml(sc)
            result["versions"] = io.versions()
            result["command"] = list(command) if command is not None else list(sys.argv)
            result["provenance"] = io.provenance(
                "risk", owner.run_id, scenario=sc,
                command=command if command is not None else sys.argv, started=started,
                files=["risk.json", RISK.marker, f"{io.PARTS}/"])
            io.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n",
                          folder / "risk.json")
            parts.finish(dict(result["provenance"]), ["risk.json"])  # the manifest, last
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
    interval = (f"[{result['low']:.3g}, {result['high']:.3g}]" if result["low"] is not None
                else f"(interval {result['interval']})")
    head = (f"{name}: P({result['event']} by {result['horizon']}) = {result['p']:.3g} "
            f"{interval} ({result['method']}")
    if result.get("tilt"):
        head += (f", tilt {result['tilt']:g}, effective sample size "
                 f"{result['effective_sample_size']:.3g}")
    if result.get("score"):
        head += f", score {result['score']}"
    if not result["direct_equivalent_replicates"]:
        return head + f", {result['ticks_simulated']} ticks)"
    head += (f", rel. error {rel:.2f}, {result['ticks_simulated']} ticks; direct Monte Carlo "
             f"would need {result['direct_equivalent_replicates']:.3g} replicates")
    if result.get("speedup"):
        head += (f", {result['direct_equivalent_seconds']:.3g} s in compiled batches: "
                 f"{result['speedup']:.3g}x the wall-clock cost of "
                 f"{result['seconds_simulated']:.3g} s here")
    return head + ")"
