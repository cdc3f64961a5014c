"""The one writer: the manifest, a run's folder, and the guards that keep a
command out of another command's folder.

``manifest.json`` (one schema, built by :func:`~simulation.io.provenance`,
for every kind of output) is written last and lists the files: its presence
marks a complete folder. A run never writes into the folder of another
command (:func:`earlier_run`), and one that replaces a complete earlier run
writes into a staging folder beside it (:meth:`~simulation.io.Claim.stage`)
swapped in only when complete (:meth:`~simulation.io.Claim.swap`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError
from .files import MANIFEST, PARTS, _unlink, write_json, write_text
from .lock import Claim
from .provenance import key_provenance, provenance
from .reader import read_manifest
from .tables import write_parquet


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
    from ..scenario import to_yaml

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



#: Files that mark an output of another command than ``run``.
OTHER_KINDS = {"sweep.json": "sweep", "risk.json": "risk", "risk-run.json": "risk",
               "study.json": "study", "study-run.json": "study",
               "validation.parquet": "validation",
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
