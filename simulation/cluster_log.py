"""Dask's and multiprocessing's output kept off the terminal while a cluster runs.

The command line promises one line on stderr whatever fails. A local Dask
cluster's worker processes write their logs (a failed unit's traceback,
heartbeats lost when the client stops, a ``KeyboardInterrupt`` caught while
they import) to the stderr they inherit, and so does multiprocessing's
resource tracker (its warnings of leaked semaphores when workers are killed);
in this process, Dask's loggers and Python's warnings write to stderr too.

:func:`kept_off_stderr` points file descriptor 2 at a scratch file while the
cluster lives, so that every process started meanwhile (the workers, a
worker restarted after a crash, the resource tracker) inherits the scratch
file as its stderr for its whole life; ``sys.stderr``, Python's own stream
(notes, progress, the error line), is given the terminal back; warnings
raised meanwhile go to the scratch file. :meth:`Scratch.keep` appends what
was written there to a log file (``cluster.log`` in a sweep's or an
estimate's folder), where a user looking for the workers' tracebacks finds
them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path


class Scratch:
    """What the cluster's processes wrote while the terminal was kept from them."""

    def __init__(self, file):
        self.file = file

    def keep(self, log) -> Path | None:
        """Append what was written so far to the file ``log`` (nothing is
        written if nothing was said, or if ``log`` cannot be written: a full
        disk must not add a second failure). Returns ``log`` if written."""
        if self.file is None:
            return None
        try:
            self.file.flush()
            size = os.fstat(self.file.fileno()).st_size
            if not size:
                return None
            self.file.seek(0)
            with open(log, "ab") as out:
                out.write(self.file.read(size))
            return Path(log)
        except OSError:
            return None
        finally:
            with contextlib.suppress(OSError, ValueError):
                self.file.seek(0, os.SEEK_END)


def _stderr_fd() -> int | None:
    """2 if ``sys.stderr`` is the process's file descriptor 2 (not a test
    runner's buffer), else None."""
    try:
        return 2 if sys.stderr is not None and sys.stderr.fileno() == 2 else None
    except (AttributeError, OSError, ValueError):
        return None


class _CurrentStderr:
    """A stream that is whatever ``sys.stderr`` is when it is written to: for
    a progress bar made before :func:`kept_off_stderr` and updated inside."""

    def write(self, text):
        return sys.stderr.write(text)

    def flush(self):
        sys.stderr.flush()

    def __getattr__(self, name):
        return getattr(sys.stderr, name)


#: Give it as a progress bar's ``file``.
current_stderr = _CurrentStderr()


@contextlib.contextmanager
def kept_off_stderr():
    """While inside, file descriptor 2 is a scratch file (yielded, as a
    :class:`Scratch`): processes started meanwhile inherit it as their
    stderr; ``sys.stderr`` keeps writing to the terminal; Python's warnings
    and the last-resort log handler write to the scratch file. Everything is
    put back on the way out.

    Import the libraries whose loggers write to stderr (``distributed``)
    before entering: a handler made inside would hold the terminal. An
    object that held ``sys.stderr`` before (a progress bar) writes to the
    scratch file meanwhile, unless it writes to :data:`current_stderr`.
    """
    try:
        terminal = os.dup(2)
    except OSError:  # no file descriptor 2 at all: nothing to keep off
        yield Scratch(None)
        return
    scratch = tempfile.TemporaryFile(prefix="substrate-cluster-")
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
    rebind = _stderr_fd() is not None
    previous, last_resort = sys.stderr, logging.lastResort
    os.dup2(scratch.fileno(), 2)
    if rebind:
        # It owns the duplicate of the terminal (closed when it is dropped:
        # a reference kept past the exit still writes to the terminal).
        sys.stderr = open(terminal, "w", buffering=1,  # noqa: SIM115
                          encoding=getattr(previous, "encoding", None) or "utf-8",
                          errors="backslashreplace")
    quiet = open(2, "w", buffering=1, closefd=False, encoding="utf-8",  # noqa: SIM115
                 errors="backslashreplace")
    logging.lastResort = logging.StreamHandler(quiet)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, category, filename, lineno, file=None, \
                line=None: quiet.write(warnings.formatwarning(message, category, filename,
                                                              lineno, line))
            yield Scratch(scratch)
    finally:
        logging.lastResort = last_resort
        with contextlib.suppress(OSError, ValueError):
            quiet.flush()
        if rebind:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
        os.dup2(terminal, 2)
        if rebind:
            sys.stderr = previous  # (the duplicate may be closed from here on)
        else:
            os.close(terminal)
        scratch.close()
