"""The multi-hit theory: a founded lineage as a multi-type branching process.

While a founded defector lineage is small against the system, its members
act independently in a background that does not change (the residents at
their size N*): one tick of a member of type x = (drive, loyalty,
stealth) is, exactly as in the engine's ``birth_death`` tick
(docs/model.md, "One tick"), a birth with probability p_b(x) (its newborn
of type y with probability M(x, y): each copied trait errs independently
with probability mu and steps by the kernel, clipped to [0, 1]) and,
independently, survival with probability a(x) = (1 - death_rate)
(1 - p_kill(x)) (1 - p_repair(x)) (newborns do not die in their tick). Its
offspring generating function is

    f_x(q) = (1 - a(x) + a(x) q_x) (1 - p_b(x) + p_b(x) sum_y M(x, y) q_y),

and S_t(x), the probability that a lineage founded by one member of type
x is alive t ticks later, follows from S_0 = 1 by
S_{t+1} = 1 - f(1 - S_t), written without cancellation (S down to 1e-300
keeps its relative precision):

    S_{t+1}(x) = p_b (M S)_x + a S_x - p_b a (M S)_x S_x.

S_t falls to the escape probability pi(x) (Harris 1963, ch. 2; Athreya &
Ney 1972, ch. V). Members that fall back within the immune tolerance below
the escape threshold leave the lineage (they are background again: their
defectors are counted by the founding rate), so the lineage survives only
by escaping. Types are cells of width h on [0, 1]^3 (drive, loyalty,
stealth; fidelity at the reference, which without a mutator effect only
matters to the immune system), with the step kernel integrated over each
cell and the rates taken at the cell's centre; the cell edges include the
escape threshold and the tolerance bands when they are multiples of h.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simulation.kernels.clones import effective_error_rate
from simulation.names import TRAITS

AXES = ("drive", "loyalty", "stealth")


def _step_matrix(kernel, trait: str, centres: np.ndarray, h: float) -> np.ndarray:
    """K[i, j] = P(clip(centre_i + X) in cell j), X the kernel's step."""
    edges = np.r_[0.0, (np.arange(1, centres.size)) * h, 1.0]
    inner = edges[1:-1]
    gaps = inner[None, :] - centres[:, None]  # the step that reaches each inner edge
    if kernel.type == "normal":
        bias = kernel.bias.get(trait, 0.0) if isinstance(kernel.bias, dict) else kernel.bias
        below = stats.norm.cdf(gaps, loc=bias, scale=kernel.sd)
    elif kernel.type == "cauchy":
        below = stats.cauchy.cdf(gaps, scale=kernel.scale)
    elif kernel.type == "step":
        share = 0.5 if kernel.direction == "both" else 1.0
        below = ((kernel.direction != "up") * share * (-kernel.size < gaps)
                 + (kernel.direction != "down") * share * (kernel.size < gaps))
    else:  # uniform: a fresh value
        below = np.broadcast_to(inner[None, :], gaps.shape)
    cdf = np.concatenate([np.zeros((centres.size, 1)), below, np.ones((centres.size, 1))],
                         axis=1)
    return np.diff(cdf, axis=1)


class LineageTheory:
    """Escape probabilities of founded lineages at one value of the defence.

    Parameters
    ----------
    scenario : Scenario
        The study's scenario at size N with the solved key set.
    residents : float
        N*, the background's members.
    background : array of 4 floats, optional
        Unused by the rates (the background enters through N* only); kept
        for the record.
    cells : int
        Cells per axis (h = 1 / cells).
    """

    def __init__(self, scenario, residents: float, cells: int = 40):
        a, c, im = scenario.agent, scenario.copy, scenario.immune
        self.h = h = 1.0 / cells
        self.centres = (np.arange(cells) + 0.5) * h
        D, L, S = np.meshgrid(self.centres, self.centres, self.centres, indexing="ij")
        zref = np.array([getattr(a.initial_traits, t) for t in TRAITS])
        theta = a.escape_threshold
        defector = D > theta
        K, H = a.capacity, a.escape_headroom
        g = np.where(defector, max(0.0, 1.0 - residents / (H * K)),
                     max(0.0, 1.0 - residents / K))
        fit = 1.0 + a.drive_advantage * D
        if scenario.landscape.type == "rugged":
            fit = fit + scenario.landscape.ruggedness * np.sin(
                2 * np.pi * scenario.landscape.peaks * D)
        divisor = 1.0 + c.redundancy_cost * (c.redundancy - 1)
        self.birth = np.minimum(1.0, a.birth_rate * np.maximum(fit, 0.0)
                                * (1.0 - a.loyalty_cost * L) * g / divisor)
        gaps = [np.abs(X - zref[TRAITS.index(t)]) for X, t in zip((D, L, S), AXES)
                if t in im.traits]
        deviation = np.max(gaps, axis=0) if gaps else np.zeros_like(D)
        deviant = deviation > im.tolerance
        kill = np.where(deviant, im.surveillance * im.efficacy * (1.0 - S),
                        im.surveillance * im.false_positive)
        repair = np.where(deviation > scenario.repair.tolerance, scenario.repair.rate
                          * ((1.0 - S) if scenario.repair.sees_stealth else 1.0), 0.0)
        self.survive = (1.0 - a.death_rate) * (1.0 - kill) * (1.0 - repair)
        # back within the tolerance below the threshold: background again
        self.kept = defector | deviant
        self.birth = np.where(self.kept, self.birth, 0.0)
        self.survive = np.where(self.kept, self.survive, 0.0)
        mu = effective_error_rate(c.error_rate, c.redundancy, c.error_correlation)
        self.mu = mu
        self.steps = [_step_matrix(c.kernel, t, self.centres, h) if t in c.traits else None
                      for t in AXES]
        self.growth = self.birth + self.survive  # mean offspring per tick

    def _newborn_mean(self, s: np.ndarray) -> np.ndarray:
        """(M s)_x: the newborn's expected value of s, M the product over the
        copied traits of (1 - mu) I + mu K_trait."""
        out = s
        for axis, step in enumerate(self.steps):
            if step is not None:
                moved = np.moveaxis(np.tensordot(step, out, axes=([1], [axis])), 0, axis)
                out = (1.0 - self.mu) * out + self.mu * moved
        return out

    def escape(self, iterations: int = 500, tol: float = 1e-9,
               floor: float = 1e-30) -> tuple[np.ndarray, int]:
        """pi, the escape probability of a lineage founded by one member of
        each type: the largest fixed point of S = 1 - f(1 - S), by nonlinear
        Jacobi sweeps from S = 1 (docs/model.md). With m = (M S)_x =
        (1 - mu') S_x + k_x, k_x the newborn's chance to be of another type
        times its S, each sweep solves every cell's own quadratic
        A S^2 + B S - C = 0 exactly (A = p_b a (1 - mu'), B = 1 - p_b (1 - mu')
        - a + p_b a k, C = p_b k) for the larger root, so the sweeps converge
        in about as many as the mutation steps an escape takes, near-critical
        cells included. Stops when no cell changes by more than ``tol`` of
        max(S, ``floor``) (probabilities below ``floor`` are not resolved)."""
        s = np.where(self.kept, 1.0, 0.0)
        pb, a = self.birth, self.survive
        for sweep in range(1, iterations + 1):
            m = self._newborn_mean(s)
            stay = self._stay()
            k = np.maximum(m - stay * s, 0.0)  # from other types
            A = pb * a * stay
            B = 1.0 - pb * stay - a + pb * a * k
            C = pb * k
            root = np.sqrt(B * B + 4.0 * A * C)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = np.where(B > 0, 2.0 * C / (B + root), (root - B) / (2.0 * A))
            new = np.where(self.kept & np.isfinite(new), np.clip(new, 0.0, 1.0), 0.0)
            done = np.all(np.abs(new - s) <= tol * np.maximum(new, floor))
            s = new
            if done:
                return s, sweep
        return s, iterations

    def _stay(self) -> np.ndarray:
        """mu' complement: the probability that a newborn keeps its parent's
        cell (no error, or errors that stay in the cell)."""
        if not hasattr(self, "_stay_cache"):
            stay = np.ones_like(self.birth)
            shape = [1, 1, 1]
            for axis, step in enumerate(self.steps):
                if step is None:
                    continue
                diag = (1.0 - self.mu) + self.mu * np.diag(step)
                view = list(shape)
                view[axis] = -1
                stay = stay * diag.reshape(view)
            self._stay_cache = stay
        return self._stay_cache

    def cell(self, traits) -> tuple:
        """The cell of a trait vector (drive, loyalty, stealth, fidelity)."""
        idx = [min(int(traits[TRAITS.index(t)] / self.h), self.centres.size - 1) for t in AXES]
        return tuple(idx)


def founder_escape(theory: LineageTheory, escape: np.ndarray, scenario, traits: np.ndarray,
                   weights: np.ndarray) -> float:
    """The founding-weighted mean escape probability of the defectors that
    the clones (``traits`` rows, founding ``weights``) found: per parent,
    the drive step's law conditioned on crossing theta integrated over the
    drive cells above theta, the other traits the parent's (their own
    errors at the same birth, of probability mu, left out)."""
    k = scenario.copy.kernel
    theta = scenario.agent.escape_threshold
    h, n = theory.h, theory.centres.size
    above = np.flatnonzero(theory.centres > theta)
    lower = above * h
    upper = np.where(above == n - 1, np.inf, lower + h)
    drive = traits[:, TRAITS.index("drive")]
    loyal = np.minimum((traits[:, TRAITS.index("loyalty")] / h).astype(int), n - 1)
    stealthy = np.minimum((traits[:, TRAITS.index("stealth")] / h).astype(int), n - 1)
    if k.type == "normal":
        bias = k.bias.get("drive", 0.0) if isinstance(k.bias, dict) else k.bias
        law = stats.norm(loc=bias, scale=k.sd)
    elif k.type == "cauchy":
        law = stats.cauchy(scale=k.scale)
    else:
        raise ValueError("founder_escape: a normal or cauchy kernel")
    gap = (theta - drive)[:, None]
    lo = np.maximum(lower[None, :] - drive[:, None], gap)
    hi = np.maximum(upper[None, :] - drive[:, None], gap)
    mass = np.clip(law.sf(lo) - law.sf(hi), 0.0, None)
    total = mass.sum(axis=1)
    keep = total > 0
    pi = escape[above[None, :], loyal[:, None], stealthy[:, None]]
    per_parent = (mass * pi).sum(axis=1)[keep] / total[keep]
    return float((weights[keep] * per_parent).sum() / weights.sum())


def takeover_ticks(theory: LineageTheory, residents: float, fraction: float) -> float:
    """ln(F N*) / ln(m) with m the largest mean offspring per tick among the
    defector cells: how long the fastest escaped lineage needs to reach the
    takeover fraction from one member (a lower estimate of the time)."""
    m = float(theory.growth[theory.kept].max())
    return math.log(max(fraction * residents, 1.0)) / math.log(m) if m > 1 else math.inf
