"""The engine's Estimated R Matrix and R Correlation Matrix of a subject (SAS's REPEATED / R and RCORR options).

A block prints them under ``rmatrix`` and ``rcorr``: ``"row,col"`` (1-based, SAS's Row and Col columns) -> the
value. The subject is the first of the data, as SAS's R and RCORR print it by default: its rows in the order
they appear in the data (SAS builds R's rows in that order), its visits' block of the fitted covariance over
all visits (of its GROUP= level).
"""

from __future__ import annotations

import numpy as np

from ..engine.rside.result import RsideFit
from ..errors import ModelError, NotImplementedOption
from .value import Collector, Lazy

#: section -> the quantity kind its numbers are compared as
SECTIONS = {"rmatrix": "cov", "rcorr": "corr"}


def first_subject_r(fit: RsideFit) -> tuple[np.ndarray, np.ndarray]:
    """(R, its correlation matrix) of the data's first subject, over its own rows in data order."""
    rows = fit.rows
    if rows is None:
        raise NotImplementedOption(
            "the R matrix of a subject for a fit in clusters (random intercepts beside the structure)",
            hint="SAS's R and RCORR are read for REPEATED-only models",
        )
    first = rows.subject[0]
    mine = np.flatnonzero(rows.subject == first)
    visits, group = rows.visit[mine], int(rows.group[mine][0])
    R = fit.R[group][np.ix_(visits, visits)]
    d = np.sqrt(np.diag(R))
    return R, R / np.outer(d, d)


def cell(text: str, size: int) -> tuple[int, int]:
    """``"row,col"`` -> 0-based (row, col), checked against a subject with ``size`` rows.

    Raises:
        ModelError: the text is not two positive integers or lies outside the matrix.
    """
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise ModelError(
            f"R matrix entry {text!r} is not 'row,col'",
            field="rmatrix",
            hint="write the entry as SAS prints it: its Row and its Col number, e.g. '2,1'",
        )
    r, c = int(parts[0]), int(parts[1])
    if r > size or c > size:
        raise ModelError(
            f"R matrix entry {text!r} is outside the first subject's {size} x {size} matrix",
            field="rmatrix",
            hint="the first subject of the data has that many rows",
        )
    return r - 1, c - 1


def add_rmatrix(out: Collector, fit: RsideFit) -> None:
    """Add the block's ``rmatrix`` and ``rcorr`` values to ``out``."""
    mats = Lazy(lambda: first_subject_r(fit))
    for index, (section, kind) in enumerate(SECTIONS.items()):
        for text, ref in out.block.section(section).items():

            def value(text: str = str(text), index: int = index) -> float:
                M = mats.get()[index]
                r, c = cell(text, M.shape[0])
                return float(M[r, c])

            note = "the first subject of the data, its rows in data order (SAS's R and RCORR)"
            out.add(section, str(text), kind, ref, value, (section, text), note)
