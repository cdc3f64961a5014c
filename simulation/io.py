"""Output folders: atomic writes, Parquet tables and provenance.

Every file is written to a temporary name in the same folder and renamed into
place (``os.replace``), so a reader never sees a half-written file and an
interrupted run leaves the previous file intact. ``manifest.json`` is written
last: its presence marks a complete output folder.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .scenario import ScenarioError, to_yaml

PACKAGES = ("substrate", "numpy", "numba", "mesa", "pandas", "pyarrow",
            "pydantic", "scipy", "pyyaml", "click")


def prepare_folder(out) -> Path:
    """Create the output folder (not its parents) and check it is writable."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"--out {out}: exists and is not a folder")
    if not out.exists():
        if not out.parent.exists():
            raise ScenarioError(
                f"--out {out}: the parent folder {out.parent} does not exist "
                "(create it first, or choose another --out)")
        try:
            out.mkdir()
        except OSError as exc:
            raise ScenarioError(f"--out {out}: cannot create the folder "
                                f"({exc.strerror or exc})") from None
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ScenarioError(f"--out {out}: the folder is not writable "
                            f"({exc.strerror or exc})") from None
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    # mkstemp makes the file private (0600); outputs get the usual permissions.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_parquet(df, path: Path) -> None:
    """Write a DataFrame as Parquet, atomically and deterministically."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    _atomic(Path(path), lambda tmp: pq.write_table(table, tmp))


def write_text(text: str, path: Path) -> None:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    _atomic(Path(path), write)


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def write_run(result, out: Path, command: list[str] | None = None,
              started: _dt.datetime | None = None) -> Path:
    """Write a :class:`simulation.run.RunResult` into ``out``."""
    out = Path(out)
    # manifest.json marks a complete folder: remove the old one first, so an
    # interrupted write never leaves new tables beside an old manifest.
    if (out / "manifest.json").exists():
        (out / "manifest.json").unlink()
    tables = {"runs.parquet": result.runs, "timeseries.parquet": result.timeseries,
              "clones.parquet": result.clones,
              "clone_counts.parquet": result.clone_counts,
              "agents.parquet": result.agents}
    for name, df in tables.items():
        if df is not None:
            write_parquet(df, out / name)
        elif (out / name).exists():
            (out / name).unlink()  # stale, from an earlier run into this folder
    write_text(to_yaml(result.scenario), out / "scenario.yaml")
    files = [n for n, df in tables.items() if df is not None]
    manifest = {
        "scenario": result.scenario.name,
        "seed": result.scenario.seed,
        "replicates": [
            {"point": int(p), "replicate": int(r), "seed": int(s)}
            for p, r, s in result.runs[["point", "replicate", "seed"]].itertuples(index=False)
        ],
        "command": command if command is not None else sys.argv,
        "started": (started or _dt.datetime.now(_dt.timezone.utc)).isoformat(),
        "seconds": round(result.seconds, 3),
        "versions": versions(),
        "platform": platform.platform(),
        "files": files + ["scenario.yaml", "manifest.json"],
    }
    write_text(json.dumps(manifest, indent=2) + "\n", out / "manifest.json")
    return out
