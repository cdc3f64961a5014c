"""One job folder: a job's identity, parts, resume, visibility check and finish.

A *job* (a sweep, a risk estimate, a study) is cut into units of work, and
each unit's result is a *part* of the job's output folder: a file under
``parts/`` written atomically by the process that ran the unit (the driver,
or a Dask worker that sees the folder at the same path). An interrupted job
(Ctrl-C, SIGTERM, ``kill -9``, a lost cluster) therefore loses only the units
in flight, and resuming it runs only the others. :class:`JobFolder` does this
one way for every job:

identity
    Before any part, the job's *marker* (``sweep.json``, ``risk-run.json``,
    ``study-run.json``) records what the folder was started for (a hash of
    the request: its ``identity``) and the folder's run identity. A folder
    holding another request is refused; one holding this request is resumed
    only when asked, and keeps the run identity it started with
    (:meth:`~simulation.io.Claim.adopt`). A new job needs a folder that holds
    nothing of another command (:func:`~simulation.io.refuse_foreign`).
claim
    The folder's one owner is the driver's :class:`~simulation.io.Claim`
    (:func:`~simulation.io.claim`); the workers write parts only.
parts
    ``parts/NAME``, one file per unit (a sweep's unit has two: its
    timeseries, then its runs table, which marks it finished), each written
    atomically and carrying the job's *stamp*: the run identity (in a
    Parquet part's schema metadata, or a JSON part's ``run_id``), and for
    JSON parts what the unit was run from.
resume
    A part present, readable, of its type and carrying its stamp is kept.
    Any other (damaged, truncated, empty, of another run or request, of
    another type: a risk part that is a JSON list) is run again, and said
    once through ``notify``: the same rule for every job.
visibility
    A worker first checks that it sees the driver's folder
    (:func:`check_visible`: the marker there names this run identity).
finish
    The job writes its consolidated outputs, then :meth:`JobFolder.finish`
    writes ``manifest.json`` last: its presence marks the folder complete,
    and :func:`simulation.io.load` dispatches on its ``kind``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import socket
from pathlib import Path

import pyarrow as pa

from . import io
from .errors import DamagedError, OutputError


@dataclasses.dataclass(frozen=True)
class Job:
    """What a kind of job keeps in its folder.

    Attributes
    ----------
    kind : str
        The manifest's ``kind``.
    marker : str
        The file of the job's identity and run identity.
    prefix : str
        The names of its parts in ``parts/`` start with it.
    results : tuple of str
        The result files its finish writes (besides the manifest), removed
        when the job starts again: a folder being finished is never complete
        (a sweep's consolidated tables are written over in place).
    what : str
        How messages name the job (``a sweep``, ``this risk estimate``).
    noun : str
        How messages name a unit.
    """

    kind: str
    marker: str
    prefix: str
    results: tuple
    what: str
    noun: str


SWEEP = Job("sweep", "sweep.json", "p", (), "sweep", "unit")
RISK = Job("risk", "risk-run.json", "risk-", ("risk.json",), "risk estimate", "repetition")
STUDY = Job("study", "study-run.json", "size-", ("study.json",), "study", "size")
JOBS = {job.kind: job for job in (SWEEP, RISK, STUDY)}


def request_identity(text: str) -> str:
    """The identity of a request (or of a unit's inputs) given as text: the
    first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PartError(Exception):
    """A part that cannot be kept (its reason, for the note)."""


def read_marker(folder, job: Job) -> dict | None:
    """The job's marker in ``folder`` (None if there is none).

    Raises
    ------
    OutputError
        The marker is unreadable or not a JSON object.
    """
    path = Path(folder) / job.marker
    if not path.exists():
        return None
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        held = None
    if not isinstance(held, dict):
        raise OutputError(f"output folder {folder}: {job.marker} is unreadable; remove the "
                          "folder or choose another")
    return held


def check_visible(folder, job: Job, run_id: str) -> Path:
    """Check, on a worker, that ``folder`` is the driver's: its marker names
    ``run_id`` and its ``parts/`` exists. Returns the folder.

    Raises
    ------
    OutputError
        The worker does not see the folder (it is not shared with the
        driver), or the folder there holds another job.
    """
    folder = Path(folder)
    try:
        held = (read_marker(folder, job) or {}).get("run_id")
    except OutputError:  # unreadable: not the driver's
        held = None
    if held != run_id or not (folder / io.PARTS).is_dir():
        raise OutputError(
            f"output folder {folder}: not visible from the worker on "
            f"{socket.gethostname()} (or it holds another {job.what} there): the workers "
            "must see the output folder at the same path, on a shared file system")
    return folder


def write_json_part(folder, name: str, run_id: str, stamp: dict, payload: dict) -> Path:
    """Write the JSON part ``name`` into ``folder/parts``, atomically: an
    object of the run identity, the ``stamp`` entries (what the unit was
    run from) and the ``payload`` entries (its result)."""
    return io.write_json({"run_id": run_id, **stamp, **payload},
                         Path(folder) / io.PARTS / name)


def json_part(stamp: dict, payload: str, kind: type):
    """A reader of JSON parts: the part's ``payload`` entry, when the part is
    a JSON object whose entries ``stamp`` hold and whose payload is a
    ``kind``; else :class:`PartError`."""
    def read(path: Path):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise PartError(io.one_line(exc)) from None
        if not isinstance(data, dict):
            raise PartError(f"a JSON {type(data).__name__}, not a part")
        foreign = [key for key, value in stamp.items() if data.get(key) != value]
        if foreign:
            raise PartError(f"of another {' and '.join(foreign)}")
        if not isinstance(data.get(payload), kind):
            raise PartError(f"no {payload}")
        return data[payload]
    return read


def parquet_part(run_id: str):
    """A reader of Parquet parts (``...-TABLE.parquet``): the rows of a part
    whose footer is readable, carries ``run_id`` and names the key columns
    of ``TABLE`` (footers only are read); else :class:`PartError`."""
    def read(path: Path) -> int:
        try:
            held, rows, names = io.footer(path)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise PartError(io.one_line(exc)) from None
        if held != run_id:
            raise PartError(f"of another run ({held})")
        table = path.name.removesuffix(".parquet").split("-", 2)[-1]
        if any(c not in names for c in io.TABLE_KEYS.get(table, ())):
            raise PartError(f"not a {table} table")
        return rows
    return read


def check_held(folder, job: Job, held: dict, identity: str, resume: bool,
               same: dict | None = None) -> None:
    """Refuse to go on with the job whose marker ``held`` a folder holds:
    another request (``identity``), another ``same`` entry, this request
    when not ``resume``-ing, or a marker without a run identity. Reads only
    the marker: a mismatch is answered before any work is built (and again
    by :meth:`JobFolder.check` once the folder is claimed)."""
    if held.get("identity") != identity:
        named = f"{held['scenario']}, " if held.get("scenario") else ""
        raise OutputError(
            f"output folder {folder}: holds a different {job.what} ({named}identity "
            f"{held.get('identity')}; this one is {identity}): choose another folder, "
            "or remove it")
    for key, (value, argument) in (same or {}).items():
        if held.get(key) != value:
            raise OutputError(
                f"output folder {folder}: this {job.what} was started with "
                f"{key.replace('_', ' ')} {held.get(key)}; resume it with the same "
                f"{key.replace('_', ' ')}", argument=argument)
    if not resume:
        raise OutputError(f"output folder {folder}: already holds this {job.what}; "
                          f"resume it to finish it (finished {job.noun}s are kept)",
                          argument="resume")
    if not held.get("run_id"):
        raise OutputError(f"output folder {folder}: its {job.what} was started by an "
                          "older version of substrate (no run identity); start it "
                          "again in a new folder")


class JobFolder:
    """The claimed output folder of a job made of parts.

    Parameters
    ----------
    job : Job
        :data:`SWEEP`, :data:`RISK` or :data:`STUDY`.
    owner : simulation.io.Claim
        The folder, claimed by the job's driver (:func:`simulation.io.claim`).
    notify : callable
        Receives one line of text when parts are run again.
    """

    def __init__(self, job: Job, owner: io.Claim, notify=lambda text: None):
        self.job, self.owner, self.notify = job, owner, notify
        self.folder = owner.folder.resolve()  # the path the workers write to
        self.identity = None

    @property
    def run_id(self) -> str:
        return self.owner.run_id

    @property
    def parts(self) -> Path:
        return self.folder / io.PARTS

    def part(self, name: str) -> Path:
        """The path of the part ``name``."""
        return self.parts / name

    def held(self) -> dict | None:
        """The marker of the job this folder was started for (None: none)."""
        return read_marker(self.folder, self.job)

    def check(self, identity: str, resume: bool, same: dict | None = None) -> dict | None:
        """Refuse a folder that holds another request, this request when not
        resuming, or another command's files; writes nothing. Returns the
        marker held (None for a new job), whose run identity the claim
        adopts: parts are read and written under it.

        ``same``: marker entries a resumed job must match, each mapped to
        ``(value, argument)`` (the argument named by the error).
        """
        job, folder = self.job, self.owner.folder
        self.identity = identity
        held = self.held()
        if held is None:
            io.refuse_foreign(folder, {job.marker, io.PARTS, *job.results}, job.kind,
                              job.prefix)
            return None
        check_held(folder, job, held, identity, resume, same)
        self.owner.adopt(held["run_id"])
        return held

    def start(self, held: dict | None, **record) -> None:
        """Begin (or go on with) the job checked by :meth:`check`: for a new
        job, write the marker (identity, run identity and ``record``); then
        mark the folder incomplete and make ``parts/``."""
        if held is None:
            io.write_json({"identity": self.identity, "run_id": self.run_id, **record},
                          self.folder / self.job.marker)
        io.unmark(self.folder)  # written again when the job finishes
        for name in self.job.results:
            io.unlink(self.folder / name)
        try:
            self.parts.mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError(f"output folder {self.folder}: cannot make {io.PARTS}/ "
                              f"({exc.strerror or exc})") from None

    def kept(self, units: dict, read, label=str, note=None) -> dict:
        """The finished units among ``units`` (unit -> its part names, the
        last written last), each mapped to what ``read`` (a part reader:
        :func:`json_part`, :func:`parquet_part`) returns of its last part.

        A unit whose last part is missing is unfinished. One whose parts
        cannot all be read (damaged, truncated, of another run or request,
        of another type) is unfinished too, and said in one line through
        ``notify``: ``note(folder, damaged)`` words it from the list of
        ``(unit, part name, reason)``, by default naming ``label(unit)``.
        """
        kept, damaged = {}, []
        for unit, names in units.items():
            if not self.part(names[-1]).exists():
                continue
            try:
                for name in names:
                    value = read(self.part(name))
            except PartError as exc:
                damaged.append((unit, name, str(exc)))
                continue
            kept[unit] = value
        if damaged:
            self.notify((note or self._note(label))(self.folder, damaged))
        return kept

    def _note(self, label):
        noun = self.job.noun

        def note(folder, damaged):
            labels = [label(unit) for unit, _, _ in damaged]
            shown = ", ".join(labels[:3]) + (" ..." if len(labels) > 3 else "")
            return (f"{folder}: {len(damaged)} finished {noun}(s) have a damaged or "
                    f"unreadable part ({shown}): run again")
        return note

    def rows(self, names, read, remedy: str) -> int:
        """The rows of the parts ``names`` (footers only, through ``read``),
        each checked as :meth:`kept` checks them.

        Raises
        ------
        DamagedError
            A part is missing, damaged or of another run (naming it, and
            ``remedy``).
        """
        total = 0
        for name in names:
            try:
                total += read(self.part(name))
            except PartError as exc:
                raise DamagedError(f"output folder {self.folder}: {io.PARTS}/{name} is "
                                   f"damaged ({exc}); {remedy}", path=self.part(name)) from None
        return total

    def count(self, suffix: str = "") -> int:
        """Parts written so far whose names end with ``suffix`` (the units
        kept, for a message)."""
        if not self.parts.is_dir():
            return 0
        return sum(1 for p in self.parts.iterdir()
                   if p.name.startswith(self.job.prefix) and p.name.endswith(suffix))

    def finish(self, manifest: dict, files=()) -> dict:
        """Write ``manifest.json``, last (the job's outputs ``files`` are
        written): it lists them, the marker and ``parts/``."""
        manifest["files"] = list(files) + [self.job.marker, f"{io.PARTS}/", io.MANIFEST]
        io.write_manifest(self.folder, manifest)
        return manifest
