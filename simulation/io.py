"""Output folders: the one writer and the one reader.

Writing
-------
An output folder has one owner at a time: :func:`claim` takes an exclusive
lock file ``.lock`` (created with ``O_CREAT | O_EXCL``; it holds the owner's
pid, host, start time and command) and generates the folder's *run identity*,
a random id. A second writer is refused (:class:`OutputError` naming the
owner). A lock left by a process that no longer exists on this host is
*stale*: the next owner takes it over and says so (:attr:`Claim.note`); a lock
of another host cannot be checked and is refused. The new owner removes the
temporary files (``.*.tmp``) a killed writer left behind.

Every file is written to a temporary name in the same folder and renamed into
place (``os.replace``), so a reader never sees a half-written file. Every
Parquet file carries the run identity and the key provenance (kind, scenario,
seed, version) in its Parquet schema metadata. ``manifest.json`` (one schema,
built by :func:`provenance`, for runs, sweeps and validations) is written last
and lists the files: its presence marks a complete folder. A run never
writes into the folder of another command (:func:`earlier_run`), and one that
replaces a complete earlier run writes into a staging folder beside it
(:meth:`Claim.stage`) swapped in only when complete (:meth:`Claim.swap`), so
a failure or a kill leaves the earlier run whole.

Reading
-------
:func:`load` opens a folder as :class:`Results`, checks that it is complete
and that every Parquet file it lists carries the manifest's run identity, and
refuses a folder whose files come from different runs. A damaged, truncated,
empty or foreign file (Parquet, ``manifest.json``, ``scenario.yaml``) is one
:class:`~simulation.errors.DamagedError` or :class:`OutputError` naming the
file and what is wrong; the manifest's files must lie inside its folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import errno
import importlib.metadata
import json
import os
import platform
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DamagedError, OutputError, SubstrateError

PACKAGES = ("substrate", "numpy", "numba", "mesa", "pandas", "pyarrow",
            "pydantic", "scipy", "pyyaml", "click", "dask", "distributed")
FORMAT = 1          # version of the manifest schema
LOCK = ".lock"
PARTS = "parts"     # the folder of a sweep's (and a risk estimate's) parts
MANIFEST = "manifest.json"
RUN_ID_KEY = b"substrate.run_id"
PROVENANCE_KEY = b"substrate.provenance"


# --------------------------------------------------------------------------
# Errors worded for people (no command-line flags: the CLI adds those)

def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _write_error(path: Path, exc: OSError) -> OutputError:
    hint = " (free some space)" if exc.errno == errno.ENOSPC else ""
    return OutputError(f"output folder {path.parent}: cannot write {path.name} "
                       f"({_reason(exc)}){hint}")


# --------------------------------------------------------------------------
# Atomic files

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_WRITING: set = set()  # temporary files being written now (see abandon_writes)


def _temporary(path: Path) -> str:
    """A new temporary file beside ``path`` (hidden, ``.tmp``), with the usual
    permissions (mkstemp makes it private), registered for
    :func:`abandon_writes`; an ``OSError`` becomes an :class:`OutputError`."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                   suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from None
    _WRITING.add(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
    except OSError as exc:
        _unlink(tmp)
        _WRITING.discard(tmp)
        raise _write_error(path, exc) from None
    return tmp


def atomic_write(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it
    into place. The temporary file is removed on any failure or interrupt;
    an ``OSError`` becomes an :class:`OutputError` naming the file."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise _write_error(path, exc) from None
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        _WRITING.discard(tmp)
    return path


def abandon_writes() -> None:
    """Remove the temporary files being written now: for a process about to
    end at once (``os._exit`` on a signal) without unwinding its stack."""
    for tmp in list(_WRITING):
        _unlink(tmp)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def unlink(path) -> None:
    """Remove a file of a claimed folder, if it exists."""
    _unlink(path)


def write_text(text: str, path) -> Path:
    """Write a text file atomically (UTF-8)."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    return atomic_write(path, write)


def write_json(data, path) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return write_text(json.dumps(data, indent=2) + "\n", path)


def write_csv(df, path) -> Path:
    """Write a DataFrame as CSV (no index), atomically."""
    return write_text(df.to_csv(index=False), path)


def write_parquet(df, path, run_id: str, provenance: dict | None = None) -> Path:
    """Write a DataFrame as Parquet, atomically, with the run identity (and
    ``provenance``, JSON) in the Parquet schema metadata."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[RUN_ID_KEY] = run_id.encode()
    if provenance is not None:
        metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    table = table.replace_schema_metadata(metadata)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


class TableAppender:
    """A Parquet table written a part at a time: each :meth:`append` is one
    row group of a temporary file beside ``path``, so a table larger than
    memory (the agent records of a world of 10^6 agents) is never held
    whole; :meth:`commit` renames it into place, and leaving the ``with``
    block without it (an error, an interrupt) removes it. The schema is the
    first part's; the run identity and ``provenance`` go in its metadata,
    as :func:`write_parquet` puts them."""

    def __init__(self, path, run_id: str, provenance: dict | None = None):
        self.path = Path(path)
        self._metadata = {RUN_ID_KEY: run_id.encode()}
        if provenance is not None:
            self._metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
        self._writer = None
        self._tmp = None
        self.rows = 0

    def append(self, columns: dict) -> None:
        """Write one part (a mapping of column name to equal-length arrays)."""
        table = pa.table(columns)
        try:
            if self._writer is None:
                self._tmp = _temporary(self.path)
                schema = table.schema.with_metadata(self._metadata)
                self._writer = pq.ParquetWriter(self._tmp, schema)
            self._writer.write_table(table.cast(self._writer.schema))
        except OSError as exc:
            self.abandon()
            raise _write_error(self.path, exc) from None
        self.rows += table.num_rows

    def commit(self) -> Path | None:
        """Close the file and rename it into place (None if nothing was appended)."""
        if self._writer is None:
            return None
        try:
            self._writer.close()
            self._writer = None
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.abandon()
            raise _write_error(self.path, exc) from None
        _WRITING.discard(self._tmp)
        self._tmp = None
        return self.path

    def abandon(self) -> None:
        """Remove the unfinished file."""
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError:
                pass
            self._writer = None
        if self._tmp is not None:
            _unlink(self._tmp)
            _WRITING.discard(self._tmp)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abandon()  # after commit(), nothing is left to remove


def write_figure(fig, path, dpi: int = 110, provenance: dict | None = None) -> Path:
    """Save a matplotlib figure atomically; the format follows the suffix.
    ``provenance`` (run identity, scenario, version) goes into the file's
    metadata where the format has a place for it (PNG, PDF, SVG)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    metadata = None
    if provenance:
        text = json.dumps(provenance, sort_keys=True)
        metadata = {"png": {"Software": f"substrate {_version()}", "Comment": text},
                    "pdf": {"Creator": f"substrate {_version()}", "Subject": text},
                    "svg": {"Creator": f"substrate {_version()}", "Description": text},
                    }.get(fmt)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt,
                                                      metadata=metadata))


def write_parquet_parts(parts, path, run_id: str, provenance: dict | None = None,
                        rows_per_group: int = 65_536,
                        remedy: str = "run again to rewrite it") -> Path:
    """Concatenate Parquet files (``parts``, in order) into one, atomically,
    with the run identity and ``provenance`` in its schema metadata.

    Streams: one part (and at most ``rows_per_group`` rows or 64 parts
    buffered) is held at a time, so memory does not grow with the number of
    parts. The schema
    is the parts' schemas unified (a column that is all null in one part
    takes the type it has in the others); the pandas metadata is the first
    part's. A part that cannot be read is a :class:`DamagedError` naming it
    (and ``remedy``)."""
    parts = [Path(p) for p in parts]
    if not parts:
        raise OutputError(f"output folder {Path(path).parent}: no parts to write "
                          f"{Path(path).name} from")
    def part_name(part):
        return f"{part.parent.name}/{part.name}"

    with reading(parts[0].parent.parent, part_name(parts[0]), remedy):
        first = pq.read_schema(parts[0])
    unified = first.remove_metadata()
    for part in parts[1:]:
        with reading(part.parent.parent, part_name(part), remedy):
            schema = pq.read_schema(part).remove_metadata()
        if schema.names != unified.names:
            raise OutputError(f"output folder {Path(path).parent}: {part.name} has other "
                              f"columns than {parts[0].name}")
        if not schema.equals(unified):
            try:
                unified = pa.unify_schemas([unified, schema], promote_options="permissive")
            except pa.ArrowException as exc:
                raise OutputError(f"output folder {Path(path).parent}: {part_name(part)} has "
                                  f"column types that clash with the other parts' "
                                  f"({one_line(exc)}); the parts are kept") from None
    metadata = dict(first.metadata or {})
    metadata[RUN_ID_KEY] = run_id.encode()
    if provenance is not None:
        metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    schema = unified.with_metadata(metadata)

    def write(tmp):
        with pq.ParquetWriter(tmp, schema) as writer:
            buffer, rows = [], 0
            for part in parts:
                with reading(part.parent.parent, part_name(part), remedy):
                    table = pq.read_table(part).replace_schema_metadata(None).cast(unified)
                buffer.append(table)
                rows += table.num_rows
                # Flush by rows, and by parts: a small table costs tens of
                # kilobytes whatever its rows (buffers, schema).
                if rows >= rows_per_group or len(buffer) >= 64:
                    writer.write_table(pa.concat_tables(buffer).replace_schema_metadata(
                        metadata))
                    buffer, rows = [], 0
            if buffer:
                writer.write_table(pa.concat_tables(buffer).replace_schema_metadata(metadata))
    return atomic_write(path, write)


def run_id_of(path) -> str | None:
    """The run identity in a Parquet file's schema metadata (None if absent)."""
    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(RUN_ID_KEY)
    return value.decode() if value is not None else None


def part_info(path) -> tuple[str | None, int]:
    """(run identity, rows) of a Parquet file, from its footer alone."""
    meta = pq.read_metadata(path)
    value = (meta.metadata or {}).get(RUN_ID_KEY)
    return (value.decode() if value is not None else None), meta.num_rows


def content_digest(path) -> str:
    """A SHA-256 of a Parquet file's schema and data, without the metadata
    that differs between runs (run identity, provenance): two runs of the same
    seed give the same digest."""
    import hashlib

    table = pq.read_table(path)
    metadata = {k: v for k, v in (table.schema.metadata or {}).items()
                if k not in (RUN_ID_KEY, PROVENANCE_KEY)}
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


# --------------------------------------------------------------------------
# Provenance: one builder for every output

def _version() -> str:
    from . import __version__
    return __version__


def versions() -> dict:
    """Python's and every key package's version (Substrate's: the running
    code's ``simulation.__version__``, whatever the installed metadata says)."""
    found = {"python": platform.python_version(), "substrate": _version()}
    for name in (n for n in PACKAGES if n not in found):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def provenance(kind: str, run_id: str, *, scenario=None, command=None,
               started: _dt.datetime | None = None, seconds: float | None = None,
               files=(), **details) -> dict:
    """The manifest of an output: what wrote it, from what, where, when.

    Parameters
    ----------
    kind : str
        ``run``, ``sweep``, ``validation``, ``risk`` ...
    run_id : str
        The folder's run identity (:attr:`Claim.run_id`).
    scenario : simulation.scenario.Scenario, optional
        The resolved scenario (its name and master seed are recorded).
    command : list of str, optional
        The command line (default ``sys.argv``).
    started, seconds :
        Start time (UTC) and wall time of the work.
    files : list of str
        The files of the output, relative to its folder.
    **details
        Kind-specific entries (seeds, points, swept parameters ...).
    """
    return {
        "format": FORMAT, "kind": kind, "run_id": run_id,
        "scenario": getattr(scenario, "name", None),
        "seed": getattr(scenario, "seed", None),
        **details,
        "command": list(command) if command is not None else list(sys.argv),
        "started": (started or now()).isoformat(),
        "seconds": None if seconds is None else round(seconds, 3),
        "host": socket.gethostname(), "platform": platform.platform(),
        "versions": versions(),
        "files": list(files),
    }


def key_provenance(manifest: dict) -> dict:
    """The part of the provenance every Parquet file carries."""
    return {k: manifest.get(k) for k in ("format", "kind", "run_id", "scenario", "seed")} | {
        "substrate": _version()}


# --------------------------------------------------------------------------
# One owner per folder

def prepare_folder(out) -> Path:
    """Create the output folder (not its parents) and check it is writable."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output folder {out}: exists and is not a folder")
    if not out.exists():
        if not out.parent.exists():
            raise OutputError(f"output folder {out}: its parent folder {out.parent} "
                              "does not exist (create it first, or choose another folder)")
        try:
            out.mkdir()
        except FileExistsError:
            pass  # created meanwhile by another process: the lock decides
        except OSError as exc:
            raise OutputError(f"output folder {out}: cannot create it "
                              f"({_reason(exc)})") from None
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise OutputError(f"output folder {out}: is not writable ({_reason(exc)})") from None
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since the machine booted
    (``/proc/PID/stat``, field 22); None where it cannot be read (not Linux,
    no such process). With the boot's id it tells a process from a later
    one given the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            data = stat_file.read()
        return int(data[data.rindex(b")") + 2:].split()[19])  # after the name "(...)"
    except (OSError, ValueError, IndexError):
        return None


def boot_id() -> str | None:
    """The id of this boot of the machine (Linux), else None."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            return boot.read().strip() or None
    except OSError:
        return None


def _gone(owner: dict) -> str | None:
    """Why the process a lock of this host names no longer runs (None: it
    may run): it is not alive, the machine has booted since, or its pid now
    belongs to a process started at another time (a reused pid)."""
    pid = owner["pid"]
    if not _alive(pid):
        return "that process is gone"
    booted = boot_id()
    if owner.get("boot_id") and booted and owner["boot_id"] != booted:
        return "the machine has restarted since"
    held, now = owner.get("pid_started"), process_start(pid)
    if held is not None and now is not None and held != now:
        return f"that process is gone; pid {pid} is now another process"
    return None


def _describe(owner: dict) -> str:
    return (f"pid {owner.get('pid')} on {owner.get('host')}, started "
            f"{owner.get('started')}: {' '.join(owner.get('command') or [])}").rstrip(": ")


def _in_use(folder: Path, owner: dict) -> OutputError:
    """The refusal of a folder another process holds, with how to clear a
    lock that outlived its process undetected."""
    return OutputError(f"output folder {folder}: in use by {_describe(owner)} (if that "
                       f"command no longer runs, remove {folder / LOCK})")


@dataclasses.dataclass
class Claim:
    """Ownership of an output folder (a context manager: released on exit).

    Attributes
    ----------
    folder : Path
    run_id : str
        A random id for what is written now (a resumed sweep keeps the id it
        started with: see :meth:`adopt`).
    note : str or None
        Set when a stale lock was taken over or stale temporary files removed.
    """

    folder: Path
    run_id: str
    note: str | None = None
    _token: str = ""
    staging: Path | None = None
    _created: bool = False  # made by this claim, to remove if left empty

    def adopt(self, run_id: str) -> None:
        """Continue an earlier run's identity (resuming a sweep)."""
        self.run_id = run_id

    def stage(self) -> Path:
        """A new, empty staging folder beside the claimed one
        (``.NAME.staging-TOKEN.tmp``), to write a complete output into
        before :meth:`swap` puts it in place: the folder's earlier output
        stays whole until then. Removed by :meth:`release` if not swapped.

        Raises
        ------
        OutputError
            The staging folder cannot be made (e.g. the parent folder is
            not writable).
        """
        real = self.folder.resolve()
        cwd = Path.cwd().resolve()
        if cwd == real or real in cwd.parents:
            raise OutputError(f"output folder {self.folder}: is (or holds) the current "
                              "folder, which cannot be swapped")
        staging = _staging_name(real, self._token)
        try:
            staging.mkdir()
            os.chmod(staging, os.stat(self.folder).st_mode & 0o7777)
        except OSError as exc:
            raise OutputError(f"output folder {self.folder}: cannot make a staging folder "
                              f"beside it ({_reason(exc)})") from None
        self.staging = staging
        return staging

    def swap(self, keep=()) -> None:
        """Put the complete staging folder in place of the claimed folder:
        the earlier output goes (except the names in ``keep``, moved over),
        the lock moves with it. One atomic exchange of the two folders where
        the system has it (Linux ``renameat2``), else two renames (a crash
        between them leaves the earlier output whole in
        ``.NAME.old-TOKEN.tmp`` beside)."""
        import shutil

        staging, folder = self.staging, self.folder
        refused = (f"output folder {folder}: cannot put the new output in place "
                   "({}); it still holds its earlier output")
        try:
            for name in keep:
                if (folder / name).exists() and not (staging / name).exists():
                    os.rename(folder / name, staging / name)
            os.link(folder / LOCK, staging / LOCK)
            if _exchange(staging, folder):
                old = staging
            else:
                old = folder.parent / f".{folder.name}.old-{self._token}.tmp"
                os.rename(folder, old)
                try:
                    os.rename(staging, folder)
                except OSError:
                    os.rename(old, folder)
                    raise
        except OSError as exc:
            raise OutputError(refused.format(_reason(exc))) from None
        self.staging = None
        shutil.rmtree(old, ignore_errors=True)

    def release(self) -> None:
        """Remove the lock, if it is still ours, and a staging folder not
        swapped in; and, for a tidy claim (:func:`claim`), the folder itself
        if the claim made it and nothing was written there."""
        if self.staging is not None:
            import shutil

            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        lock = self.folder / LOCK
        try:
            if json.loads(lock.read_text()).get("token") == self._token:
                lock.unlink()
            else:
                return
        except (OSError, ValueError):
            return
        if self._created:
            try:
                self.folder.rmdir()  # only if empty
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2(RENAME_EXCHANGE)``);
    False where the system or the file system cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code))


def _staging_name(folder: Path, token: str) -> Path:
    return folder.parent / f".{folder.name}.staging-{token}.tmp"


def _clean_staging(folder: Path) -> int:
    """Remove the staging folders of owners of ``folder`` killed before
    their swap (only for the folder's new owner); returns how many."""
    import shutil

    count = 0
    for stale in folder.parent.glob(f".{folder.name}.staging-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
        count += 1
    return count


def _create_lock(lock: Path, owner: dict) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(owner, fh)
    return True


def _read_lock(path: Path) -> dict | None:
    """The owner a lock file names; None if unreadable (read twice: a lock
    being created is empty for a moment)."""
    for _ in range(2):
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            time.sleep(0.2)
    return None


def claim(out, command=None, tidy: bool = False) -> Claim:
    """Take an output folder for writing: create it, lock it, clean it.
    ``tidy``: on release, remove the folder again if this claim made it and
    nothing was written there (a command that fails before writing leaves
    no empty folder).

    Raises
    ------
    OutputError
        The folder cannot be created or written, or another process owns it.
    """
    created = not Path(out).exists()
    folder = prepare_folder(out)
    lock = folder / LOCK
    token = secrets.token_hex(8)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": now().isoformat(),
             "command": list(command) if command is not None else list(sys.argv),
             "token": token, "pid_started": process_start(os.getpid()),
             "boot_id": boot_id()}
    note = None
    try:
        taken = _create_lock(lock, owner)
    except OSError as exc:
        raise OutputError(f"output folder {folder}: cannot create its lock file "
                          f"({_reason(exc)})") from None
    if not taken:
        held = _read_lock(lock)
        if not isinstance(held, dict) or not isinstance(held.get("pid"), int) \
                or held["pid"] <= 0:
            raise OutputError(
                f"output folder {folder}: its lock file {LOCK} is unreadable; if no "
                f"substrate process writes there, remove {lock}")
        if held.get("host") != owner["host"]:
            raise OutputError(f"output folder {folder}: in use by {_describe(held)} "
                              f"(another host: remove {lock} if that process is gone)")
        why = _gone(held)
        if why is None:
            raise _in_use(folder, held)
        # Stale: move it aside (atomic), check that what was moved is the
        # stale lock read above and not a fresh one another process has just
        # taken (then put it back), and lock again: of two processes taking
        # over at once, one succeeds.
        aside = folder / f".lock.stale-{token}.tmp"
        try:
            os.rename(lock, aside)
        except FileNotFoundError:
            pass
        else:
            moved = _read_lock(aside)
            if moved != held:
                try:
                    os.link(aside, lock)
                except FileExistsError:
                    pass
                _unlink(aside)
                raise _in_use(folder, moved or {})
            _unlink(aside)
        if not _create_lock(lock, owner):
            raise _in_use(folder, _read_lock(lock) or {})
        note = f"took over the stale lock of {_describe(held)} ({why})"
    removed = clean_temporaries(folder) + _clean_staging(folder)
    if removed:
        extra = f"removed {removed} unfinished temporary file(s)"
        note = f"{note}; {extra}" if note else extra
    return Claim(folder, secrets.token_hex(8), note, token, _created=created and tidy)


def clean_temporaries(folder: Path) -> int:
    """Remove the temporary files (``.*.tmp``) of writers killed mid-write in
    the folder and its parts; returns how many. Only for the owner of the
    folder, when no writer of its own is at work."""
    folder = Path(folder)
    count = 0
    for place in (folder, folder / PARTS):
        if place.is_dir():
            for stale in place.glob(".*.tmp"):
                _unlink(stale)
                count += 1
    return count


def unmark(folder) -> None:
    """Remove the manifest first: a folder being rewritten is never complete."""
    _unlink(Path(folder) / MANIFEST)


def write_manifest(folder, manifest: dict) -> Path:
    """Write ``manifest.json`` (last: it marks the folder complete)."""
    return write_json(manifest, Path(folder) / MANIFEST)


# --------------------------------------------------------------------------
# A run

RUN_TABLES = ("runs", "timeseries", "clones", "clone_counts", "agents")


def write_run(result, claim_: Claim, command=None, started=None,
              parameters: dict | None = None, written=(), folder=None) -> dict:
    """Write a :class:`simulation.run.RunResult` into a claimed folder (or
    into ``folder``, its staging folder: :meth:`Claim.stage`); returns the
    manifest. ``written``: tables already written into the folder a part at
    a time (:class:`TableAppender`, e.g. ``agents``)."""
    from .scenario import to_yaml

    folder = Path(folder) if folder is not None else claim_.folder
    unmark(folder)
    manifest = provenance(
        "run", claim_.run_id, scenario=result.scenario, command=command, started=started,
        seconds=result.seconds, parameters=list(parameters or {}),
        replicates=[{"point": int(p), "replicate": int(r), "seed": int(s)}
                    for p, r, s in result.runs[["point", "replicate", "seed"]]
                    .itertuples(index=False)])
    key = key_provenance(manifest)
    files = []
    for name in RUN_TABLES:
        df = getattr(result, name)
        path = folder / f"{name}.parquet"
        if name in written:
            files.append(path.name)
        elif df is not None:
            write_parquet(df, path, claim_.run_id, key)
            files.append(path.name)
        else:
            _unlink(path)  # stale, from an earlier run into this folder
    write_text(to_yaml(result.scenario), folder / "scenario.yaml")
    manifest["files"] = files + ["scenario.yaml", MANIFEST]
    write_manifest(folder, manifest)
    return manifest


# --------------------------------------------------------------------------
# The one reader

@dataclasses.dataclass
class Results:
    """A complete output folder of ``run`` or ``sweep``, checked whole.

    The runs table (one row per replicate) is read at once; the other tables
    are read on demand by :meth:`table`, with only the columns and points
    asked for. A large sweep's timeseries is held only as parts (one Parquet
    file per point and replicate block, ``parts/pPPPPPP-bBBBBBB-TABLE.parquet``),
    which :meth:`dataset` opens lazily as one ``pyarrow.dataset``.

    Attributes
    ----------
    folder : Path
    runs : pandas.DataFrame
        One row per replicate (docs/outputs.md).
    scenario : dict
        The resolved scenario.
    manifest : dict
        Provenance; ``manifest["run_id"]`` is the folder's run identity.
    parameters : list of str
        The swept parameters (columns of ``runs``); empty for a plain run.
    """

    folder: Path
    runs: object
    scenario: dict
    manifest: dict
    parameters: list
    _schemas: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def horizon(self) -> int:
        return int(self.scenario["horizon"])

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    @property
    def points(self) -> list:
        """The points of the runs table, in order."""
        return sorted(int(p) for p in self.runs["point"].unique())

    def consolidated(self, table: str) -> bool:
        """Whether ``table`` is one file (``TABLE.parquet``) in the folder."""
        return f"{table}.parquet" in self.manifest.get("files", [])

    def has(self, table: str) -> bool:
        """Whether the folder holds ``table`` (e.g. ``"clones"``), as one
        file or as parts."""
        return self.consolidated(table) or table in self.manifest.get("partitioned", {})

    def _parts(self, table: str, points=None) -> list:
        spec = self.manifest["partitioned"][table]
        files = sorted((self.folder / PARTS).glob(f"p*-b*-{table}.parquet"))
        if len(files) != spec["count"]:
            raise OutputError(f"output folder {self.folder}: {PARTS}/ holds {len(files)} "
                              f"{table} parts, the manifest lists {spec['count']}")
        if points is not None:
            wanted = {int(p) for p in points}
            files = [f for f in files if int(f.name[1:7]) in wanted]
        return files

    def _schema(self, table: str, files):
        """The unified schema of the parts, each checked to carry the run
        identity (footers only)."""
        schema = self._schemas.get(table)
        for path in files:
            if (table, path.name) in self._schemas:
                continue
            with reading(self.folder, f"{PARTS}/{path.name}"):
                held = run_id_of(path)
                part = pq.read_schema(path)
            if held != self.run_id:
                raise OutputError(f"output folder {self.folder}: {PARTS}/{path.name} comes "
                                  f"from another run ({held}, the manifest says "
                                  f"{self.run_id}): the folder mixes two runs; run again")
            try:
                schema = part if schema is None else pa.unify_schemas(
                    [schema, part.remove_metadata()],
                    promote_options="permissive").with_metadata(schema.metadata)
            except pa.ArrowException as exc:
                raise OutputError(f"output folder {self.folder}: {PARTS}/{path.name} does "
                                  f"not fit the other {table} parts ({one_line(exc)})"
                                  ) from None
            self._schemas[(table, path.name)] = True
        self._schemas[table] = schema
        return schema

    def dataset(self, table: str, points=None):
        """``table`` as a lazy ``pyarrow.dataset.Dataset`` (of the points
        ``points`` only, for parts: the files of other points are not
        opened)."""
        import pyarrow.dataset as ds

        if not self.has(table):
            raise OutputError(f"output folder {self.folder}: holds no {table}.parquet")
        if self.consolidated(table):
            with reading(self.folder, f"{table}.parquet"):
                dataset = ds.dataset(self.folder / f"{table}.parquet", format="parquet")
            _check_keys(self.folder, f"{table}.parquet", table, dataset.schema.names)
            return dataset
        files = self._parts(table, points)
        schema = self._schema(table, files)
        if schema is not None:
            _check_keys(self.folder, f"the {table} parts", table, schema.names)
        return ds.dataset([str(f) for f in files], schema=schema, format="parquet")

    def table(self, table: str, columns=None, points=None):
        """Read one table (``timeseries``, ``clones``, ``agents`` ...) as a
        DataFrame: only ``columns`` (default all) of the points ``points``
        (default all), in the stored order (point, replicate, tick)."""
        import pyarrow.dataset as ds

        dataset = self.dataset(table, points)
        where = (ds.field("point").isin([int(p) for p in points])
                 if points is not None and self.consolidated(table) else None)
        if columns is not None:
            missing = [c for c in columns if c not in dataset.schema.names]
            if missing:
                raise OutputError(f"output folder {self.folder}: {table} has no column "
                                  f"{', '.join(missing)}")
        name = f"{table}.parquet" if self.consolidated(table) else f"the {table} parts"
        with reading(self.folder, name):
            return dataset.to_table(columns=columns, filter=where).to_pandas()

    def columns(self, table: str) -> list:
        """The column names of ``table`` (without reading it)."""
        if self.consolidated(table):
            with reading(self.folder, f"{table}.parquet"):
                return pq.read_schema(self.folder / f"{table}.parquet").names
        files = self._parts(table)
        if not files:
            return []
        with reading(self.folder, f"{PARTS}/{files[0].name}"):
            return pq.read_schema(files[0]).names

    def timeseries(self, columns=None, points=None):
        return self.table("timeseries", columns, points)


#: Files that mark an output of another command than ``run``.
OTHER_KINDS = {"sweep.json": "sweep", "risk.json": "risk", "risk-run.json": "risk",
               "study.json": "study", "validation.parquet": "validation",
               PARTS: "sweep, risk or study"}


def earlier_run(folder, kind: str = "run") -> dict | None:
    """The manifest of the complete earlier output of ``kind`` (``run`` or
    ``validation``) that a folder about to receive one holds (a new run
    replaces it whole, through a staging folder: :meth:`Claim.stage`), or
    None.

    Raises
    ------
    OutputError
        The folder holds the output of another command (a sweep, risk
        estimate, study, validation or run): it is never overwritten.
    """
    folder = Path(folder)
    other = None
    for name, what in OTHER_KINDS.items():
        if what != kind and (folder / name).exists():
            other, evidence = what, name
            break
    manifest = None
    if (folder / MANIFEST).is_file():
        try:
            manifest = read_manifest(folder)
        except OutputError:
            manifest = None  # a damaged manifest marks no complete output
        if other is None and manifest is not None and manifest["kind"] != kind:
            other, evidence = manifest["kind"], MANIFEST
    if other is not None:
        raise OutputError(f"output folder {folder}: holds a {other} output ({evidence}), not "
                          f"a {kind}: a {kind} would overwrite it; choose another folder")
    return manifest


def refuse_foreign(folder, own, what: str, part_prefix: str) -> None:
    """Refuse a claimed folder that holds files other than ``own`` (names of
    this command's outputs; in ``parts/``, names starting with
    ``part_prefix``; hidden files, the lock and temporaries, are ignored): a
    command never mixes its outputs into another's folder."""
    folder = Path(folder)
    others = sorted(p.name for p in folder.iterdir()
                    if not p.name.startswith(".") and p.name not in own)
    parts = folder / "parts"
    if "parts" in own and parts.is_dir():
        others += sorted(f"parts/{p.name}" for p in parts.iterdir()
                         if not p.name.startswith(".") and not p.name.startswith(part_prefix))
    if others:
        shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
        raise OutputError(f"output folder {folder}: holds other files ({shown}), not a "
                          f"{what} output: choose an empty folder or another one")


def write_study_part(folder, size: int, data: dict) -> Path:
    """One simulated size of a study: ``FOLDER/parts/size-N.json``."""
    parts = Path(folder) / "parts"
    try:
        parts.mkdir(exist_ok=True)
    except OSError as exc:
        raise _write_error(parts, exc) from None
    return write_json(data, parts / f"size-{size}.json")


def read_study_part(folder, size: int) -> dict | None:
    """A part written by :func:`write_study_part`, or None when it is
    missing.

    Raises
    ------
    DamagedError
        The part is unreadable, not JSON or not a part (truncated by a
        full disk, edited): simulate that size again.
    """
    path = Path(folder) / "parts" / f"size-{size}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = one_line(exc)
    else:
        if isinstance(data, dict) and isinstance(data.get("points"), list):
            return data
        reason = "not a part of a study"
    raise DamagedError(f"output folder {folder}: parts/{path.name} is damaged ({reason})",
                       path=path)


def load_study(folder) -> dict:
    """The ``study.json`` of an output folder of ``substrate study``.

    Raises
    ------
    OutputError
        No such folder or file (or the study has not finished), or unreadable.
    """
    folder = Path(folder)
    path = folder / "study.json"
    if not path.is_file():
        raise OutputError(f"output folder {folder}: no study.json (not an output of "
                          "'substrate study', or the study has not finished)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OutputError(f"output folder {folder}: study.json is unreadable ({exc})") from None
    if not isinstance(data, dict) or "theory" not in data or "study" not in data:
        raise OutputError(f"output folder {folder}: study.json holds no study")
    return data


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, cut at a word."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return text


#: What reading a damaged, truncated or foreign Parquet file raises
#: (``ArrowInvalid`` is a ``ValueError``; a bad footer an ``OSError``).
_ARROW_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, KeyError, IndexError)


@contextlib.contextmanager
def reading(folder, name: str, remedy: str = "run again to rewrite it"):
    """Turn the failure of reading ``name`` (a file of an output ``folder``:
    damaged, truncated, empty or not Parquet) into one :class:`DamagedError`
    naming the file, what is wrong and ``remedy``."""
    try:
        yield
    except SubstrateError:
        raise
    except _ARROW_ERRORS as exc:
        raise DamagedError(f"output folder {folder}: {name} is damaged or not a file of "
                           f"substrate ({one_line(exc)}); {remedy}",
                           path=Path(folder) / name) from None


def _inside(folder: Path, name) -> bool:
    """Whether a manifest's file name stays inside ``folder``."""
    if not isinstance(name, str) or not name or "\0" in name:
        return False
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        return False
    try:
        (folder / relative).resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def read_manifest(folder) -> dict:
    """The ``manifest.json`` of an output folder, checked to be a manifest:
    a JSON object of this format with a run identity, a kind and a list of
    files, each inside the folder.

    Raises
    ------
    OutputError
        Unreadable, not JSON, not an object, written by another version,
        lacking a key, or listing a file outside the folder.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise OutputError(f"output folder {folder}: {MANIFEST} is unreadable "
                          f"({one_line(exc)})") from None
    if not isinstance(manifest, dict):
        raise OutputError(f"output folder {folder}: {MANIFEST} is not a manifest (a JSON "
                          f"{type(manifest).__name__}, not an object)")
    if manifest.get("format") != FORMAT or not manifest.get("run_id"):
        raise OutputError(f"output folder {folder}: written by another version of "
                          "substrate (no run identity in its manifest); run it again")
    missing = [key for key in ("kind", "files") if key not in manifest]
    if missing:
        raise OutputError(f"output folder {folder}: {MANIFEST} lacks "
                          f"{', '.join(missing)} (damaged); run again")
    files = manifest["files"]
    if not isinstance(manifest["run_id"], str) or not isinstance(files, list) \
            or not all(isinstance(name, str) for name in files):
        raise OutputError(f"output folder {folder}: {MANIFEST} is damaged (its run_id is "
                          "not a string, or its files not a list of names); run again")
    for name in files:
        if not _inside(folder, name):
            raise OutputError(f"output folder {folder}: {MANIFEST} lists {name!r}, a path "
                              "outside the folder: refused (the manifest is damaged or "
                              "not substrate's)")
    partitioned = manifest.get("partitioned", {})
    if not isinstance(partitioned, dict) or not all(
            isinstance(spec, dict) and isinstance(spec.get("count"), int)
            for spec in partitioned.values()):
        raise OutputError(f"output folder {folder}: {MANIFEST} is damaged (its partitioned "
                          "tables are not counted); run again")
    return manifest


def read_scenario(folder) -> dict:
    """The resolved ``scenario.yaml`` of an output folder, as a mapping.

    Raises
    ------
    OutputError
        Missing, unreadable, not YAML, or not a scenario (no horizon).
    """
    import yaml

    folder = Path(folder)
    try:
        scenario = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise OutputError(f"output folder {folder}: scenario.yaml is not valid YAML{where}: "
                          f"{one_line(problem)}; run again to rewrite it") from None
    except (OSError, ValueError, TypeError, RecursionError) as exc:
        raise OutputError(f"output folder {folder}: scenario.yaml is unreadable "
                          f"({one_line(exc)})") from None
    horizon = scenario.get("horizon") if isinstance(scenario, dict) else None
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise OutputError(f"output folder {folder}: scenario.yaml holds no resolved scenario "
                          "(no horizon); run again to rewrite it")
    return scenario


#: Columns each table always has (the readers index by them): a table of
#: another kind put in its place is refused by name.
TABLE_KEYS = {"runs": ("point", "replicate"),
              "timeseries": ("point", "replicate", "tick"),
              "clones": ("point", "replicate", "clone", "parent", "agent"),
              "clone_counts": ("point", "replicate", "tick", "clone", "count"),
              "agents": ("point", "replicate", "tick", "alive")}


def _check_keys(folder, name: str, table: str, columns) -> None:
    missing = [c for c in TABLE_KEYS.get(table, ()) if c not in columns]
    if missing:
        raise DamagedError(f"output folder {folder}: {name} is not a {table} table (no "
                           f"column {', '.join(missing)}); run again to rewrite it",
                           path=Path(folder) / name)


def load(folder) -> Results:
    """Open an output folder of ``run`` or ``sweep`` (runs table, resolved
    scenario, manifest) after checking it is whole.

    Raises
    ------
    OutputError
        No output here; unfinished (no manifest); a damaged or foreign
        manifest, scenario or table (naming the file); a listed file missing
        or outside the folder; or files of different runs mixed in one folder.
    """
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        raise OutputError(f"output folder {folder}: does not exist")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        what = ("the run or sweep that writes it has not finished (or was interrupted)"
                if (folder / "runs.parquet").exists() or (folder / "sweep.json").exists()
                or (folder / LOCK).exists() else "not an output folder of a run or sweep")
        raise OutputError(f"output folder {folder}: no {MANIFEST}: {what}")
    manifest = read_manifest(folder)
    run_id = manifest["run_id"]
    files = manifest["files"]
    if "runs.parquet" not in files:
        raise OutputError(f"output folder {folder}: holds no runs table "
                          f"(a {manifest.get('kind')} output)")
    for name in files:
        if not (folder / name).exists():
            raise OutputError(f"output folder {folder}: {name} is missing")
        if name.endswith(".parquet"):
            with reading(folder, name):
                held = run_id_of(folder / name)
            if held != run_id:
                raise OutputError(
                    f"output folder {folder}: {name} comes from another run ({held}, "
                    f"the manifest says {run_id}): the folder mixes two runs; run again")
    for table, spec in manifest.get("partitioned", {}).items():
        found = sum(1 for _ in (folder / PARTS).glob(f"p*-b*-{table}.parquet"))
        if found != spec.get("count"):
            raise OutputError(f"output folder {folder}: {PARTS}/ holds {found} {table} "
                              f"parts, the manifest lists {spec.get('count')}")
    scenario = read_scenario(folder)
    with reading(folder, "runs.parquet"):
        runs = pd.read_parquet(folder / "runs.parquet")
    _check_keys(folder, "runs.parquet", "runs", runs.columns)
    parameters = [p for p in manifest.get("parameters", []) if p in runs.columns]
    return Results(folder, runs, scenario, manifest, parameters)
