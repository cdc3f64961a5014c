"""Benchmark: how fast, and in how much memory, the reproducers of issue 25 are refused.

    python benchmarks/refusals.py [--cap-gib 3]

Each case runs ``substrate`` in a fresh process under an address-space cap
(``RLIMIT_AS``, as ``ulimit -v``; the default budget is then the cap less
1 GiB) in a temporary folder: a Moran world of 10^8 with copy errors, a
mutator runaway (with ``--max-memory 1G`` and with the default budget),
``risk`` with 10^11 repetitions or 10^7 particles, a 100 x 1000 grid, a
resume of that grid's folder with another seed, and a study of 10^7 paths.
And the guard alone (no estimate before it, through the library): the
runaway stopped when its tables would pass a 600 MiB budget. For each: the
exit status, the lines it printed (stdout and stderr: a refusal prints one
on stderr, nothing on stdout), the wall time, the CPU time
(user + system, of that process alone: ``os.wait4``) and its peak resident
memory. The CPU time is the figure to quote on a loaded machine; the wall
time is for a quiet one.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import HERE, from_tests, report

memory_tests = from_tests("test_memory")


def cases() -> list[tuple[str, dict, list[str]]]:
    """(name, files to write, arguments of the interpreter)."""
    grid = memory_tests.big_grid()
    resumable = memory_tests.big_grid(replicates=1)
    commands = [
        ("moran 10^8 with copy errors", {"s.yaml": memory_tests.MORAN},
         ["run", "s.yaml", "--out", "o"]),
        ("mutator runaway, --max-memory 1G", {"s.yaml": memory_tests.RUNAWAY},
         ["run", "s.yaml", "--seed", "1", "--out", "o", "--max-memory", "1G"]),
        ("mutator runaway, default budget", {"s.yaml": memory_tests.RUNAWAY},
         ["run", "s.yaml", "--seed", "1", "--out", "o"]),
        ("risk --repeats 10^11", {}, ["risk", "singleton_baseline", "--repeats",
                                      "100000000000", "--out", "o"]),
        ("risk --particles 10^7", {}, ["risk", "singleton_baseline", "--particles",
                                       "10000000", "--out", "o"]),
        ("100 x 1000 grid", {"grid.yaml": grid}, ["sweep", "grid.yaml", "--out", "o"]),
        ("resume of that grid with another seed",
         {"grid.yaml": resumable,
          "g/sweep.json": '{"identity": "0123456789abcdef", "run_id": "r", "scenario": '
                          '"big_grid", "seed": 4, "block_size": 10}'},
         ["sweep", "grid.yaml", "--out", "g", "--resume", "--seed", "5"]),
        ("study of 10^7 paths", {}, ["study", "defence_scaling", "--set",
                                     "study.simulate.paths=10000000", "--out", "o"]),
    ]
    # The guard while running, with no estimate before it (through the library).
    guarded = [("mutator runaway stopped by the guard at 600 MiB",
                {"guarded.py": memory_tests.GUARDED, "s.yaml": memory_tests.RUNAWAY},
                ["guarded.py", "s.yaml", str(600 * 2**20)])]
    return [(name, files, ["-m", "substrate", *args]) for name, files, args in commands] \
        + guarded


def measure(files: dict, args: list[str], cap: int) -> dict:
    with tempfile.TemporaryDirectory() as where:
        for name, text in files.items():
            path = Path(where) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        env = dict(os.environ, PYTHONPATH=str(HERE.parent))
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=where,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, preexec_fn=limit, env=env)
        err = proc.stdout.read()  # (the guarded script prints its message on stdout)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
    lines = [line for line in err.splitlines() if not line.startswith("note: compiling")]
    return {"status": proc.returncode, "output_lines": len(lines),
            "line": lines[0][:160] if lines else "",
            "wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_mib": round(usage.ru_maxrss / 1024)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-gib", type=float, default=3.0)
    parser.add_argument("--out", help="JSON file [default: benchmarks/results/refusals.json]")
    options = parser.parse_args()
    cap = int(options.cap_gib * 2**30)
    results = {}
    for name, files, args in cases():
        results[name] = measure(files, args, cap)
        print(f"{name}: {results[name]}", file=sys.stderr)
    report("refusals", {"cap_gib": options.cap_gib, "cases": results}, options.out)


if __name__ == "__main__":
    main()
