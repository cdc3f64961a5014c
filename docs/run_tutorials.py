"""Run the tutorials: execute the ```python blocks of docs/tutorials/*.md.

    python docs/run_tutorials.py [PAGE.md ...] [--write-figures]

Each page's blocks run in order, in one namespace of their own (as cells of
a notebook), in a fresh temporary folder that is the working directory, so a
page can rely only on what it makes itself and on the installed package.
Any exception stops the run with the page, the block's first line in the
page and the traceback, and the exit status is 1. A page saves its figures
under ``figures/`` of that folder; ``--write-figures`` copies them into
docs/tutorials/figures/ (the ones the pages show), otherwise they are
discarded. CI runs this script (.ci/run); blocks fenced as anything other
than ``python`` (``bash``, ``text``) are shown, not run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

TUTORIALS = Path(__file__).resolve().parent / "tutorials"
FIGURES = TUTORIALS / "figures"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a page: (line of the block's first code line, code)."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


def run_page(page: Path, write_figures: bool) -> float:
    """Run one page's blocks in a fresh folder; returns the seconds taken."""
    code = blocks(page.read_text())
    if not code:
        raise SystemExit(f"{page}: no ```python blocks to run")
    here = os.getcwd()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"tutorial-{page.stem}-") as tmp:
        os.chdir(tmp)
        namespace = {"__name__": "__main__"}
        try:
            for line, source in code:
                name = f"{page}:{line}"
                try:
                    exec(compile(source, name, "exec"), namespace)
                except BaseException:
                    print(f"\nFAILED: {page.name}, the block at line {line}:", file=sys.stderr)
                    traceback.print_exc()
                    raise SystemExit(1) from None
            made = sorted(Path(tmp, "figures").glob("*.png"))
            if write_figures:
                FIGURES.mkdir(exist_ok=True)
                for figure in made:
                    shutil.copy(figure, FIGURES / figure.name)
                    print(f"wrote {FIGURES / figure.name} ({figure.stat().st_size // 1024} KiB)")
        finally:
            os.chdir(here)
            import matplotlib.pyplot as plt
            plt.close("all")
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path,
                        help="tutorial pages (default: every docs/tutorials/*.md)")
    parser.add_argument("--write-figures", action="store_true",
                        help="copy the figures the pages make into docs/tutorials/figures/")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    pages = [p.resolve() for p in args.pages] or sorted(TUTORIALS.glob("*.md"))
    total = 0.0
    for page in pages:
        print(f"--- {page.name}", flush=True)
        seconds = run_page(page, args.write_figures)
        total += seconds
        print(f"--- {page.name}: ran in {seconds:.1f} s", flush=True)
    print(f"{len(pages)} tutorial(s) ran in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
