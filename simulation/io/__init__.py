"""Output folders: the one writer and the one reader.

A package of one module per responsibility: :mod:`~simulation.io.files`
(names, atomic writes, errors), :mod:`~simulation.io.tables` (Parquet with
the run identity), :mod:`~simulation.io.provenance`, :mod:`~simulation.io.lock`
(the claim of a folder), :mod:`~simulation.io.writer` and
:mod:`~simulation.io.reader`. Every public name is importable from here
(``from simulation import io; io.claim, io.load, io.Results``).

Writing
-------
An output folder has one owner at a time: :func:`claim` takes an exclusive
lock file ``.lock`` (created with ``O_CREAT | O_EXCL``; it holds the owner's
pid, host, start time and command, the process's start time and the boot's
id) and generates the folder's *run identity*, a random id. A second writer
is refused (:class:`OutputError` naming the owner and the lock file to
remove if that command no longer runs). A lock left by a process that no
longer runs on this host (its pid gone or reused, or the machine restarted)
is *stale*: the next owner takes it over and says so (:attr:`Claim.note`); a
lock of another host cannot be checked and is refused. The new owner removes the
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

from ..errors import DamagedError, OutputError
from .files import (LOCK, MANIFEST, PARTS, abandon_writes, atomic_write, one_line,
                    output_file, reading, unlink, write_csv, write_figure, write_json, write_text)
from .lock import Claim, boot_id, claim, clean_temporaries, prepare_folder, process_start
from .provenance import FORMAT, PACKAGES, key_provenance, now, provenance, versions
from .reader import (RESULTS, TABLE_KEYS, Output, Results, load, load_study, read_manifest,
                     read_scenario)
from .tables import (PROVENANCE_KEY, RUN_ID_KEY, TableAppender, content_digest, footer,
                     part_info,
                     run_id_of, write_parquet, write_parquet_parts)
from .writer import (OTHER_KINDS, RUN_TABLES, earlier_run, refuse_foreign, unmark,
                     write_manifest, write_run)

__all__ = ["FORMAT", "LOCK", "MANIFEST", "OTHER_KINDS", "PACKAGES", "PARTS",
           "PROVENANCE_KEY", "RESULTS", "RUN_ID_KEY", "RUN_TABLES", "TABLE_KEYS", "Claim",
           "DamagedError", "Output", "OutputError", "Results", "TableAppender",
           "abandon_writes", "atomic_write", "boot_id", "claim", "clean_temporaries",
           "content_digest", "earlier_run", "footer", "key_provenance", "load",
           "load_study", "now", "one_line", "output_file", "part_info", "prepare_folder",
           "process_start",
           "provenance", "read_manifest", "read_scenario", "reading", "refuse_foreign",
           "run_id_of", "unlink", "unmark", "versions", "write_csv", "write_figure",
           "write_json", "write_manifest", "write_parquet", "write_parquet_parts",
           "write_run", "write_text"]
