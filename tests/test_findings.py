"""The findings report (``substrate findings``, scenarios/findings/).

Fast tests: the question files (every job's scenario loads at both tiers,
every reproducing command parses as the command line it names, mistakes are
one line naming file and key), the analyses' pieces against hand-computed
cases (the crossing rate, the climb of a lineage, the claim rule, question
6's reading of a gradual study), and one session run of the cheapest
questions at the quick tier (q3: runs with lineages and a sweep; q7: a
sweep): their claims must hold, the report must be whole, and a resume
must keep the finished jobs. The slow test runs the whole quick tier (about
6 minutes of CPU on 2 cores) and checks every claimed headline number.
"""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.findings import Number, claim_holds, load_questions
from analysis.findings.numbers import fmt
from analysis.findings.perfect import perfect_defence
from analysis.findings.report import markdown
from analysis.findings.spec import TIERS, job_command, questions_folder
from analysis.findings.landscapes import takeover_paths
from analysis.findings.variation import crossing
from simulation import io
from simulation.errors import OutputError, ScenarioError
from substrate.cli import cli
from substrate.findings_command import check_questions, findings_command

#: The questions the fast tier runs (the cheapest at the quick tier: about
#: 40 s of CPU together on 2 cores, a cold compile aside).
FAST = ["q3", "q7"]


def test_bundled_questions_load_at_every_tier():
    questions = load_questions()
    assert [q.number for q in questions] == [1, 2, 3, 4, 5, 6, 7]
    for tier in TIERS:
        check_questions(questions, tier)  # every job's scenario, as the tier sets it
    for q in questions:
        assert q.claims(), f"{q.key}: no claimed headline number"


def test_reproducing_commands_parse():
    """Each job's command, as the report prints it, is a valid command line
    of the command it names, on a file that exists."""
    root = questions_folder().parent.parent
    for q in load_questions():
        for name in q.jobs:
            for tier in TIERS:
                line = job_command(q, name, tier, f"results/{q.key}/{name}")
                assert line[0] == "substrate" and (root / line[2]).is_file(), line
                command = cli.commands[line[1]]
                command.make_context(line[1], line[2:])  # raises on a bad option


def test_risk_job_command_is_the_one_run():
    q6 = load_questions(["6"])[0]
    assert job_command(q6, "check", "quick", "results/x") == [
        "substrate", "risk", "scenarios/findings/q6_perfect_defence/check.yaml", "--out",
        "results/x", "--event", "takeover", "--particles", "50", "--repeats", "10"]


def _question_folder(tmp_path, text: str, files=("a.yaml",)):
    folder = tmp_path / "qs" / "q1_test"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_text("name: a\n")
    (folder / "question.yaml").write_text(text)
    return folder.parent


QUESTION = """
number: 1
title: T
question: Q?
claim: C.
headline: [{name: x, meaning: m, claim: [0, 1]}]
decision: D.
assumptions: [A]
limits: [L]
jobs:
  a: {kind: sweep, file: a.yaml}
"""


@pytest.mark.parametrize("change, says", [
    ("number: 1\nnumbre: 2\n", "numbre"),
    ("number: 1\n", None),
    ("  a: {kind: sweep, file: b.yaml}", "jobs.a.file: b.yaml is not in"),
    ("  a: {kind: run, file: a.yaml}", "point is given for a run job"),
    ("  a: {kind: study, file: a.yaml, quick: {replicates: 3}}",
     "quick: replicates does not apply to a study job"),
])
def test_question_file_mistakes_are_one_line(tmp_path, change, says):
    text = QUESTION
    if change.startswith("  a:"):
        text = text.replace("  a: {kind: sweep, file: a.yaml}", change)
    elif change != "number: 1\n":
        text = text.replace("number: 1\n", change)
    folder = _question_folder(tmp_path, text)
    if says is None:
        assert load_questions(folder=folder)[0].key == "q1_test"
        return
    with pytest.raises(ScenarioError) as err:
        load_questions(folder=folder)
    message = str(err.value)
    assert "question.yaml" in message and says in message and "\n" not in message


def test_unknown_question_is_refused():
    with pytest.raises(ScenarioError, match="question q9: no such question"):
        load_questions(["q9"])
    result = CliRunner().invoke(cli, ["findings", "--only", "q9"])
    assert result.exit_code == 2 and "error: question q9: no such question" in result.output
    result = CliRunner().invoke(cli, ["findings", "--workers", "1", "--scheduler", "tcp://x:1"])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_crossing_rate_by_hand():
    # P 0.02 at 1e-4, 0.08 at 2e-4: level 0.04 is halfway in log P, so
    # halfway in log rate: sqrt(1e-4 * 2e-4).
    rate, where = crossing([1e-4, 2e-4, 4e-4], [0.02, 0.08, 0.5], 0.04)
    assert where == "inside" and rate == pytest.approx(math.sqrt(2e-8))
    # From P = 0 the interpolation is linear in P: 0.1 of the way to P = 0.4.
    rate, _ = crossing([1e-4, 1e-3], [0.0, 0.4], 0.04)
    assert rate == pytest.approx(math.exp(math.log(1e-4) + 0.1 * math.log(10)))
    assert crossing([1e-4, 1e-3], [0.2, 0.4], 0.1) == (1e-4, "below")
    assert crossing([1e-4, 1e-3], [0.0, 0.05], 0.1) == (1e-3, "above")


def test_claim_rule():
    number = Number("x", "x", 0.5, 0.3, 0.7)
    assert claim_holds(number, (0.6, 1.0)) and claim_holds(number, (0.0, 0.3))
    assert not claim_holds(number, (0.71, 1.0)) and not claim_holds(number, (0.0, 0.29))
    assert claim_holds(Number("b", "b", 4.0), (4, 4))
    assert not claim_holds(Number("b", "b", 3.0), (4, 4))
    assert claim_holds(Number("lower", "lower", 1.0, 1.0, None), (5.0, 9.0))  # a bound only


def test_takeover_path_by_hand():
    """Replicate 0: a resident (drive 0.1) -> 0.3 -> 0.3 (no drive change)
    -> 0.6 (the defector, 2 of 3 errors change drive); replicate 1: one jump
    0.1 -> 0.8; replicate 2 is not taken over."""
    clones = pd.DataFrame({
        "replicate": [0, 0, 0, 0, 0, 1, 1, 2],
        "clone": [0, 1, 2, 3, 4, 0, 1, 0],
        "parent": [-1, 0, 1, 2, 0, -1, 0, -1],
        "drive": [0.1, 0.3, 0.3, 0.6, 0.7, 0.1, 0.8, 0.1],
        "final_count": [10, 0, 0, 500, 3, 10, 900, 5]})
    runs = pd.DataFrame({"replicate": [0, 1, 2], "takeover": [True, True, False]})
    paths = takeover_paths(clones, runs, 0.5).set_index("replicate")
    assert list(paths.index) == [0, 1]
    assert paths.loc[0, "copy_errors"] == 3 and paths.loc[0, "drive_errors"] == 2
    assert paths.loc[0, "crossing_step"] == pytest.approx(0.3)
    assert paths.loc[0, "largest_step"] == pytest.approx(0.3) and not paths.loc[0, "jump"]
    assert paths.loc[1, "jump"] and paths.loc[1, "crossing_step"] == pytest.approx(0.7)


class _Loaded:
    def __init__(self, data):
        self.data = data


def _study(physics=None, value=0.8, sim=None):
    study = {"study": {"solve": "immune.efficacy", "target": 1e-6, "sizes": [10**4, 10**6],
                       "horizons": [10**3, 10**6],
                       "simulate": {"values": [0.3, 0.5, 1.0]}}}
    if physics is None:  # this version's single-hit study on gradual physics: n/a cells
        study["theory"] = [{"size": n, "horizon": t, "efficacy": None, "applicable": False}
                           for n in (10**4, 10**6) for t in (10**3, 10**6)]
        return study
    study["physics"] = physics
    study["theory"] = [{"size": n, "horizon": t, "trusted": True, "reason": None,
                        "value": value if (n, t) == (10**6, 10**6) else 0.4}
                       for n in (10**4, 10**6) for t in (10**3, 10**6)]
    study["simulated"] = [{"size": 10**4, "defence": [
        {"horizon": 10**3, "value": sim, "low": 0.35, "high": 0.45}]}] if sim else []
    return study


def _q6(study, direct=(0.008, 0.005, 0.012)):
    q6 = load_questions(["6"])[0]
    risk = {"horizon": 2000, "p": 0.006, "low": 0.003, "high": 0.017, "interval": "Cox"}
    paths = {"p": direct[0], "low": direct[1], "high": direct[2], "particles": 400,
             "repeats": 10}
    outputs = {"check": _Loaded(risk), "direct": _Loaded(paths), "study": _Loaded(study)}
    return perfect_defence(q6, outputs, {})


def test_perfect_defence_never_answers_from_the_single_hit_theory():
    finding = _q6(_study())
    assert finding.status == "waiting"
    assert "Not answered yet" in finding.answer and "0.006" in finding.answer
    assert "agreeing with direct simulation (0.008 [0.005, 0.012])" in finding.answer
    assert not any(n.name == "defence_needed" for n in finding.numbers)
    assert finding.number("direct_check").label.endswith("(4000 paths)")
    apart = _q6(_study(), direct=(0.05, 0.04, 0.06))
    assert "at odds with direct simulation" in apart.answer


def test_perfect_defence_reads_the_gradual_study():
    finding = _q6(_study("gradual", value=0.8, sim=0.41))
    assert finding.status == "answered"
    goal = finding.number("defence_needed")
    assert goal.value == 0.8 and goal.low is None  # theory: no interval at 10^6
    assert finding.number("simulated_N10000_T1000").low == 0.35
    assert "needs immune.efficacy 0.800" in finding.answer
    assert "0.400 at N = 10000" in finding.answer
    assert "0.410 [0.350, 0.450] at N = 10000, T = 1000" in finding.answer
    beyond = _q6(_study("gradual", value=None))
    goal = beyond.number("defence_needed")
    assert goal.value == 1.0 and goal.high is None
    assert "perfect cancer fighting is out of reach" in beyond.answer


def test_markdown_blocks():
    text = markdown([("h2", "1. T"), ("p", "**A.** b"), ("table", ["x", "y"], [["1|2", "3"]]),
                     ("ul", ["a", "b"]), ("code", "substrate run x")])
    assert text == ("## 1. T\n\n**A.** b\n\n| x | y |\n|---|---|\n| 1\\|2 | 3 |\n\n"
                    "- a\n- b\n\n```\nsubstrate run x\n```\n")
    assert fmt(0.0063, 2) == "0.0063" and fmt(0.5) == "0.500" and fmt(None) == "n/a"
    assert fmt(2e-6, 2) == "2.0e-06"


@pytest.fixture(scope="module")
def fast_report(tmp_path_factory):
    """The fast questions at the quick tier, one local worker."""
    out = tmp_path_factory.mktemp("findings") / "report"
    text = findings_command("quick", out=str(out), workers=1, only=FAST,
                            command=["substrate", "findings", "--only", ",".join(FAST)])
    return out, text


def _claims_hold(data: dict):
    for key, q in data["questions"].items():
        assert q["answer"], key
        for name, claim in q["claims"].items():
            number = next(n for n in q["numbers"] if n["name"] == name)
            assert claim["holds"], (
                f"{key}: {name} = {number['value']} [{number['low']}, {number['high']}] "
                f"refutes the claim {claim['range']}")


def test_fast_questions_hold_their_claims(fast_report):
    out, text = fast_report
    data = json.loads((out / "findings.json").read_text())
    assert sorted(data["questions"]) == ["q3_landscapes", "q7_drift_vs_cancer"]
    for key, q in data["questions"].items():
        claimed = {h.name for h in load_questions([key])[0].headline if h.claim}
        assert claimed <= set(q["claims"]), key  # every claimed number was computed
        assert q["status"] == "answered"
    _claims_hold(data)
    assert "3. Landscapes and jumps:" in text and "7. Drift versus cancer:" in text


def test_fast_report_is_whole(fast_report):
    out, _ = fast_report
    loaded = io.load(out)
    assert loaded.kind == "findings" and loaded.data["tier"] == "quick"
    page = (out / "findings.md").read_text()
    html = (out / "findings.html").read_text()
    for title in ("3. Landscapes and jumps", "7. Drift versus cancer"):
        assert f"## {title}" in page and title in html
    assert "substrate run scenarios/findings/q3_landscapes/kernels.yaml --out " \
           "results/q3_landscapes/normal --point 0 --replicates 20" in page
    assert (out / "figures" / "findings-q3_landscapes.png").stat().st_size > 10_000
    assert "data:image/png;base64," in html
    manifest = json.loads((out / io.MANIFEST).read_text())
    assert manifest["kind"] == "findings" and manifest["tier"] == "quick"
    assert set(manifest["questions"]["q3_landscapes"]["jobs"]) == {"normal", "cauchy",
                                                                   "realisations"}


def test_resume_keeps_finished_jobs(fast_report, tmp_path):
    out, _ = fast_report
    with pytest.raises(OutputError, match="already holds this findings report"):
        findings_command("quick", out=str(out), workers=1, only=FAST)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = json.loads((copy / io.MANIFEST).read_text())["questions"]
    findings_command("quick", out=str(copy), workers=1, only=FAST, resume=True)
    after = json.loads((copy / io.MANIFEST).read_text())["questions"]
    assert after == before  # the same jobs (run identities): none was run again
    with pytest.raises(OutputError, match="holds a different findings report"):
        findings_command("quick", out=str(copy), workers=1, only=["q3"], resume=True)


def test_docs_page_answers_every_question():
    """docs/findings.md (docs/make_findings.py) holds every bundled question
    with its answer and figure: a question added without regenerating the
    page fails here."""
    root = questions_folder().parent.parent
    page = (root / "docs" / "findings.md").read_text()
    assert "made by `substrate findings" in page
    for q in load_questions():
        assert f"## {q.number}. {q.title}" in page, q.key
        assert (root / "docs" / "figures" / f"findings-{q.key}.png").is_file(), q.key
    assert page.count("**Answer.**") == len(load_questions())


@pytest.mark.slow
def test_quick_tier_holds_every_claim(tmp_path):
    """The whole quick tier (about 6 minutes of CPU on 2 cores): every
    question answered (question 6 may wait for the gradual study) and every
    claimed headline number within its claim."""
    out = tmp_path / "quick"
    findings_command("quick", out=str(out), workers=2)
    data = json.loads((out / "findings.json").read_text())
    assert len(data["questions"]) == 7
    for key, q in data["questions"].items():
        assert q["status"] == "answered" or key == "q6_perfect_defence", key
    _claims_hold(data)



def test_a_range_without_an_upper_end_says_so():
    # The study's simulated range reaching the top of the values simulated
    # (high None): it printed '>0.260', its own lower end, as if that were
    # the upper bound.
    from analysis.findings.numbers import interval_text

    number = Number("x", "efficacy needed", 0.267, 0.26, None, "95% range")
    assert interval_text(number) == "0.267 [0.260, beyond the values simulated]"
    assert interval_text(Number("y", "p", 0.5, 0.4, 0.6, "95% CI")) == "0.500 [0.400, 0.600]"
