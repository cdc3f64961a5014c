"""The gradual study's points against direct simulation of the whole system.

On the flagship's physics (``scenarios/defence_flagship.yaml``: normal
copy-error steps of sd 0.08, immune tolerance 0.25, efficacy 1) at capacity
N = 10^4 and horizons T = 1000 and 3000, where P(takeover by T) is about
1e-2 to 1e-3, three numbers at each efficacy value:

- the decomposition's simulated points (background founding rate x founded
  lineages by splitting; ``simulation.gradual``, ``analysis.gradual``),
- the multi-hit theory (``analysis.multitype``) on the same background,
- direct simulation: ``--replicates`` replicates of the whole system in the
  engine's compiled batches (``simulation.run.run_scenario``, what
  ``substrate run`` runs), with the Wilson interval of the takeovers by T.

    PYTHONPATH=. python benchmarks/study_gradual.py [--replicates 20000]
        [--values 0.27 0.29 0.31] [--founders 8] [--seed 20261207]

It prints one line per (value, T) and writes benchmarks/results/study_gradual.json.
CPU seconds (time.process_time) of each part are reported.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The validation study: the bundled scenario reduced to one size and two
#: short horizons, four background replicates recorded every 50 ticks.
HORIZONS = [1000, 3000]
SIZE = 10000


def validation_scenario(values, founders, seed, particles=20):
    """``defence_flagship`` reduced to the validation's size, horizons and values."""
    import scenarios
    from simulation import load_scenario

    return load_scenario(scenarios.path("defence_flagship"), [
        f"study.sizes=[{SIZE}]", f"study.horizons=[{','.join(map(str, HORIZONS))}]",
        f"study.simulate.sizes=[{SIZE}]",
        f"study.simulate.values=[{','.join(map(str, values))}]",
        f"study.simulate.founders={founders}", f"study.simulate.particles={particles}",
        f"study.simulate.horizon={max(HORIZONS)}",
        "study.simulate.background.replicates=4", "study.simulate.background.every=50"],
        seed=seed)


def decomposition(sc) -> tuple[dict, list[dict]]:
    """The simulated size and the theory rows of the validation study."""
    from analysis.gradual import gradual_theory, simulated_size
    from analysis.scaling import sized
    from simulation.gradual import study_size

    state = study_size(sized(sc, SIZE), sc.study, sc.seed)
    return simulated_size(state, sc.study, SIZE), gradual_theory(sc, sc.study,
                                                                 {SIZE: state}, sized)


def direct(sc, value: float, replicates: int) -> dict:
    """Takeovers by each horizon among ``replicates`` whole-system replicates."""
    from analysis.estimators import wilson_interval
    from analysis.scaling import sized
    from simulation.run import run_scenario
    from simulation.scenario import point_scenario

    data = sized(sc, SIZE).model_dump(mode="json")
    run = point_scenario(data, {sc.study.solve: value, "replicates": replicates,
                                "horizon": max(HORIZONS), "record_every": max(HORIZONS),
                                "record_clones": False, "stop.on": ["takeover"]},
                         "<benchmark>", "direct")
    runs = run_scenario(run, show_progress=False, threads=1).runs
    ticks = runs["takeover_tick"].dropna().to_numpy()
    out = {}
    for T in HORIZONS:
        hits = int((ticks <= T).sum())
        p, low, high = wilson_interval(hits, replicates)
        out[T] = {"hits": hits, "p": p, "low": low, "high": high}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=20000)
    parser.add_argument("--values", type=float, nargs="+", default=[0.27, 0.29, 0.31])
    parser.add_argument("--founders", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    from _common import report

    sc = validation_scenario(args.values, args.founders, args.seed)
    started = time.process_time()
    simulated, theory = decomposition(sc)
    decomposition_seconds = time.process_time() - started
    rows = []
    for i, value in enumerate(args.values):
        started = time.process_time()
        checked = direct(sc, value, args.replicates)
        seconds = time.process_time() - started
        for T in HORIZONS:
            by = next(b for b in simulated["points"][i]["by"] if b["horizon"] == T)
            th = next(r for r in theory if r["horizon"] == T)
            p_theory = th["p"][th["values"].index(value)]
            d = checked[T]
            agree = by["low"] <= d["high"] and d["low"] <= by["high"]
            rows.append({"value": value, "horizon": T, "simulated": by, "theory": p_theory,
                         "direct": d, "direct_seconds": seconds, "agree": bool(agree)})
            print(f"efficacy {value:<5g} T = {T:<5d} decomposition {by['p']:.3g} "
                  f"[{by['low']:.3g}, {by['high']:.3g}]  theory {p_theory:.3g}  direct "
                  f"{d['p']:.3g} [{d['low']:.3g}, {d['high']:.3g}] ({d['hits']}/"
                  f"{args.replicates}, {seconds:.0f} s)  {'agree' if agree else 'DISAGREE'}",
                  flush=True)
    report("study_gradual", {"seed": args.seed, "replicates": args.replicates,
                             "founders": args.founders, "size": SIZE, "horizons": HORIZONS,
                             "decomposition_seconds": decomposition_seconds, "rows": rows},
           args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
