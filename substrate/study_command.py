"""``substrate study``: the scaling study of a scenario's ``study`` block.

Computes the theory line (every size x horizon) and the simulated points
(founded lineages at ``study.simulate.sizes``, one part file per size, so an
interrupted study resumes where it stopped: SIGINT or SIGTERM end it in one
line, lock released, saying what was kept and how to go on) and writes ``study.json``
through :mod:`simulation.io`. ``substrate plot FOLDER --kind scaling`` draws it.
"""

from __future__ import annotations

import sys
import time

from simulation import io, load_scenario
from simulation.errors import AnalysisError, DamagedError, ScenarioError
from substrate.notice import compile_notice


def study_command(scenario: str, *, out=None, resume=False, overrides=(), seed=None,
                  show_progress=None, command=None, notify=lambda text: None) -> str:
    """Run the study, write ``study.json``, return the summary table."""
    from tqdm.auto import tqdm

    from analysis.scaling import simulated_defence, sized, theory_rows
    from simulation.study import simulate_lineages

    from .commands import _again, default_out, interruptible, resolve_scenario, resume_command

    path = resolve_scenario(scenario)
    sc = load_scenario(path, list(overrides), seed=seed)
    study = sc.study
    if study is None:
        raise ScenarioError(f"{path}: no study block (see docs/rare-events.md, the scaling study)")
    started = io.now()
    clock = time.perf_counter()
    try:
        theory = theory_rows(sc, study)  # refuses a scenario outside the approximation
    except AnalysisError as exc:
        raise AnalysisError(f"{path}: {exc}") from None
    sim = study.simulate
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    simulated = []
    with io.claim(out if out is not None else default_out(f"{sc.name}-study"),
                  command, tidy=True) as owner:
        folder = owner.folder
        if owner.note:
            notify(f"{folder}: {owner.note}")
        io.refuse_foreign(folder, {"study.json", "parts"}, "study", "size-")

        def kept():
            done = len(list((folder / io.PARTS).glob("size-*.json")))
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
                    points = _resumed(folder, size, key, notify) if resume else None
                    if points is None:
                        points = simulate_lineages(
                            scs, size, scs.agent.initial_size, row["defector_drive"],
                            study.solve, sim.values, sim.paths, sim.horizon, sc.seed,
                            progress=bar.update)
                        io.write_study_part(folder, size, {"key": key, "points": points})
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
    return summary_table(result) + f"\n-> {folder}/study.json"


def _resumed(folder, size, key, notify):
    """The points of a part written for the same work, else None (a damaged
    part is said, through ``notify``, and simulated again)."""
    try:
        data = io.read_study_part(folder, size)
    except DamagedError as exc:
        notify(f"{exc}: size {size} is simulated again")
        return None
    return data.get("points") if data is not None and data.get("key") == key else None


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
