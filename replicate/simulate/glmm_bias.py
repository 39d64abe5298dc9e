"""The PQL bias of a binary outcome with small clusters, against Laplace and adaptive quadrature (issue #17).

    python -m replicate.simulate.glmm_bias [--reps 200] [--clusters 100] [--size 4] [--variance 2] [--seed 1993]

Penalized quasi-likelihood (``MASS::glmmPQL``; HLM's HGLM) is known to underestimate the variance of the random
intercepts of a binary outcome when clusters are small and the variance is large (Breslow and Clayton 1993;
Rodriguez and Goldman 1995), and to pull the fixed effects towards 0 with it; the Laplace approximation
(glmer's default) is less biased, and adaptive Gauss-Hermite quadrature less again. Each replicate draws J
clusters of n rows, a level-1 binary predictor ``x`` (probability 1/2), a random intercept ``u_j ~ N(0, tau)``
and ``y ~ Bernoulli(logit^-1(beta0 + beta1 x + u_j))``, and fits ``y ~ x + (1 | cluster)`` by the three
methods. Replicate r draws from its own seed (``SeedSequence([seed, r])``), so results do not depend on how
replicates are split. Reported per method: the mean estimate of ``tau`` and of ``beta1``, their bias relative to
the truth with Monte Carlo SEs, and the mean paired difference to quadrature (its MC SE is small, so the
ordering is measured with few replicates); fits that did not converge are counted and left out of all three
methods' means for that replicate.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine.glmm import fit_glmm, fit_glmm_pql

#: The methods, in the order they are reported: name -> (method, nodes).
METHODS = {"PQL": ("pql", 0), "Laplace": ("laplace", 1), "AGQ(9)": ("agq", 9)}


@dataclass(frozen=True)
class Design:
    """One condition: clusters, cluster size, the true variance and fixed effects."""

    clusters: int = 100
    size: int = 4
    variance: float = 2.0
    beta0: float = -0.5
    beta1: float = 1.0


def draw(design: Design, seed: int, replicate: int) -> pd.DataFrame:
    """Replicate ``replicate``'s data (its own seed stream)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, replicate]))
    j = np.repeat(np.arange(design.clusters), design.size)
    u = rng.normal(0.0, math.sqrt(design.variance), design.clusters)[j]
    x = rng.integers(0, 2, j.size).astype(float)
    eta = design.beta0 + design.beta1 * x + u
    y = (rng.uniform(size=j.size) < 1.0 / (1.0 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": x, "cluster": j.astype(str)})


def fit_one(d: pd.DataFrame, method: str, nodes: int) -> tuple[float, float, bool]:
    """(tau, beta1, converged) of one method's fit."""
    if method == "pql":
        pql = fit_glmm_pql(d, "y ~ x + (1 | cluster)")
        tau = float(pql.varcorr.loc[pql.varcorr["grp"] == "cluster", "vcov"].iloc[0])
        return tau, float(pql.beta[list(pql.fixed_names).index("x")]), bool(pql.converged)
    fit = fit_glmm(d, "y ~ x + (1 | cluster)", method=method, nagq=max(nodes, 1))
    return float(fit.varcomps[0].cov[0, 0]), float(fit.beta[list(fit.fixed_names).index("x")]), bool(fit.converged)


def run(design: Design, reps: int, seed: int) -> pd.DataFrame:
    """One row per replicate and method: tau, beta1, converged."""
    rows = []
    for r in range(reps):
        d = draw(design, seed, r)
        for name, (method, nodes) in METHODS.items():
            tau, b1, ok = fit_one(d, method, nodes)
            rows.append({"replicate": r, "method": name, "tau": tau, "beta1": b1, "converged": ok})
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Per method: mean tau and beta1, relative bias with MC SE, and the paired difference to quadrature, over the
    replicates where every method converged."""
    ok = results.groupby("replicate")["converged"].all()
    kept = results[results["replicate"].isin(ok[ok].index)]
    wide_tau = kept.pivot(index="replicate", columns="method", values="tau")
    wide_b1 = kept.pivot(index="replicate", columns="method", values="beta1")
    n = len(wide_tau)
    out = []
    for name in METHODS:
        tau, b1 = wide_tau[name], wide_b1[name]
        diff = tau - wide_tau["AGQ(9)"]
        out.append(
            {
                "method": name,
                "replicates": n,
                "mean_tau": float(tau.mean()),
                "tau_rel_bias": float(tau.mean() / design.variance - 1.0),
                "tau_rel_bias_mcse": float(tau.std(ddof=1) / math.sqrt(n) / design.variance) if n > 1 else math.nan,
                "mean_beta1": float(b1.mean()),
                "beta1_rel_bias": float(b1.mean() / design.beta1 - 1.0),
                "beta1_rel_bias_mcse": float(b1.std(ddof=1) / math.sqrt(n) / abs(design.beta1)) if n > 1 else math.nan,
                "tau_minus_agq": float(diff.mean()),
                "tau_minus_agq_mcse": float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
            }
        )
    table = pd.DataFrame(out)
    table.attrs["not_converged"] = int((~ok).sum())
    return table


def markdown(table: pd.DataFrame, design: Design, reps: int, seed: int) -> str:
    """The summary as a Markdown table with its condition."""
    head = (
        f"{design.clusters} clusters of {design.size}, tau = {design.variance:g}, beta0 = {design.beta0:g}, "
        f"beta1 = {design.beta1:g}; {reps} replicates (seed {seed}); "
        f"{table.attrs.get('not_converged', 0)} replicate(s) left out for a fit that did not converge.\n\n"
    )
    lines = [
        "| method | mean tau | tau rel. bias (MC SE) | mean beta1 | beta1 rel. bias (MC SE) | tau - AGQ(9) (MC SE) |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.method} | {row.mean_tau:.4f} | {row.tau_rel_bias:+.3f} ({row.tau_rel_bias_mcse:.3f}) | "
            f"{row.mean_beta1:.4f} | {row.beta1_rel_bias:+.3f} ({row.beta1_rel_bias_mcse:.3f}) | "
            f"{row.tau_minus_agq:+.4f} ({row.tau_minus_agq_mcse:.4f}) |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--clusters", type=int, default=Design.clusters)
    ap.add_argument("--size", type=int, default=Design.size)
    ap.add_argument("--variance", type=float, default=Design.variance)
    ap.add_argument("--seed", type=int, default=1993)
    args = ap.parse_args()
    design = Design(args.clusters, args.size, args.variance)
    print(markdown(summary(run(design, args.reps, args.seed), design), design, args.reps, args.seed), end="")


if __name__ == "__main__":
    main()
