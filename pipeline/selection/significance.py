"""One-sided tests of H0: mean error ratio >= 1, over the N repeats of each AM.

The source's test treats the N repeats as independent samples: CI_u = mean + t_{1-a,N-1} sd/sqrt(N).
They are not independent (every repeat trains on most of the same speakers), so that
interval is too narrow. The Nadeau-Bengio corrected resampled t-test widens the variance
factor from 1/N to 1/N + n_test/n_train. Benjamini-Hochberg then controls the false
discovery rate across the K AMs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests


@dataclass(frozen=True)
class OneSided:
    mean: np.ndarray  # [K]
    sd: np.ndarray  # [K], ddof=1
    ci_u: np.ndarray  # [K] upper (1 - alpha) bound of the mean ratio
    p_value: np.ndarray  # [K] one-sided p of H0: mean >= 1


def one_sided(ratios: np.ndarray, alpha: float, variance_factor: float | None = None) -> OneSided:
    """Test each row of ratios [K, N]; variance_factor 1/N (default) is the plain t-test."""
    ratios = np.atleast_2d(np.asarray(ratios, dtype=np.float64))
    n = ratios.shape[1]
    if n < 2:
        raise ValueError(f"a t-test over repeats needs at least 2 repeats, got {n}")
    factor = 1.0 / n if variance_factor is None else variance_factor
    mean = ratios.mean(axis=1)
    sd = ratios.std(axis=1, ddof=1)
    se = sd * np.sqrt(factor)
    dof = n - 1
    ci_u = mean + stats.t.ppf(1.0 - alpha, dof) * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.t.cdf((mean - 1.0) / se, dof)
    # Zero spread: the mean alone decides.
    p = np.where(se > 0, p, np.where(mean < 1.0, 0.0, 1.0))
    return OneSided(mean, sd, ci_u, p)


def paper_test(ratios: np.ndarray, alpha: float) -> OneSided:
    """The source's test (thesis Eqs. 5.4-5.6)."""
    return one_sided(ratios, alpha)


def corrected_test(ratios: np.ndarray, alpha: float, n_test: int, n_train: int) -> OneSided:
    """Nadeau & Bengio (2003) corrected resampled t-test, n_test / n_train speakers per repeat."""
    n = np.atleast_2d(ratios).shape[1]
    return one_sided(ratios, alpha, 1.0 / n + n_test / n_train)


@dataclass(frozen=True)
class PermutationNull:
    """The train stage's permutation table and the stopping count (sfv.permutation_exceedances)
    its shuffling ran with; the p-value needs both."""

    table: pd.DataFrame
    exceedances: int


def permutation_test(null: pd.DataFrame, am_ids: np.ndarray, exceedances: int) -> np.ndarray:
    """One-sided p per AM from the train stage's permutation table (permutation 0 observed, 1..n
    shuffled; column mean_ratio), Besag & Clifford's sequential p-value: h / n_h when the h-th
    (h = `exceedances`) shuffled value as small as the observed one came at shuffling n_h, else
    (1 + #{shuffled <= observed}) / (1 + n), the fixed-n permutation p. Exact under the null
    that the voice says nothing about the AM, whether the table stopped at n_h or ran on."""
    missing = sorted(set(am_ids) - set(null["am_id"]))
    if missing:
        raise ValueError(f"the permutation table lacks AMs {missing[:5]}")
    by_am = {am: rows for am, rows in null.sort_values(["am_id", "permutation"]).groupby("am_id")}
    out = np.empty(len(am_ids))
    for i, am in enumerate(am_ids):
        rows = by_am[am]
        if rows["permutation"].iloc[0] != 0:
            raise ValueError(f"the permutation table lacks the observed value of AM {am}")
        values = rows["mean_ratio"].to_numpy()
        hits = np.cumsum(values[1:] <= values[0])
        reached = np.flatnonzero(hits >= exceedances)
        out[i] = (exceedances / (reached[0] + 1) if len(reached)
                  else (1.0 + (hits[-1] if len(hits) else 0)) / len(values))
    return out


def smallest_needed_permutations(alpha: float, fdr: str, n_ams: int) -> int:
    """The fewest shufflings B with which the permutation test can declare a lone AM: BH over m
    AMs declares one only at p <= alpha / m, and B shufflings give p >= 1 / (1 + B)."""
    need = n_ams / alpha if fdr == "bh" else 1 / alpha
    return max(int(np.ceil(need - 1e-9)) - 1, 1)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values across AMs."""
    return multipletests(np.asarray(p_values, dtype=np.float64), method="fdr_bh")[1]


def decide(p_values: np.ndarray, alpha: float, fdr: str) -> tuple[np.ndarray, np.ndarray]:
    """(z [K] in {0, 1}, BH-adjusted p [K]): z = 1 where the chosen p is below alpha."""
    adjusted = benjamini_hochberg(p_values)
    chosen = adjusted if fdr == "bh" else np.asarray(p_values)
    return (chosen < alpha).astype(int), adjusted
