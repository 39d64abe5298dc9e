"""Study files: YAML -> a validated :class:`Study`.

A study file describes one Monte Carlo experiment on a two-level design::

    id: small-groups-level2
    title: A level-2 predictor with 12 groups
    seed: 20240611            # reproducible: replicate r uses its own spawned stream
    replicates: 1000
    chunk_size: 25            # replicates per task and per saved chunk file
    alpha: 0.05               # tests at 5 %, intervals at 95 %
    design:
      groups: 12
      group_size: 10          # or [8, 12, ...] (one per group)
                              # or {distribution: poisson, mean: 10, min: 2}
                              # or {distribution: uniform, min: 5, max: 15}
      group: school           # name of the grouping variable (default: group)
      predictors:
        w: {level: 2, distribution: normal, mean: 0, sd: 1}
        x: {level: 1, distribution: normal, sd: 1, between_sd: 0.5}
        z: {level: 2, distribution: binary, p: 0.5}
      random_slopes: [x]      # level-1 predictors with a random slope
      hold_fixed: false       # true: sizes and predictors drawn once, only y redrawn
      missing: {x: 0.05}      # optional MCAR share of missing values per variable (y too), or
                              # {y: {share: 0.2, mechanism: mar, depends_on: x, strength: 1}}
    truth:
      fixed: {(Intercept): 0, w: 0, x: 0.5, x:w: 0.1}
      icc: 0.2                # or intercept_variance and residual_variance
      total_variance: 1       # with icc: intercept = icc * total, residual = the rest
      slope_variances: {x: 0.05}
      correlations: {"(Intercept),x": 0.3}
    methods:
      estimation: [REML, ML]
      df: [residual, satterthwaite, kenward-roger, between-within]
      se: [model, kenward-roger]

The analysis model is the true model, ``y ~ <truth.fixed> + (1 + <random_slopes> | group)``, unless an
``analysis`` section names the fixed terms and random slopes to fit instead (misspecification)::

    analysis:
      fixed: [x]              # w generated, not fitted
      random_slopes: []       # slope of x generated, not fitted

YAML is read with the project's safe loader (no tags that build objects,
duplicate keys refused); every error names the file, the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..case_yaml import load_yaml
from ..errors import CaseError
from .analysis_check import check_analysis
from .checker import METHOD_KEYS, TOP_KEYS, Checker
from .design_check import check_design
from .studytypes import (
    DEFAULT_CHUNK,
    DF_CHOICES,
    DISTRIBUTIONS,
    ESTIMATION_CHOICES,
    INFINITE_DF,
    INTERCEPT,
    RESPONSE,
    SE_CHOICES,
    SIZE_DISTRIBUTIONS,
    DesignSpec,
    GroupSizes,
    Methods,
    Predictor,
    Study,
    StudyError,
    Truth,
)
from .truth_check import check_truth

__all__ = [
    "DEFAULT_CHUNK",
    "DF_CHOICES",
    "DISTRIBUTIONS",
    "ESTIMATION_CHOICES",
    "INFINITE_DF",
    "INTERCEPT",
    "RESPONSE",
    "SE_CHOICES",
    "SIZE_DISTRIBUTIONS",
    "DesignSpec",
    "GroupSizes",
    "Methods",
    "Predictor",
    "Study",
    "StudyError",
    "Truth",
    "load_study",
    "validate_study",
]


def validate_study(doc: Any, *, file: str | None = None, lines: Mapping[tuple, int] | None = None) -> Study:
    """Validate plain data (as loaded from YAML) into a :class:`Study`.

    Raises:
        StudyError: naming the field (and the file and line when known).
    """
    ck = Checker(file, lines or {})
    top = ck.mapping(doc, (), TOP_KEYS, required=("id", "seed", "replicates", "design", "truth", "methods"))
    sid = ck.text(top["id"], ("id",))
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", sid):
        raise ck.error(f"{sid!r} may hold only letters, digits, '_', '.' and '-'", ("id",))
    title = ck.text(top.get("title", sid), ("title",))
    description = ck.text(top.get("description", ""), ("description",))
    seed = ck.integer(top["seed"], ("seed",), low=0)
    replicates = ck.integer(top["replicates"], ("replicates",), low=1, high=10_000_000)
    chunk = ck.integer(top.get("chunk_size", DEFAULT_CHUNK), ("chunk_size",), low=1, high=1_000_000)
    alpha = ck.number(top.get("alpha", 0.05), ("alpha",), low=0.0, high=0.5, low_open=True, high_open=True)

    design = check_design(ck, top["design"])
    truth = check_truth(ck, top["truth"], design)
    methods = _methods(ck, top["methods"])
    analysis = check_analysis(ck, top.get("analysis", {}) or {}, design, truth)
    _check_size(ck, design, truth)
    return Study(
        id=sid,
        title=title,
        description=description,
        seed=seed,
        replicates=replicates,
        chunk_size=chunk,
        alpha=alpha,
        design=design,
        truth=truth,
        methods=methods,
        analysis=analysis,
        raw=doc,
        path=file,
    )


def _methods(ck: Checker, value: Any) -> Methods:
    path = ("methods",)
    m = ck.mapping(value, path, METHOD_KEYS)
    est = ck.choices(m.get("estimation", ["REML"]), path + ("estimation",), ESTIMATION_CHOICES, upper=True)
    df = ck.choices(m.get("df", ["residual"]), path + ("df",), DF_CHOICES)
    se = ck.choices(m.get("se", ["model"]), path + ("se",), SE_CHOICES)
    return Methods(estimation=est, df=df, se=se)


#: The most rows (expected) one replicate may have: the 10^7-row benchmark's size.
MAX_ROWS = 10_000_000


def _check_size(ck: Checker, design: DesignSpec, truth: Truth) -> None:
    """Refuse designs that can never be fitted (too few rows for the parameters) or are too large to simulate."""
    sizes = design.sizes
    if sizes.kind == "fixed":
        smallest = sum(sizes.sizes)
    elif sizes.kind in ("poisson", "gamma"):
        smallest = int(design.groups * sizes.mean)  # expected rows; small draws are redrawn
    else:
        smallest = int(design.groups * (sizes.min + sizes.max) / 2)
    if smallest > MAX_ROWS:
        raise ck.error(
            f"{smallest} rows per replicate (expected) are more than {MAX_ROWS:,}",
            ("design", "group_size"),
            hint="a Monte Carlo replicate of this size would take minutes and gigabytes; use fewer or smaller groups",
        )
    p = len(truth.fixed)
    k = 1 + len(design.random_slopes)
    if smallest <= max(p, design.groups * k):
        raise ck.error(
            f"{smallest} rows are too few for {design.groups} groups with {k} random effect(s) each and {p} "
            "fixed effects",
            ("design", "group_size"),
            hint="the number of rows must exceed the number of random effects (lme4's check)",
        )
    if sizes.kind == "fixed" and design.random_slopes and max(sizes.sizes) < 2:
        raise ck.error("random slopes need groups with at least two rows", ("design", "group_size"))


# ------------------------------------------------------------------ loading


def load_study(source: str | Path | Mapping[str, Any]) -> Study:
    """Read and validate a study from a YAML file, or validate a mapping.

    Raises:
        StudyError: the file cannot be read, is not safe YAML, or is invalid; the
            message names the file, line and field.
    """
    if isinstance(source, Mapping):
        return validate_study(dict(source))
    path = Path(source)
    doc, lines = read_study_yaml(path)
    return validate_study(doc, file=str(path), lines=lines)


def read_study_yaml(path: Path) -> tuple[Any, dict[Any, int]]:
    """A study file's YAML and the line of each field, read with the case loader's safe reader; its errors
    say "study files" where the case loader's say "case files"."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyError(f"cannot read the study file: {exc.strerror or exc}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise StudyError(
            f"is not UTF-8 text (byte {exc.start} cannot be decoded)",
            file=str(path),
            hint="a study file is YAML text; save it as UTF-8",
        ) from None
    try:
        return load_yaml(text, str(path))
    except CaseError as exc:
        raise StudyError(
            exc.message.replace("case files", "study files"),
            file=exc.file,
            line=exc.line,
            field=exc.field,
            hint=(exc.hint or "").replace("case files", "study files") or None,
        ) from None
