"""Files of an output folder: their names, atomic writes, and the errors of
writing and reading them worded for people (no command-line flags: the CLI
adds those).

Every file is written to a temporary name in the same folder and renamed into
place (``os.replace``), so a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa

from ..errors import DamagedError, OutputError, SubstrateError
from .provenance import _version

LOCK = ".lock"
PARTS = "parts"     # the folder of a job's parts (sweep, risk estimate, study)
MANIFEST = "manifest.json"


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


def output_file(path) -> Path:
    """Check that a file can be written at ``path`` (its folder exists and
    it is not a folder); returns it as a Path.

    Raises
    ------
    OutputError
        The folder does not exist, or ``path`` is a folder.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"output file {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"output file {path}: is a folder; give a file name")
    return path


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
