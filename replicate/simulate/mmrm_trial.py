"""A simulated two-arm MMRM trial, the shipped ``replicate/datasets/mmrm_trial.csv`` (issue #16).

    python -m replicate.simulate.mmrm_trial [--out replicate/datasets/mmrm_trial.csv] [--seed 20261205]

300 subjects (150 per arm: ``PBO`` and ``TRT``), a baseline score ``BASE``, six post-baseline visits ``VIS1`` ..
``VIS6``, an unstructured within-subject covariance (standard deviations rising from 4 to 6.5, correlations
falling with the distance between visits) and monotone dropout at random given the data seen (MAR): after each
visit a subject leaves with a probability that rises with its last observed value. The change from baseline
``CHG`` is ``0.1 * (BASE - 50)`` plus a visit effect (-1 per visit) plus, in ``TRT``, a further -0.6 per visit,
plus the residual. Rows are written in subject then visit order, numbers with fixed decimals, so the file is
the same on every machine: the test re-runs this generator and compares the file byte for byte.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261205
SUBJECTS_PER_ARM = 150
VISITS = 6
#: The shipped file, relative to the package.
SHIPPED = Path(__file__).resolve().parents[1] / "datasets" / "mmrm_trial.csv"


def covariance() -> np.ndarray:
    """The true unstructured covariance of the six visits."""
    sd = np.linspace(4.0, 6.5, VISITS)
    lag = np.abs(np.subtract.outer(np.arange(VISITS), np.arange(VISITS)))
    corr = 0.35 + 0.6 * 0.75**lag
    np.fill_diagonal(corr, 1.0)
    out: np.ndarray = sd[:, None] * corr * sd[None, :]
    return out


def trial(seed: int = SEED) -> pd.DataFrame:
    """The trial's rows (one per subject and observed visit)."""
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(covariance())
    rows = []
    n = 2 * SUBJECTS_PER_ARM
    for i in range(n):
        arm = "PBO" if i < SUBJECTS_PER_ARM else "TRT"
        base = float(np.round(rng.normal(50.0, 8.0), 1))
        e = L @ rng.normal(size=VISITS)
        drop = rng.uniform(size=VISITS)
        for v in range(VISITS):
            mean = 0.1 * (base - 50.0) - 1.0 * (v + 1) - (0.6 * (v + 1) if arm == "TRT" else 0.0)
            chg = mean + e[v]
            rows.append((f"S{i + 1:03d}", arm, base, f"VIS{v + 1}", v + 1, round(chg, 3)))
            # monotone dropout after this visit, more likely the higher (worse) the value just seen
            if v < VISITS - 1 and drop[v] < 1.0 / (1.0 + np.exp(-(-3.2 + 0.15 * chg))):
                break
    return pd.DataFrame(rows, columns=["USUBJID", "ARM", "BASE", "VISIT", "AVISITN", "CHG"])


def write(path: Path, seed: int = SEED) -> None:
    """Write the trial as CSV (fixed decimals, Unix newlines)."""
    d = trial(seed)
    text = d.to_csv(index=False, float_format="%.3f", lineterminator="\n")
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SHIPPED)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    write(args.out, args.seed)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
