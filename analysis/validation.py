"""``substrate validate``: the engine against theory (docs/model.md, "Validation").

Each check runs the real engine (:class:`simulation.engine.World`) and compares
an estimate with a value from :mod:`analysis.theory`. Independent replicates
are independent *agents* of one world: without an economy agents share
nothing but the random stream, so R agents are R replicates at the cost of
one run. A check passes when ``|estimate - theory| <= 4 SE``; for a
probability SE is computed under the theory value, sqrt(p (1 - p) / n), for a
mean it is the sample standard error. With about 25 checks, a correct engine
fails one by chance with probability about 25 * 6e-5 = 0.2%; the seeds are
fixed, so a given version always passes or always fails.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pandas as pd

from simulation import validate as validate_scenario
from simulation.engine import World

from . import theory
from .estimators import wilson_interval

TOLERANCE_SE = 4.0


@dataclasses.dataclass
class CheckResult:
    group: str
    check: str
    quantity: str
    theory: float
    estimate: float
    ci_low: float
    ci_high: float
    se: float
    replicates: int
    seed: int
    seconds: float = 0.0

    @property
    def z(self) -> float:
        return (self.estimate - self.theory) / self.se if self.se > 0 else (
            0.0 if self.estimate == self.theory else math.inf)

    @property
    def passed(self) -> bool:
        return abs(self.z) <= TOLERANCE_SE


def _world(seed: int, agents: int, agent: dict, copy=None, immune=None) -> World:
    sc = validate_scenario({
        "seed": seed, "world": {"agents": agents}, "agent": agent,
        "copy": copy or {"error_rate": 0.0},
        "immune": immune or {"surveillance": 0.0}})
    return World(sc, seed=seed)


def _absorb(world: World, max_ticks: int):
    """Step until every agent's seeded lineage is fixed or lost (or the agent
    is extinct). Returns per-agent fixation tick, loss tick (-1: not yet) and
    an extinction flag."""
    n = world.n_agents
    fixed = np.full(n, -1)
    lost = np.full(n, -1)
    for _ in range(max_ticks):
        world.step()
        size = world.agents.size[: world.n_agents]
        seeded = world.agents.seeded[: world.n_agents]
        open_ = (fixed < 0) & (lost < 0)
        lost[open_ & (seeded == 0)] = world.tick
        fixed[open_ & (seeded == size) & (size > 0)] = world.tick
        if not np.any((fixed < 0) & (lost < 0)):
            break
    extinct = world.agents.size[: world.n_agents] == 0
    return fixed, lost, extinct


def _proportion(group, check, quantity, expected, successes, trials, seed):
    p, low, high = wilson_interval(successes, trials)
    se = math.sqrt(expected * (1 - expected) / trials) if trials else math.nan
    return CheckResult(group, check, quantity, expected, p, low, high, se, trials, seed)


def _mean(group, check, quantity, expected, values, seed):
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(len(values)))
    return CheckResult(group, check, quantity, expected, mean, mean - 1.96 * se,
                       mean + 1.96 * se, se, len(values), seed)


# --- the checks ---------------------------------------------------------------

def neutral_fixation(dynamics: str, n: int, replicates: int, seed: int):
    """One neutral seeded subcomponent among n fixes with probability 1/n."""
    if dynamics == "birth_death":
        # Capacity such that the logistic equilibrium K (1 - d / b) equals n.
        agent = {"capacity": round(n / (1 - 0.1 / 0.5)), "birth_rate": 0.5,
                 "death_rate": 0.1}
    else:
        agent = {"capacity": n}
    agent.update(dynamics=dynamics, initial_size=n, seed_clones=[{"count": 1}])
    world = _world(seed, replicates, agent)
    fixed, lost, extinct = _absorb(world, 200 * n)
    decided = ((fixed > 0) | (lost > 0)) & ~extinct
    return _proportion("neutral_fixation", f"{dynamics}, N={n}", "P(fixation)",
                       theory.neutral_fixation(n), int((fixed[decided] > 0).sum()),
                       int(decided.sum()), seed)


def moran_fixation(r: float, n: int, replicates: int, seed: int):
    """A mutant of relative fitness r."""
    resident, mutant = _drives_for(r)
    world = _world(seed, replicates, {
        "dynamics": "moran", "capacity": n, "initial_size": n,
        "initial_traits": {"drive": resident, "loyalty": 0.0}, "drive_advantage": 1.0,
        "loyalty_cost": 0.0, "escape_threshold": 1.0,
        "seed_clones": [{"count": 1, "traits": {"drive": mutant}}]})
    fixed, lost, _ = _absorb(world, 500 * n)
    decided = (fixed > 0) | (lost > 0)
    return _proportion("moran_fixation", f"r={r}, N={n}", "P(fixation)",
                       theory.moran_fixation(r, n), int((fixed[decided] > 0).sum()),
                       int(decided.sum()), seed)


def moran_fixation_time(n: int, replicates: int, seed: int):
    """Neutral conditional fixation time: n(n-1) events; a tick is n events
    and fixation is seen at the end of a tick, so the engine's fixation tick
    is ceil(T / n), whose exact mean the theory module computes."""
    world = _world(seed, replicates, {"dynamics": "moran", "capacity": n,
                                      "initial_size": n, "seed_clones": [{"count": 1}]})
    fixed, _, _ = _absorb(world, 1000 * n)
    result = _mean("moran_fixation_time",
                   f"N={n} ({theory.moran_neutral_fixation_time(n):.0f} events)",
                   "mean fixation tick | fixed", theory.moran_neutral_fixation_ticks(n),
                   fixed[fixed > 0], seed)
    result.replicates = replicates
    return result


def _drives_for(relative_fitness: float):
    """(resident, mutant) drives giving the mutant this relative fitness
    under w = 1 + drive (drive_advantage 1, loyalty_cost 0)."""
    if relative_fitness >= 1:
        return 0.0, relative_fitness - 1
    return 1 / relative_fitness - 1, 0.0


def wright_fisher_fixation(s: float, n: int, replicates: int, seed: int,
                           kimura: bool = False):
    """One mutant of relative fitness 1 + s."""
    resident, mutant = _drives_for(1 + s)
    world = _world(seed, replicates, {
        "dynamics": "wright_fisher", "capacity": n, "initial_size": n,
        "initial_traits": {"drive": resident, "loyalty": 0.0}, "drive_advantage": 1.0,
        "loyalty_cost": 0.0, "escape_threshold": 1.0,
        "seed_clones": [{"count": 1, "traits": {"drive": mutant}}]})
    fixed, lost, _ = _absorb(world, 100 * n)
    decided = (fixed > 0) | (lost > 0)
    if kimura:
        return _proportion("kimura_fixation", f"s={s}, N={n}", "P(fixation)",
                           theory.kimura_fixation(s, n), int((fixed[decided] > 0).sum()),
                           int(decided.sum()), seed)
    return _proportion("wright_fisher_fixation", f"s={s}, N={n} (exact chain)",
                       "P(fixation)", theory.wright_fisher_fixation_exact(n, s),
                       int((fixed[decided] > 0).sum()), int(decided.sum()), seed)


def mutation_selection_balance(mu: float, s: float, n: int, replicates: int, seed: int,
                               burn_in: int = 300, generations: int = 500):
    """A defector-like mutant (drive 0 -> 1 by copy error at rate mu) that the
    immune system removes with probability s per generation, under
    wright_fisher. Estimate: each agent's mean defector fraction over
    ``generations`` after ``burn_in``; agents are independent replicates."""
    world = _world(seed, replicates,
                   {"dynamics": "wright_fisher", "capacity": n, "initial_size": n,
                    "initial_traits": {"drive": 0.0}, "drive_advantage": 0.0,
                    "escape_threshold": 0.5},
                   copy={"error_rate": mu, "traits": ["drive"],
                         "kernel": {"type": "step", "size": 1.0, "direction": "up"}},
                   immune={"surveillance": 1.0, "efficacy": s, "tolerance": 0.5,
                           "traits": ["drive"]})
    for _ in range(burn_in):
        world.step()
    total = np.zeros(replicates)
    for _ in range(generations):
        world.step()
        total += world.agents.defectors[: world.n_agents] / world.agents.size[: world.n_agents]
    return _mean("mutation_selection_balance", f"mu={mu}, s={s}, N={n}",
                 "mean mutant fraction", theory.selection_mutation_balance(mu, s),
                 total / generations, seed)


def galton_watson_escape(birth: float, death: float, replicates: int, seed: int):
    """One defector per agent, capacity 10^9 (g = 1 - N/K within 10^-6 of 1
    below 1000 members); escaped at 200 members, from where the extinction
    probability q^200 is negligible (< 10^-12 for these rates)."""
    world = _world(seed, replicates, {
        "capacity": 10**9, "initial_size": 1, "birth_rate": birth, "death_rate": death,
        "drive_advantage": 0.0, "loyalty_cost": 0.0, "initial_traits": {"drive": 0.9}})
    for _ in range(20000):
        size = world.agents.size[: world.n_agents]
        if np.all((size == 0) | (size >= 200)):
            break
        world.step()
    escaped = int((world.agents.size[: world.n_agents] >= 200).sum())
    return _proportion("galton_watson_escape", f"b={birth}, d={death}", "P(escape)",
                       theory.galton_watson_escape(birth, death), escaped, replicates, seed)


def error_rate(mu: float, redundancy: int, correlation: float, size: int, seed: int,
               ticks: int = 20):
    """Trait mutations per newborn-trait, counted from the engine's own copy
    errors, against the majority-vote error rate."""
    world = _world(seed, 1, {"capacity": 2 * size, "initial_size": size,
                             "birth_rate": 0.5},
                   copy={"error_rate": mu, "redundancy": redundancy,
                         "error_correlation": correlation})
    births = mutations = 0
    for _ in range(ticks):
        world.step()
        births += int(world.tick_totals["births"])
        mutations += int(world.tick_totals["mutations"])
    trials = 4 * births  # all four traits are copied
    return _proportion("effective_error_rate", f"mu={mu}, r={redundancy}, rho={correlation}",
                       "mutations per newborn-trait",
                       theory.majority_vote_error_rate(mu, redundancy, correlation),
                       mutations, trials, seed)


# --- the tiers ----------------------------------------------------------------

def plan(tier: str):
    """The checks of a tier as (function, kwargs); seeds fixed per check."""
    quick = tier == "quick"
    reps = 10000 if quick else 100000
    checks = []
    for dynamics in ("birth_death", "wright_fisher", "moran"):
        for n in ((10,) if quick else (10, 30)):
            checks.append((neutral_fixation, dict(dynamics=dynamics, n=n, replicates=reps)))
    for r, n in ([(1.5, 10), (2.0, 10)] if quick else
                 [(1.1, 10), (1.5, 10), (2.0, 10), (0.8, 10), (1.1, 30), (1.5, 30)]):
        checks.append((moran_fixation, dict(r=r, n=n, replicates=reps)))
    for n in ((10,) if quick else (10, 20)):
        checks.append((moran_fixation_time, dict(n=n, replicates=reps * 2)))
    for s, n in ([(0.1, 20)] if quick else [(0.05, 20), (0.1, 20), (0.3, 20), (-0.1, 20)]):
        checks.append((wright_fisher_fixation, dict(s=s, n=n, replicates=reps)))
    if not quick:
        checks.append((wright_fisher_fixation, dict(s=0.02, n=200, replicates=reps,
                                                    kimura=True)))
    for mu, s in ([(1e-3, 0.1)] if quick else [(1e-3, 0.1), (1e-3, 0.3), (1e-4, 0.05)]):
        checks.append((mutation_selection_balance,
                       dict(mu=mu, s=s, n=1000, replicates=200 if quick else 1000)))
    for b, d in ([(0.3, 0.1), (0.5, 0.2)] if quick else
                 [(0.3, 0.1), (0.5, 0.2), (0.25, 0.15), (0.8, 0.5), (0.15, 0.1)]):
        checks.append((galton_watson_escape, dict(birth=b, death=d, replicates=reps)))
    for mu, r, rho in ([(0.01, 1, 0.0), (0.05, 3, 0.0)] if quick else
                       [(0.01, 1, 0.0), (0.05, 3, 0.0), (0.05, 5, 0.0), (0.02, 5, 0.3),
                        (0.1, 3, 1.0)]):
        checks.append((error_rate, dict(mu=mu, redundancy=r, correlation=rho,
                                        size=100000 if quick else 300000)))
    # One fixed seed per check: 1000 + its position in the full plan's order.
    return [(fn, dict(kw, seed=1000 + i)) for i, (fn, kw) in enumerate(checks)]


def run(tier: str = "quick", progress=None) -> list[CheckResult]:
    """Run every check of a tier (``quick`` or ``full``)."""
    results = []
    for fn, kwargs in plan(tier):
        started = time.perf_counter()
        result = fn(**kwargs)
        result.seconds = time.perf_counter() - started
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def table(results: list[CheckResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        row = dataclasses.asdict(r)
        row.update(z=r.z, passed=r.passed)
        rows.append(row)
    return pd.DataFrame(rows)


def format_table(df: pd.DataFrame) -> str:
    lines = [f"{'check':<54} {'quantity':<28} {'theory':>9} {'simulated [95% CI]':>30} "
             f"{'reps':>6} {'z':>6}  result"]
    for r in df.itertuples():
        ci = f"{r.estimate:.4g} [{r.ci_low:.4g}, {r.ci_high:.4g}]"
        lines.append(f"{r.group + ': ' + r.check:<54} {r.quantity:<28} {r.theory:>9.4g} "
                     f"{ci:>30} {r.replicates:>6} {r.z:>6.2f}  "
                     f"{'pass' if r.passed else 'FAIL'}")
    return "\n".join(lines)


def figures(df: pd.DataFrame, folder, provenance: dict | None = None) -> list:
    """One theory-vs-simulation figure per group of checks, written atomically
    (with ``provenance`` in each PNG's metadata)."""
    from matplotlib.figure import Figure

    from simulation.io import write_figure

    paths = []
    for group, rows in df.groupby("group", sort=False):
        fig = Figure(figsize=(max(4, 1.3 * len(rows) + 2), 3.6), layout="constrained")
        ax = fig.subplots()
        x = np.arange(len(rows))
        # (arrays, not Series: matplotlib's float() of a one-row Series is a
        # pandas FutureWarning on stderr)
        estimate, low, high = (rows[c].to_numpy(float) for c in ("estimate", "ci_low",
                                                                  "ci_high"))
        ax.errorbar(x, estimate, yerr=[estimate - low, high - estimate],
                    fmt="o", color="C0", capsize=4, label="simulated (95% CI)")
        ax.scatter(x, rows.theory.to_numpy(float), marker="_", s=600, color="C3", zorder=3,
                   label="theory")
        ax.set_xticks(x, rows.check, rotation=20, ha="right", fontsize="small")
        ax.set_ylabel(rows.quantity.iloc[0])
        ax.set_title(group.replace("_", " "))
        ax.legend(fontsize="small")
        path = folder / f"{group}.png"
        paths.append(write_figure(fig, path, dpi=100, provenance=provenance))
    return paths
