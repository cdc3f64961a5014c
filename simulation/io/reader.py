"""The one reader: :func:`load` opens a folder as :class:`Results`, checks
that it is complete and that every Parquet file it lists carries the
manifest's run identity, and refuses a folder whose files come from different
runs. A damaged, truncated, empty or foreign file (Parquet,
``manifest.json``, ``scenario.yaml``) is one
:class:`~simulation.errors.DamagedError` or :class:`OutputError` naming the
file and what is wrong; the manifest's files must lie inside its folder.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DamagedError, OutputError
from .files import LOCK, MANIFEST, PARTS, one_line, reading
from .provenance import FORMAT
from .tables import run_id_of


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
    def kind(self) -> str:
        """``run`` or ``sweep``."""
        return self.manifest["kind"]

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
              "timeseries": ("point", "replicate", "tick", "mean_drive"),
              "clones": ("point", "replicate", "clone", "parent", "agent"),
              "clone_counts": ("point", "replicate", "tick", "clone", "count"),
              "agents": ("point", "replicate", "tick", "alive")}


def _check_keys(folder, name: str, table: str, columns) -> None:
    missing = [c for c in TABLE_KEYS.get(table, ()) if c not in columns]
    if missing:
        raise DamagedError(f"output folder {folder}: {name} is not a {table} table (no "
                           f"column {', '.join(missing)}); run again to rewrite it",
                           path=Path(folder) / name)


@dataclasses.dataclass
class Output:
    """A complete output folder of ``risk``, ``study`` or ``validate``, checked
    whole: its result and its manifest.

    Attributes
    ----------
    folder : Path
    manifest : dict
        Provenance; ``manifest["kind"]`` is ``risk``, ``study`` or
        ``validation``.
    data : dict or pandas.DataFrame
        The result: ``risk.json`` or ``study.json`` (a mapping), or the
        validation table (``validation.parquet``).
    """

    folder: Path
    manifest: dict
    data: object

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def run_id(self) -> str | None:
        return self.manifest.get("run_id")


#: The result of each kind of output that is not a run's tables: its file,
#: and for JSON the keys it always has.
RESULTS = {"risk": ("risk.json", ("event", "p")), "study": ("study.json", ("theory", "study")),
           "validation": ("validation.parquet", ())}
#: The files that mark a folder as being written by a job (its marker), and
#: what they name.
WRITING = {"sweep.json": "sweep", "risk-run.json": "risk estimate",
           "study-run.json": "study", "runs.parquet": "run or sweep", LOCK: "command"}


def _result(folder: Path, kind: str, manifest: dict | None) -> Output:
    """The result of a ``risk``, ``study`` or ``validation`` folder (without
    ``manifest``: of an earlier version, whose result holds its provenance)."""
    import pandas as pd

    name, keys = RESULTS[kind]
    if name.endswith(".parquet"):
        with reading(folder, name):
            return Output(folder, manifest, pd.read_parquet(folder / name))
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise OutputError(f"output folder {folder}: {name} is unreadable "
                          f"({one_line(exc)})") from None
    if not isinstance(data, dict) or any(key not in data for key in keys):
        raise OutputError(f"output folder {folder}: {name} holds no {kind} result")
    if manifest is None:
        held = data.get("provenance")
        manifest = held if isinstance(held, dict) else {"kind": kind, "files": [name]}
    return Output(folder, manifest, data)


def _unfinished(folder: Path, wanted) -> OutputError:
    """The error for a folder without a manifest."""
    for kind in wanted or ():
        name = RESULTS.get(kind, ("",))[0]
        if name.endswith(".json"):
            what = "estimate" if kind == "risk" else kind
            return OutputError(f"output folder {folder}: no {name} (not an output of "
                               f"'substrate {kind}', or the {what} has not finished)")
    writer = next((what for name, what in WRITING.items() if (folder / name).exists()), None)
    what = (f"the {writer} that writes it has not finished (or was interrupted)" if writer
            else "not an output folder of substrate")
    return OutputError(f"output folder {folder}: no {MANIFEST}: {what}")


def load(folder, kind=None) -> Results | Output:
    """Open an output folder, whatever wrote it, after checking it is whole:
    the manifest's ``kind`` says what it holds (as ``tskit.load`` reads any
    file of tskit).

    Parameters
    ----------
    folder : str or Path
    kind : str or tuple of str, optional
        The kinds expected (``run``, ``sweep``, ``risk``, ``study``,
        ``validation``); a folder of another kind is refused.

    Returns
    -------
    Results or Output
        :class:`Results` (runs table, resolved scenario, manifest) for a
        ``run`` or ``sweep``; :class:`Output` (the result and the manifest)
        for ``risk``, ``study`` and ``validation``. A ``risk`` or ``study``
        folder of an earlier version (its result without a manifest) is read
        as such.

    Raises
    ------
    OutputError
        No output here; unfinished (no manifest); of another kind than
        ``kind``; a damaged or foreign manifest, scenario, table or result
        (naming the file); a listed file missing or outside the folder; or
        files of different runs mixed in one folder.
    """
    import pandas as pd

    folder = Path(folder)
    wanted = (kind,) if isinstance(kind, str) else kind
    if not folder.is_dir():
        raise OutputError(f"output folder {folder}: does not exist")
    if not (folder / MANIFEST).is_file():
        for old in ("risk", "study"):  # written before they had a manifest
            if (folder / RESULTS[old][0]).is_file() and (wanted is None or old in wanted):
                return _result(folder, old, None)
        raise _unfinished(folder, wanted)
    manifest = read_manifest(folder)
    run_id, found = manifest["run_id"], manifest["kind"]
    if wanted is not None and found not in wanted:
        raise OutputError(f"output folder {folder}: holds a {found} output, not a "
                          f"{' or '.join(wanted)} output")
    files = manifest["files"]
    if found in ("run", "sweep") and "runs.parquet" not in files:
        raise OutputError(f"output folder {folder}: holds no runs table "
                          f"({MANIFEST} is damaged); run again")
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
        found_parts = sum(1 for _ in (folder / PARTS).glob(f"p*-b*-{table}.parquet"))
        if found_parts != spec.get("count"):
            raise OutputError(f"output folder {folder}: {PARTS}/ holds {found_parts} {table} "
                              f"parts, the manifest lists {spec.get('count')}")
    if found in RESULTS:
        return _result(folder, found, manifest)
    scenario = read_scenario(folder)
    with reading(folder, "runs.parquet"):
        runs = pd.read_parquet(folder / "runs.parquet")
    _check_keys(folder, "runs.parquet", "runs", runs.columns)
    parameters = [p for p in manifest.get("parameters", []) if p in runs.columns]
    return Results(folder, runs, scenario, manifest, parameters)


def load_study(folder) -> dict:
    """The ``study.json`` of an output folder of ``substrate study``:
    ``load(folder, kind="study").data``.

    Raises
    ------
    OutputError
        As :func:`load`.
    """
    return load(folder, kind="study").data
