"""How long a run or sweep will take, before it starts, and plain progress
lines while it runs.

The cost model counts the work of the compiled loop per tick: every live
clone is visited (its events drawn and applied), every agent is visited
(economy, deaths, records), and a Moran tick runs N birth-death events that
each scan the agent's clones. So the seconds of a run are about::

    replicates x horizon x (CLONE[dynamics] x clones + AGENT x agents
                            + TICK + MORAN_EVENT x N x clones / agents)

with ``clones`` the clones alive and ``agents`` the agents at their peak,
from :func:`simulation.budget.estimate_memory` (the horizon counted whole:
stop events can only shorten a run), divided by the threads running
replicates at once for batched scenarios. The constants were calibrated
once on this engine (one thread of a 2-core machine, numba compiled
already) by timing ``run_scenario`` and dividing by ticks x the estimated
clones (or agents, or Moran events x clones) of: ``singleton_baseline``
(8 replicates, 1.15e-7 s per clone-tick), ``multi_agent_matched``
(8.4e-8), a 10^6-member ``birth_death`` agent (5.9e-8), ``wright_fisher``
N = 10^4 (5.9e-7), 10^4 agents of 10 members without copy errors (4.3e-7 s
per agent-tick) and ``moran`` N = 10^4 (2.6e-9 s per event x clone), plus
the cost of a tick too large to prepare in advance (``TICK`` for systems
above the driver's FAST_LIMIT slots: 1.7e-4 s, its Python round trip). It
is meant to tell minutes from days, not to predict to the second.
"""

from __future__ import annotations

import sys
import time

#: Seconds per live clone per tick, by dynamics.
CLONE = {"birth_death": 1.0e-7, "wright_fisher": 6.0e-7, "moran": 1.0e-7}
#: Seconds per agent per tick.
AGENT = 4.0e-7
#: Seconds per Moran event per clone of its agent.
MORAN_EVENT = 3.0e-9
#: Seconds of a tick prepared in compiled code, and of one too large for it.
TICK, LARGE_TICK = 4.0e-7, 1.7e-4
#: Above this estimate a run or sweep says how long it will take.
ANNOUNCE_SECONDS = 180.0
FAST_LIMIT = 1 << 17  # simulation.kernels.driver.FAST_LIMIT (not imported: numba)


def estimate_seconds(scenario, replicates: int | None = None, threads: int = 1) -> float:
    """Estimated seconds to run ``replicates`` (default all) of a validated
    scenario on ``threads`` threads (see the module docstring)."""
    from .budget import estimate_memory

    sc = scenario
    reps = sc.replicates if replicates is None else replicates
    e = estimate_memory(sc, reps)
    clones, agents, n = e["clones_alive"], max(1.0, e["agents_peak"]), e["subcomponents"]
    per_tick = CLONE[sc.agent.dynamics] * clones + AGENT * agents
    per_tick += LARGE_TICK if clones + 2 * n > FAST_LIMIT else TICK
    if sc.agent.dynamics == "moran":
        per_tick += MORAN_EVENT * n * clones / agents
    at_once = max(1, min(threads, reps))
    return reps * float(sc.horizon) * per_tick / at_once


def format_seconds(seconds: float) -> str:
    """45 s, 12 min, 3.5 h, 4.2 days, 31 years; 'more than a million years'."""
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600),
                       ("min", 60)):
        if seconds >= size:
            if unit == "years" and seconds >= 1e6 * size:
                return "more than a million years"
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds:.0f} s"


def announcement(what: str, seconds: float) -> str | None:
    """The line announcing a long run (None below :data:`ANNOUNCE_SECONDS`)."""
    if not seconds > ANNOUNCE_SECONDS:
        return None
    return (f"{what} will take about {format_seconds(seconds)} by the cost model "
            "(simulation/cost.py); interrupt it to stop")


class PlainProgress:
    """Progress as plain lines on a stream (stderr: not a terminal), at
    most one every ``every`` seconds: ``NAME: 12% (2.4e+05 of 2e+06 ticks),
    1.2 min elapsed, about 8.8 min left``. Has the ``update(n)`` of a tqdm
    bar, so the run loop feeds either."""

    def __init__(self, name: str, total: float, unit: str = "ticks", every: float = 30.0,
                 stream=None):
        self.name, self.total, self.unit, self.every = name, float(total), unit, every
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0.0
        self.started = self.last = time.monotonic()

    def update(self, n: float = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = (time.monotonic() if now is None else now) - self.started
        fraction = self.done / self.total if self.total > 0 else 0.0
        left = (f", about {format_seconds(elapsed * (1 - fraction) / fraction)} left"
                if fraction > 0 else "")
        return (f"{self.name}: {100 * fraction:.0f}% ({self.done:.3g} of {self.total:.3g} "
                f"{self.unit}), {format_seconds(elapsed)} elapsed{left}")
