"""The ``hazard`` splitting score of the takeover event: a rough committor
(docs/model.md, "Splitting scores").

Splitting is unbiased for any score; its variance is smallest when the
score orders states as the committor does, P(event by T | state) (Cerou &
Guyader 2007; Lestang, Ragone, Brehier, Herbert & Bouchet 2018, "Computing
return times or return periods with rare event algorithms", J. Stat. Mech.).
This score orders states by a closed-form stand-in for it, in the currency
the physics uses: expected defectors.

- Before any live defector: the defectors the live clones found per
  generation, h = sum_c n_c r(theta - d_c), where r(D) = max_k mu^k
  P(S_k >= D) is the chance that a newborn's line of k copy errors (S_k the
  sum of k kernel steps, mu the per-trait error probability) carries its
  drive past the threshold (the cheapest route: the residents' drift toward
  the threshold and a deviant clone's lead both raise it).
- With a live defector (``birth_death``): the escaping lineages expected
  from the defector clones, E = sum_c n_c e_c: a supercritical clone's
  members escape with the Galton-Watson probability pi(b_c, D_c) (its
  birth probability, its removal by death and the immune system); a
  subcritical clone's expected births b_c / (D_c - b_c) each reach the
  critical drive d* (b(d*) = D_c) with probability r(d* - d_c) and escape
  as a mutant one kernel step past it: fitter and larger defector lineages
  rank higher, as the committor does.

Both are mapped monotonically onto [0, 1/2) and [1/2, 1) by an arctangent
of their log10 (splitting sees only the order of scores; the arctangent
keeps values of a thousand decades apart distinct and below 1).
"""

import math

from ..codes import Direction, Dynamics, Kernel
from .clones import DRIVE, LOYALTY, STEALTH
from .jit import kernel

#: Copy errors considered on the way to the threshold (the cheapest route).
MOST_STEPS = 8
#: log10 centre and width of the map of a log10 value onto (0, 1).
CENTRE, WIDTH = -20.0, 10.0


@kernel(_nrt=False)
def squash(log10_value):
    """A monotone map of a log10 value onto (0, 1): 1/2 + atan(x) / pi."""
    return 0.5 + math.atan((log10_value - CENTRE) / WIDTH) / math.pi


@kernel(_nrt=False)
def step_tail(distance, k, p):
    """P(S_k >= distance) for the sum S_k of k steps of ``copy.kernel``."""
    kind = p.kernel_type
    if kind == Kernel.NORMAL:
        if p.kernel_sd <= 0.0:
            return 1.0 if k * p.kernel_bias >= distance else 0.0
        z = (distance - k * p.kernel_bias) / (p.kernel_sd * math.sqrt(k))
        return 0.5 * math.erfc(z / math.sqrt(2.0))
    if kind == Kernel.CAUCHY:
        return 0.5 - math.atan(distance / (k * p.kernel_scale)) / math.pi
    if kind == Kernel.STEP:
        if p.kernel_direction == Direction.DOWN or k * p.kernel_size < distance - 1e-12:
            return 0.0
        return 1.0 if p.kernel_direction == Direction.UP else 0.5 ** k
    return 1.0 - p.escape_threshold if k == 1 else 0.0  # uniform: one draw


@kernel(_nrt=False)
def reach(distance, p):
    """r(D) = max_k mu^k P(S_k >= D), k = 1..MOST_STEPS."""
    mu = p.error_rate_r
    if distance <= 0.0:
        return 1.0
    best = 0.0
    power = 1.0
    for k in range(1, MOST_STEPS + 1):
        power *= mu
        best = max(best, power * step_tail(distance, k, p))
    return best


@kernel(_nrt=False)
def escape(birth, removal):
    """Galton-Watson escape probability of one member that gives birth with
    probability ``birth`` and is removed with probability ``removal`` per
    tick (analysis.theory.galton_watson_escape)."""
    if birth <= 0.0 or removal >= 1.0:
        return 0.0
    return max(0.0, 1.0 - removal * (1.0 - birth) / (birth * (1.0 - removal)))


@kernel(_nrt=False)
def hazard_progress(cl, ag, st, p, defectors):
    """The ``hazard`` progress b in [0, 1) before the tie-breaking term:
    (1/2) squash(log10 h) before a live defector, 1/2 + (1/2) squash(
    log10 E) once one lives (``defectors``); see the module docstring."""
    theta = p.escape_threshold
    if not defectors:
        h = 0.0
        for i in range(cl.meta[0]):
            n = cl.count[i]
            if n > 0 and ag.alive[cl.agent[i]]:
                h += n * reach(theta - cl.traits[i, DRIVE], p)
        return 0.5 * squash(math.log10(h)) if h > 0.0 else 0.0
    if p.dynamics != Dynamics.BIRTH_DEATH:
        return -1.0  # the caller uses the defector fraction
    total = 0.0
    for i in range(cl.meta[0]):
        n = cl.count[i]
        a = cl.agent[i]
        if n <= 0 or not ag.alive[a] or cl.traits[i, DRIVE] <= theta:
            continue
        g = max(1.0 - ag.size[a] / (p.escape_headroom * ag.capacity[a]), 0.0)
        scale = p.birth_rate * (1.0 - p.loyalty_cost * cl.traits[i, LOYALTY]) * g
        kill = ag.surveillance[a] * ag.efficacy[a] * (1.0 - cl.traits[i, STEALTH])
        removal = p.death_rate + (1.0 - p.death_rate) * kill
        drive = cl.traits[i, DRIVE]
        birth = min(scale * (1.0 + p.drive_advantage * drive), 1.0)
        if birth > removal:
            total += n * escape(birth, removal)
        elif scale > 0.0 and p.drive_advantage > 0.0 and removal < 1.0:
            # subcritical: its expected births b / (D - b), each a mutant
            # that reaches the critical drive d* with probability r(d* - d),
            # escaping as a mutant one kernel step past it would
            critical = (removal / scale - 1.0) / p.drive_advantage
            step = p.kernel_sd if p.kernel_type == Kernel.NORMAL else p.kernel_size
            past = min(scale * (1.0 + p.drive_advantage * (critical + step)), 1.0)
            total += (n * birth / (removal - birth) * reach(critical - drive, p)
                      * escape(past, removal))
    if total <= 0.0:
        return 0.5
    return 0.5 + 0.5 * squash(math.log10(total))
