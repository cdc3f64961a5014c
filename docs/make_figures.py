"""Regenerate the documentation's figures (docs/figures/) from bundled scenarios.

    python docs/make_figures.py [--workers 2]

Runs singleton_baseline, sweep_error_immune (a sweep),
competition_immune_cost, drift_tracking_self and the defence_scaling study into a temporary
folder with the `substrate` command, then draws every plot kind into
docs/figures/ with `substrate plot`. About five minutes on 2 cores.
"""

import argparse
import subprocess
import tempfile
from pathlib import Path

FIGURES = Path(__file__).resolve().parent / "figures"
PLOTS = [
    ("singleton_baseline", "survival", []),
    ("sweep_error_immune", "survival", []),
    ("singleton_baseline", "traits", []),
    ("singleton_baseline", "muller", ["--replicate", "0"]),
    ("sweep_error_immune", "phase", []),
    ("competition_immune_cost", "price", []),
    ("competition_immune_cost", "agents", []),
    ("defence_scaling", "scaling", []),
]


def sh(*args):
    subprocess.run([str(a) for a in args], check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    FIGURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sh("substrate", "run", "singleton_baseline", "--out", tmp / "singleton_baseline",
           "--figure")
        sh("substrate", "sweep", "sweep_error_immune", "--workers", args.workers,
           "--out", tmp / "sweep_error_immune")
        sh("substrate", "run", "competition_immune_cost", "--out",
           tmp / "competition_immune_cost")
        sh("substrate", "run", "drift_tracking_self", "--out", tmp / "drift_tracking_self",
           "--figure")
        sh("substrate", "study", "defence_scaling", "--out", tmp / "defence_scaling")
        for name in ("singleton_baseline", "drift_tracking_self"):  # run overviews
            (tmp / name / "overview.png").replace(FIGURES / f"{name}.png")
        for scenario, kind, extra in PLOTS:
            out = FIGURES / f"{scenario}-{kind}.png"
            sh("substrate", "plot", tmp / scenario, "--kind", kind, "--out", out, *extra)
            print(out)


if __name__ == "__main__":
    main()
