"""Write docs/findings.md and its figures from a finished findings report.

    substrate findings --tier full --scheduler ADDRESS --out results/findings-full
    python docs/make_findings.py results/findings-full

The page is the report's own Markdown (``findings.md``: every answer, number,
interval, claim and command, with the provenance of the run that made it);
its figures are copied to docs/figures/. A report of another tier than
``full`` is marked as such at the top of the page, with the commands that
make the full one. The folder must be a complete ``findings`` output (its
manifest written last).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "findings.md"
FIGURES = ROOT / "docs" / "figures"

FULL = """!!! note "This page shows the {tier} tier"
    Every answer here is at lower precision than the full tier, which is sized
    for a cluster. To replace this page with the full tier:

    ```
    substrate findings --tier full --scheduler ADDRESS --out results/findings-full
    python docs/make_findings.py results/findings-full
    ```

"""


def page(folder: Path) -> str:
    """The documentation page of the findings report in ``folder``."""
    from simulation import io

    report = io.load(folder, kind="findings")
    text = (folder / "findings.md").read_text(encoding="utf-8")
    tier = report.data["tier"]
    if tier != "full":
        head, _, rest = text.partition("\n\n")  # after the title
        text = f"{head}\n\n{FULL.format(tier=tier)}{rest}"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a finished 'substrate findings' folder")
    args = parser.parse_args(argv)
    text = page(args.folder)
    for figure in sorted((args.folder / "figures").glob("findings-*.png")):
        shutil.copyfile(figure, FIGURES / figure.name)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)} and its figures in {FIGURES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
