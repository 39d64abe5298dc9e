"""``fit_residual``: the Python entry point of the repeated-measures engine (preview)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...design import build_design
from ...errors import DataError, FitError
from ...spec import parse_formula
from .blocks import make_blocks
from .catalog import SPATIAL, make_structure, structure_name
from .fit import fit_blocks
from .result import RsideFit


def _codes(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes in level order (a categorical's order, else sorted values) and the labels."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        used = values.cat.remove_unused_categories()
        return used.cat.codes.to_numpy().astype(np.int64), tuple(str(c) for c in used.cat.categories)
    uniq, codes = np.unique(values.to_numpy(), return_inverse=True)
    return codes.astype(np.int64), tuple(str(u) for u in uniq)


def fit_residual(
    data: pd.DataFrame,
    formula_fixed: str,
    structure: str = "us",
    *,
    visit: str = "visit",
    subject: str = "id",
    group: str | None = None,
    method: str = "REML",
    weights: str | None = None,
) -> RsideFit:
    """Fit a linear model with correlated residuals within subjects (SAS's REPEATED statement).

    Args:
        data: one row per observation.
        formula_fixed: fixed effects only, e.g. ``"distance ~ age * Sex"``.
        structure: mmrm's name or SAS's TYPE= (``us``/``UN``, ``cs``, ``csh``, ``ar1``/``AR(1)``,
            ``ar1h``/``ARH(1)``, ``toep``, ``toeph``, ``diag``/``UN(1)``, ``vc``, ``adh``/``ANTE(1)``,
            ``sp_exp``/``SP(EXP)``: exponential in the visit column's numeric value).
        visit: the repeated factor; its levels (a categorical's order, else sorted values) index
            the covariance by position, as SAS and mmrm do.
        subject: the subject factor (SUBJECT=).
        group: a factor constant within subject with one set of parameters per level (GROUP=).
        method: ``REML`` or ``ML``.
        weights: a column of positive weights (SAS's WEIGHT: V = W^-1/2 R W^-1/2).
    """
    method = str(method).upper()
    if method not in ("REML", "ML"):
        raise FitError(f"method {method!r} unknown", field="method", hint="use 'REML' or 'ML'")
    for col, what in ((visit, "visit"), (subject, "subject"), (group, "group"), (weights, "weights")):
        if col is not None and col not in data.columns:
            raise DataError(f"{what} column {col!r} is not in the data", field=what)
    keys = [c for c in (visit, subject, group) if c is not None]
    complete = data[keys].notna().all(axis=1).to_numpy()
    frame = data.loc[complete].reset_index(drop=True)
    messages = []
    if (~complete).any():
        messages.append(f"{int((~complete).sum())} row(s) with missing {', '.join(keys)} removed")
    design = build_design(parse_formula(formula_fixed, field="formula", fixed_only=True), frame, weights=weights)
    messages += list(design.messages)
    used = frame.iloc[design.rows]
    spatial = structure_name(structure) in SPATIAL
    coords = None
    if spatial:
        times = pd.to_numeric(used[visit], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(times)):
            raise DataError(
                f"visit column {visit!r} must be numeric for {structure}: it is the time coordinate", field="visit"
            )
        coords, v_codes = np.unique(times, return_inverse=True)
        v_levels = tuple(f"{c:g}" for c in coords)
    else:
        v_codes, v_levels = _codes(used[visit])
    s_codes, _ = _codes(used[subject])
    g_codes, g_levels = _codes(used[group]) if group else (None, None)
    blocks = make_blocks(design.X, design.y, s_codes, v_codes, len(v_levels), g_codes, design.weights)
    if blocks.n <= blocks.p:
        raise FitError(f"{blocks.n} observations for {blocks.p} fixed effects", field="formula")
    return fit_blocks(
        blocks,
        make_structure(structure, len(v_levels), coords),
        method,
        design.fixed_names,
        v_levels,
        g_levels,
        tuple(messages),
    )
