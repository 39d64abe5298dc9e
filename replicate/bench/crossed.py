"""Simulated crossed designs with random slopes for the benchmark (issue #20): subjects x items at published sizes.

kb07 (Kronmueller and Barr 2007; MixedModels.jl's benchmark data) is not public here, so its design is simulated
at its size with effects of the size its published fit reports; the data are the same on every machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KB07_FORMULA = "rt ~ 1 + spkr + prec + load + (1 + spkr + prec + load | subj) + (1 + spkr + prec + load | item)"
CROSSED_LARGE_FORMULA = "y ~ 1 + a + b + (1 + a + b | subj) + (1 + a + b | item)"


def crossed_slopes(
    n_subj: int, n_item: int, factors: int, *, sds: tuple[list[float], list[float]], beta: list[float], seed: int
) -> pd.DataFrame:
    """Subjects x items, every subject seeing every item once, ``factors`` two-level within factors coded
    -0.5 / 0.5 and counterbalanced (subject s sees item i in condition (s + i) mod 2^factors), a correlated
    random intercept and slope of every factor for subjects and for items (correlations 0.3 and 0.2), normal
    errors; numpy's PCG64 from ``seed``, so the data are the same on every machine."""
    rng = np.random.default_rng(seed)
    n_cond = 2**factors
    cond = (((np.arange(n_cond)[:, None] >> np.arange(factors)[::-1]) & 1) - 0.5).astype(float)
    s_idx = np.repeat(np.arange(n_subj), n_item)
    i_idx = np.tile(np.arange(n_item), n_subj)
    x = cond[(s_idx + i_idx) % n_cond]
    z = np.column_stack([np.ones(len(s_idx)), x])

    def effects(n: int, sd: list[float], rho: float) -> np.ndarray:
        corr = np.full((factors + 1, factors + 1), rho)
        np.fill_diagonal(corr, 1.0)
        cov = np.outer(sd, sd) * corr
        return rng.multivariate_normal(np.zeros(factors + 1), cov, size=n)

    us, ui = effects(n_subj, sds[0], 0.3), effects(n_item, sds[1], 0.2)
    y = z @ np.asarray(beta[: factors + 1]) + (z * us[s_idx]).sum(1) + (z * ui[i_idx]).sum(1)
    y = y + rng.normal(0.0, beta[-1], len(y))
    out = pd.DataFrame(x, columns=[f"x{j}" for j in range(factors)])
    out["subj"] = pd.Categorical([f"S{s + 1:03d}" for s in s_idx])
    out["item"] = pd.Categorical([f"I{i + 1:03d}" for i in i_idx])
    out["y"] = y
    return out


def kb07_like() -> pd.DataFrame:
    """Kronmueller and Barr's (2007) design at its published size (56 subjects x 32 items, three two-level
    factors spkr, prec, load), simulated with effects and variances of the size MixedModels.jl's kb07 fit
    reports (milliseconds)."""
    d = crossed_slopes(
        56,
        32,
        3,
        sds=([300.0, 60.0, 80.0, 50.0], [360.0, 80.0, 250.0, 40.0]),
        beta=[2180.0, 67.9, -333.9, 78.6, 670.0],
        seed=20261205,
    )
    d = d.rename(columns={"x0": "spkr", "x1": "prec", "x2": "load", "y": "rt"})
    return d


def crossed_large() -> pd.DataFrame:
    """A larger crossed design with two slopes: 240 subjects x 60 items (14,400 rows)."""
    d = crossed_slopes(240, 60, 2, sds=([1.0, 0.3, 0.3], [0.8, 0.2, 0.4]), beta=[5.0, 0.2, -0.3, 1.0], seed=20261206)
    return d.rename(columns={"x0": "a", "x1": "b"})
