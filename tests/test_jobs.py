"""One job folder (simulation/jobs.py) for sweep, risk and study: the same
resume rule for every job (a part that is missing, damaged, truncated, of
another run or of another type is run again, and said once; the others are
kept), and ``load`` opening any output folder by its manifest's kind."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from simulation import io
from simulation.errors import DamagedError, OutputError
from simulation.jobs import RISK, STUDY, SWEEP, JobFolder, json_part, parquet_part
from substrate.cli import cli
from tests.scenario_texts import SMALL, SWEEP as SWEEP_TEXT


def substrate(*args, cwd, timeout=600):
    """`substrate ...` as its own process: (exit status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "substrate", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


#: The damages a part can suffer, applied to a part's file: each makes it
#: unusable in another way (a cut file, the right format holding the wrong
#: type, not the format at all).
DAMAGES = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[:40]),
    "a JSON list": lambda path: path.write_text("[1, 2]"),
    "garbage": lambda path: path.write_bytes(b"\x00\xffnot a part\x13" * 7),
}


# --- the rule, on parts made by hand ------------------------------------------

def parquet(path, run_id, columns):
    return io.write_parquet(pd.DataFrame(columns), path, run_id)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "parts").mkdir()
    return tmp_path


def test_parquet_parts_kept_or_run_again(folder):
    """A unit (timeseries part, then runs part) is kept when both footers
    read, carry the run identity and name the table's key columns; a unit
    without its runs part is unfinished (no note); the other four are damaged,
    all said in one note (the first three named)."""
    job = JobFolder(SWEEP, io.Claim(folder, "r1"), (notes := []).append)
    runs = {"point": [0], "replicate": [0]}
    ts = runs | {"tick": [0], "mean_drive": [0.1]}
    names = {u: [f"p00000{u}-b000000-timeseries.parquet", f"p00000{u}-b000000-runs.parquet"]
             for u in range(6)}
    for u in range(6):
        parquet(job.part(names[u][0]), "r1", ts)
        parquet(job.part(names[u][1]), "r1", runs)
    DAMAGES["truncated"](job.part(names[1][1]))
    parquet(job.part(names[2][0]), "r0", ts)                # another run's
    parquet(job.part(names[3][1]), "r1", {"x": [1.0]})      # not a runs table
    DAMAGES["garbage"](job.part(names[4][0]))
    job.part(names[5][1]).unlink()                          # unfinished
    kept = job.kept(names, parquet_part("r1"), label=lambda u: f"p{u}")
    assert kept == {0: 1}
    assert notes == [f"{folder.resolve()}: 4 finished unit(s) have a damaged or unreadable "
                     "part (p1, p2, p3 ...): run again"]
    with pytest.raises(DamagedError, match=r"parts/p000001-b000000-runs.parquet is damaged "
                                           r"\(.*\); resume"):
        job.rows([names[0][1], names[1][1]], parquet_part("r1"), "resume")


@pytest.mark.parametrize("damage", [*DAMAGES, "of another run", "another payload"])
def test_json_parts_kept_or_run_again(folder, damage):
    job = JobFolder(RISK, io.Claim(folder, "r1"), (notes := []).append)
    read = json_part({"run_id": "r1", "identity": "i"}, "result", dict)
    for r in range(2):
        path = job.part(f"risk-i-r{r:06d}.json")
        path.write_text(json.dumps({"run_id": "r1", "identity": "i", "result": {"r": r}}))
    part = job.part("risk-i-r000001.json")
    if damage in DAMAGES:
        DAMAGES[damage](part)
    elif damage == "of another run":
        part.write_text(json.dumps({"run_id": "r0", "identity": "i", "result": {}}))
    else:
        part.write_text(json.dumps({"run_id": "r1", "identity": "i", "result": [1]}))
    units = {r: [f"risk-i-r{r:06d}.json"] for r in range(3)}
    assert job.kept(units, read, label=lambda r: f"r{r:06d}") == {0: {"r": 0}}
    assert len(notes) == 1 and "1 finished repetition(s) have a damaged or unreadable " \
        "part (r000001): run again" in notes[0]


def test_a_job_folder_is_refused_when_it_holds_another_request_or_command(tmp_path):
    """The identity in the marker: another request is refused; this one
    only with resume (then the run identity it started with is kept);
    a new job refuses another command's files."""
    with io.claim(tmp_path / "o") as owner:
        job = JobFolder(STUDY, owner)
        assert job.check("a", resume=False) is None
        job.start(None, scenario="s", seed=1)
        first = owner.run_id
        assert json.loads((owner.folder / "study-run.json").read_text()) == {
            "identity": "a", "run_id": first, "scenario": "s", "seed": 1}
    with io.claim(tmp_path / "o") as owner:
        job = JobFolder(STUDY, owner)
        with pytest.raises(OutputError, match="holds a different study .*identity a; this one "
                                              "is b"):
            job.check("b", resume=True)
        with pytest.raises(OutputError, match="already holds this study; resume it"):
            job.check("a", resume=False)
        assert job.check("a", resume=True)["run_id"] == first == owner.run_id
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "runs.parquet").write_text("a run's")
    with io.claim(tmp_path / "p") as owner:
        with pytest.raises(OutputError, match=r"holds other files \(runs.parquet\), not a "
                                              "sweep output"):
            JobFolder(SWEEP, owner).check("a", resume=False)


# --- the rule, for every job: damage a part, resume, the same result ----------

@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A complete sweep (6 units), risk estimate (3 repetitions), study (2
    sizes) and run, made once."""
    where = tmp_path_factory.mktemp("jobs")
    (where / "sw.yaml").write_text(SWEEP_TEXT)
    (where / "small.yaml").write_text(SMALL)
    (where / "mission.yaml").write_text(MISSION)
    for args in (("sweep", "sw.yaml", "--out", "sweep", "--block-size", 1),
                 ("run", "small.yaml", "--out", "run"),
                 ("risk", "mission.yaml", *RISK_ARGS, "--out", "risk"),
                 ("study", "defence_scaling", *STUDY_ARGS, "--out", "study")):
        status, _, err = substrate(*args, cwd=where)
        assert status == 0, err
    return where


MISSION = """\
seed: 5
horizon: 60
agent: {capacity: 100, initial_size: 80, initial_traits: {drive: 0.1}, birth_rate: 0.2,
        death_rate: 0.1, escape_threshold: 0.5, takeover_fraction: 0.5}
copy: {error_rate: 0.01, traits: [drive], kernel: {type: step, size: 0.5, direction: up}}
immune: {surveillance: 1.0, efficacy: 0.17, tolerance: 0.2, traits: [drive]}
"""
RISK_ARGS = ("--method", "direct", "--particles", "20", "--repeats", "3")
STUDY_ARGS = ("--set", "study.sizes=[1000, 10000]", "--set", "study.horizons=[1000]",
              "--set", "study.simulate.sizes=[1000, 10000]",
              "--set", "study.simulate.values=[0.0, 0.2]", "--set", "study.simulate.paths=20",
              "--set", "study.simulate.horizon=300")
#: Per job: the command that resumes it, the part damaged, what the note
#: says, and the result compared (timings aside).
RESUMED = {
    "sweep": (("sweep", "sw.yaml", "--block-size", 1), "p000001-b000000-runs.parquet",
              "1 finished unit(s) have a damaged or unreadable part (p000001-b000000): "
              "run again", lambda f: io.load(f).runs),
    "risk": (("risk", "mission.yaml", *RISK_ARGS), "risk-*-r000001.json",
             "1 finished repetition(s) have a damaged or unreadable part (r000001): "
             "run again", lambda f: io.load(f).data["repeat_estimates"]),
    "study": (("study", "defence_scaling", *STUDY_ARGS), "size-1000.json",
              "parts/size-1000.json is damaged", lambda f: io.load(f).data["simulated"]),
}


@pytest.mark.parametrize("kind", RESUMED)
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_part_is_run_again_on_resume(made, tmp_path, kind, damage):
    """Whatever the job and the damage, resuming runs the damaged unit again
    (its part is rewritten whole), keeps the others (their files untouched),
    says so in one note, and gives the result of the undamaged folder."""
    args, pattern, note, result = RESUMED[kind]
    folder = shutil.copytree(made / kind, tmp_path / kind)
    for name in ("sw.yaml", "mission.yaml"):
        shutil.copy(made / name, tmp_path / name)
    before = result(folder)
    (part,) = (folder / "parts").glob(pattern)
    unit = part.name[:15] if kind == "sweep" else part.name  # a sweep's unit: two parts
    others = {p.name: p.stat().st_mtime_ns for p in (folder / "parts").iterdir()
              if not p.name.startswith(unit)}
    assert others
    DAMAGES[damage](part)
    status, _, err = substrate(*args, "--out", kind, "--resume", cwd=tmp_path)
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: ") and note in lines[0], err
    after = result(folder)
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(after, before)
    else:
        assert after == before
    assert {name: (folder / "parts" / name).stat().st_mtime_ns for name in others} == others
    assert part.stat().st_size > 40


# --- load, by the manifest's kind ---------------------------------------------

def validation_folder(tmp_path):
    """A validation output as ``substrate validate`` writes it (its table
    and manifest; two checks made up)."""
    table = pd.DataFrame({"check": ["a", "b"], "passed": [True, False]})
    with io.claim(tmp_path / "validation") as owner:
        manifest = io.provenance("validation", owner.run_id, tier="quick")
        io.write_parquet(table, owner.folder / "validation.parquet", owner.run_id,
                         io.key_provenance(manifest))
        manifest["files"] = ["validation.parquet", io.MANIFEST]
        io.write_manifest(owner.folder, manifest)
    return tmp_path / "validation", table


def test_load_opens_every_kind_of_output(made, tmp_path):
    """``load`` dispatches on the manifest's kind: the runs of a run or a
    sweep, the result of a risk estimate, a study or a validation."""
    for kind in ("run", "sweep"):
        results = io.load(made / kind)
        assert isinstance(results, io.Results) and results.kind == kind
        assert results.run_id == json.loads((made / kind / io.MANIFEST).read_text())["run_id"]
    assert len(io.load(made / "sweep").runs) == 6
    risk = io.load(made / "risk")
    assert isinstance(risk, io.Output) and risk.kind == "risk"
    assert risk.data == json.loads((made / "risk" / "risk.json").read_text())
    assert risk.manifest["files"] == ["risk.json", "risk-run.json", "parts/", io.MANIFEST]
    study = io.load(made / "study")
    assert study.kind == "study" and study.data["study"]["sizes"] == [1000, 10000]
    assert io.load_study(made / "study") == study.data
    folder, table = validation_folder(tmp_path)
    validation = io.load(folder)
    assert validation.kind == "validation"
    pd.testing.assert_frame_equal(validation.data, table)


def test_load_refuses_another_kind_and_unfinished_jobs(made, tmp_path):
    with pytest.raises(OutputError, match="holds a study output, not a run or sweep output"):
        io.load(made / "study", kind=("run", "sweep"))
    with pytest.raises(OutputError, match="holds a run output, not a study output"):
        io.load(made / "run", kind="study")
    with pytest.raises(OutputError, match="no study.json \\(not an output of 'substrate "
                                          "study', or the study has not finished\\)"):
        io.load(tmp_path, kind="study")
    for kind, writer in (("risk", "risk estimate"), ("study", "study"), ("sweep", "sweep")):
        folder = shutil.copytree(made / kind, tmp_path / kind)
        (folder / io.MANIFEST).unlink()
        if kind != "sweep":
            (folder / f"{kind}.json").unlink()  # as a job killed while it resumes
        with pytest.raises(OutputError, match=f"no manifest.json: the {writer} that writes "
                                              "it has not finished"):
            io.load(folder)


def test_load_reads_a_risk_or_study_folder_of_the_earlier_layout(made, tmp_path):
    """Before the job folder, risk and study folders had no manifest (and a
    study no marker): their result, which holds its provenance, is read."""
    for kind in ("risk", "study"):
        folder = shutil.copytree(made / kind, tmp_path / kind)
        (folder / io.MANIFEST).unlink()
        if kind == "study":
            (folder / "study-run.json").unlink()
        old = io.load(folder)
        assert old.kind == kind and old.data == io.load(made / kind).data
        assert old.run_id == io.load(made / kind).run_id


def test_a_study_of_the_earlier_layout_resumes_keeping_its_parts(made, tmp_path):
    folder = shutil.copytree(made / "study", tmp_path / "study")
    (folder / io.MANIFEST).unlink()
    (folder / "study-run.json").unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in (folder / "parts").iterdir()}
    res = CliRunner().invoke(cli, ["study", "defence_scaling", *STUDY_ARGS, "--out",
                                   str(folder), "--resume"])
    assert res.exit_code == 0, res.output
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "parts").iterdir()} == stamps
    assert io.load(folder).data["simulated"] == io.load(made / "study").data["simulated"]
