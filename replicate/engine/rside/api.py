"""``fit_residual``: the Python entry point of the repeated-measures engine (preview)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from ...design import Design, build_design
from ...errors import DataError, FitError, ModelError
from ...fixed_part import FixedPart
from ...rside_syntax import ResidualSpec, parse_sas_type, residual_from_mapping, split_formula
from ...spec import ModelSpec, parse_formula
from .blocks import make_blocks
from .catalog import SPATIAL, make_structure
from .cluster import make_layout
from .cluster_fit import fit_cluster
from .fit import fit_blocks
from .intercept import WithRandomIntercept
from .result import RowData, RsideFit
from .slopes import WithRandomSlopes, visit_design


def _codes(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes in level order (a categorical's order, else sorted values) and the labels."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        used = values.cat.remove_unused_categories()
        return used.cat.codes.to_numpy().astype(np.int64), tuple(str(c) for c in used.cat.categories)
    uniq, codes = np.unique(values.to_numpy(), return_inverse=True)
    return codes.astype(np.int64), tuple(str(u) for u in uniq)


def resolve_residual(
    formula: str,
    structure: str | None,
    residual: ResidualSpec | Mapping[str, object] | None,
    visit: str | None,
    subject: str | None,
    group: str | None,
) -> tuple[str, ResidualSpec]:
    """The fixed-effects formula and the one residual structure that the arguments name.

    The structure comes from a covariance term in the formula (``us(AVISIT | USUBJID)``), or from
    ``residual`` (a :class:`ResidualSpec` or a SAS-like mapping), or from ``structure``/``visit``/
    ``subject``/``group`` (defaults ``us``, ``visit``, ``id``); naming it twice is an error.
    """
    fixed, term = split_formula(formula, field="formula")
    keywords = [k for k, v in (("structure", structure), ("visit", visit), ("subject", subject), ("group", group)) if v]
    if term is not None and (residual is not None or keywords):
        given = ", ".join(keywords + (["residual"] if residual is not None else []))
        raise ModelError(
            f"the formula's {term.term()} and {given}= both name the residual structure",
            field="formula",
            hint=f"drop {given}= or the covariance term",
        )
    if term is not None:
        return fixed, term
    if residual is not None:
        if keywords:
            raise ModelError(f"residual= and {', '.join(keywords)}= both name the residual structure", field="residual")
        return fixed, residual if isinstance(residual, ResidualSpec) else residual_from_mapping(residual)
    name, coords = parse_sas_type(structure or "us", field="structure")
    if coords and visit:
        raise ModelError(
            f"structure {structure!r} names its coordinates and visit={visit!r} names another", field="visit"
        )
    return fixed, ResidualSpec(name, coords or (visit or "visit",), subject or "id", group)


def _visit_codes(used: pd.DataFrame, res: ResidualSpec) -> tuple[np.ndarray, tuple[str, ...], np.ndarray | None]:
    """Visit positions, their labels and (spatial structures) the coordinate points."""
    if res.structure not in SPATIAL:
        codes, labels = _codes(used[res.visit])
        return codes, labels, None
    pts = np.column_stack([pd.to_numeric(used[c], errors="coerce").to_numpy(dtype=float) for c in res.coordinates])
    if not np.all(np.isfinite(pts)):
        bad = [c for j, c in enumerate(res.coordinates) if not np.all(np.isfinite(pts[:, j]))]
        raise DataError(
            f"coordinate column(s) {', '.join(map(repr, bad))} must be numeric for {res.sas_type}",
            field="visit",
            hint="a spatial structure measures distances between the coordinate values",
        )
    coords, inverse = np.unique(pts, axis=0, return_inverse=True)
    labels = tuple(f"{c[0]:g}" if len(c) == 1 else "(" + ", ".join(f"{x:g}" for x in c) + ")" for c in coords.tolist())
    return inverse.ravel().astype(np.int64), labels, coords


def fit_residual(
    data: pd.DataFrame,
    formula: str,
    structure: str | None = None,
    *,
    visit: str | None = None,
    subject: str | None = None,
    group: str | None = None,
    residual: ResidualSpec | Mapping[str, object] | None = None,
    method: str = "REML",
    weights: str | None = None,
    random_intercept: bool = False,
    cluster: str | None = None,
    random_slopes: tuple[str, ...] = (),
    contrasts: str = "treatment",
) -> RsideFit:
    """Fit a linear model with correlated residuals within subjects (SAS's REPEATED statement).

    Args:
        data: one row per observation.
        formula: fixed effects, with or without mmrm's covariance term: ``"FEV1 ~ ARMCD * AVISIT +
            us(AVISIT | USUBJID)"``, or ``"distance ~ age * Sex"`` with the structure given apart.
        structure: mmrm's name or SAS's TYPE= (``us``/``UN``, ``cs``, ``csh``, ``ar1``/``AR(1)``,
            ``ar1h``/``ARH(1)``, ``toep``, ``toeph``, ``diag``/``UN(1)``, ``vc``, ``ad``, ``adh``/``ANTE(1)``,
            ``sp_exp``/``SP(EXP)``, ``SP(GAU)``, ``SP(POW)``: spatial in the visit column's numeric
            value, or in the coordinates written in the type, ``SP(EXP)(x y)``). Default ``us``.
        visit: the repeated factor (default ``visit``); its levels (a categorical's order, else sorted
            values) index the covariance by position, as SAS and mmrm do.
        subject: the subject factor (SUBJECT=; default ``id``).
        group: a factor constant within subject with one set of parameters per level (GROUP=).
        residual: the structure as a :class:`ResidualSpec` or as a SAS-like mapping
            ``{type: UN, repeated: AVISIT, subject: USUBJID, group: ARMCD}`` (instead of the above).
        method: ``REML`` or ``ML``.
        weights: a column of positive weights (SAS's WEIGHT: V = W^-1/2 R W^-1/2).
        random_intercept: add a random intercept per subject (SAS's ``RANDOM intercept / SUBJECT=``
            beside the REPEATED statement; nlme's ``lme(random = ~ 1 | subject, correlation = ...)``);
            for ar1, ar1h and the spatial structures, without GROUP= (see :mod:`.intercept`).
        cluster: a column of clusters (schools) in which the subjects are nested: a random intercept
            per cluster over the residual structure, ``(1 | school) + ar1(time | student)`` (see
            :mod:`.cluster`); subjects are then identified within their cluster. Without weights or GROUP=.
        random_slopes: numeric columns of random slopes per subject, with its random intercept and an
            unstructured G (SAS's ``RANDOM intercept time / SUBJECT= TYPE=UN`` beside REPEATED; nlme's
            ``lme(random = ~ time | subject, correlation = ...)``); each a function of the visit, for ar1,
            ar1h and the spatial structures, without GROUP= or cluster= (see :mod:`.slopes`).
        contrasts: ``treatment`` (R's first level as reference) or ``sas`` (SAS's CLASS coding, the last level as
            reference): the coefficients' names and values; LS-means, tests and statements do not depend on it.
    """
    method = str(method).upper()
    if method not in ("REML", "ML"):
        raise FitError(f"method {method!r} unknown", field="method", hint="use 'REML' or 'ML'")
    fixed, res = resolve_residual(formula, structure, residual, visit, subject, group)
    for col, what in [(c, "visit") for c in res.coordinates] + [
        (res.subject, "subject"),
        (res.group, "group"),
        (weights, "weights"),
        (cluster, "cluster"),
    ]:
        if col is not None and col not in data.columns:
            raise DataError(f"{what} column {col!r} is not in the data", field=what)
    random_slopes = tuple(random_slopes)
    if random_slopes and (cluster or res.group):
        raise ModelError(
            f"random slopes with {'cluster=' if cluster else 'GROUP='} are not implemented",
            field="random_slopes",
            hint="drop the cluster or the group, or the slopes",
        )
    for col in random_slopes:
        if col not in data.columns:
            raise DataError(f"random slope column {col!r} is not in the data", field="random_slopes")
        if not pd.api.types.is_numeric_dtype(data[col]):
            raise DataError(f"random slope column {col!r} is not numeric", field="random_slopes")
    keys = res.variables() + ([cluster] if cluster else []) + [c for c in random_slopes if c not in res.variables()]
    complete = data[keys].notna().all(axis=1).to_numpy()
    frame = data.loc[complete].reset_index(drop=True)
    messages = []
    if (~complete).any():
        messages.append(f"{int((~complete).sum())} row(s) with missing {', '.join(keys)} removed")
    spec = parse_formula(fixed, field="formula", fixed_only=True)
    design = build_design(spec, frame, weights=weights, contrasts=contrasts)
    messages += list(design.messages)
    used = frame.iloc[design.rows].reset_index(drop=True)
    v_codes, v_levels, coords = _visit_codes(used, res)
    if cluster:
        fit = _fit_in_clusters(used, design, res, spec, cluster, method, random_intercept, weights, messages)
        inner = (f"(1 | {cluster}:{res.subject})",) if random_intercept else ()
        return replace(fit, random_terms=(f"(1 | {cluster})", *inner))
    s_codes, _ = _codes(used[res.subject])
    g_codes, g_levels = _codes(used[res.group]) if res.group else (None, None)
    blocks = make_blocks(design.X, design.y, s_codes, v_codes, len(v_levels), g_codes, design.weights)
    if blocks.n <= blocks.p:
        raise FitError(f"{blocks.n} observations for {blocks.p} fixed effects", field="formula")
    cov = make_structure(res.structure, len(v_levels), coords)
    if random_intercept:
        if res.group:
            raise ModelError(
                "a random intercept with GROUP= is not implemented",
                field="random_intercept",
                hint="drop the group, or the random intercept",
            )
        cov = WithRandomIntercept(cov)
    if random_slopes:
        if random_intercept:
            raise ModelError(
                "random_intercept= and random_slopes= both give the subject's random intercept",
                field="random_slopes",
                hint="random slopes carry their own intercept: drop random_intercept=",
            )
        slope_values = used[list(random_slopes)].to_numpy(dtype=float)
        cov = WithRandomSlopes(cov, visit_design(slope_values, v_codes, len(v_levels), random_slopes))
    fit = fit_blocks(
        blocks,
        cov,
        method,
        design.fixed_names,
        v_levels,
        g_levels,
        tuple(messages),
    )
    # every column is kept: formula functions (factor(g), log(x)) are recomputed from their source columns
    part = FixedPart(design.spec or spec, used, design.X, s_codes)
    g_rows = np.zeros(len(used), dtype=np.int64) if g_codes is None else np.asarray(g_codes, dtype=np.int64)
    rows = RowData(design.X, design.y, np.asarray(s_codes), np.asarray(v_codes), g_rows, design.weights)
    random_terms = (
        (f"(1 + {' + '.join(random_slopes)} | {res.subject})",)
        if random_slopes
        else (f"(1 | {res.subject})",)
        if random_intercept
        else ()
    )
    return replace(fit.with_model(res, part), rows=rows, random_terms=random_terms)


def _fit_in_clusters(
    used: pd.DataFrame,
    design: Design,
    res: ResidualSpec,
    spec: ModelSpec,
    cluster: str,
    method: str,
    random_intercept: bool,
    weights: str | None,
    messages: list[str],
) -> RsideFit:
    """``fit_residual`` with ``cluster=``: subjects nested in clusters, a random intercept per cluster."""
    if res.group or weights:
        raise ModelError(
            f"cluster= with {'GROUP=' if res.group else 'weights'} is not implemented",
            field="cluster",
            hint="drop the group or the weights, or the cluster",
        )
    v_codes, v_levels, coords = _visit_codes(used, res)
    c_codes, _ = _codes(used[cluster].astype(str))
    pairs = used[cluster].astype(str) + "\x1f" + used[res.subject].astype(str)
    s_codes, _ = _codes(pairs)
    lay = make_layout(design.X, design.y, s_codes, v_codes, len(v_levels), c_codes)
    if lay.blocks.n <= lay.blocks.p:
        raise FitError(f"{lay.blocks.n} observations for {lay.blocks.p} fixed effects", field="formula")
    cov = make_structure(res.structure, len(v_levels), coords)
    if random_intercept:
        cov = WithRandomIntercept(cov)
    fit = fit_cluster(lay, cov, method, design.fixed_names, v_levels, cluster, tuple(messages))
    # no subject codes: the between-within df are not defined for subjects within clusters
    return fit.with_model(res, FixedPart(design.spec or spec, used, design.X, None))
