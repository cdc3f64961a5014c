"""Parquet tables of an output folder: written atomically (whole, a part at a
time, or concatenated from parts), each carrying the run identity and the key
provenance in its schema metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import OutputError
from .files import _temporary, _unlink, _WRITING, _write_error, atomic_write, one_line, reading

RUN_ID_KEY = b"substrate.run_id"
PROVENANCE_KEY = b"substrate.provenance"


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


def footer(path) -> tuple[str | None, int, list]:
    """(run identity, rows, column names) of a Parquet file, from its footer
    alone."""
    meta = pq.read_metadata(path)
    value = (meta.metadata or {}).get(RUN_ID_KEY)
    return (value.decode() if value is not None else None), meta.num_rows, meta.schema.names


def part_info(path) -> tuple[str | None, int]:
    """(run identity, rows) of a Parquet file, from its footer alone."""
    return footer(path)[:2]


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
