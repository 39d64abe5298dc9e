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
      missing: {x: 0.05}      # optional MCAR share of missing values per variable (y too)
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

The analysis model is the true model: ``y ~ <truth.fixed> + (1 + <random_slopes> | group)``.
YAML is read with the project's safe loader (no tags that build objects,
duplicate keys refused); every error names the file, the line and the field.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..case import dotted
from ..errors import ReplicateError
from ..vocab import DfMethod, SeKind

DF_CHOICES = tuple(m.value for m in DfMethod)  # every df method the inference layer computes
SE_CHOICES = tuple(k.value for k in SeKind)
ESTIMATION_CHOICES = ("REML", "ML")
DISTRIBUTIONS = ("normal", "binary", "uniform")
SIZE_DISTRIBUTIONS = ("poisson", "uniform")
INTERCEPT = "(Intercept)"
RESPONSE = "y"
DEFAULT_CHUNK = 25


class StudyError(ReplicateError):
    """A study file is malformed or inconsistent."""


# ------------------------------------------------------------------ model


@dataclass(frozen=True)
class Predictor:
    """A simulated predictor.

    Attributes:
        name: column name.
        level: 1 (varies within groups) or 2 (one value per group).
        distribution: ``normal`` (mean, sd), ``binary`` (p) or ``uniform`` (low, high).
        between_sd: level 1 only: SD of a group-level component added to every
            row of the group (a level-1 predictor with a between-group part).
    """

    name: str
    level: int
    distribution: str = "normal"
    mean: float = 0.0
    sd: float = 1.0
    p: float = 0.5
    low: float = 0.0
    high: float = 1.0
    between_sd: float = 0.0


@dataclass(frozen=True)
class GroupSizes:
    """How many rows each group has: ``fixed`` sizes, or drawn per group.

    ``poisson``: ``min + Poisson(mean - min)``; ``uniform``: integers ``min..max``.
    """

    kind: str  # fixed | poisson | uniform
    sizes: tuple[int, ...] = ()
    mean: float = 0.0
    min: int = 1
    max: int = 0

    def describe(self) -> str:
        if self.kind == "fixed":
            s = set(self.sizes)
            return f"{self.sizes[0]} per group" if len(s) == 1 else f"sizes {list(self.sizes)}"
        if self.kind == "poisson":
            return f"{self.min} + Poisson({self.mean - self.min:g}) per group"
        return f"uniform {self.min}..{self.max} per group"


@dataclass(frozen=True)
class DesignSpec:
    groups: int
    sizes: GroupSizes
    predictors: tuple[Predictor, ...]
    random_slopes: tuple[str, ...] = ()
    group: str = "group"
    hold_fixed: bool = False
    missing: tuple[tuple[str, float], ...] = ()

    def predictor(self, name: str) -> Predictor:
        for p in self.predictors:
            if p.name == name:
                return p
        raise KeyError(name)


@dataclass(frozen=True)
class Truth:
    """True parameters.

    Attributes:
        fixed: coefficient name -> value, ``(Intercept)`` first, as R names them.
        cov: covariance matrix of the random effects, order ``(Intercept)`` then slopes.
        sigma2: residual variance.
    """

    fixed: tuple[tuple[str, float], ...]
    cov: tuple[tuple[float, ...], ...]
    sigma2: float

    @property
    def fixed_dict(self) -> dict[str, float]:
        return dict(self.fixed)

    @property
    def cov_matrix(self) -> np.ndarray:
        return np.array(self.cov, dtype=float)

    @property
    def icc(self) -> float:
        t00 = self.cov[0][0]
        return t00 / (t00 + self.sigma2)


@dataclass(frozen=True)
class Methods:
    estimation: tuple[str, ...] = ("REML",)
    df: tuple[str, ...] = ("residual", "satterthwaite", "kenward-roger")
    se: tuple[str, ...] = ("model",)


@dataclass(frozen=True)
class Study:
    """A validated study.

    Attributes:
        raw: the document as given (plain data), kept for the report.
        path: the file it came from, if any.
    """

    id: str
    title: str
    description: str
    seed: int
    replicates: int
    chunk_size: int
    alpha: float
    design: DesignSpec
    truth: Truth
    methods: Methods
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    path: str | None = field(default=None, compare=False)

    # ----- derived
    @property
    def random_columns(self) -> tuple[str, ...]:
        return (INTERCEPT,) + self.design.random_slopes

    @property
    def coefficients(self) -> tuple[str, ...]:
        """Fixed-effect names in the order of the model matrix (R's: by degree)."""
        names = [n for n, _ in self.truth.fixed]
        rest = [n for n in names if n != INTERCEPT]
        return (INTERCEPT,) + tuple(sorted(rest, key=lambda n: len(n.split(":"))))

    @property
    def formula(self) -> str:
        rhs = " + ".join(["1"] + [_quote_term(n) for n in self.coefficients if n != INTERCEPT])
        re = " + ".join(["1"] + [_quote_term(s) for s in self.design.random_slopes])
        return f"{RESPONSE} ~ {rhs} + ({re} | {_quote(self.design.group)})"

    @property
    def variance_components(self) -> tuple[tuple[str, float], ...]:
        """Names and true values: variances, covariances (lme4's VarCorr order), residual."""
        cols = self.random_columns
        g = self.design.group
        T = self.truth.cov_matrix
        out = [(f"var({c}|{g})", float(T[i, i])) for i, c in enumerate(cols)]
        for j in range(len(cols)):
            for i in range(j + 1, len(cols)):
                out.append((f"cov({cols[j]},{cols[i]}|{g})", float(T[i, j])))
        out.append(("var(Residual)", float(self.truth.sigma2)))
        return tuple(out)

    def fingerprint(self) -> str:
        """Hash of everything that decides a replicate's numbers (not their count).

        Chunks saved under a different fingerprint belong to another study and are
        never mixed into this one's results.
        """
        body = {
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "design": asdict(self.design),
            "truth": asdict(self.truth),
            "methods": asdict(self.methods),
            "format": 1,
        }
        text = json.dumps(body, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """A plain-data form that :func:`load_study` accepts again (and workers receive)."""
        d = self.design
        preds = {}
        for p in d.predictors:
            entry: dict[str, Any] = {"level": p.level, "distribution": p.distribution}
            if p.distribution == "normal":
                entry.update(mean=p.mean, sd=p.sd)
            elif p.distribution == "binary":
                entry.update(p=p.p)
            else:
                entry.update(low=p.low, high=p.high)
            if p.level == 1 and p.between_sd:
                entry["between_sd"] = p.between_sd
            preds[p.name] = entry
        if d.sizes.kind == "fixed":
            sizes: Any = list(d.sizes.sizes)
        elif d.sizes.kind == "poisson":
            sizes = {"distribution": "poisson", "mean": d.sizes.mean, "min": d.sizes.min}
        else:
            sizes = {"distribution": "uniform", "min": d.sizes.min, "max": d.sizes.max}
        cols = self.random_columns
        T = self.truth.cov_matrix
        truth: dict[str, Any] = {
            "fixed": dict(self.truth.fixed),
            "intercept_variance": float(T[0, 0]),
            "residual_variance": float(self.truth.sigma2),
        }
        if len(cols) > 1:
            truth["slope_variances"] = {c: float(T[i, i]) for i, c in enumerate(cols) if i > 0}
            corr = {}
            for j in range(len(cols)):
                for i in range(j + 1, len(cols)):
                    den = math.sqrt(T[i, i] * T[j, j])
                    if T[i, j] != 0 and den > 0:
                        corr[f"{cols[j]},{cols[i]}"] = float(T[i, j] / den)
            if corr:
                truth["correlations"] = corr
        design: dict[str, Any] = {
            "groups": d.groups,
            "group_size": sizes,
            "group": d.group,
            "predictors": preds,
            "random_slopes": list(d.random_slopes),
            "hold_fixed": d.hold_fixed,
        }
        if d.missing:
            design["missing"] = dict(d.missing)
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "seed": self.seed,
            "replicates": self.replicates,
            "chunk_size": self.chunk_size,
            "alpha": self.alpha,
            "design": design,
            "truth": truth,
            "methods": {
                "estimation": list(self.methods.estimation),
                "df": list(self.methods.df),
                "se": list(self.methods.se),
            },
        }


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", name) else f"`{name}`"


def _quote_term(term: str) -> str:
    return ":".join(_quote(v) for v in term.split(":"))


# ------------------------------------------------------------- validation


class _Checker:
    """Collects the location of each field so that errors can name file and line."""

    def __init__(self, file: str | None, lines: Mapping[tuple, int]) -> None:
        self.file = file
        self.lines = lines

    def error(self, message: str, path: tuple, hint: str | None = None) -> StudyError:
        line = None
        p = tuple(path)
        while p:
            if p in self.lines:
                line = self.lines[p]
                break
            p = p[:-1]
        return StudyError(message, file=self.file, line=line, field=_dotted(path) or None, hint=hint)

    def mapping(
        self, value: Any, path: tuple, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"must be a mapping, not {_kind(value)}", path)
        for k in value:
            if k not in allowed:
                close = difflib.get_close_matches(str(k), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
                raise self.error(f"unknown key {k!r}", path + (k,), hint=hint)
        for k in required:
            if k not in value:
                raise self.error(f"required key {k!r} is missing", path + (k,))
        return value

    def integer(self, value: Any, path: tuple, *, low: int | None = None, high: int | None = None) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not value.is_integer())
        ):
            raise self.error(f"must be an integer, not {value!r}", path)
        v = int(value)
        if low is not None and v < low:
            raise self.error(f"must be at least {low}, not {v}", path)
        if high is not None and v > high:
            raise self.error(f"must be at most {high}, not {v}", path)
        return v

    def number(
        self,
        value: Any,
        path: tuple,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            raise self.error(f"must be a finite number, not {value!r}", path)
        v = float(value)
        if low is not None and (v < low or (low_open and v == low)):
            raise self.error(f"must be {'>' if low_open else '>='} {low:g}, not {v:g}", path)
        if high is not None and (v > high or (high_open and v == high)):
            raise self.error(f"must be {'<' if high_open else '<='} {high:g}, not {v:g}", path)
        return v

    def text(self, value: Any, path: tuple) -> str:
        if not isinstance(value, str):
            raise self.error(f"must be text, not {_kind(value)}", path)
        return value

    def choices(self, value: Any, path: tuple, allowed: tuple[str, ...], *, upper: bool = False) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.error("must be a non-empty list", path, hint="allowed: " + ", ".join(allowed))
        out: list[str] = []
        for i, it in enumerate(items):
            if not isinstance(it, str):
                raise self.error(f"must be text, not {_kind(it)}", path + (i,))
            v = it.upper() if upper else it.strip().lower()
            if v not in allowed:
                close = difflib.get_close_matches(v, allowed, n=1)
                hint = (f"did you mean {close[0]!r}? " if close else "") + "allowed: " + ", ".join(allowed)
                raise self.error(f"{it!r} is not a known choice", path + (i,), hint=hint)
            if v in out:
                raise self.error(f"{it!r} is listed twice", path + (i,))
            out.append(v)
        return tuple(out)


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    return f"{type(v).__name__} {v!r}"


def _dotted(path: tuple) -> str:
    return dotted(path)


TOP_KEYS = ("id", "title", "description", "seed", "replicates", "chunk_size", "alpha", "design", "truth", "methods")
DESIGN_KEYS = ("groups", "group_size", "group", "predictors", "random_slopes", "hold_fixed", "missing")
PRED_KEYS = ("level", "distribution", "mean", "sd", "p", "low", "high", "between_sd")
TRUTH_KEYS = (
    "fixed",
    "icc",
    "total_variance",
    "intercept_variance",
    "residual_variance",
    "slope_variances",
    "correlations",
)
METHOD_KEYS = ("estimation", "df", "se")


def _name_ok(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name))


def validate_study(doc: Any, *, file: str | None = None, lines: Mapping[tuple, int] | None = None) -> Study:
    """Validate plain data (as loaded from YAML) into a :class:`Study`.

    Raises:
        StudyError: naming the field (and the file and line when known).
    """
    ck = _Checker(file, lines or {})
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

    design = _design(ck, top["design"])
    truth = _truth(ck, top["truth"], design)
    methods = _methods(ck, top["methods"])
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
        raw=doc,
        path=file,
    )


def _design(ck: _Checker, value: Any) -> DesignSpec:
    path = ("design",)
    d = ck.mapping(value, path, DESIGN_KEYS, required=("groups", "group_size"))
    J = ck.integer(d["groups"], path + ("groups",), low=3, high=100_000)
    group = ck.text(d.get("group", "group"), path + ("group",))
    if not _name_ok(group) or group == RESPONSE:
        raise ck.error(
            f"{group!r} cannot name the grouping variable",
            path + ("group",),
            hint=f"a name of letters, digits and '_', not {RESPONSE!r}",
        )
    sizes = _sizes(ck, d["group_size"], J)
    preds_raw = d.get("predictors", {}) or {}
    ppath = path + ("predictors",)
    if not isinstance(preds_raw, dict):
        raise ck.error(f"must be a mapping of predictor name -> settings, not {_kind(preds_raw)}", ppath)
    preds = []
    for name, spec in preds_raw.items():
        name = str(name)
        pp = ppath + (name,)
        if not _name_ok(name) or name in (RESPONSE, group, INTERCEPT):
            raise ck.error(
                f"{name!r} cannot name a predictor",
                pp,
                hint=f"a name of letters, digits and '_', not {RESPONSE!r} or the group's name",
            )
        s = ck.mapping(spec, pp, PRED_KEYS, required=("level",))
        level = ck.integer(s["level"], pp + ("level",), low=1, high=2)
        dist = ck.choices(s.get("distribution", "normal"), pp + ("distribution",), DISTRIBUTIONS)[0]
        kw: dict[str, Any] = {}
        if dist == "normal":
            kw["mean"] = ck.number(s.get("mean", 0.0), pp + ("mean",))
            kw["sd"] = ck.number(s.get("sd", 1.0), pp + ("sd",), low=0.0, low_open=True)
        elif dist == "binary":
            kw["p"] = ck.number(s.get("p", 0.5), pp + ("p",), low=0.0, high=1.0, low_open=True, high_open=True)
        else:
            kw["low"] = ck.number(s.get("low", 0.0), pp + ("low",))
            kw["high"] = ck.number(s.get("high", 1.0), pp + ("high",))
            if kw["high"] <= kw["low"]:
                raise ck.error("must be greater than 'low'", pp + ("high",))
        unused = [k for k in ("mean", "sd", "p", "low", "high") if k in s and k not in kw]
        if unused:
            raise ck.error(f"{unused[0]!r} does not apply to a {dist} predictor", pp + (unused[0],))
        between = 0.0
        if "between_sd" in s:
            if level != 1:
                raise ck.error("between_sd applies to level-1 predictors only", pp + ("between_sd",))
            between = ck.number(s["between_sd"], pp + ("between_sd",), low=0.0)
        preds.append(Predictor(name=name, level=level, distribution=dist, between_sd=between, **kw))
    names = [p.name for p in preds]
    slopes_raw = d.get("random_slopes", []) or []
    spath = path + ("random_slopes",)
    if isinstance(slopes_raw, str):
        slopes_raw = [slopes_raw]
    if not isinstance(slopes_raw, list):
        raise ck.error(f"must be a list of level-1 predictors, not {_kind(slopes_raw)}", spath)
    slopes: list[str] = []
    for i, s in enumerate(slopes_raw):
        s = ck.text(s, spath + (i,))
        if s not in names:
            raise ck.error(
                f"{s!r} is not a predictor of the design", spath + (i,), hint="declare it under design.predictors"
            )
        if next(p for p in preds if p.name == s).level != 1:
            raise ck.error(f"{s!r} is a level-2 predictor: a random slope needs variation within groups", spath + (i,))
        if s in slopes:
            raise ck.error(f"{s!r} is listed twice", spath + (i,))
        slopes.append(s)
    hold = d.get("hold_fixed", False)
    if not isinstance(hold, bool):
        raise ck.error(f"must be true or false, not {hold!r}", path + ("hold_fixed",))
    miss_raw = d.get("missing", {}) or {}
    mpath = path + ("missing",)
    if not isinstance(miss_raw, dict):
        raise ck.error(f"must be a mapping of variable -> share of missing values, not {_kind(miss_raw)}", mpath)
    missing = []
    for k, v in miss_raw.items():
        k = str(k)
        if k != RESPONSE and k not in names:
            raise ck.error(f"{k!r} is neither {RESPONSE!r} nor a predictor", mpath + (k,))
        missing.append((k, ck.number(v, mpath + (k,), low=0.0, high=0.5, high_open=False)))
    return DesignSpec(
        groups=J,
        sizes=sizes,
        predictors=tuple(preds),
        random_slopes=tuple(slopes),
        group=group,
        hold_fixed=hold,
        missing=tuple(missing),
    )


def _sizes(ck: _Checker, value: Any, J: int) -> GroupSizes:
    path = ("design", "group_size")
    if isinstance(value, list):
        if len(value) != J:
            raise ck.error(
                f"lists {len(value)} sizes for {J} groups",
                path,
                hint="give one size per group, a single number, or a distribution",
            )
        return GroupSizes("fixed", tuple(ck.integer(v, path + (i,), low=1) for i, v in enumerate(value)))
    if isinstance(value, dict):
        s = ck.mapping(value, path, ("distribution", "mean", "min", "max"), required=("distribution",))
        dist = ck.choices(s["distribution"], path + ("distribution",), SIZE_DISTRIBUTIONS)[0]
        low = ck.integer(s.get("min", 1), path + ("min",), low=1)
        if dist == "poisson":
            if "max" in s:
                raise ck.error("'max' does not apply to the poisson distribution", path + ("max",))
            if "mean" not in s:
                raise ck.error("required key 'mean' is missing", path + ("mean",))
            mean = ck.number(s["mean"], path + ("mean",), low=float(low))
            return GroupSizes("poisson", mean=mean, min=low)
        if "mean" in s:
            raise ck.error("'mean' does not apply to the uniform distribution", path + ("mean",))
        if "max" not in s:
            raise ck.error("required key 'max' is missing", path + ("max",))
        high = ck.integer(s["max"], path + ("max",), low=low)
        return GroupSizes("uniform", min=low, max=high)
    n = ck.integer(value, path, low=1)
    return GroupSizes("fixed", (n,) * J)


def _truth(ck: _Checker, value: Any, design: DesignSpec) -> Truth:
    path = ("truth",)
    t = ck.mapping(value, path, TRUTH_KEYS, required=("fixed",))
    fpath = path + ("fixed",)
    fixed_raw = t["fixed"]
    if not isinstance(fixed_raw, dict):
        raise ck.error(f"must be a mapping of coefficient -> true value, not {_kind(fixed_raw)}", fpath)
    names = {p.name for p in design.predictors}
    fixed: list[tuple[str, float]] = []
    used: set[str] = set()
    seen_terms: set[frozenset] = set()
    for k, v in fixed_raw.items():
        k = str(k)
        val = ck.number(v, fpath + (k,))
        if k != INTERCEPT:
            parts = k.split(":")
            bad = [p for p in parts if p not in names]
            if bad:
                raise ck.error(
                    f"{k!r}: {bad[0]!r} is not a predictor of the design",
                    fpath + (k,),
                    hint="coefficients are (Intercept), predictors and interactions such as x:w",
                )
            if len(set(parts)) != len(parts) or frozenset(parts) in seen_terms:
                raise ck.error(f"{k!r} repeats a variable or another term", fpath + (k,))
            seen_terms.add(frozenset(parts))
            used.update(parts)
        fixed.append((k, val))
    if INTERCEPT not in dict(fixed):
        raise ck.error("the model needs an intercept: add '(Intercept): <value>'", fpath)
    fixed.sort(key=lambda kv: (kv[0] != INTERCEPT,))
    unused = [p.name for p in design.predictors if p.name not in used]
    if unused:
        raise ck.error(
            f"predictor {unused[0]!r} has no coefficient in truth.fixed",
            fpath,
            hint="give its true effect (0 for a null effect)",
        )
    missing_slopes = [s for s in design.random_slopes if s not in dict(fixed)]
    if missing_slopes:
        raise ck.error(f"random slope {missing_slopes[0]!r} needs a fixed effect in truth.fixed", fpath)

    has_icc = "icc" in t
    if has_icc and ("intercept_variance" in t or "residual_variance" in t):
        raise ck.error(
            "give either icc (and total_variance) or intercept_variance and residual_variance", path + ("icc",)
        )
    if has_icc:
        icc = ck.number(t["icc"], path + ("icc",), low=0.0, high=1.0, high_open=True)
        total = ck.number(t.get("total_variance", 1.0), path + ("total_variance",), low=0.0, low_open=True)
        t00, s2 = icc * total, (1.0 - icc) * total
    else:
        if "total_variance" in t:
            raise ck.error("total_variance goes with icc", path + ("total_variance",))
        for k in ("intercept_variance", "residual_variance"):
            if k not in t:
                raise ck.error(f"required key {k!r} is missing (or give icc)", path + (k,))
        t00 = ck.number(t["intercept_variance"], path + ("intercept_variance",), low=0.0)
        s2 = ck.number(t["residual_variance"], path + ("residual_variance",), low=0.0, low_open=True)
    cols = (INTERCEPT,) + design.random_slopes
    k = len(cols)
    sv_raw = t.get("slope_variances", {}) or {}
    spath = path + ("slope_variances",)
    if not isinstance(sv_raw, dict):
        raise ck.error(f"must be a mapping of slope -> variance, not {_kind(sv_raw)}", spath)
    for name in sv_raw:
        if name not in design.random_slopes:
            raise ck.error(f"{name!r} has no random slope in design.random_slopes", spath + (name,))
    var = [t00]
    for s in design.random_slopes:
        if s not in sv_raw:
            raise ck.error(f"the random slope of {s!r} needs its variance", spath + (s,))
        var.append(ck.number(sv_raw[s], spath + (s,), low=0.0))
    corr = np.eye(k)
    c_raw = t.get("correlations", {}) or {}
    cpath = path + ("correlations",)
    if not isinstance(c_raw, dict):
        raise ck.error(f"must be a mapping of 'a,b' -> correlation, not {_kind(c_raw)}", cpath)
    for key, v in c_raw.items():
        parts = [p.strip() for p in str(key).split(",")]
        if len(parts) != 2 or any(p not in cols for p in parts) or parts[0] == parts[1]:
            raise ck.error(
                f"{key!r} must name two random-effect columns as 'a,b'",
                cpath + (key,),
                hint="columns: " + ", ".join(cols),
            )
        r = ck.number(v, cpath + (key,), low=-1.0, high=1.0)
        i, j = cols.index(parts[0]), cols.index(parts[1])
        corr[i, j] = corr[j, i] = r
    sd = np.sqrt(np.asarray(var))
    cov = corr * np.outer(sd, sd)
    if np.min(np.linalg.eigvalsh(corr)) < -1e-12:
        raise ck.error("the correlations do not form a valid (positive semi-definite) matrix", cpath)
    return Truth(fixed=tuple(fixed), cov=tuple(tuple(float(x) for x in row) for row in cov), sigma2=float(s2))


def _methods(ck: _Checker, value: Any) -> Methods:
    path = ("methods",)
    m = ck.mapping(value, path, METHOD_KEYS)
    est = ck.choices(m.get("estimation", ["REML"]), path + ("estimation",), ESTIMATION_CHOICES, upper=True)
    df = ck.choices(m.get("df", ["residual"]), path + ("df",), DF_CHOICES)
    se = ck.choices(m.get("se", ["model"]), path + ("se",), SE_CHOICES)
    return Methods(estimation=est, df=df, se=se)


def _check_size(ck: _Checker, design: DesignSpec, truth: Truth) -> None:
    """Refuse designs that can never be fitted (too few rows for the parameters)."""
    sizes = design.sizes
    if sizes.kind == "fixed":
        smallest = sum(sizes.sizes)
    elif sizes.kind == "poisson":
        smallest = int(design.groups * sizes.mean)  # expected rows; small draws are redrawn
    else:
        smallest = int(design.groups * (sizes.min + sizes.max) / 2)
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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyError(f"cannot read the study file: {exc.strerror or exc}", file=str(path)) from None
    from ..case import load_yaml
    from ..errors import CaseError

    try:
        doc, lines = load_yaml(text, str(path))
    except CaseError as exc:
        raise StudyError(
            exc.message.replace("case files", "study files"),
            file=exc.file,
            line=exc.line,
            field=exc.field,
            hint=(exc.hint or "").replace("case files", "study files") or None,
        ) from None
    return validate_study(doc, file=str(path), lines=lines)
