"""One owner per output folder: the lock, its claim, and the staging folder a
replacing run is written into.

:func:`claim` takes an exclusive lock file ``.lock`` (created with
``O_CREAT | O_EXCL``; it holds the owner's pid, host, start time and command,
the process's start time from ``/proc`` and the boot's id) and generates the
folder's *run identity*, a random id. A second writer is refused
(:class:`OutputError` naming the owner and the lock file to remove if that
command no longer runs). A lock left by a process that no longer runs on
this host (its pid gone or given to a process started at another time, or
the machine restarted since) is *stale*: the next owner takes it over and
says so (:attr:`Claim.note`); a lock of another host cannot be checked and
is refused. The new owner removes the temporary files (``.*.tmp``) a killed
writer left behind.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path

from ..errors import OutputError
from .files import LOCK, PARTS, _reason, _unlink
from .provenance import now


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
    held, now_started = owner.get("pid_started"), process_start(pid)
    if held is not None and now_started is not None and held != now_started:
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
