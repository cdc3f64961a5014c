"""Benchmark: where a cold compile of the kernels spends its CPU time.

    python benchmarks/compile_profile.py [--top 25] [SUBSTRATE ARGS...]

Runs a `substrate` command (default: the README quickstart,
`run singleton_baseline --figure`) in this process from an empty numba cache
(a temporary NUMBA_CACHE_DIR), listening to numba's compile events
(`numba.core.event`, "numba:compile"). Prints the process's CPU time
(user + sys), the CPU time inside compiles, and per compiled function its
specialisations and CPU time: inclusive (its compile, the callees compiled
from it included) and exclusive (its own typing, lowering and LLVM
optimisation); the compiler passes; and LLVM's share of the lowering pass
(its function passes, module passes and machine code). CPU time, not wall
time, so the figure holds on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def name_of(dispatcher) -> str:
    return f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"


def time_llvm() -> dict:
    """CPU seconds of LLVM's work, inside numba's lowering pass: its
    function passes over each newly lowered module, its module passes after
    linking, and the machine code (numba's private methods, timed in place;
    ``advance`` apart from the rest)."""
    from numba.core import codegen

    spent = defaultdict(float)

    def timed(cls, method, what):
        original = getattr(cls, method)

        def run(library, *args):
            started = cpu_seconds()
            try:
                return original(library, *args)
            finally:
                whose = "advance" if library.name == "advance" else "the rest"
                spent[f"{what}, {whose}"] += cpu_seconds() - started

        setattr(cls, method, run)

    timed(codegen.CPUCodeLibrary, "_optimize_functions", "function passes")
    timed(codegen.CPUCodeLibrary, "_optimize_final_module", "module passes")
    timed(codegen.JITCodeLibrary, "_finalize_specific", "machine code")
    return spent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="a substrate command [default: run singleton_baseline --figure]")
    args = parser.parse_args()
    args.command = args.command or ["run", "singleton_baseline", "--figure"]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NUMBA_CACHE_DIR"] = str(Path(tmp, "numba-cache"))
        # imported after NUMBA_CACHE_DIR is set: numba reads it once
        from numba.core import event

        from _common import HERE, report

        from simulation.io import write_json

        inclusive = defaultdict(float)
        exclusive = defaultdict(float)
        passes = defaultdict(float)
        signatures = defaultdict(set)
        stack = []  # [kind, key, started, CPU of the compiles nested inside]

        def nested(spent):
            """Charge a finished compile to the innermost compile and the
            innermost pass around it (a callee compiles inside its caller's
            type inference)."""
            for kind in ("compile", "pass"):
                for frame in reversed(stack):
                    if frame[0] == kind:
                        frame[3] += spent
                        break

        class Compiles(event.Listener):
            def on_start(self, ev):
                stack.append(["compile", ev.data["dispatcher"], cpu_seconds(), 0.0])
                signatures[name_of(ev.data["dispatcher"])].add(str(ev.data["args"]))

            def on_end(self, ev):
                _, dispatcher, started, inner = stack.pop()
                spent = cpu_seconds() - started
                name = name_of(dispatcher)
                if not any(frame[1] is dispatcher for frame in stack):
                    inclusive[name] += spent  # a recursive compile counted once
                exclusive[name] += spent - inner
                nested(spent)

        class Passes(event.Listener):
            def on_start(self, ev):
                stack.append(["pass", ev.data["name"], cpu_seconds(), 0.0])

            def on_end(self, ev):
                _, name, started, inner = stack.pop()
                passes[name.split(" [")[0]] += cpu_seconds() - started - inner  # all functions

        from numba.core.caching import Cache

        save_overload = Cache.save_overload

        def timed_save(cache, sig, data):
            """The cache's save (machine code emitted and written), outside
            numba's compile event: charged to its function and its caller."""
            started = cpu_seconds()
            save_overload(cache, sig, data)
            spent = cpu_seconds() - started
            exclusive[f"{cache._py_func.__module__}.{cache._py_func.__qualname__}"] += spent
            passes["(cache save: object code)"] += spent
            nested(spent)

        Cache.save_overload = timed_save
        llvm = time_llvm()
        started = cpu_seconds()
        wall = time.perf_counter()
        from substrate.cli import cli

        cwd = os.getcwd()
        os.chdir(tmp)
        with event.install_listener("numba:compile", Compiles()), \
                event.install_listener("numba:run_pass", Passes()):
            try:
                writes = args.command[:1] in (["run"], ["risk"], ["sweep"], ["study"])
                cli.main(args.command + (["--out", str(Path(tmp, "out"))] if writes else []),
                         standalone_mode=False)
            finally:
                os.chdir(cwd)
        total = cpu_seconds() - started
        wall = time.perf_counter() - wall
    compiling = sum(exclusive.values())
    rows = sorted(exclusive, key=exclusive.get, reverse=True)
    print(f"{'function':<58} {'sigs':>4} {'incl s':>7} {'excl s':>7}", file=sys.stderr)
    for name in rows[:args.top]:
        print(f"{name:<58} {len(signatures[name]):>4} {inclusive[name]:7.2f} "
              f"{exclusive[name]:7.2f}", file=sys.stderr)
    print(f"{'compiler pass':<58} {'excl s':>7}", file=sys.stderr)
    for name in sorted(passes, key=passes.get, reverse=True)[:8]:
        print(f"{name:<58} {passes[name]:7.2f}", file=sys.stderr)
    print(f"{'LLVM (within native_lowering)':<58} {'s':>7}", file=sys.stderr)
    for name in sorted(llvm, key=llvm.get, reverse=True):
        print(f"{name:<58} {llvm[name]:7.2f}", file=sys.stderr)
    summary = {
        "command": " ".join(args.command),
        "process_cpu_seconds": round(total, 1),
        "compile_cpu_seconds": round(compiling, 1),
        "wall_seconds": round(wall, 1),
        "functions_compiled": len(exclusive),
        "specialisations": sum(len(s) for s in signatures.values()),
    }
    report("compile_profile", summary, args.out)
    # the details beside the summary, in the same file
    path = Path(args.out) if args.out else HERE / "results" / "compile_profile.json"
    write_json({**json.loads(path.read_text()),
                "pass_cpu_seconds": {name: round(passes[name], 2)
                                     for name in sorted(passes, key=passes.get, reverse=True)},
                "llvm_cpu_seconds": {name: round(llvm[name], 2) for name in sorted(llvm)},
                "exclusive_cpu_seconds": {name: round(exclusive[name], 2) for name in rows},
                "inclusive_cpu_seconds": {name: round(inclusive[name], 2) for name in rows},
                "signatures": {name: sorted(signatures[name]) for name in rows
                               if len(signatures[name]) > 1}}, path)


if __name__ == "__main__":
    main()
