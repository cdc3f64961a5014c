"""``substrate findings``: run the questions' jobs, then write the report.

Each question of ``scenarios/findings/`` names its jobs (a sweep, a run of
one sweep point with its lineages, a risk estimate, a study); each runs
through its own command's function (:func:`substrate.commands.sweep_command`,
:func:`~substrate.commands.run_command`,
:func:`substrate.risk_command.risk_command`,
:func:`substrate.study_command.study_command`) into its own sub-folder
``OUT/QUESTION/JOB/``, which that command claims, keeps in parts and
finishes with its manifest as it always does. The findings folder itself is
a :class:`simulation.jobs.JobFolder` of kind ``findings``: its marker holds
the tier and the identity of every question and job file, so a folder
started for other questions or another tier is refused, and ``resume``
finishes it: a job whose folder is complete is kept, an unfinished sweep,
risk estimate or study is resumed from its parts, an unfinished run is run
again. Sweeps and risk repetitions share one Dask cluster (local, of
``workers`` processes, or the scheduler at ``scheduler``); runs and studies
run in this process. SIGINT or SIGTERM end the command in one line saying
what is kept and how to finish it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from simulation import io
from simulation.errors import OutputError


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the cluster's
    workers count once it is closed)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@contextlib.contextmanager
def _cluster(workers, scheduler):
    """The scheduler address every sweep and risk estimate uses: the given
    one, or that of a local cluster of ``workers`` processes started once
    for the whole report (and closed at its end)."""
    if scheduler:
        yield scheduler
        return
    from simulation.cluster import connect

    with connect(workers) as client:
        yield client.scheduler.address


def job_folders(question, root: Path | str) -> dict:
    """Job name -> its folder under ``root`` (``root/QUESTION/JOB``)."""
    return {name: str(Path(root) / question.key / name) for name in question.jobs}


def _run_job(question, name: str, tier: str, folder: Path, scheduler: str, command,
             notify):
    """Run (or keep, or resume) one job into ``folder``; returns its loaded
    output."""
    from analysis.findings.spec import overrides

    from .commands import run_command, sweep_command
    from .risk_command import risk_command
    from .study_command import study_command

    job = question.jobs[name]
    if (folder / io.MANIFEST).is_file():
        try:
            return io.load(folder, kind=job.kind)  # finished earlier: kept
        except OutputError as exc:
            notify(f"{folder}: {exc}; the job runs again")
    folder.parent.mkdir(parents=True, exist_ok=True)
    started = folder.is_dir() and any(p.name.endswith("-run.json") or p.name == "sweep.json"
                                      for p in folder.iterdir())
    sizes = getattr(job, tier)
    path = str(question.job_path(name))
    common = {"out": str(folder), "overrides": overrides(sizes), "command": command,
              "notify": notify}
    if job.kind == "sweep":
        sweep_command(path, scheduler=scheduler, resume=started, replicates=sizes.replicates,
                      horizon=sizes.horizon, **common)
    elif job.kind == "run":
        run_command(path, point=job.point, replicates=sizes.replicates, horizon=sizes.horizon,
                    **common)
    elif job.kind == "risk":
        risk_command(path, event=job.event, method=job.method, score=job.score,
                     particles=sizes.particles or 100, repeats=sizes.repeats or 20, scheduler=scheduler, horizon=sizes.horizon,
                     solve=job.solve, target=job.target, resume=started, **common)
    else:
        study_command(path, resume=started, **common)
    return io.load(folder, kind=job.kind)


def check_questions(questions, tier: str) -> None:
    """Load every job's scenario at ``tier`` before anything is written
    (a mistake is one line naming its file and key)."""
    from analysis.findings.spec import overrides
    from simulation import load_scenario

    for q in questions:
        for name, job in q.jobs.items():
            sizes = getattr(job, tier)
            load_scenario(q.job_path(name), overrides(sizes), resolve_seed=False,
                          replicates=sizes.replicates,
                          horizon=sizes.horizon if job.kind != "risk" else None)


def findings_command(tier: str = "quick", *, out=None, workers=None, scheduler=None,
                     resume=False, only=None, folder=None, command=None,
                     notify=lambda text: None) -> str:
    """Run the questions' jobs at ``tier`` and write the report into the
    output folder (default ``results/findings-TIER``); returns the answers
    and the report's path. ``only``: question keys or numbers; ``folder``:
    another folder of question folders than the bundled one."""
    from analysis.findings import analyse, load_questions
    from analysis.findings.report import summary_text, write_report
    from analysis.findings.spec import identity
    from simulation.cluster import check_scheduler
    from simulation.jobs import FINDINGS, JobFolder

    from .commands import (_again, _cores, claim_out, holding, interruptible,
                           resume_command)

    questions = load_questions(only, folder)
    check_questions(questions, tier)
    if scheduler:
        check_scheduler(scheduler)
    command = list(command) if command is not None else ["substrate"] + sys.argv[1:]
    started, clock, cpu = io.now(), time.perf_counter(), _cpu_seconds()
    with claim_out(out, f"findings-{tier}", command, notify) as owner:
        folder = owner.folder  # from here on: the output folder
        report = JobFolder(FINDINGS, owner, notify)
        held = report.check(identity(questions, tier), resume)
        report.start(held, tier=tier, questions=[q.key for q in questions])
        total = sum(len(q.jobs) for q in questions)

        def kept():
            done = sum(1 for q in questions for name in q.jobs
                       if (folder / q.key / name / io.MANIFEST).is_file())
            return (f"{done} of {total} finished job(s) kept in {folder}; to finish: "
                    f"{resume_command(command) if command else _again(command)}")

        findings, outputs = {}, {}
        with holding(owner), interruptible(kept), _cluster(workers or _cores(),
                                                           scheduler) as address:
            for q in questions:
                outputs[q.key] = {name: _run_job(q, name, tier, folder / q.key / name, address,
                                                 command, notify) for name in q.jobs}
        # Numbers and commands name each job's folder as run alone: results/QUESTION/JOB.
        folders = {q.key: job_folders(q, "results") for q in questions}
        for q in questions:
            findings[q.key] = analyse(q, outputs[q.key], folders[q.key])
        manifest = io.provenance(
            "findings", owner.run_id, command=command, started=started,
            seconds=time.perf_counter() - clock, tier=tier,
            cpu_seconds=round(_cpu_seconds() - cpu, 1), workers=None if scheduler else
            (workers or _cores()), scheduler=scheduler,
            questions={q.key: {"jobs": {name: {"kind": job.kind, "file": job.file,
                                               "folder": f"{q.key}/{name}",
                                               "run_id": outputs[q.key][name].run_id}
                                        for name, job in q.jobs.items()},
                               "status": findings[q.key].status}
                       for q in questions})
        files = write_report(folder, questions, findings, tier, manifest, folders)
        report.finish(manifest, files + [f"{q.key}/" for q in questions])
    return (summary_text(questions, findings)
            + f"\nreport: {folder}/findings.html (and findings.md); outputs: {folder}/")
