"""The fixed part of a fitted model as LS-means and Type III tests need it: formula, rows used, X.

Both model classes hand it over: the repeated-measures engine keeps one in its result
(``RsideFit.fixed_part``); for a G-side fit :func:`from_design` makes one from the design and the
frame the design was built on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .design import Design
from .spec import ModelSpec


@dataclass(frozen=True)
class FixedPart:
    """What LS-means and Type III tests need of the fixed part (see :mod:`replicate.inference.lsmeans`).

    Attributes:
        spec: the parsed fixed-effects formula.
        frame: the rows used in the fit (the model's columns, before formula functions).
        X: the fixed-effects model matrix of those rows (columns as the fit's coefficients).
        subject: an integer subject code per row (for the between-within df), or None.
    """

    spec: ModelSpec
    frame: pd.DataFrame
    X: np.ndarray
    subject: np.ndarray | None = None


def from_design(design: Design, frame: pd.DataFrame, subject: str | None = None) -> FixedPart:
    """The :class:`FixedPart` of a design built on ``frame`` (``subject``: a column naming the subjects)."""
    if design.spec is None:
        raise ValueError("the design does not record its formula (Design.spec is None)")
    used = frame.iloc[design.rows].reset_index(drop=True)
    codes = None
    if subject is not None:
        codes = np.unique(used[subject].astype(str).to_numpy(), return_inverse=True)[1].astype(np.int64)
    return FixedPart(design.spec, used, design.X, codes)
