"""The findings' question files: ``scenarios/findings/<question>/question.yaml``.

Each question folder holds the scenario files its jobs run and a
``question.yaml`` stating the question, the claim, the headline numbers
(each with the range the claim puts it in: the test of the claim), how the
answer is decided from the numbers, the assumptions and limits, and the jobs
with their sizes per tier (``quick``, ``full``). This module reads and checks
them (a mistake is one :class:`~simulation.errors.ScenarioError` line naming
the file and key) and turns a job at a tier into the command line that runs
it alone.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulation.errors import ScenarioError
from simulation.loading import read_text, read_yaml

#: The tiers: ``quick`` (every answer at lower precision, minutes on two
#: cores) and ``full`` (the documentation's, sized for a cluster).
TIERS = ("quick", "full")
#: Job kinds: the command each runs (``run`` only for one sweep point with
#: its lineages, which sweeps do not keep).
KINDS = ("sweep", "run", "risk", "study")
#: Per kind, the tier settings it takes besides ``set``.
TIER_KEYS = {"sweep": {"replicates", "horizon"}, "run": {"replicates", "horizon"},
             "risk": {"particles", "repeats", "horizon"}, "study": set()}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tier(_Spec):
    """A job's sizes at one tier (None: the file's own)."""

    replicates: Optional[Annotated[int, Field(ge=1)]] = None
    """Replicates (sweep, run)."""
    horizon: Optional[Annotated[int, Field(ge=1)]] = None
    """Ticks (every kind but study)."""
    particles: Optional[Annotated[int, Field(ge=2)]] = None
    """Particles per repetition (risk)."""
    repeats: Optional[Annotated[int, Field(ge=2)]] = None
    """Repetitions (risk)."""
    set: dict[str, Any] = Field(default_factory=dict)
    """Scenario keys overridden (``--set KEY=VALUE``)."""


class Job(_Spec):
    """One unit of the question's work: one output folder."""

    kind: Literal[KINDS]
    file: str
    """The scenario file, in the question's folder."""
    point: Optional[Annotated[int, Field(ge=0)]] = None
    """run: the sweep point run (with its seeds), its lineages kept."""
    event: str = "takeover"
    """risk: the event."""
    method: Literal["splitting", "direct"] = "splitting"
    """risk: splitting, or direct Monte Carlo (``particles`` paths per repetition)."""
    score: Optional[str] = None
    """risk: the splitting score (default: the command's)."""
    solve: Optional[str] = None
    """risk: the key solved for ``target``."""
    target: Optional[float] = None
    """risk: the target probability of ``solve``."""
    quick: Tier = Field(default_factory=Tier)
    full: Tier = Field(default_factory=Tier)

    @model_validator(mode="after")
    def _fits_kind(self):
        if (self.point is None) == (self.kind == "run"):
            raise ValueError("point is given for a run job (the sweep point it runs) and "
                             "only for one")
        if self.kind != "risk" and (self.solve or self.target or self.score
                                    or self.method != "splitting"):
            raise ValueError("method, solve, target and score belong to risk jobs")
        for tier in TIERS:
            given = {k for k, v in getattr(self, tier) if v is not None and k != "set"}
            extra = sorted(given - TIER_KEYS[self.kind])
            if extra:
                raise ValueError(f"{tier}: {', '.join(extra)} does not apply to a "
                                 f"{self.kind} job")
        return self


class Headline(_Spec):
    """A number the answer reads, and the range its claim puts it in."""

    name: str
    meaning: str
    claim: Optional[Annotated[list[float], Field(min_length=2, max_length=2)]] = None
    """[low, high]: the claim is refuted when the number's interval lies wholly
    outside (None: reported, not claimed)."""


class Question(_Spec):
    """A question of the findings report (``question.yaml``)."""

    number: Annotated[int, Field(ge=1, le=99)]
    title: str
    question: str
    claim: str
    headline: Annotated[list[Headline], Field(min_length=1)]
    decision: str
    """How the one-or-two-sentence answer is decided from the numbers."""
    assumptions: list[str]
    limits: list[str]
    jobs: Annotated[dict[str, Job], Field(min_length=1)]
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Settings of the question's analysis (levels, horizons)."""
    waiting: Optional[str] = None
    """What the answer waits for, if the machinery it needs is not there yet."""
    # Set when read:
    key: str = ""
    folder: Path = Path(".")

    def job_path(self, name: str) -> Path:
        return self.folder / self.jobs[name].file

    def claims(self) -> dict:
        """Headline name -> its claimed [low, high] (claimed numbers only)."""
        return {h.name: tuple(h.claim) for h in self.headline if h.claim is not None}


def questions_folder() -> Path:
    """The bundled ``scenarios/findings`` folder."""
    return Path(str(resources.files("scenarios") / "findings"))


def question_keys(folder: Path | None = None) -> list[str]:
    """The question folders (``q1_variation`` ...), in order."""
    folder = folder or questions_folder()
    return sorted((p.name for p in folder.iterdir() if (p / "question.yaml").is_file()),
                  key=lambda k: (int(k[1:].split("_")[0]) if k[1:2].isdigit() else 99, k))


def _message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def load_question(folder: Path) -> Question:
    """Read and check one question folder's ``question.yaml``.

    Raises
    ------
    ScenarioError
        The file is missing or malformed, a key is unknown or wrong, or a
        job's scenario file is not in the folder (the message names them).
    """
    folder = Path(folder)
    path = folder / "question.yaml"
    if not path.is_file():
        raise ScenarioError(f"{folder}: no question.yaml")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping of question keys")
    try:
        question = Question.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {_message(exc)}") from None
    for name, job in question.jobs.items():
        if not (folder / job.file).is_file():
            raise ScenarioError(f"{path}: jobs.{name}.file: {job.file} is not in {folder}")
    question.key, question.folder = folder.name, folder
    return question


def load_questions(only=None, folder: Path | None = None) -> list[Question]:
    """The questions (all, or those whose key or number ``only`` names:
    ``q1``, ``1`` or ``q1_variation``), in order.

    Raises
    ------
    ScenarioError
        A name in ``only`` that is no question, or a question file in error.
    """
    folder = folder or questions_folder()
    keys = question_keys(folder)
    if only:
        chosen = []
        for name in only:
            found = [k for k in keys if name in (k, k.split("_")[0], k.split("_")[0][1:])]
            if not found:
                raise ScenarioError(f"question {name}: no such question (questions: "
                                    f"{', '.join(keys)})")
            chosen += [k for k in found if k not in chosen]
        keys = [k for k in keys if k in chosen]
    return [load_question(folder / k) for k in keys]


def overrides(tier: Tier) -> list[str]:
    """A tier's ``set`` as ``KEY=VALUE`` overrides (values as JSON: flow YAML)."""
    return [f"{key}={json.dumps(value)}" for key, value in tier.set.items()]


def job_command(question: Question, name: str, tier: str, out: str) -> list[str]:
    """The command line that runs job ``name`` of ``question`` at ``tier``
    alone into ``out`` (as ``substrate findings`` runs it)."""
    job = question.jobs[name]
    sizes = getattr(job, tier)
    path = f"scenarios/findings/{question.key}/{job.file}"
    line = ["substrate", job.kind, path, "--out", out]
    if job.kind == "run":
        line += ["--point", str(job.point)]
    if job.kind == "risk":
        line += ["--event", job.event]
        if job.method != "splitting":
            line += ["--method", job.method]
        for option, value in (("--score", job.score), ("--solve", job.solve),
                              ("--target", job.target), ("--particles", sizes.particles),
                              ("--repeats", sizes.repeats)):
            if value is not None:
                line += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    for option, value in (("--replicates", sizes.replicates), ("--horizon", sizes.horizon)):
        if value is not None:
            line += [option, str(value)]
    for text in overrides(sizes):
        line += ["--set", text]
    return line


def shown(line: list[str]) -> str:
    """A command line as typed in a shell."""
    return shlex.join(line)


def identity(questions: list[Question], tier: str) -> str:
    """What a findings folder was started for: the tier and the text of every
    question file and job file (16 hex digits of their SHA-256)."""
    digest = hashlib.sha256(tier.encode())
    for q in questions:
        digest.update(q.key.encode())
        for path in [q.folder / "question.yaml"] + [q.job_path(n) for n in q.jobs]:
            digest.update(read_text(path).encode())
    return digest.hexdigest()[:16]
