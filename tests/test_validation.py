"""The engine against theory: the checks of ``substrate validate``.

Every check of the quick tier is a test here (fixed seeds, 10^4 replicates,
tolerance 4 standard errors: see analysis/validation.py for why); the full
tier runs with ``pytest -m slow``. The theory functions themselves are tested
against independent computations.
"""

import math

import numpy as np
import pytest
from click.testing import CliRunner

from analysis import theory, validation
from substrate.cli import cli

QUICK = validation.plan("quick")


def _id(item):
    fn, kwargs = item
    return fn.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items() if k != "seed")


@pytest.mark.parametrize("item", QUICK, ids=[_id(i) for i in QUICK])
def test_quick_check(item):
    fn, kwargs = item
    result = fn(**kwargs)
    assert result.passed, (f"{result.group} {result.check}: theory {result.theory:.5g}, "
                           f"simulated {result.estimate:.5g}, z = {result.z:.2f}")


@pytest.mark.slow
def test_full_tier_passes():
    failed = [r for r in validation.run("full") if not r.passed]
    assert not failed, [(r.group, r.check, r.theory, r.estimate, r.z) for r in failed]


def test_validate_command_writes_table_and_figures(tmp_path, monkeypatch):
    # Two checks are enough to test the command; the checks are tested above.
    monkeypatch.setattr(validation, "plan", lambda tier: QUICK[:1] + QUICK[-1:])
    result = CliRunner().invoke(cli, ["validate", "--out", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    assert "2 checks, 2 passed, 0 failed" in result.output
    for name in ("validation.csv", "validation.parquet", "neutral_fixation.png",
                 "effective_error_rate.png"):
        assert (tmp_path / "v" / name).is_file()


def test_validate_exits_1_on_a_failed_check(tmp_path, monkeypatch):
    def wrong(seed):
        return validation.CheckResult("g", "c", "q", 0.5, 0.9, 0.88, 0.92, 0.01, 100, seed)
    monkeypatch.setattr(validation, "plan", lambda tier: [(wrong, {"seed": 1})])
    result = CliRunner().invoke(cli, ["validate", "--out", str(tmp_path / "v")])
    assert result.exit_code == 1 and "FAIL" in result.output


# --- theory against independent computations -----------------------------------

@pytest.mark.parametrize("n", [2, 5, 17])
def test_neutral_limits(n):
    assert theory.moran_fixation(1.0, n) == pytest.approx(1 / n)
    assert theory.moran_fixation(1.0 + 1e-9, n) == pytest.approx(1 / n, rel=1e-6)
    assert theory.wright_fisher_fixation_exact(n, 0.0) == pytest.approx(1 / n)
    assert theory.kimura_fixation(0.0, n) == 1 / n


def test_moran_fixation_by_recursion():
    """Against the birth-death chain's first-step analysis, solved directly."""
    r, n = 1.7, 12
    up = [(r * i / (r * i + n - i)) * (n - i) / n for i in range(n + 1)]
    down = [((n - i) / (r * i + n - i)) * i / n for i in range(n + 1)]
    A = np.zeros((n + 1, n + 1))
    b = np.zeros(n + 1)
    A[0, 0] = A[n, n] = 1
    b[n] = 1
    for i in range(1, n):
        A[i, i] = up[i] + down[i]
        A[i, i + 1] = -up[i]
        A[i, i - 1] = -down[i]
    assert np.linalg.solve(A, b)[1] == pytest.approx(theory.moran_fixation(r, n))


def test_kimura_close_to_exact_chain_for_large_n_small_s():
    exact = theory.wright_fisher_fixation_exact(200, 0.02)
    assert theory.kimura_fixation(0.02, 200) == pytest.approx(exact, rel=0.02)


def test_moran_fixation_ticks_by_simulation():
    """E[ceil(T/n) | fixation] against a direct simulation of the neutral
    Moran chain (200 000 paths, seed 3): 4 standard errors."""
    rng = np.random.default_rng(3)
    n, ticks = 6, []
    for _ in range(200000):
        i, t = 1, 0
        while 0 < i < n:
            t += 1
            u = rng.random()
            p = (i / n) * (n - i) / n
            i += 1 if u < p else (-1 if u < 2 * p else 0)
        if i == n:
            ticks.append(math.ceil(t / n))
    ticks = np.array(ticks)
    se = ticks.std(ddof=1) / math.sqrt(len(ticks))
    assert abs(ticks.mean() - theory.moran_neutral_fixation_ticks(n)) < 4 * se
    # and the event-level mean is n(n-1), up to the rounding of ticks
    assert theory.moran_neutral_fixation_ticks(n) > theory.moran_neutral_fixation_time(n) / n


def test_balance_near_mu_over_s():
    assert theory.selection_mutation_balance(1e-5, 0.1) == pytest.approx(1e-4, rel=1e-3)


@pytest.mark.parametrize("mu,r,rho", [(0.01, 1, 0), (0.1, 3, 0.2), (0.3, 7, 0.5)])
def test_majority_vote_matches_kernel(mu, r, rho):
    from simulation.kernels.clones import effective_error_rate

    assert theory.majority_vote_error_rate(mu, r, rho) == pytest.approx(
        effective_error_rate(mu, r, rho))


def test_escape_formula_solves_the_offspring_fixed_point():
    b, d = 0.35, 0.12
    q = 1 - theory.galton_watson_escape(b, d)
    f = d * (1 - b) + (1 - d * (1 - b) - (1 - d) * b) * q + (1 - d) * b * q * q
    assert f == pytest.approx(q)
