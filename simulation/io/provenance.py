"""Provenance: one builder for the manifest of every output."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import socket
import sys

PACKAGES = ("substrate", "numpy", "numba", "mesa", "pandas", "pyarrow",
            "pydantic", "scipy", "pyyaml", "click", "dask", "distributed")
FORMAT = 1          # version of the manifest schema


def _version() -> str:
    from .. import __version__
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
