"""``substrate study``: the scaling study of a scenario's ``study`` block.

Computes the theory line (every size x horizon) and the simulated points
(founded lineages at ``study.simulate.sizes``, one part file per size in a
:class:`simulation.jobs.JobFolder`, so an interrupted study resumes where it
stopped: SIGINT or SIGTERM end it in one line, lock released, saying what was
kept and how to go on) and writes ``study.json``, then ``manifest.json``.
``substrate plot FOLDER --kind scaling`` draws it.
"""

from __future__ import annotations

import secrets
import sys
import time

from simulation import io, load_scenario
from simulation.errors import AnalysisError, ScenarioError
from simulation.jobs import STUDY, JobFolder, json_part, request_identity, write_json_part
from simulation.scenario import to_yaml
from substrate.notice import compile_notice


def study_command(scenario: str, *, out=None, resume=False, overrides=(), seed=None,
                  show_progress=None, command=None, notify=lambda text: None) -> str:
    """Run the study, write ``study.json``, return the summary table."""
    from tqdm.auto import tqdm

    from analysis.scaling import simulated_defence, sized, theory_rows
    from simulation.budget import check_study_memory
    from simulation.study import simulate_lineages

    from .commands import _again, claim_out, interruptible, resolve_scenario, resume_command

    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed, resolve_seed=False)
    study = sc.study
    if study is None:
        raise ScenarioError(f"{path}: no study block (see docs/rare-events.md, the scaling study)")
    started = io.now()
    clock = time.perf_counter()
    try:
        theory = theory_rows(sc, study)  # refuses a scenario outside the approximation
    except AnalysisError as exc:
        raise AnalysisError(f"{path}: {exc}") from None
    check_study_memory(sc, source=str(path))  # before any folder is made
    sim = study.simulate
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    simulated = []
    with claim_out(out, f"{sc.name}-study", command, notify) as owner:
        folder = owner.folder
        job = JobFolder(STUDY, owner, notify)
        held = job.held()
        if sc.seed is None:  # a resumed study keeps the seed it started with
            sc.seed = held["seed"] if held and resume else secrets.randbits(63)
        held = job.check(request_identity(to_yaml(sc)), resume)
        job.start(held, scenario=sc.name, seed=sc.seed)

        def kept():
            done = job.count(".json")
            if not done:
                return f"{folder} holds no simulated size yet; to start again: {_again(command)}"
            return (f"{done} simulated size(s) kept in {folder}/{io.PARTS}; to go on: "
                    f"{resume_command(command)}")

        # The lineages are simulated in this process: a signal ends it at
        # once, its lock released and the finished sizes kept (as for 'run').
        with interruptible(kept, owner):
            compile_notice(scenario=sc)
            total = len(sim.sizes) * len(sim.values) if sim else 0
            with tqdm(total=total, unit="value", desc=f"study {sc.name}",
                      disable=not show_progress, leave=False) as bar:
                for size in (sim.sizes if sim else []):
                    scs = sized(sc, size)
                    row = next(r for r in theory if r["size"] == size)
                    if not any(r["applicable"] for r in theory if r["size"] == size):
                        # Founded single-hit lineages would answer the wrong question.
                        bar.update(len(sim.values))
                        continue
                    key = {"seed": sc.seed, "size": size, "values": sim.values,
                           "paths": sim.paths, "horizon": sim.horizon,
                           "scenario": scs.model_dump(mode="json")}
                    name = f"size-{size}.json"
                    points = job.kept({size: [name]}, json_part({"key": key}, "points", list),
                                      note=_damaged).get(size)
                    if points is None:
                        points = simulate_lineages(
                            scs, size, scs.agent.initial_size, row["defector_drive"],
                            study.solve, sim.values, sim.paths, sim.horizon, sc.seed,
                            progress=bar.update)
                        write_json_part(job.folder, name, owner.run_id, {"key": key},
                                        {"points": points})
                    else:
                        bar.update(len(sim.values))
                    simulated.append({
                        "size": size, "founding_rate": row["founding_rate"], "points": points,
                        "defence": [simulated_defence(points, row["founding_rate"], T,
                                                      sim.horizon, study.target)
                                    for T in study.horizons]})
            result = {"study": study.model_dump(mode="json"), "theory": theory,
                      "simulated": simulated, "scenario": sc.model_dump(mode="json"),
                      "provenance": io.provenance(
                          "study", owner.run_id, scenario=sc,
                          command=command if command is not None else sys.argv,
                          started=started, seconds=time.perf_counter() - clock,
                          files=["study.json"])}
            io.write_json(result, folder / "study.json")
            job.finish(dict(result["provenance"]), ["study.json"])  # the manifest, last
    return summary_table(result) + f"\n-> {folder}/study.json"


def _damaged(folder, damaged) -> str:
    """The note of a size whose part is damaged: simulated again."""
    return "; ".join(f"output folder {folder}: {io.PARTS}/{name} is damaged ({reason}): "
                     f"size {size} is simulated again" for size, name, reason in damaged)


def _fmt(x, top=None):
    """A value; None: beyond the largest simulated value ``top``."""
    return f">{top:g}" if x is None else f"{x:.4f}"


def summary_table(result: dict) -> str:
    """One line per size: the efficacy needed at each horizon (theory, and
    simulated [low, high] where simulated)."""
    study = result["study"]
    head = (f"immune efficacy needed for P({study['event']} by T) <= {study['target']:g}"
            f" (theory; simulated [95% range]); * : theory not trusted (takeover slow against T);"
            f" n/a: not applicable (defectors made by several copy errors: use substrate risk)")
    lines = [head, "N \\ T".ljust(12) + "".join(f"{T:>34}" for T in study["horizons"])]
    sim = {s["size"]: {d["horizon"]: d for d in s["defence"]} for s in result["simulated"]}
    for size in study["sizes"]:
        cells = []
        for T in study["horizons"]:
            row = next(r for r in result["theory"] if r["size"] == size and r["horizon"] == T)
            if not row.get("applicable", True):
                cell = "n/a "
            else:
                cell = (">1" if row["efficacy"] is None else f"{row['efficacy']:.4f}") + (
                    "*" if not row["trusted"] else " ")
            d = sim.get(size, {}).get(T)
            if d is not None:
                top = study["simulate"]["values"][-1]
                cell += (f" {_fmt(d['efficacy'], top)} [{_fmt(d['low'], top)}, "
                         f"{_fmt(d['high'], top)}]")
            cells.append(cell.rjust(34))
        lines.append(f"{size:<12g}" + "".join(cells))
    return "\n".join(lines)
