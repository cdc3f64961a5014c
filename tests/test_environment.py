"""Environmental noise (``copy.noise``, docs/model.md "Environmental noise"):
mu(t) = mu exp(sigma X_t), X a stationary AR(1) process of unit variance.

The draw-for-draw comparisons with the naive reference are the
``noise_world`` and ``noise_agent`` cases of tests/test_kernels.py (every
dynamics), ``test_replicate_start_draws_match_naive`` (X_0) and the
reproduction case of tests/test_world.py (a child agent's own X_0). Here:
the process's law measured on the engine's own output, against theory, and
that the noise off makes no draw.
"""

import math

import numpy as np
import pandas as pd

from simulation import run_scenario, validate
from simulation.engine import World

MU, SIGMA, TAU = 1e-6, 0.8, 5.0


def noisy(horizon, seed=5, **noise):
    return validate({
        "seed": seed, "horizon": horizon, "record_every": 1, "replicates": 1,
        "agent": {"capacity": 60, "initial_size": 40, "birth_rate": 0.3,
                  "death_rate": 0.1},
        "copy": {"error_rate": MU, "noise": {"sigma": SIGMA, "correlation_time": TAU,
                                             **noise}},
        "immune": {"surveillance": 0.0}})


def bartlett_se(phi, k, n):
    """Standard error of the lag-k sample autocorrelation of an AR(1)
    process with coefficient phi, n observations (Bartlett 1946; Box,
    Jenkins and Reinsel, Time Series Analysis, eq. 2.1.15)."""
    var = ((1 + phi**2) * (1 - phi ** (2 * k)) / (1 - phi**2) - 2 * k * phi ** (2 * k)) / n
    return math.sqrt(var)


def test_world_noise_is_a_unit_variance_ar1_with_the_given_correlation_time():
    """One replicate of 40 000 ticks (seed 5), X_t recovered from the
    recorded mu(t) (mu = 1e-6, never at the cap): mean 0, variance 1 and
    autocorrelation phi^k at lags 1, 5 and 10, phi = exp(-1/tau), each within
    4 of its large-sample standard errors (mean: sqrt((1+phi)/((1-phi) n));
    variance: sqrt(2 (1+phi^2) / ((1-phi^2) n)); autocorrelation: Bartlett)."""
    n = 40_000
    ts = run_scenario(noisy(n), show_progress=False).timeseries
    x = np.log(ts["error_rate"].to_numpy() / MU) / SIGMA
    assert len(x) == n + 1
    phi = math.exp(-1 / TAU)
    assert abs(x.mean()) < 4 * math.sqrt((1 + phi) / ((1 - phi) * n))
    assert abs(x.var() - 1) < 4 * math.sqrt(2 * (1 + phi**2) / ((1 - phi**2) * n))
    centred = x - x.mean()
    for k in (1, 5, 10):
        r_k = (centred[:-k] * centred[k:]).sum() / (centred**2).sum()
        assert abs(r_k - phi**k) < 4 * bartlett_se(phi, k, n), k


def test_agent_noise_is_independent_between_agents_and_stationary_from_tick_0():
    """Scope agent, 400 agents (seed 9): at tick 0 and at tick 30, each
    agent's X has mean 0 and variance 1 across agents (stationary from the
    start; 4 standard errors: 4/sqrt(400) and 4 sqrt(2/400)), and the X of
    neighbouring agents are uncorrelated (4/sqrt(400))."""
    sc = noisy(30, seed=9, scope="agent")
    sc.world.agents = 400
    world = World(sc, seed=9)
    for stop in (0, 30):
        world.advance(stop)
        x = world.agents.noise[:400]
        assert abs(x.mean()) < 4 / math.sqrt(400)
        assert abs(x.var() - 1) < 4 * math.sqrt(2 / 400)
        assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 4 / math.sqrt(400)
    assert world.status["noise"] == 0.0  # no world X under scope agent


def test_noise_off_draws_nothing_whatever_its_other_keys():
    """sigma = 0 (the default) is constant mu and no draw: the same run as
    without the section, whatever correlation_time and scope say."""
    base = {"seed": 2, "horizon": 60, "replicates": 2,
            "agent": {"capacity": 300, "initial_size": 200}, "copy": {"error_rate": 0.01}}
    plain = run_scenario(validate(base), show_progress=False)
    off = run_scenario(validate({**base, "copy": {"error_rate": 0.01, "noise": {
        "sigma": 0.0, "correlation_time": 2.0, "scope": "agent"}}}), show_progress=False)
    pd.testing.assert_frame_equal(plain.timeseries, off.timeseries)
    assert (plain.timeseries["error_rate"] == 0.01).all()


def test_noise_changes_the_run_and_mu_is_capped_at_one():
    sc = noisy(200)
    sc.copy.error_rate = 0.5
    sc.copy.noise.sigma = 3.0
    ts = run_scenario(sc, show_progress=False).timeseries
    assert ts["error_rate"].max() == 1.0 and ts["error_rate"].min() < 0.5
    assert ts["error_rate"].nunique() > 50
