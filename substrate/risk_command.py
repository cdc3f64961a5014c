"""``substrate risk``: resolve the scenario, estimate (or solve), write ``risk.json``.

Kept in its own module so that the ``risk`` command touches
:mod:`substrate.cli` only where it is declared.
"""

from __future__ import annotations

import json
import sys

from simulation import io, load_scenario
from simulation.risk import estimate_risk, solve_defence
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

    The folder is claimed first; every repetition is kept in it as a part
    as it finishes (:class:`simulation.risk.RepeatParts`), so an interrupted
    estimate is finished with ``resume`` (same request, same folder), which
    runs only the missing repetitions. ``risk.json`` is written last."""
    import hashlib
    import secrets

    from simulation.errors import OutputError, ScenarioError
    from simulation.risk import (RISK_MARKER, RepeatParts, check_request, check_solve)
    from simulation.scenario import to_yaml
    from simulation.sweep import check_scheduler

    from .commands import _again, default_out, interruptible, resolve_scenario, resume_command

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
    with io.claim(out if out is not None else default_out(f"{sc.name}-risk"),
                  command, tidy=True) as owner:
        folder = owner.folder
        if owner.note:
            notify(f"{folder}: {owner.note}")
        compile_notice(notify)
        marker = folder / RISK_MARKER
        try:
            held = json.loads(marker.read_text()) if marker.exists() else None
        except (OSError, ValueError):
            raise OutputError(f"output folder {folder}: {RISK_MARKER} is unreadable; remove "
                              "the folder or choose another") from None
        if sc.seed is None:  # a resumed estimate keeps the seed it started with
            sc.seed = held["seed"] if held and resume else secrets.randbits(63)
        request = json.dumps([to_yaml(sc), event, method, particles, repeats, solve,
                              target, steps, rel_error] + ([score] if score else [])
                             + ([tilt] if tilt else [])
                             + ([tilt_from] if tilt_from is not None else []))
        identity = hashlib.sha256(request.encode()).hexdigest()[:16]
        if held is not None:
            if held.get("identity") != identity:
                raise OutputError(f"output folder {folder}: holds a different risk estimate "
                                  f"(identity {held.get('identity')}; this one is "
                                  f"{identity}): choose another folder, or remove it")
            if not resume:
                raise OutputError(f"output folder {folder}: already holds this risk "
                                  "estimate; resume it to finish it (finished repetitions "
                                  "are kept)", argument="resume")
            owner.adopt(held["run_id"])
        else:
            io.refuse_foreign(folder, {"risk.json", RISK_MARKER, "parts"}, "risk", "risk-")
            io.write_json({"identity": identity, "run_id": owner.run_id,
                           "scenario": sc.name, "seed": sc.seed}, marker)
        io.unlink(folder / "risk.json")  # written again when the estimate completes
        (folder / io.PARTS).mkdir(exist_ok=True)
        parts = RepeatParts(folder.resolve(), owner.run_id)

        def kept():
            done = len(list((folder / io.PARTS).glob("risk-*.json")))
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
                files=["risk.json", RISK_MARKER, f"{io.PARTS}/"])
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
