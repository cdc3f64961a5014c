"""Rare events: P(event by the horizon) by adaptive multilevel splitting.

The probabilities a safety argument needs (1e-6 and below) are invisible to
plain Monte Carlo. Adaptive multilevel splitting (AMS; Cerou & Guyader 2007,
"Adaptive multilevel splitting for rare event analysis", Stoch. Anal. Appl.
25; in the generalized, unbiased form of Brehier, Lelievre & Rousset et al.
2016, "Unbiasedness of some generalized adaptive multilevel splitting
algorithms", Ann. Appl. Probab. 26) estimates them from a few hundred paths.

A *path* (particle) runs one replicate from tick 0 until the horizon, the
event, or the end of the world (extinction; for ``fixation`` also the loss of
the seeded lineage). Its *score* is the running maximum of the event's
progress in [0, 1] (:func:`simulation.engine.build_config`): 1 is the event.
With n particles, one iteration j:

1. z_j = the smallest score among the particles; if z_j = 1 (every particle
   reached the event) the algorithm stops;
2. the K_j particles whose score is <= z_j (all ties at the minimum; the
   generalized variant) are discarded; if K_j = n the estimate is 0;
3. each discarded particle is replaced by a branch of a survivor (chosen
   uniformly): a copy of the survivor's state at the tick at which its score
   first exceeded z_j, continued on a fresh random stream to the path's end.

The estimate is p = prod_j (1 - K_j / n) x (particles at score 1) / n; it is
unbiased for every n (Brehier et al. 2016, theorem 4.1).

Branching point. A particle stores only its starting state (a clone-based
snapshot: cheap) and the spawn key of its random stream. The state at its
first crossing of z_j is obtained by *re-simulating* the particle from its
stored start on the same stream (which replays its path exactly) until its
score exceeds z_j. Re-simulated ticks are counted in ``ticks_simulated``.

Seeds. Repeat ``r``'s root world uses the seed derived from (master seed,
``RISK_STREAM``, r); particle i of the first generation uses stream (master,
``RISK_STREAM``, r, 0, i) and the replacement of slot i at iteration j
stream (master, ``RISK_STREAM``, r, j, i) (``numpy.random.SeedSequence``
spawn keys), and the survivor is drawn from stream (master, ``RISK_STREAM``,
r, j, n). Results are therefore identical whatever the number of workers
or the order in which repeats finish.

``method="direct"`` is plain Monte Carlo through the same code: the first
generation of particles with no splitting iteration.

Confidence intervals come from R independent repetitions of the whole
algorithm (see :func:`combine`). The repetitions are units of work on the
sweeps' machinery (:func:`simulation.cluster.connect`,
:func:`simulation.cluster.map_units`): in this process, on a local Dask cluster
or on a running scheduler; in an output folder (a
:class:`simulation.jobs.JobFolder`), each repetition is written (by the
process that ran it) as a small JSON part, ``parts/risk-IDENTITY-rRRRRRR.json``,
and repetitions already there are read instead of run again, so a killed
estimate resumes where it was. The value of a key at which the risk meets a
target is :mod:`simulation.defence`.
"""

from __future__ import annotations

import json
import math
import sys
import time
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from .budget import check_risk_memory
from .engine import World, build_config
from .errors import ScenarioError
from .jobs import (RISK, JobFolder, check_visible, json_part, request_identity,
                   write_json_part)
from .names import SCORE_EVENTS, SCORES
from .scenario import Scenario

METHODS = ("splitting", "direct", "importance")
#: Importance sampling reports no interval when the hits' effective sample
#: size is below this, or the largest weight holds more than MAX_SHARE of
#: their sum: the weights have degenerated (a few paths carry the estimate).
MIN_EFFECTIVE = 30
MAX_SHARE = 0.1
#: The copy-error probability per birth at which splitting on takeover draws
#: the front's errors by default (:func:`resolve_tilt`; chosen on the exact
#: ladder: docs/rare-events.md, "Gradual paths").
FRONT_ERROR = 3e-3
#: First spawn-key component of every random stream of a risk estimate (apart
#: from the replicate streams of ``run`` and ``sweep``).
RISK_STREAM = 7_919
#: Safety cap on splitting iterations of one repeat (levels strictly rise at
#: every iteration, so this is reached only by a score with ~10^5 distinct
#: values along the way).
MAX_ITERATIONS = 200_000
#: At most this many repetitions when repeating until a relative error is met.
MAX_REPEATS = 1000
#: The fields of an estimate that are wall-clock times (they differ between
#: runs of one request; every other field is fixed by the request and seed).
TIMINGS = ("seconds", "seconds_simulated", "cpu_seconds_simulated", "direct_seconds_per_path",
           "direct_equivalent_seconds", "speedup")


# --- input -------------------------------------------------------------------

def check_request(scenario: Scenario, event: str, method: str, particles: int,
                  repeats: int, score: str | None = None, tilt: float | None = None,
                  tilt_from: float | None = None) -> None:
    """Refuse a request that cannot give an estimate (messages name no flag)."""
    if tilt_from is not None:
        if tilt is None:
            raise ScenarioError("a tilt band needs a tilt of the copy-error rate")
        if not (math.isfinite(tilt_from) and tilt_from >= 0.0):
            raise ScenarioError(f"tilt band from {tilt_from} above the reference drive: "
                                "must be a finite deviation >= 0")
    if method == "importance" and (tilt is None or tilt == 1.0):
        raise ScenarioError("importance sampling needs a tilt of the copy-error rate "
                            "(a factor above 1)")
    if tilt is not None and not (math.isfinite(tilt) and tilt >= 1.0):
        raise ScenarioError(f"error tilt {tilt}: must be a finite factor of at least 1 "
                            "(1: no tilt)")
    if tilt is not None and tilt > 1.0:
        if method == "direct":
            raise ScenarioError("a tilt needs the importance or splitting method "
                                "(direct Monte Carlo draws the scenario's own errors)")
        if scenario.types and not any(e.rate > 0 for e in scenario.mutations):
            raise ScenarioError("an error tilt needs copy errors: no edge of mutations "
                                "has a rate above 0")
        if not scenario.types and scenario.copy.error_rate == 0.0:
            raise ScenarioError("an error tilt needs copy errors: copy.error_rate is 0")
        if not tiltable(scenario):
            raise ScenarioError("an error tilt applies to birth_death and moran dynamics "
                                "without agent reproduction")
    if event not in SCORE_EVENTS:
        raise ScenarioError(f"unknown event {event!r}: choose one of {', '.join(SCORE_EVENTS)}")
    if score is not None and score not in SCORES[event]:
        raise ScenarioError(f"unknown score {score!r} for the {event} event: choose one of "
                            f"{', '.join(SCORES[event])}")
    if method not in METHODS:
        raise ScenarioError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if event == "fixation" and not scenario.agent.seed_clones:
        raise ScenarioError("the fixation event needs a seeded lineage: "
                            "agent.seed_clones is empty")
    if event.startswith("type_") and not scenario.types:
        raise ScenarioError(f"the {event} event needs a types scenario (a types section)")
    if (event == "type_reached" and scenario.stop.type_count is None
            and scenario.stop.type_fraction is None):
        raise ScenarioError("the type_reached event needs stop.type_count or "
                            "stop.type_fraction")
    if event == "size_reached" and scenario.stop.size is None:
        raise ScenarioError("the size_reached event needs stop.size")
    if particles < 2:
        raise ScenarioError(f"particles: {particles}; splitting needs at least 2 "
                            "(a few hundred give a small bias in the interval)")
    if repeats < 2:
        raise ScenarioError(f"repeats: {repeats}; an interval needs at least 2 "
                            "independent repetitions")


def tiltable(scenario: Scenario) -> bool:
    """Whether copy errors can be drawn at tilted rates in this scenario."""
    return (scenario.copy.error_rate > 0.0 and scenario.agent.dynamics != "wright_fisher"
            and scenario.world.reproduction.threshold is None)


class Tilt(NamedTuple):
    """How copy errors are drawn under importance sampling (docs/model.md,
    "Importance sampling"): each birth's copy-error probability p at
    min(f p, max(p, 1/2)) for its factor f, the likelihood ratio kept.

    ``start`` None: every birth at ``factor``. Otherwise a front tilt: the
    births of the clones at the front (the largest sub-threshold drive)
    whose drive exceeds their agent's reference by more than ``start`` at
    ``factor``, other births untilted; while no clone lies that far above
    the reference, every birth at ``resident``; nothing while a defector
    lives."""

    factor: float
    start: float | None = None
    resident: float = 1.0


def as_tilt(tilt) -> Tilt | None:
    """A :class:`Tilt` from a tilt given as a factor (every birth), a Tilt
    or its fields (a list, as JSON keeps it); None for none."""
    if tilt is None:
        return None
    if isinstance(tilt, (int, float)):
        return Tilt(float(tilt))
    return Tilt(*tilt)


def tilt_fields(tilt: Tilt | None) -> dict:
    """The tilt as ``risk.json`` reports it."""
    if tilt is None:
        return {"tilt": None}
    out = {"tilt": tilt.factor}
    if tilt.start is not None:
        out.update(tilt_from=tilt.start, resident_tilt=tilt.resident)
    return out


def resolve_tilt(scenario: Scenario, event: str, method: str, tilt: float | None = None,
                 tilt_from: float | None = None) -> Tilt | None:
    """The :class:`Tilt` an estimate runs with (docs/model.md, "Importance
    sampling"). A given factor is kept (1: none; with ``tilt_from``, a front
    tilt whose residents are untilted). Without one, splitting on takeover
    tilts where copy errors are rare: with p a newborn's copy-error
    probability, the deviant front's births err with probability
    :data:`FRONT_ERROR` (factor FRONT_ERROR / p, if p is below it), and
    while no clone deviates every birth is tilted so that a path's births,
    about B = N0 T b (N0 the initial members, b their births per tick),
    make one copy error on average (factor 1 / (p B), if p B < 1): each step
    of a gradual path, the first from the residents included, is then no
    longer a rare jump. Elsewhere, and where neither applies: None."""
    from .kernels.clones import effective_error_rate

    if tilt is not None:
        if tilt == 1.0:
            return None
        return Tilt(tilt) if tilt_from is None else Tilt(tilt, tilt_from)
    if method != "splitting" or event != "takeover" or not tiltable(scenario):
        return None
    c, a = scenario.copy, scenario.agent
    mu = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)
    p_any = -math.expm1(len(c.traits) * math.log1p(-mu)) if mu < 1.0 else 1.0
    births_per_tick = 1.0 if a.dynamics == "moran" else a.death_rate  # at equilibrium
    births = a.initial_size * births_per_tick * scenario.horizon
    front = FRONT_ERROR / p_any if 0.0 < p_any < FRONT_ERROR else 1.0
    resident = 1.0 / (p_any * births) if 0.0 < p_any * births < 1.0 else 1.0
    if front == 1.0 and resident == 1.0:
        return None
    return Tilt(front, 0.0, resident)


def risk_scenario(scenario: Scenario, event: str) -> Scenario:
    """The scenario as the paths run it: records only at the horizon, no
    lineage table, and ``stop.on`` replaced by the event itself (for
    ``fixation`` this also ends a path at the loss of the seeded lineage,
    after which its score cannot rise)."""
    data = scenario.model_dump(mode="json")
    data.pop("sweep", None)
    data.pop("study", None)
    data["record_every"] = data["horizon"]
    data["record_clones"] = False
    data["stop"]["on"] = [event]
    return Scenario.model_validate(data)


# --- one repetition ------------------------------------------------------------

def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(RISK_STREAM, *key)))


class _Paths:
    """The particles of one repetition on one reusable :class:`World`."""

    def __init__(self, scenario: Scenario, event: str, seed: int, repeat: int,
                 score: str | None = None, tilt: Tilt | float | None = None):
        self.seed, self.repeat = seed, repeat
        root_seed = int(np.random.SeedSequence(
            seed, spawn_key=(RISK_STREAM, repeat)).generate_state(1, np.uint64)[0])
        self.world = World(scenario, seed=root_seed,
                           config=build_config(scenario, event, score, as_tilt(tilt)))
        self.root = self.world.snapshot()
        self.horizon = scenario.horizon
        self.ticks = 0

    def run(self, start, key) -> float:
        """Run a path from ``start`` on stream ``key`` to its end; its score."""
        self.world.restore(start, rng=_rng(self.seed, self.repeat, *key))
        t0 = self.world.tick
        self.world.advance(self.horizon, stop_score=1.0)
        self.ticks += self.world.tick - t0
        self.log_weight = float(self.world.status["log_weight"])
        return float(self.world.status["score"])

    def crossing(self, start, key, level: float, cached=None):
        """The snapshot of the path (``start``, ``key``) at the tick its score
        first exceeded ``level``, replayed on its own stream: from ``start``,
        or from ``cached``, the snapshot of the same path at its crossing of a
        lower level (levels only rise, and so do their first crossings, so a
        particle's replays add up to one path whatever the iterations that
        branch it)."""
        if cached is not None:
            self.world.restore(cached)  # on the stream as it was there
        else:
            self.world.restore(start, rng=_rng(self.seed, self.repeat, *key))
        t0 = self.world.tick
        if not self.world.status["score"] > level:
            self.world.advance(self.horizon, stop_score=np.nextafter(level, np.inf))
        self.ticks += self.world.tick - t0
        # The loop reports SCORED, or STOPPED when the path ended at the very
        # tick it passed the level (the branch then ends there too).
        if not self.world.status["score"] > level:  # a replay that differs: a bug
            raise RuntimeError("splitting: a replayed path did not pass its level again")
        return self.world.snapshot()


def run_repeat(scenario_data: dict, event: str, method: str, particles: int,
               seed: int, repeat: int, score: str | None = None,
               tilt: Tilt | float | None = None) -> dict:
    """One independent repetition of the estimator (a unit of Dask work).

    Parameters
    ----------
    scenario_data : dict
        ``risk_scenario(...).model_dump(mode="json")``.
    event, method, score
        See :func:`estimate_risk`.
    tilt : Tilt or float, optional
        How copy errors are tilted (a float: every birth by that factor).
    particles : int
        n, the particles kept.
    seed, repeat : int
        The master seed and this repetition's index (its streams' key).

    Returns
    -------
    dict
        ``estimate`` (this repetition's p), ``hits`` (particles at the event
        at the end), ``iterations``, ``log10_weight`` (sum of
        log10(1 - K_j/n)), ``ticks`` (all ticks simulated, replays included)
        ``first_generation_ticks`` (the ticks of the n direct paths),
        ``seconds`` and ``cpu_seconds`` (its wall-clock and CPU time in one
        process), ``hit_ticks`` (the tick each particle at the event reached
        it) and, with a tilt, ``weights`` (the likelihood ratio of each
        particle at the event, in the same order).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    scenario = Scenario.model_validate(scenario_data)
    paths = _Paths(scenario, event, seed, repeat, score, tilt)
    n = particles
    starts = [paths.root] * n
    keys = [(0, i) for i in range(n)]
    weights = np.zeros(n)  # ln likelihood ratio of each particle at its end
    ends = np.zeros(n, dtype=np.int64)  # the tick each particle's path ended

    def run(slot):
        score = paths.run(starts[slot], keys[slot])
        weights[slot] = paths.log_weight
        ends[slot] = paths.world.tick
        return score

    scores = np.array([run(i) for i in range(n)])
    first_ticks = paths.ticks
    first_hits = int((scores >= 1.0).sum())
    log_weight = 0.0
    iterations = 0
    replayed = {}  # slot -> its particle's snapshot at its last crossing replayed
    if method == "splitting":  # (importance: the first generation only)
        while iterations < MAX_ITERATIONS:
            level = scores.min()
            if level >= 1.0:
                break
            killed = np.flatnonzero(scores <= level)
            if killed.size == n:
                log_weight = -math.inf  # no particle passed the level: p = 0
                break
            iterations += 1
            log_weight += math.log1p(-killed.size / n)
            survivors = np.flatnonzero(scores > level)
            chooser = _rng(seed, repeat, iterations, n)
            parents = survivors[chooser.integers(0, survivors.size, killed.size)]
            crossings = {}
            for slot, parent in zip(killed, parents):
                if parent not in crossings:
                    crossings[parent] = paths.crossing(starts[parent], keys[parent], level,
                                                       replayed.get(parent))
                    replayed[parent] = crossings[parent]
                starts[slot] = crossings[parent]
                keys[slot] = (iterations, int(slot))
                replayed.pop(slot, None)  # a new particle in this slot
                scores[slot] = run(slot)
        else:
            raise ScenarioError(f"splitting did not finish in {MAX_ITERATIONS} levels")
    hit = scores >= 1.0
    hits = int(hit.sum())
    ratios = np.exp(weights[hit]) if tilt else np.ones(hits)
    estimate = (math.exp(log_weight) * float(ratios.sum()) / n
                if log_weight > -math.inf else 0.0)
    extra = {"weights": ratios.tolist()} if tilt else {}
    return {"repeat": repeat, "estimate": estimate, "hits": hits, **extra,
            "hit_ticks": ends[hit].tolist(),
            "iterations": iterations,
            "log10_weight": log_weight / math.log(10) if log_weight > -math.inf else None,
            "ticks": paths.ticks, "first_generation_ticks": first_ticks,
            "first_generation_hits": first_hits,
            "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started}


# --- combining repetitions -------------------------------------------------------

#: The level of the direct paths' bound that caps a splitting interval's upper
#: end (:func:`splitting_interval`).
CAP_LEVEL = 0.995


def splitting_interval(estimates, paths: int, level: float = 0.95,
                       first_hits: int | None = None) -> tuple:
    """The interval of the mean of R independent splitting estimates:
    ``(low, high, how)`` (docs/model.md, "Intervals of a splitting estimate").

    - Every estimate 0: no first-generation particle reached the event, so
      the R n direct paths among them saw no event; the interval is
      [0, 1 - (alpha/2)^(1 / (R n))], the exact Clopper-Pearson bound of 0
      successes in R n trials (never [0, 0]).
    - Every estimate positive: the repetitions are right-skewed (log p_hat
      is close to normal for AMS), so the interval is Cox's for the mean of
      a log-normal sample (Land 1972; Zhou & Gao 1997):
      exp(ybar + s^2/2 +- t_{R-1} sqrt(s^2/R + s^4/(2(R-1)))) with ybar, s^2
      the mean and variance of log p_hat, widened if need be to hold the
      sample mean (the reported, unbiased estimate).
    - Otherwise: Student t on the estimates, clipped to [0, 1].

    With ``first_hits`` (the first generations' particles at the event, out
    of ``paths`` independent direct paths), the upper end is at most the
    exact Clopper-Pearson bound of that count at :data:`CAP_LEVEL`: a bound
    from direct paths alone, which keeps the interval informative when the
    repetitions' logarithms spread so far that Cox's upper end reaches 1
    (the two-sided coverage then falls by at most 1 - CAP_LEVEL).
    """
    from scipy.stats import beta
    from scipy.stats import t as student_t

    x = np.asarray(estimates, dtype=float)
    R = x.size
    alpha = 1.0 - level
    mean = float(x.mean())
    quantile = float(student_t.ppf(1.0 - alpha / 2, R - 1))
    if not np.any(x > 0):
        return 0.0, -math.expm1(math.log(alpha / 2) / paths), (
            f"no repetition reached the event: the upper end is the exact bound of "
            f"0 events in the {paths} direct first-generation paths")
    if np.all(x > 0):
        y = np.log(x)
        s2 = float(y.var(ddof=1))
        centre = float(y.mean()) + s2 / 2
        half = quantile * math.sqrt(s2 / R + s2 * s2 / (2 * (R - 1)))
        low, high = min(math.exp(centre - half), mean), max(math.exp(centre + half), mean)
        how = f"Cox log-normal interval over {R} independent repetitions"
    else:
        half = quantile * float(x.std(ddof=1)) / math.sqrt(R)
        low, high = max(0.0, mean - half), mean + half
        how = f"Student t over {R} independent repetitions"
    if first_hits is not None and first_hits < paths:
        cap = float(beta.ppf(CAP_LEVEL, first_hits + 1, paths - first_hits))
        if cap < high:
            high = max(cap, mean)
            how += (f", the upper end capped by the exact bound of {first_hits} events in "
                    f"the {paths} direct first-generation paths")
    return low, min(1.0, high), how


def combine(method: str, particles: int, repeats: list[dict], level: float = 0.95,
            direct_seconds: float | None = None) -> dict:
    """The estimate and its interval from independent repetitions.

    ``splitting``: p is the mean of the R repetitions' unbiased estimates,
    its standard error s / sqrt(R) (s the sample standard deviation) and
    its interval :func:`splitting_interval`. ``direct``: the R x n paths
    are independent Bernoulli trials: p = hits / (R n) with the Wilson
    interval. ``importance``: the R n paths drawn at tilted error rates
    each carry the value 1(event) w (w its likelihood ratio): p is their
    mean, SE their standard deviation over sqrt(R n), the interval
    p +- z SE. With weights (a tilt), ``effective_sample_size`` (sum w)^2 /
    sum w^2 and ``largest_weight_share`` max w / sum w of the particles at
    the event; below :data:`MIN_EFFECTIVE` or above :data:`MAX_SHARE` (or
    with no weighted particle at the event, when the sample bounds nothing)
    the weights have degenerated and the interval is not reported (``low``, ``high`` None).

    Costs. ``rel_error`` is SE / p; ``direct_equivalent_replicates`` is
    (1 - p) / (p rel_error^2), the plain Monte Carlo replicates with the
    same relative error; ``direct_equivalent_ticks`` multiplies it by the
    mean ticks of a direct path (the first generation of particles is a
    sample of direct paths) and ``speedup_ticks`` divides that by the ticks
    simulated. With ``direct_seconds`` (the seconds of one direct path on
    the engine's fastest route, compiled batches, measured in the same
    run: :func:`direct_cost`), ``direct_equivalent_seconds`` is the
    equivalent replicates times it, and ``speedup`` divides that by
    ``seconds_simulated``, the repetitions' own wall-clock seconds summed
    (one process each): the gain in computing time, whatever the workers.
    """
    from analysis.estimators import wilson_interval

    estimates = np.array([r["estimate"] for r in repeats])
    R = len(repeats)
    ticks = int(sum(r["ticks"] for r in repeats))
    direct_paths = particles * R
    ticks_per_path = sum(r["first_generation_ticks"] for r in repeats) / direct_paths
    weighted = any("weights" in r for r in repeats)
    w = np.concatenate([np.asarray(r.get("weights", []), dtype=float) for r in repeats])
    if method == "direct":
        hits = int(sum(r["hits"] for r in repeats))
        p, low, high = wilson_interval(hits, direct_paths, level)
        se = math.sqrt(p * (1 - p) / direct_paths)
        interval = "Wilson score interval over all paths"
    elif method == "importance":
        p = float(w.sum() / direct_paths)
        second = float((w * w).sum() / direct_paths)
        se = math.sqrt(max(second - p * p, 0.0) / (direct_paths - 1))
        z = float(NormalDist().inv_cdf(0.5 + level / 2))
        low, high = max(0.0, p - z * se), min(1.0, p + z * se)
        interval = f"normal over the {direct_paths} weighted paths"
    else:
        p = float(estimates.mean())
        se = float(estimates.std(ddof=1) / math.sqrt(R))
        first = [r.get("first_generation_hits") for r in repeats]
        low, high, interval = splitting_interval(
            estimates, direct_paths, level,
            None if weighted or None in first else int(sum(first)))
    diagnostics = {}
    if weighted:
        total = float(w.sum())
        ess = total * total / float((w * w).sum()) if total > 0 else 0.0
        share = float(w.max()) / total if total > 0 else 1.0
        diagnostics = {"effective_sample_size": ess, "largest_weight_share": share}
        if w.size == 0:  # the weights of paths not seen bound nothing
            low = high = None
            interval = ("not reported: no weighted path reached the event, and without one "
                        "the sample bounds nothing: run more paths or choose a larger tilt")
        elif ess < MIN_EFFECTIVE or share > MAX_SHARE:
            low = high = None
            interval = (f"not reported: the weights have degenerated (effective sample "
                        f"size {ess:.3g} of {w.size} weighted paths at the event, the "
                        f"largest weight {share:.2g} of their sum): choose a smaller tilt")
    rel = se / p if p > 0 else math.inf
    equivalent = (1 - p) / (p * rel * rel) if p > 0 and rel > 0 else None
    seconds = sum(r.get("seconds", 0.0) for r in repeats)
    cpu = sum(r.get("cpu_seconds", 0.0) for r in repeats)
    direct_total = (equivalent * direct_seconds
                    if equivalent is not None and direct_seconds else None)
    return {
        "p": p, "low": low, "high": high, "se": se, "rel_error": rel,
        "interval": interval, "level": level, "ticks_simulated": ticks,
        "seconds_simulated": seconds, "cpu_seconds_simulated": cpu,
        "direct_equivalent_replicates": equivalent,
        "ticks_per_direct_path": ticks_per_path,
        "direct_equivalent_ticks": (equivalent * ticks_per_path
                                    if equivalent is not None else None),
        "speedup_ticks": (equivalent * ticks_per_path / ticks
                          if equivalent is not None and ticks else None),
        "direct_seconds_per_path": direct_seconds,
        "direct_equivalent_seconds": direct_total,
        "speedup": direct_total / seconds if direct_total is not None and seconds else None,
        **diagnostics,
    }


def direct_cost(scenario: Scenario, budget: float = 1.0, most: int = 4096,
                clock=time.perf_counter) -> float:
    """Seconds per path of the engine's fastest direct route for the risk
    scenario (``scenario`` as :func:`risk_scenario` made it): replicates in
    compiled batches (:func:`simulation.run.run_scenario`, one thread),
    doubling their number from 1 until a batch takes ``budget`` seconds or
    ``most`` replicates, after an untimed replicate of one tick (which
    compiles or loads the kernels: compiling is not counted). The
    replicates' seeds are the scenario's; only the time is used, on
    ``clock`` (wall-clock; ``time.process_time`` for CPU time, the measure
    on a loaded machine)."""
    from .run import run_scenario

    run_scenario(scenario.model_copy(update={"replicates": 1, "horizon": 1,
                                             "record_every": 1}),
                 show_progress=False, threads=1)
    count = 1
    while True:
        sc = scenario.model_copy(update={"replicates": count})
        started = clock()
        run_scenario(sc, show_progress=False, threads=1)
        seconds = clock() - started
        if seconds >= budget or count >= most:
            return seconds / count
        count *= 2


# --- running repetitions -------------------------------------------------------------

#: The marker of a risk output folder: its request's identity and run identity.
RISK_MARKER = RISK.marker


def _part_name(identity: str, repeat: int) -> str:
    return f"risk-{identity}-r{repeat:06d}.json"


def repeat_identity(scenario_data: dict, event: str, method: str, particles: int,
                    seed: int, score: str | None = None,
                    tilt: Tilt | float | None = None) -> str:
    """A hash of what a repetition depends on (its index aside)."""
    tilt = as_tilt(tilt)
    if tilt is not None and tilt.start is None and tilt.resident == 1.0:
        tilt = tilt.factor  # (as the identities of a plain tilt always were)
    text = json.dumps([scenario_data, event, method, particles, seed]
                      + ([score] if score is not None else [])
                      + ([tilt] if tilt is not None else []), sort_keys=True)
    return request_identity(text)


def write_repeat(folder: str, run_id: str, identity: str, scenario_data: dict, event: str,
                 method: str, particles: int, seed: int, repeat: int,
                 score: str | None = None, tilt: Tilt | float | None = None) -> dict:
    """Run one repetition (:func:`run_repeat`) and write it as a part of the
    output ``folder`` (atomically); returns it. Runs on a Dask worker, which
    must see the folder at the same path (a shared file system:
    :func:`simulation.jobs.check_visible`)."""
    folder = check_visible(folder, RISK, run_id)
    result = run_repeat(scenario_data, event, method, particles, seed, repeat, score, tilt)
    write_json_part(folder, _part_name(identity, repeat), run_id, {"identity": identity},
                    {"result": result})
    return result


def run_repeats(scenario: Scenario, event: str, method: str, particles: int,
                repeats, seed: int, workers: int | None = None,
                scheduler: str | None = None, progress=None,
                parts: JobFolder | None = None, score: str | None = None,
                tilt: Tilt | float | None = None) -> list[dict]:
    """The repetitions of index in ``repeats`` (an iterable), in order: in
    this process when neither ``workers`` nor ``scheduler`` is given, else
    as units on Dask (:func:`simulation.cluster.map_units`: a local cluster of
    ``workers`` processes, or the cluster at ``scheduler``). With ``parts``
    (the estimate's :class:`~simulation.jobs.JobFolder`), each repetition is
    written to the output folder as it finishes, and those already there are
    read, not run (a damaged one is run again). ``progress()`` is called after
    each repetition (kept ones included). The result does not depend on the
    workers, nor on which repetitions were kept."""
    data = scenario.model_dump(mode="json")
    repeats = list(repeats)
    done = {}
    identity = repeat_identity(data, event, method, particles, seed, score, tilt)
    if parts is not None:
        done = parts.kept({r: [_part_name(identity, r)] for r in repeats},
                          json_part({"run_id": parts.run_id, "identity": identity},
                                    "result", dict), label=lambda r: f"r{r:06d}")
        for _ in done:
            if progress:
                progress()
    todo = [r for r in repeats if r not in done]

    def unit(r):
        if parts is None:
            return run_repeat, (data, event, method, particles, seed, r, score, tilt)
        return write_repeat, (str(parts.folder), parts.run_id, identity, data, event,
                              method, particles, seed, r, score, tilt)

    if workers is None and scheduler is None:
        for r in todo:
            func, args = unit(r)
            done[r] = func(*args)
            if progress:
                progress()
    elif todo:
        from .cluster import CLUSTER_LOG, connect, map_units

        func = unit(todo[0])[0]
        log = None if parts is None else parts.folder / CLUSTER_LOG
        with connect(workers, scheduler, 10.0, log=log) as client:
            for r, result in map_units(client, func, ((r, unit(r)[1]) for r in todo),
                                       scheduler=scheduler):
                done[r] = result
                if progress:
                    progress()
    return [done[r] for r in repeats]


def pilot_repeats(pilot: dict, pilot_count: int, rel_error: float) -> int:
    """The repetitions a ``rel_error`` target asks for, from a pilot of
    ``pilot_count`` repetitions whose combined relative error was
    ``pilot["rel_error"]``: R = ceil(R0 (e0 / e)^2), at least R0, at most
    :data:`MAX_REPEATS`. A pilot that saw no event asks for the most."""
    e0 = pilot["rel_error"]
    if not math.isfinite(e0):
        return MAX_REPEATS
    return int(min(MAX_REPEATS, max(pilot_count, math.ceil(pilot_count * (e0 / rel_error) ** 2))))


def estimate_risk(scenario: Scenario, event: str = "takeover", method: str = "splitting",
                  particles: int = 100, repeats: int = 20, workers: int | None = None,
                  scheduler: str | None = None, show_progress: bool | None = None,
                  rel_error: float | None = None, parts: JobFolder | None = None,
                  score: str | None = None, tilt: float | None = None,
                  calibrate: bool = True, tilt_from: float | None = None) -> dict:
    """P(``event`` by the scenario's horizon) with a confidence interval.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with a resolved ``seed`` (the master seed).
    event : {"takeover", "fixation", "convergence"}
    method : {"splitting", "direct", "importance"}
        Adaptive multilevel splitting, plain Monte Carlo on the same paths,
        or plain Monte Carlo at tilted copy-error rates, weighted.
    particles : int
        n, particles per repetition (direct: paths per repetition).
    repeats : int
        R independent repetitions, from which the interval comes.
    workers, scheduler
        Run repetitions on a local Dask cluster of ``workers`` processes, or
        on the cluster at ``scheduler``; neither: in this process. The
        result does not depend on this choice.
    show_progress : bool, optional
        A progress bar on stderr (default: when stderr is a terminal).
    rel_error : float, optional
        A target relative error, met by a two-stage rule that does not bias
        the estimate: the ``repeats`` repetitions are a pilot that only sets
        the number R of repetitions (:func:`pilot_repeats`); R further
        repetitions, independent of the pilot, give the estimate. (Stopping
        when the running relative error first looks small would favour runs
        that have not yet met the right tail of the estimates.)
    parts : simulation.jobs.JobFolder, optional
        Keep each repetition in the output folder as it finishes, and read
        those kept by an earlier, interrupted call instead of running them.
    score : str, optional
        The splitting score (``engine.SCORES[event]``; default the first).
    tilt : float, optional
        Importance sampling (``importance``, or weighted ``splitting``):
        each newborn's copy-error probability p is drawn at min(tilt p,
        max(p, 1/2)) and every path carries its exact likelihood ratio.
        1: no tilt. Default: :func:`resolve_tilt` (splitting on takeover
        tilts the front's errors where copy errors are rare).
    tilt_from : float, optional
        With a tilt, draw tilted errors only for the births of the clones
        at the front whose drive exceeds their agent's reference drive by
        more than this (and none while a defector lives); default: every
        birth.
    calibrate : bool
        Measure the engine's fastest direct route in this run
        (:func:`direct_cost`) for the wall-clock ``speedup``.

    Returns
    -------
    dict
        The contents of ``risk.json`` without provenance: ``event``,
        ``horizon``, ``method``, ``score``, ``particles``, ``repeats``,
        ``seed``, the fields of :func:`combine`, ``repeat_estimates`` and
        ``seconds``.
    """
    from tqdm.auto import tqdm

    from .cluster_log import current_stderr

    check_request(scenario, event, method, particles, repeats, score, tilt, tilt_from)
    tilted = resolve_tilt(scenario, event, method, tilt, tilt_from)
    check_risk_memory(scenario, method, particles, repeats)
    if scenario.seed is None:
        raise ScenarioError("the scenario has no seed: give one so the estimate can be repeated")
    if rel_error is not None and not rel_error > 0:
        raise ScenarioError(f"relative error target {rel_error}: must be positive")
    started = time.perf_counter()
    sc = risk_scenario(scenario, event)
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    run = dict(workers=workers, scheduler=scheduler, parts=parts, score=score, tilt=tilted)
    pilot = None
    with tqdm(total=repeats, unit="repeat", desc=f"{method} {event}", file=current_stderr,
              disable=not show_progress, leave=False) as bar:
        results = run_repeats(sc, event, method, particles, range(repeats), scenario.seed,
                              progress=bar.update, **run)
        if rel_error is not None:
            pilot = results
            count = pilot_repeats(combine(method, particles, pilot), repeats, rel_error)
            bar.total += count
            bar.refresh()
            results = run_repeats(sc, event, method, particles,
                                  range(repeats, repeats + count), scenario.seed,
                                  progress=bar.update, **run)
    direct = direct_cost(sc) if calibrate else None
    kind = score or next(iter(SCORES[event]))
    out = {"event": event, "horizon": scenario.horizon, "method": method,
           "score": kind if method == "splitting" else None,
           **tilt_fields(tilted),
           "particles": particles, "repeats": len(results), "seed": scenario.seed,
           "rel_error_target": rel_error,
           "pilot_repeats": len(pilot) if pilot is not None else 0}
    out.update(combine(method, particles, results, direct_seconds=direct))
    if pilot is not None:  # the pilot's work is part of the cost
        out["ticks_simulated"] += int(sum(r["ticks"] for r in pilot))
        out["seconds_simulated"] += sum(r.get("seconds", 0.0) for r in pilot)
        out["cpu_seconds_simulated"] += sum(r.get("cpu_seconds", 0.0) for r in pilot)
        if out["direct_equivalent_seconds"] is not None:
            out["speedup"] = out["direct_equivalent_seconds"] / out["seconds_simulated"]
        if out["direct_equivalent_ticks"] is not None:
            out["speedup_ticks"] = out["direct_equivalent_ticks"] / out["ticks_simulated"]
    out["iterations_mean"] = float(np.mean([r["iterations"] for r in results]))
    out["repeat_estimates"] = [r["estimate"] for r in results]
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out
