"""The defence study where defection takes several copy errors: the
background, its defector founders, and founded lineages by splitting.

Where one copy error does not make an escaping defector (the flagship's
normal kernel: drive walks to the threshold through sub-threshold clones,
and a defector keeps evolving after it crosses), the study splits the risk
at the founding of a defector clone (docs/model.md, "The defence study on
gradual physics"):

    P(takeover by T) = 1 - exp(-int_0^T nu(t) pi_t(T - t) dt),

- nu(t), the rate at which the *background* (the system without escaping
  defectors) founds defector clones, comes from simulated background paths
  (:func:`simulate_background`): at every record, the expected defector
  foundings per tick of the clones present,
  sum_c n_c p_b,c mu_eff,c P(d_c + X > theta) over d_c <= theta;
- pi_t(u), the probability that a defector founded at t takes over within
  u ticks, averages over the founders of that time (:func:`draw_founders`:
  a parent clone drawn by its founding rate, its drive step conditioned on
  crossing theta) the splitting estimate (:func:`simulation.risk.run_repeat`)
  of one founded lineage in the full model, started from the background's
  dominant clone at its size plus the founder, with copy errors in the
  founded lineage only (``copy.seeded_only``: a fixed background, whose own
  founders are counted by nu, not twice).

Founders are stratified (a defensive importance sampling of the first,
rare step): by founding window (the intervals between the study's
horizons), by the parent's stealth (quantiles of the founding-weighted
pool) and by the drive step's quantile (the far tail, where founders escape
most, gets as many founders as the bulk); each founder carries the
likelihood ratio of its stratum, so every founder's weighted estimate is
unbiased for the window's pi and their mean is.

Seeds: background replicate b of size N uses the seed derived from (master
seed, ``GRADUAL_STREAM``, N, 0) (the b-th), founder r the stream (master,
``GRADUAL_STREAM``, N, 1, r) and the splitting runs the master seed of
(master, ``GRADUAL_STREAM``, N, 2) with repeat index r. Every value of the
solved key has its own background (the immune system acts on its deviant
clones) from the same seeds, and its founders from the same streams
(common random numbers).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from .engine import World
from .errors import ScenarioError
from .kernels.clones import effective_error_rate
from .names import TRAITS
from .scenario import Scenario, point_scenario

#: First spawn-key component of the gradual study's streams.
GRADUAL_STREAM = 130_363
DRIVE, LOYALTY, STEALTH, FIDELITY = (TRAITS.index(t) for t in
                                     ("drive", "loyalty", "stealth", "fidelity"))
#: Strata of the parent's stealth: upper ends of founding-weighted quantiles.
STEALTH_STRATA = (0.5, 0.9, 1.0)
#: Strata of the drive step's quantile within its law conditioned on crossing.
DRIVE_STRATA = (0.9, 0.99, 0.999, 1.0)


def check_gradual(scenario: Scenario) -> None:
    """Refuse a scenario outside the decomposition's reach (messages name no flag)."""
    a, c, im, w = scenario.agent, scenario.copy, scenario.immune, scenario.world
    why = []
    if a.dynamics != "birth_death" or w.agents != 1 or w.income is not None:
        why.append("a birth_death singleton without economy")
    if "drive" not in c.traits or c.error_rate == 0:
        why.append("copy errors of drive")
    if c.noise.sigma > 0 or c.systematic.rate > 0 or im.improvement > 0:
        why.append("constant rates (no environmental noise, systematic error or immune "
                   "improvement)")
    if scenario.landscape.type == "random" or im.reference != "founder":
        why.append("a linear or rugged landscape and a fixed self")
    if a.seed_clones:
        why.append("no seed clones (the study places its own)")
    if why:
        raise ScenarioError("the gradual defence study needs " + "; ".join(why))


# --- the background's founding rate --------------------------------------------

def _drive_bias(kernel) -> float:
    return kernel.bias.get("drive", 0.0) if isinstance(kernel.bias, dict) else kernel.bias


def drive_crossing(kernel, gaps) -> np.ndarray:
    """P(a mutated drive d + X exceeds theta), for gaps theta - d (clipping
    at 1 does not matter: theta < 1)."""
    gaps = np.asarray(gaps, dtype=float)
    if kernel.type == "normal":
        return stats.norm.sf(gaps, loc=_drive_bias(kernel), scale=kernel.sd)
    if kernel.type == "cauchy":
        return stats.cauchy.sf(gaps, scale=kernel.scale)
    if kernel.type == "step":
        share = 0.5 if kernel.direction == "both" else 1.0
        up = (kernel.direction != "down") * share * (kernel.size > gaps)
        down = (kernel.direction != "up") * share * (-kernel.size > gaps)
        return up + down
    raise ValueError("uniform kernel: see founding_weights")


def founding_weights(scenario: Scenario, counts: np.ndarray, traits: np.ndarray,
                     zref: np.ndarray) -> np.ndarray:
    """Expected defector clones founded per tick by each clone (0 for
    defectors): n p_b mu_eff P(d + X > theta), with the birth probability
    p_b of the next tick at the current size (docs/model.md, "One tick")."""
    a, c, ls = scenario.agent, scenario.copy, scenario.landscape
    theta = a.escape_threshold
    drive = traits[:, DRIVE]
    g = max(0.0, 1.0 - float(counts.sum()) / a.capacity)
    fit = 1.0 + a.drive_advantage * drive
    if ls.type == "rugged":
        fit = fit + ls.ruggedness * np.sin(2 * np.pi * ls.peaks * drive)
    divisor = 1.0 + c.redundancy_cost * (c.redundancy - 1)
    p_b = np.minimum(1.0, a.birth_rate * np.maximum(fit, 0.0)
                     * (1.0 - a.loyalty_cost * traits[:, LOYALTY]) * g / divisor)
    mu_r = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)
    mu = np.minimum(1.0, mu_r * np.exp(c.mutator_strength * (zref[FIDELITY]
                                                               - traits[:, FIDELITY])))
    cross = (np.full(drive.shape, 1.0 - theta) if c.kernel.type == "uniform"
             else drive_crossing(c.kernel, theta - drive))
    return np.where(drive <= theta, counts * p_b * mu * cross, 0.0)


def background_scenario(base: Scenario, horizon: int) -> Scenario:
    """The background: the full model with defectors held to the residents'
    growth control (``agent.escape_headroom`` 1), so that none escapes (the
    defectors it founds are counted by nu; their fate is the founded
    lineages'), no stop event, a record at the horizon."""
    return point_scenario(base.model_dump(mode="json"), {
        "horizon": horizon, "record_every": horizon, "record_clones": False,
        "stop.on": [], "agent.escape_headroom": 1.0}, "<study>", "study background")


@dataclasses.dataclass
class Background:
    """Simulated background paths of one size (:func:`simulate_background`)."""

    ticks: np.ndarray  #: int64 (records,): the record ticks, 0 first.
    nu: np.ndarray  #: float64 (replicates, records): defector foundings per tick.
    size: np.ndarray  #: float64 (replicates, records): members.
    pool_tick: np.ndarray  #: int64: the record of each founding clone seen.
    pool_traits: np.ndarray  #: float64 (rows, 4): its traits.
    pool_weight: np.ndarray  #: float64: its founding rate per tick (founding_weights).
    dominant: np.ndarray  #: float64 (4,): the largest clone's traits at the end.
    deviant_share: float  #: the share of nu from clones the immune system sees.
    pool_every: int = 1  #: ticks between the records that keep their founding clones.

    def residents(self) -> int:
        """Members of the quasi-stationary background (mean over the last half)."""
        return max(1, int(round(float(self.size[:, self.size.shape[1] // 2:].mean()))))

    def summary(self) -> dict:
        """The background as ``study.json`` keeps it (the pool aside)."""
        return {"ticks": self.ticks.tolist(), "nu": self.nu.tolist(),
                "size": self.size.tolist(), "dominant": self.dominant.tolist(),
                "residents": self.residents(), "deviant_share": self.deviant_share}


#: At most this many records of a background replicate keep their founding
#: clones in the pool (evenly spaced; each then stands for the records
#: between): bounds its memory (a 10^5-member background holds ~10^3
#: founding clones per record).
POOL_RECORDS = 1000


def simulate_background(scenario: Scenario, replicates: int, every: int, seeds,
                        progress=None) -> Background:
    """``replicates`` background paths of ``scenario`` (as made by
    :func:`background_scenario`), nu recorded every ``every`` ticks to its
    horizon and the founding clones at :data:`POOL_RECORDS` of those records."""
    horizon = scenario.horizon
    ticks = np.unique(np.r_[np.arange(0, horizon, every), horizon]).astype(np.int64)
    stride = max(1, math.ceil(ticks.size / POOL_RECORDS))
    nu = np.zeros((replicates, ticks.size))
    size = np.zeros((replicates, ticks.size))
    pool = ([], [], [])
    seen = np.zeros(2)  # founding rate from deviant clones, from all
    im = scenario.immune
    watched = np.array([t in im.traits for t in TRAITS])
    world = None
    for b in range(replicates):
        if world is None:
            world = World(scenario, seed=int(seeds[b]), start=False)
        else:
            world.reset(int(seeds[b]))
        zref = world.agents.zref[0].copy()
        for j, t in enumerate(ticks):
            world.advance(int(t))
            cl = world.clones
            live = cl.count > 0
            counts = cl.count[live].astype(float)
            traits = cl.traits[live]
            w = founding_weights(scenario, counts, traits, zref)
            nu[b, j], size[b, j] = w.sum(), counts.sum()
            keep = w > 0
            if keep.any() and (j % stride == 0 or j == ticks.size - 1):
                pool[0].append(np.full(int(keep.sum()), t, dtype=np.int64))
                pool[1].append(traits[keep].copy())
                pool[2].append(w[keep])
                deviant = (np.abs(traits[keep] - zref)[:, watched].max(axis=1)
                           > im.tolerance)
                seen += (w[keep][deviant].sum(), w[keep].sum())
        if b == 0:
            dominant = world.clones.traits[int(np.argmax(world.clones.count))].copy()
        if progress:
            progress()
    if not pool[0]:
        raise ScenarioError("the background founded no defector: copy errors cannot "
                            "carry drive over the escape threshold there")
    return Background(ticks, nu, size, np.concatenate(pool[0]), np.concatenate(pool[1]),
                      np.concatenate(pool[2]), dominant, float(seen[0] / seen[1]),
                      int(stride * every))


# --- founders -------------------------------------------------------------------

def founding_windows(horizons) -> list[tuple[int, int]]:
    """The founding windows: the intervals between 0 and the study's
    horizons (each founder's window is what the horizons above it share);
    a window beyond the background's horizon draws its founders from the
    background's last half (the stationary assumption)."""
    edges = [0] + sorted(set(int(T) for T in horizons))
    return [(lo, hi) for lo, hi in zip(edges, edges[1:])]


#: Resolution of the pools kept for the theory: parents' traits binned this finely.
POOL_BIN = 0.005


def binned_pools(background: Background, windows) -> list[dict]:
    """Per founding window, the founding clones' traits binned by
    :data:`POOL_BIN` with their founding weights summed (normalised to 1 in
    the window): what the multi-hit theory averages over (a compact record
    of the pool, kept in the study's parts)."""
    pools = []
    for window in windows:
        rows = _pool_rows(background, window)
        bins = np.round(background.pool_traits[rows] / POOL_BIN).astype(np.int64)
        unique, inverse = np.unique(bins, axis=0, return_inverse=True)
        weights = np.bincount(inverse.ravel(), weights=background.pool_weight[rows])
        pools.append({"traits": (unique * POOL_BIN).round(6).tolist(),
                      "weights": (weights / weights.sum()).tolist()})
    return pools


def _pool_rows(background: Background, window: tuple[int, int]) -> np.ndarray:
    lo, hi = window
    stop = int(background.ticks[-1])
    if lo >= stop:  # beyond the background: its stationary last half
        lo, hi = stop // 2, stop
    rows = np.flatnonzero((background.pool_tick > lo) & (background.pool_tick <= hi))
    if rows.size == 0:  # a window shorter than the records: the nearest record
        rows = np.flatnonzero(background.pool_tick
                              == background.ticks[np.searchsorted(background.ticks, hi)
                                                  .clip(max=background.ticks.size - 1)])
    return rows


def _stealth_stratum(traits, weights, stratum: int) -> tuple[np.ndarray, float]:
    """Rows of one stratum of the parent's stealth and its probability: the
    rows ordered by stealth, each in the stratum of founding-weighted
    quantiles that holds the middle of its mass (so the strata partition
    the rows; a stratum may be empty: probability 0)."""
    order = np.argsort(traits[:, STEALTH], kind="stable")
    mass = weights[order] / weights.sum()
    middle = np.cumsum(mass) - mass / 2
    lo = STEALTH_STRATA[stratum - 1] if stratum else 0.0
    rows = order[(middle >= lo) & (middle < STEALTH_STRATA[stratum])]
    return rows, float(weights[rows].sum() / weights.sum())


def _step_at(kernel, gap: float, u: float) -> float:
    """The drive step at quantile u of the kernel's law conditioned on
    crossing ``gap``."""
    if kernel.type == "normal":
        b, sd = _drive_bias(kernel), kernel.sd
        return float(stats.norm.isf((1.0 - u) * stats.norm.sf(gap, b, sd), b, sd))
    if kernel.type == "cauchy":
        return float(stats.cauchy.isf((1.0 - u) * stats.cauchy.sf(gap, scale=kernel.scale),
                                      scale=kernel.scale))
    if kernel.type == "step":
        return kernel.size if kernel.size > gap else -kernel.size
    raise ValueError("uniform kernel: a fresh value")


def _other_errors(scenario: Scenario, traits: np.ndarray, mu: float, rng) -> None:
    """The founder's other copied traits: each mutates with probability mu
    (copy errors hit traits independently; drive did)."""
    k = scenario.copy.kernel
    for name in scenario.copy.traits:
        j = TRAITS.index(name)
        if j == DRIVE or rng.random() >= mu:
            continue
        if k.type == "uniform":
            traits[j] = rng.random()
            continue
        if k.type == "normal":
            step = rng.normal(k.bias.get(name, 0.0) if isinstance(k.bias, dict) else k.bias,
                              k.sd)
        elif k.type == "cauchy":
            step = k.scale * rng.standard_cauchy()
        else:
            up = {"up": True, "down": False}.get(k.direction, rng.random() < 0.5)
            step = k.size if up else -k.size
        traits[j] = min(1.0, max(0.0, traits[j] + step))


def founder_rng(seed: int, size: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(
        seed, spawn_key=(GRADUAL_STREAM, size, 1, index)))


def draw_founders(scenario: Scenario, background: Background, horizons, per_stratum: int,
                  seed: int) -> list[dict]:
    """The founders of one size: ``per_stratum`` in every stratum (window x
    parent stealth x drive quantile), in that order.

    A founder of window W = (a, b] is drawn from the founding clones recorded
    in W: its stratum of the parent's stealth (probability P_s), a parent
    in it by founding rate, a founding tick uniform within the interval its
    record stands for (``pool_every`` ticks before it, within W), and a
    drive step at a quantile u uniform within the drive stratum
    (probability P_d) of the kernel's law conditioned on crossing theta; its other copied traits err with
    probability mu_eff. Its ``likelihood_ratio`` is S_s P_s S_d P_d
    (S the number of strata): the strata are visited alike, each standing
    for its probability.
    """
    c, theta = scenario.copy, scenario.agent.escape_threshold
    size = scenario.agent.capacity
    mu_r = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)
    f_ref = scenario.agent.initial_traits.fidelity
    drive_strata = DRIVE_STRATA if c.kernel.type in ("normal", "cauchy") else (1.0,)
    every = background.pool_every
    founders = []
    for w, window in enumerate(founding_windows(horizons)):
        rows = _pool_rows(background, window)
        traits, weights = background.pool_traits[rows], background.pool_weight[rows]
        for s in range(len(STEALTH_STRATA)):
            members, p_s = _stealth_stratum(traits, weights, s)
            for d in range(len(drive_strata)):
                lo = drive_strata[d - 1] if d else 0.0
                p_d = drive_strata[d] - lo
                for k in range(per_stratum):
                    index = len(founders)
                    rng = founder_rng(seed, size, index)
                    if members.size == 0:  # an empty stratum stands for nothing
                        founders.append({"window": w, "stealth_stratum": s,
                                         "drive_stratum": d, "tick": window[1],
                                         "traits": None, "likelihood_ratio": 0.0})
                        continue
                    row = members[rng.choice(members.size, p=weights[members]
                                             / weights[members].sum())]
                    parent = traits[row]
                    tick = int(background.pool_tick[rows[row]])
                    tick = max(window[0], tick - int(rng.integers(0, every)))
                    founder = parent.copy()
                    if c.kernel.type == "uniform":
                        founder[DRIVE] = theta + rng.random() * (1.0 - theta)
                    else:
                        u = lo + rng.random() * p_d
                        step = _step_at(c.kernel, theta - parent[DRIVE], u)
                        founder[DRIVE] = min(1.0, parent[DRIVE] + step)
                    founder[DRIVE] = max(founder[DRIVE], np.nextafter(theta, 1.0))
                    mu = min(1.0, mu_r * math.exp(c.mutator_strength * (f_ref
                                                                        - parent[FIDELITY])))
                    _other_errors(scenario, founder, mu, rng)
                    founders.append({
                        "window": w, "stealth_stratum": s, "drive_stratum": d,
                        "tick": min(tick, window[1]), "traits": founder.tolist(),
                        "likelihood_ratio": (len(STEALTH_STRATA) * p_s
                                             * len(drive_strata) * p_d)})
    return founders


# --- founded lineages -------------------------------------------------------------

def lineage_scenario(base: Scenario, key: str, value: float, background: list, residents: int,
                     founder, horizon: int) -> Scenario:
    """One founded defector (tracked) among ``residents`` background members
    (one untracked clone of traits ``background``), copy errors in the
    founded lineage only, stopped at takeover or at the lineage's loss."""
    return point_scenario(base.model_dump(mode="json"), {
        key: value, "horizon": horizon, "record_every": horizon, "record_clones": False,
        "agent.initial_size": residents + 1,
        "agent.seed_clones": [
            {"count": residents, "tracked": False,
             "traits": dict(zip(TRAITS, map(float, background)))},
            {"count": 1, "traits": dict(zip(TRAITS, map(float, founder)))}],
        "copy.seeded_only": True, "stop.on": ["takeover", "fixation"]},
        "<study>", f"study lineage {key}={value}")


def splitting_seed(seed: int, size: int) -> int:
    """The master seed of one size's splitting runs."""
    return int(np.random.SeedSequence(seed, spawn_key=(GRADUAL_STREAM, size, 2))
               .generate_state(1, np.uint64)[0])


def background_seeds(seed: int, size: int, replicates: int) -> np.ndarray:
    return np.random.SeedSequence(seed, spawn_key=(GRADUAL_STREAM, size, 0)).generate_state(
        replicates, np.uint64)


def simulate_lineages(base: Scenario, key: str, value: float, founders: list[dict],
                      dominant, residents: int, particles: int, horizon: int, seed: int,
                      score: str | None = None, tilt: float | None = None,
                      method: str = "splitting", progress=None) -> list[dict]:
    """One splitting run of ``particles`` particles to ``horizon`` per founder
    (:func:`simulation.risk.run_repeat`, repeat index = the founder's).

    Returns
    -------
    list of dict
        Per founder, what the estimate needs: ``estimate`` (p_hat, unbiased
        for the founder's P(takeover by horizon)), ``log10_weight`` (of the
        splitting levels), ``hit_ticks`` (the takeover tick of each final
        particle), ``weights`` (their likelihood ratios, with a tilt),
        ``iterations`` and ``ticks``.
    """
    from .risk import run_repeat

    master = splitting_seed(seed, base.agent.capacity)
    out = []
    for r, founder in enumerate(founders):
        if founder["traits"] is None:  # an empty stratum (likelihood ratio 0)
            out.append({"estimate": 0.0, "log10_weight": None, "hit_ticks": [],
                        "iterations": 0, "ticks": 0})
            if progress:
                progress()
            continue
        sc = lineage_scenario(base, key, value, dominant, residents, founder["traits"],
                              horizon)
        result = run_repeat(sc.model_dump(mode="json"), "takeover", method, particles,
                            master, r, score, tilt)
        out.append({k: result[k] for k in ("estimate", "log10_weight", "hit_ticks",
                                           "iterations", "ticks") if k in result}
                   | ({"weights": result["weights"]} if "weights" in result else {}))
        if progress:
            progress()
    return out


def study_size(scenario: Scenario, study, seed: int, state: dict | None = None,
               save=None, progress=None) -> dict:
    """The simulated points of one size of a gradual study: at every value
    of the solved key, its background, its founders, then their founded
    lineages (``state``: what an interrupted call kept, continued;
    ``save(state)`` after each value).

    The background is simulated at each value: the immune system acts on
    the background's deviant clones (drive between the tolerance band and
    theta: the staircase that founds most defectors where the defence is
    weak), so its founding rate depends on the value. Every value uses the
    same background seeds and founder streams (common random numbers).

    Returns
    -------
    dict
        ``points``: per value, ``value``, ``background``
        (:meth:`Background.summary`), ``pools`` (:func:`binned_pools`),
        ``founders`` (:func:`draw_founders`) and ``lineages`` (as
        :func:`simulate_lineages` returns them).
    """
    sim = study.simulate
    size = scenario.agent.capacity
    state = {"points": []} if state is None else state
    bg_horizon = min(sim.background.horizon, max(study.horizons))
    data = scenario.model_dump(mode="json")
    for _ in state["points"]:
        if progress:
            for _ in range(sim.background.replicates):
                progress()
    for value in sim.values[len(state["points"]):]:
        at_value = point_scenario(data, {study.solve: value}, "<study>",
                                  f"study {study.solve}={value}")
        background = simulate_background(
            background_scenario(at_value, bg_horizon), sim.background.replicates,
            sim.background.every, background_seeds(seed, size, sim.background.replicates),
            progress=progress)
        founders = draw_founders(at_value, background, study.horizons, sim.founders, seed)
        lineages = simulate_lineages(scenario, study.solve, value, founders,
                                     background.dominant, background.residents(),
                                     sim.particles, sim.horizon, seed, tilt=sim.tilt,
                                     progress=progress)
        state["points"].append({
            "value": value, "background": background.summary(),
            "pools": binned_pools(background, founding_windows(study.horizons)),
            "founders": founders, "lineages": lineages})
        if save:
            save(state)
    return state
