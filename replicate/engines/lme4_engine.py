"""lme4 (through lmerTest's ``lmer``) as an engine, live in R through rpy2.

The engine fits exactly the :class:`~replicate.design.Design` the other engines
fit: the response, the columns of the fixed-effect model matrix, the columns of
each random-effect term and each grouping factor (as an R factor with the
design's levels) are passed to R as one data frame, so transforms, ``where:``
filters, listwise deletion, contrasts and dropped collinear columns are the
same as for the native engine.

Safety: no text from a case file is ever pasted into R code.

* Every name that reaches R (response, model-matrix columns, grouping factors)
  is checked by :func:`check_r_name` against a strict pattern: ASCII R
  identifiers (a letter, then letters, digits, ``.`` and ``_``; not a reserved
  word), or such identifiers joined by ``:`` (interaction columns ``x:fhi`` and
  nested grouping factors ``classid:schoolid``). Anything else is refused
  with a :class:`~replicate.errors.ModelError` before R is touched.
* The formula is not parsed from text: a fixed R function (constant code in
  this module) builds it as a language object from the names with ``as.name``
  and ``call``, so even a name that slipped through would only be a symbol.
  Names joined by ``:`` become one back-quoted symbol.
* The data go to R as values (pandas2ri), in a private environment whose
  parents are the attached base packages (stats, ..., base), so a variable
  missing from the data is never looked up in R's global environment.
* The call is built as a language object (``call("lmer", formula = f, data =
  dat, REML = TRUE)``) and evaluated; its deparsed text is recorded as the
  exact call in the provenance.

Kenward-Roger (pbkrtest) is slow, so it is computed only when asked: by
:meth:`Lme4Engine.kenward_roger` on a fit, or for every fit with
``Lme4Engine(kenward_roger=True)``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import EngineUnavailable, FitError, ModelError, NotImplementedOption
from ..results import FitResult, OptSummary

# ----------------------------------------------------------------- names

_IDENT = r"[A-Za-z][A-Za-z0-9._]*"
_PLAIN_NAME = re.compile(rf"^{_IDENT}$")
#: Names this module generates for R (``.col1``, ``.grp2``): a leading '.', so
#: they can never equal a checked model name.
_GENERATED = re.compile(r"^\.[a-z]+[0-9]+$")
_JOINED_NAME = re.compile(rf"^{_IDENT}(?::{_IDENT})*$")

#: R's reserved words (?Reserved): never usable as plain symbols.
R_RESERVED = frozenset({
    "if", "else", "repeat", "while", "function", "for", "next", "break", "in",
    "TRUE", "FALSE", "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_",
    "NA_character_", "NA_complex_",
})

#: Names this module gives R columns itself; they start with '.', which
#: :func:`check_r_name` never accepts, so they cannot collide with a model name.
WEIGHTS_COLUMN = ".weights"

#: lme4's BOBYQA (nloptwrap) tolerances with ``Lme4Engine(tight=True)``; the R
#: code below spells the same numbers.
TIGHT_TOLERANCES = {"ftol_abs": 1e-15, "ftol_rel": 1e-15, "xtol_abs": 1e-13, "xtol_rel": 1e-13}


def check_r_name(name: Any, what: str, *, allow_colon: bool = True) -> str:
    """Return ``name`` if it is safe to hand to R as a symbol, else raise ModelError.

    Accepted: an ASCII R identifier that does not start with ``.`` or ``_`` and
    is not a reserved word, or (with ``allow_colon``) several such identifiers
    joined by ``:``.
    """
    text = name if isinstance(name, str) else None
    pattern = _JOINED_NAME if allow_colon else _PLAIN_NAME
    if text is None or len(text) > 200 or not pattern.fullmatch(text) \
            or any(p in R_RESERVED for p in text.split(":")):
        raise ModelError(
            f"{what} {name!r} is not a name that can be passed to R",
            field="model",
            hint="names given to R must be letters, digits, '.' and '_' starting with a letter"
            + (" (or such names joined by ':')" if allow_colon else "")
            + "; rename the column under 'transform:' (e.g. new_name: `old name`) and use the new name",
        )
    return text


def _strip_ticks(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == "`" and name[-1] == "`" else name


# ------------------------------------------------------------- R session

# Constant R code (no text from case files): builds formulas from symbols,
# fits, and extracts results as plain vectors.
_R_HELPERS = r"""
local({
  rhs_sum <- function(cols, intercept) {
    e <- if (isTRUE(intercept)) 1 else 0
    for (nm in cols) e <- call("+", e, as.name(nm))
    e
  }
  make_formula <- function(response, fixed, intercept, groups, cols, intercepts) {
    rhs <- rhs_sum(fixed, intercept)
    for (i in seq_along(groups)) {
      bar <- call("|", rhs_sum(cols[[i]], intercepts[[i]]), as.name(groups[[i]]))
      rhs <- call("+", rhs, call("(", bar))
    }
    f <- eval(call("~", as.name(response), rhs))
    environment(f) <- baseenv()
    f
  }
  one_sided <- function(cols, intercept) {
    f <- eval(call("~", rhs_sum(cols, intercept)))
    environment(f) <- baseenv()
    f
  }
  fixed_formula <- function(response, fixed, intercept) {
    f <- eval(call("~", as.name(response), rhs_sum(fixed, intercept)))
    environment(f) <- baseenv()
    f
  }
  set_names <- function(d, nm) { names(d) <- nm; d }
  deparse1line <- function(x) paste(trimws(deparse(x, width.cutoff = 500L)), collapse = " ")
  capture <- function(expr_call, env) {
    warns <- character(); msgs <- character()
    value <- tryCatch(
      withCallingHandlers(eval(expr_call, env),
        warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
        message = function(m) { msgs <<- c(msgs, trimws(conditionMessage(m))); invokeRestart("muffleMessage") }),
      error = function(e) structure(list(message = conditionMessage(e)), class = "replicate_error"))
    list(value = value, warnings = warns, messages = msgs)
  }
  # The environment a model is evaluated in: the data only, then the base
  # packages (stats first: lme4 looks up 'weights' there), never the global
  # environment, so a name missing from the data is an error, not a global.
  private_env <- function() {
    parent <- if ("package:stats" %in% search()) as.environment("package:stats") else baseenv()
    new.env(parent = parent)
  }
  tight_control <- quote(lme4::lmerControl(optCtrl = list(ftol_abs = 1e-15, ftol_rel = 1e-15,
                                                            xtol_abs = 1e-13, xtol_rel = 1e-13)))
  fit_lmer <- function(dat, f, reml, weighted, tight) {
    env <- private_env()
    assign("dat", dat, envir = env)
    environment(f) <- env
    cl <- call("lmer", formula = f, data = quote(dat), REML = reml)
    if (weighted) cl$weights <- as.name(".weights")
    if (tight) cl$control <- tight_control
    cl[[1L]] <- quote(lmerTest::lmer)
    out <- capture(cl, env)
    out$call <- deparse1line(cl)
    out
  }
  chr <- function(x) { x <- as.character(x); x[is.na(x)] <- ""; x }
  extract_lmer <- function(fit) {
    vc <- as.data.frame(lme4::VarCorr(fit))
    ll <- stats::logLik(fit)
    reml <- lme4::isREML(fit)
    sm <- summary(fit)
    cf <- stats::coef(sm)
    ng <- lme4::ngrps(fit)
    re <- lme4::ranef(fit)
    conv <- fit@optinfo$conv
    list(
      fixnames = names(lme4::fixef(fit)), fixef = unname(lme4::fixef(fit)),
      vcov = unname(as.matrix(stats::vcov(fit))),
      coef = unname(as.matrix(cf)), coefcols = colnames(cf),
      vc_grp = chr(vc$grp), vc_var1 = chr(vc$var1), vc_var2 = chr(vc$var2),
      vc_vcov = vc$vcov, vc_sdcor = vc$sdcor,
      sigma = stats::sigma(fit), theta = unname(lme4::getME(fit, "theta")),
      loglik = as.numeric(ll), npar = as.integer(attr(ll, "df")), reml = reml,
      remlcrit = if (reml) lme4::REMLcrit(fit) else NA_real_,
      deviance = if (reml) NA_real_ else stats::deviance(fit),
      aic = stats::AIC(fit), bic = stats::BIC(fit), nobs = as.integer(stats::nobs(fit)),
      ngrps = as.integer(ng), ngrps_names = names(ng),
      singular = lme4::isSingular(fit),
      conv_opt = as.integer(if (is.null(conv$opt)) 0L else conv$opt),
      conv_msgs = chr(unlist(conv$lme4$messages)),
      optimizer = chr(fit@optinfo$optimizer), opt_message = chr(fit@optinfo$message),
      feval = as.integer(if (is.null(fit@optinfo$feval)) NA else fit@optinfo$feval),
      theta_start = unname(as.numeric(fit@optinfo$val)),
      fitted = unname(as.numeric(stats::fitted(fit))), resid = unname(as.numeric(stats::residuals(fit))),
      ranef = lapply(re, as.matrix), ranef_names = names(re),
      is_lmertest = inherits(fit, "lmerModLmerTest"))
  }
  kenward_roger <- function(fit) {
    V0 <- as.matrix(stats::vcov(fit))
    Va <- pbkrtest::vcovAdj(fit)  # keeps the attributes (P, W) that Lb_ddf needs
    p <- ncol(V0)
    df <- vapply(seq_len(p), function(j) {
      L <- matrix(0, nrow = 1L, ncol = p); L[1L, j] <- 1
      as.numeric(pbkrtest::Lb_ddf(L, V0, Va))
    }, numeric(1))
    list(df = df, se = sqrt(diag(as.matrix(Va))))
  }
  anova_lrt <- function(m1, m2, refit) {
    a <- suppressMessages(lme4:::anova.merMod(m1, m2, refit = refit))
    k <- nrow(a)
    list(chisq = a$Chisq[k], df = a$Df[k], p = a[["Pr(>Chisq)"]][k],
         logliks = as.numeric(a$logLik), npar = as.numeric(a$npar))
  }
  club_sandwich <- function(fit, type) {
    V <- clubSandwich::vcovCR(fit, type = type)
    ct <- clubSandwich::coef_test(fit, vcov = V, test = "Satterthwaite")
    list(se = unname(sqrt(diag(as.matrix(V)))), df = unname(as.numeric(ct$df_Satt)))
  }
  fit_lme <- function(dat, fixed, random, reml, weighted) {
    env <- private_env()
    assign("dat", dat, envir = env)
    environment(fixed) <- env
    for (i in seq_along(random)) environment(random[[i]]) <- env
    cl <- call("lme", fixed = fixed, random = random, data = quote(dat),
               method = if (reml) "REML" else "ML")
    if (weighted) {
      vf <- call("varFixed", eval(call("~", as.name(".invweights"))))
      vf[[1L]] <- quote(nlme::varFixed)
      cl$weights <- vf
    }
    cl[[1L]] <- quote(nlme::lme)
    out <- capture(cl, env)
    out$call <- deparse1line(cl)
    out
  }
  extract_lme <- function(fit) {
    tt <- summary(fit)$tTable
    ll <- stats::logLik(fit)
    rs <- fit$modelStruct$reStruct
    mats <- lapply(as.matrix(rs), function(m) unname(as.matrix(m)))
    ng <- fit$dims$ngrps
    re <- nlme::ranef(fit)
    if (is.data.frame(re)) re <- stats::setNames(list(re), names(rs))
    list(
      fixnames = names(nlme::fixef(fit)), fixef = unname(nlme::fixef(fit)),
      vcov = unname(as.matrix(stats::vcov(fit))),
      coef = unname(as.matrix(tt)), coefcols = colnames(tt),
      sigma = fit$sigma, re_names = names(mats), re_mats = mats,
      loglik = as.numeric(ll), npar = as.integer(attr(ll, "df")),
      aic = stats::AIC(fit), bic = stats::BIC(fit), nobs = as.integer(fit$dims$N),
      ngrps = as.integer(ng), ngrps_names = names(ng),
      iterations = as.integer(if (is.null(fit$numIter)) NA else fit$numIter),
      fitted = unname(as.numeric(stats::fitted(fit))), resid = unname(as.numeric(stats::residuals(fit))),
      ranef = lapply(re, as.matrix), ranef_names = names(re))
  }
  versions <- function(pkgs) {
    v <- vapply(pkgs, function(p) {
      d <- tryCatch(utils::packageDescription(p, fields = "Version"), error = function(e) NA)
      if (is.null(d) || is.na(d)) "" else as.character(d)
    }, character(1))
    c(R = sub("^R version ", "", R.version.string), v)
  }
  have <- function(pkgs) vapply(pkgs, function(p) requireNamespace(p, quietly = TRUE), logical(1))
  environment()
})
"""

_helpers_env: Any = None


def r_helpers() -> Any:
    """The private R environment holding this module's helper functions."""
    global _helpers_env
    if _helpers_env is None:
        import rpy2.robjects as ro

        _helpers_env = ro.r(_R_HELPERS)
    return _helpers_env


def r_call(fname: str, *args: Any, **kwargs: Any) -> Any:
    """Call helper ``fname`` with rpy2's default conversion."""
    import rpy2.robjects as ro
    from rpy2.robjects.conversion import localconverter

    with localconverter(ro.default_converter):
        fn = r_helpers()[fname]
        return fn(*args, **kwargs)


def r_status(packages: Sequence[str]) -> tuple[bool, str]:
    """Whether rpy2 starts R here and the R packages load, and why not."""
    try:
        import rpy2.robjects as ro  # noqa: F401
        from rpy2.robjects.vectors import StrVector
    except Exception as exc:  # noqa: BLE001 - ImportError, or R failing to load
        return False, f"rpy2/R not usable: {type(exc).__name__}: {exc}"
    try:
        have = r_call("have", StrVector(list(packages)))
    except Exception as exc:  # noqa: BLE001 - any R error means: not usable
        return False, f"R did not answer: {exc}"
    missing = [p for p, ok in zip(packages, have) if not ok]
    if missing:
        return False, "R package(s) not installed: " + ", ".join(missing)
    return True, ""


def r_versions(packages: Sequence[str]) -> dict[str, str]:
    """R's version and the packages' versions, as R prints them (``lme4 1.1-31``)."""
    from rpy2.robjects.vectors import StrVector

    vals = r_call("versions", StrVector(list(packages)))
    names = ["R"] + list(packages)
    return {n: str(v) for n, v in zip(names, vals)}


def get(res: Any, name: str) -> Any:
    """Element ``name`` of an R list."""
    return res.rx2(name)


def num(res: Any, name: str) -> np.ndarray:
    return np.asarray(get(res, name), dtype=float)


def strs(res: Any, name: str) -> list[str]:
    v = get(res, name)
    if v is None or type(v).__name__ == "NULLType":
        return []
    return [str(x) for x in v]


def r_matrix(m: Any) -> np.ndarray:
    """An R matrix (rpy2 object) as a 2-D numpy array."""
    nr, nc = (int(x) for x in m.dim)
    a = np.asarray(m, dtype=float)
    return a.reshape((nr, nc)) if a.ndim == 2 else a.reshape((nr, nc), order="F")


def matrix(res: Any, name: str, ncol: int) -> np.ndarray:
    """An R matrix element as a numpy array (R stores by column)."""
    flat = num(res, name)
    if ncol == 0:
        return np.zeros((0, 0))
    return flat.reshape((-1, ncol), order="F") if flat.size else np.zeros((0, ncol))


# ---------------------------------------------------------- data to R

@dataclass(frozen=True)
class RModelFrame:
    """The names and data of a Design as handed to R.

    Attributes:
        response: response column name.
        fixed: model-matrix columns (without the intercept), in design order.
        intercept: whether the fixed part has an intercept.
        terms: per random term: (R group column, columns without intercept,
            intercept flag).
        group_names: per random term, the design's group name.
        frame: the pandas data frame passed to R (R's column names).
        weighted: whether a weights column is present.
    """

    response: str
    fixed: tuple[str, ...]
    intercept: bool
    terms: tuple[tuple[str, tuple[str, ...], bool], ...]
    group_names: tuple[str, ...]
    frame: pd.DataFrame
    weighted: bool


def _intercept_col(values: np.ndarray) -> bool:
    return bool(np.all(values == 1.0))


def model_frame(design: Design, *, group_columns: Sequence[str] | None = None,
                inverse_weights: bool = False, rename_joined: bool = False) -> RModelFrame:
    """Check every name of ``design`` and build the data frame for R.

    Args:
        design: the design to fit.
        group_columns: R column names for the grouping factors, one per term
            (default: the design's group names, which are checked).
        inverse_weights: also add ``.invweights`` = 1 / weights (for nlme's
            ``varFixed``).
        rename_joined: give columns whose names join identifiers with ``:``
            (``x:fhi``) generated R names (``.col1``, ...) instead of
            back-quoted symbols (for nlme, which deparses and re-parses names).

    Raises:
        ModelError: a name is not safe for R, or two columns of one name differ.
    """
    response = check_r_name(design.response, "response", allow_colon=False)
    cols: dict[str, np.ndarray] = {response: np.asarray(design.y, dtype=float)}
    r_name: dict[str, str] = {}

    def add(name: str, values: np.ndarray, what: str) -> str:
        check_r_name(name, what)
        if rename_joined and ":" in name:
            name = r_name.setdefault(name, f".col{len(r_name) + 1}")
        values = np.asarray(values, dtype=float)
        if name in cols:
            if cols[name].shape != values.shape or not np.array_equal(cols[name], values):
                raise ModelError(f"{what} {name!r} has the name of another column with other values",
                                 field="model")
        else:
            cols[name] = values
        return name

    fixed: list[str] = []
    intercept = False
    for j, nm in enumerate(design.fixed_names):
        if nm == "(Intercept)":
            if j != 0 or not _intercept_col(design.X[:, j]):
                raise ModelError("the intercept column of the design is not a first column of ones", field="model")
            intercept = True
            continue
        fixed.append(add(nm, design.X[:, j], "fixed-effect column"))

    groups: list[tuple[str, tuple[str, ...], bool]] = []
    factors: dict[str, pd.Categorical] = {}
    gcols = list(group_columns) if group_columns is not None else [t.group for t in design.reterms]
    if len(gcols) != len(design.reterms):
        raise ValueError("one group column per random term is needed")
    for t, gname in zip(design.reterms, gcols):
        check_r_name(t.group, "grouping factor")
        if not _GENERATED.fullmatch(gname):
            check_r_name(gname, "grouping factor")
        tcols: list[str] = []
        t_int = False
        for j, c in enumerate(t.columns):
            if c == "(Intercept)":
                if j != 0 or not _intercept_col(t.Xre[:, j]):
                    raise ModelError(f"the intercept of the random term on {t.group!r} is not a first column of ones",
                                     field="model")
                t_int = True
                continue
            tcols.append(add(c, t.Xre[:, j], "random-effect column"))
        labels = [str(x) for x in t.levels]
        codes = np.asarray(t.index, dtype=np.int64)
        fac = pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object))
        if gname in factors:
            if not (np.array_equal(factors[gname].codes, fac.codes)
                    and list(factors[gname].categories) == labels):
                raise ModelError(f"grouping factor {gname!r} is given twice with different levels", field="model")
        elif gname in cols:
            raise ModelError(f"grouping factor {gname!r} has the name of a model column", field="model")
        factors[gname] = fac
        groups.append((gname, tuple(tcols), t_int))
    data: dict[str, Any] = dict(cols)
    data.update(factors)
    weighted = design.weights is not None
    if weighted:
        w = np.asarray(design.weights, dtype=float)
        data[WEIGHTS_COLUMN] = w
        if inverse_weights:
            data[".invweights"] = 1.0 / w
    frame = pd.DataFrame(data)
    return RModelFrame(response=response, fixed=tuple(fixed), intercept=intercept, terms=tuple(groups),
                       group_names=tuple(t.group for t in design.reterms), frame=frame, weighted=weighted)


def to_r_frame(mf: RModelFrame) -> Any:
    """The frame as an R data.frame (factors as factors), names set verbatim."""
    import rpy2.robjects as ro
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter
    from rpy2.robjects.vectors import StrVector

    with localconverter(ro.default_converter + pandas2ri.converter):
        rdf = ro.conversion.get_conversion().py2rpy(mf.frame)
    return r_call("set_names", rdf, StrVector([str(c) for c in mf.frame.columns]))


def r_formula(mf: RModelFrame) -> Any:
    """The lme4 formula as an R formula object, built from symbols."""
    from rpy2.robjects.vectors import BoolVector, ListVector, StrVector

    groups = StrVector([g for g, _, _ in mf.terms])
    cols = ListVector([(str(i), StrVector(list(c))) for i, (_, c, _) in enumerate(mf.terms)])
    ints = BoolVector([b for _, _, b in mf.terms])
    return r_call("make_formula", mf.response, StrVector(list(mf.fixed)), mf.intercept, groups, cols, ints)


def check_fixed_names(ex: Any, mf: RModelFrame) -> None:
    """R's fixed-effect names must be the columns handed to it, in order."""
    expected = (["(Intercept)"] if mf.intercept else []) + list(mf.fixed)
    got = [_strip_ticks(n) for n in strs(ex, "fixnames")]
    if got != expected:
        raise FitError(f"R returned fixed effects {got}, expected {expected}")


def _message_list(res: Any) -> list[str]:
    return strs(res, "warnings") + strs(res, "messages")


def _r_error(res: Any) -> str | None:
    val = get(res, "value")
    try:
        cls = list(val.rclass)
    except Exception:  # noqa: BLE001 - not an R object with a class
        return None
    if "replicate_error" in cls:
        return str(val.rx2("message")[0])
    return None


def _ranef_frames(res: Any, group_of: dict[str, str], cols_of: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    names = strs(res, "ranef_names")
    mats = get(res, "ranef")
    for i, rname in enumerate(names):
        m = mats[i]
        rows = [str(x) for x in m.rownames]
        arr = np.asarray(m, dtype=float)
        grp = group_of.get(rname, rname)
        cols = cols_of.get(grp) or [_strip_ticks(str(c)) for c in m.colnames]
        out[grp] = pd.DataFrame(arr, index=pd.Index(rows, name=grp), columns=cols)
    return out


def provenance(call: str, packages: dict[str, str]) -> dict[str, Any]:
    return {
        "r_version": packages.get("R", ""),
        "packages": {k: v for k, v in packages.items() if k != "R"},
        "call": call,
        "date": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


# --------------------------------------------------------------- engine

class Lme4Engine:
    """lme4's ``lmer`` (as lmerTest's, for Satterthwaite df), live through rpy2.

    Args:
        kenward_roger: also compute pbkrtest's Kenward-Roger df and SEs for
            every fit (slow); otherwise call :meth:`kenward_roger` on a fit.
        tight: run lme4's optimizer with much smaller tolerances than its
            defaults (the call records the control used).
    """

    name = "lme4"
    packages = ("lme4", "lmerTest", "pbkrtest")

    def __init__(self, *, kenward_roger: bool = False, tight: bool = False) -> None:
        self.compute_kr = kenward_roger
        self.tight = tight
        self._versions: dict[str, str] | None = None

    def available(self) -> tuple[bool, str]:
        return r_status(("lme4", "lmerTest"))

    def versions(self) -> dict[str, str]:
        if self._versions is None:
            self._versions = r_versions(self.packages)
        return dict(self._versions)

    def version(self) -> str:
        v = self.versions()
        return "; ".join(f"{k} {val}" for k, val in v.items() if val)

    def fit(self, design: Design, method: str = "REML") -> FitResult:
        if method not in ("REML", "ML"):
            raise ModelError(f"method {method!r} unknown", field="method", hint="use 'REML' or 'ML'")
        if not design.reterms:
            raise NotImplementedOption("the lme4 engine fits mixed models only; this is a linear model "
                                       "(model.fixed_only)", hint="the native engine fits it as R's lm does")
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(f"engine 'lme4' is not available: {why}", field="--engine")
        mf = model_frame(design)
        rdf = to_r_frame(mf)
        f = r_formula(mf)
        res = r_call("fit_lmer", rdf, f, method == "REML", mf.weighted, self.tight)
        call = str(get(res, "call")[0])
        err = _r_error(res)
        if err is not None:
            raise FitError(f"lmer failed: {err}", hint=f"call: {call}")
        rfit = get(res, "value")
        msgs = _message_list(res)
        ex = r_call("extract_lmer", rfit)
        fit = self._result(design, mf, method, ex, rfit, call, msgs)
        if self.compute_kr:
            self.kenward_roger(fit)
        return fit

    def _result(self, design: Design, mf: RModelFrame, method: str, ex: Any, rfit: Any, call: str,
                msgs: list[str]) -> FitResult:
        names = list(design.fixed_names)
        check_fixed_names(ex, mf)
        p = len(names)
        fixed = pd.Series(num(ex, "fixef"), index=names)
        vcov = pd.DataFrame(matrix(ex, "vcov", p), index=names, columns=names)
        coefcols = strs(ex, "coefcols")
        coef = pd.DataFrame(matrix(ex, "coef", len(coefcols)), index=names, columns=coefcols)
        is_lt = bool(get(ex, "is_lmertest")[0])
        if not is_lt or "df" not in coefcols:
            msgs.append("lmerTest could not compute Satterthwaite df for this fit")
            sat = pd.Series(np.nan, index=names)
        else:
            sat = coef["df"].astype(float).rename("df")

        # VarCorr: R's names back to the design's (column names lose their back-quotes).
        group_of = {g: name for (g, _, _), name in zip(mf.terms, mf.group_names)}
        vc = pd.DataFrame({
            "grp": strs(ex, "vc_grp"),
            "var1": [_strip_ticks(s) if s else np.nan for s in strs(ex, "vc_var1")],
            "var2": [_strip_ticks(s) if s else np.nan for s in strs(ex, "vc_var2")],
            "vcov": num(ex, "vc_vcov"),
            "sdcor": num(ex, "vc_sdcor"),
        })
        vc[["var1", "var2"]] = vc[["var1", "var2"]].astype(object)
        vc["grp"] = [_map_group(g, group_of) for g in vc["grp"]]
        sigma = float(num(ex, "sigma")[0])
        reml = method == "REML"
        # lme4 lists the singular-fit note among its convergence messages; it is
        # reported by `singular`, not as a convergence failure.
        conv_msgs = [m for m in strs(ex, "conv_msgs") if m and not m.startswith("boundary (singular)")]
        conv_opt = int(np.asarray(get(ex, "conv_opt"))[0])
        for m in conv_msgs:
            if m not in msgs:
                msgs.append(m)
        converged = (conv_opt == 0 and not conv_msgs
                     and not any("converge" in m.lower() for m in msgs))
        ngr = dict(zip(strs(ex, "ngrps_names"), (int(x) for x in get(ex, "ngrps"))))
        ngroups = {group_of.get(g, g): n for g, n in ngr.items()}
        cols_of: dict[str, list[str]] = {}
        for t in design.reterms:
            cols_of.setdefault(t.group, []).extend(t.columns)
        ranef = _ranef_frames(ex, group_of, cols_of)
        theta = num(ex, "theta")
        versions = self.versions()
        prov = provenance(call, versions)
        feval = np.asarray(get(ex, "feval"))
        opt = OptSummary(
            method=f"lme4 {strs(ex, 'optimizer')[0] if strs(ex, 'optimizer') else ''}".strip(),
            initial=tuple(num(ex, "theta_start")), final=tuple(theta),
            fmin=float(num(ex, "remlcrit")[0] if reml else num(ex, "deviance")[0]),
            evaluations=int(feval[0]) if feval.size and not np.isnan(feval[0]) else 0,
            message=(strs(ex, "opt_message") or [""])[0],
            tolerances=dict(TIGHT_TOLERANCES)
            if self.tight else {},
        )
        loglik = float(num(ex, "loglik")[0])
        extra: dict[str, Any] = {
            "satterthwaite_df": sat,
            "coef_table": coef,
            "provenance": prov,
            "r_call": call,
            "r_model": rfit,
        }
        return FitResult(
            engine=self.name, engine_version=self.version(), method=method, formula=design.formula,
            fixed=fixed, vcov=vcov, varcorr=vc, sigma2=sigma * sigma, theta=theta, loglik=loglik,
            reml_criterion=float(num(ex, "remlcrit")[0]) if reml else None,
            deviance=None if reml else float(num(ex, "deviance")[0]),
            aic=float(num(ex, "aic")[0]), bic=float(num(ex, "bic")[0]),
            npar=int(np.asarray(get(ex, "npar"))[0]), nobs=int(np.asarray(get(ex, "nobs"))[0]),
            ngroups=ngroups, n_dropped=design.n_dropped, converged=bool(converged),
            singular=bool(get(ex, "singular")[0]), messages=tuple(dict.fromkeys(msgs)), optinfo=opt,
            ranef_fn=lambda: ranef, fitted=num(ex, "fitted"), residuals=num(ex, "resid"),
            rows=design.rows, extra=extra,
        )

    def kenward_roger(self, fit: FitResult) -> pd.DataFrame:
        """pbkrtest's Kenward-Roger df and adjusted SEs per coefficient of an lme4 fit.

        Stores them in ``fit.extra["kr_df"]`` and ``fit.extra["kr_se"]`` (pandas
        Series) and returns a DataFrame with columns ``df`` and ``se``.

        Raises:
            NotImplementedOption: the fit is by ML (Kenward-Roger is defined
                for REML fits) or not an lme4-engine fit.
            FitError: pbkrtest failed.
        """
        if "kr_df" in fit.extra and "kr_se" in fit.extra:
            return pd.DataFrame({"df": fit.extra["kr_df"], "se": fit.extra["kr_se"]})
        if fit.engine != self.name or "r_model" not in fit.extra:
            raise NotImplementedOption("Kenward-Roger needs a fit from the lme4 engine")
        if fit.method != "REML":
            raise NotImplementedOption("Kenward-Roger df and SEs are defined for REML fits",
                                       hint="refit with method REML")
        ok, why = r_status(("pbkrtest",))
        if not ok:
            raise EngineUnavailable(f"pbkrtest is not available: {why}")
        try:
            res = r_call("kenward_roger", fit.extra["r_model"])
        except Exception as exc:  # noqa: BLE001 - rpy2's RRuntimeError and conversion errors
            raise FitError(f"pbkrtest failed: {exc}") from None
        idx = fit.fixed.index
        kr_df = pd.Series(num(res, "df"), index=idx, name="df")
        kr_se = pd.Series(num(res, "se"), index=idx, name="se")
        fit.extra["kr_df"] = kr_df
        fit.extra["kr_se"] = kr_se
        return pd.DataFrame({"df": kr_df, "se": kr_se})


def anova_lrt(fit: FitResult, other: FitResult, refit: bool = True) -> dict[str, float]:
    """lme4's ``anova(fit, other, refit = refit)`` for two lme4-engine fits:
    the chi-square, its df and p of the larger model's row."""
    if "r_model" not in fit.extra or "r_model" not in other.extra:
        raise NotImplementedOption("anova needs two fits from the lme4 engine")
    try:
        res = r_call("anova_lrt", fit.extra["r_model"], other.extra["r_model"], bool(refit))
    except Exception as exc:  # noqa: BLE001 - rpy2's RRuntimeError and conversion errors
        raise FitError(f"lme4's anova failed: {exc}") from None
    return {"statistic": float(num(res, "chisq")[0]), "df": float(num(res, "df")[0]), "p": float(num(res, "p")[0])}


def club_sandwich(fit: FitResult, kind: str = "CR2") -> pd.DataFrame:
    """clubSandwich's cluster-robust SEs (``vcovCR(fit, type=kind)``) and the
    Satterthwaite df of ``coef_test`` for an lme4-engine fit (clustered by the
    grouping factor clubSandwich picks: the outermost)."""
    if fit.engine != "lme4" or "r_model" not in fit.extra:
        raise NotImplementedOption("clubSandwich needs a fit from the lme4 engine")
    if kind not in ("CR0", "CR1", "CR2"):
        raise NotImplementedOption(f"clubSandwich type {kind!r} is not offered here", hint="CR0, CR1 or CR2")
    ok, why = r_status(("clubSandwich",))
    if not ok:
        raise EngineUnavailable(f"clubSandwich is not available: {why}")
    try:
        res = r_call("club_sandwich", fit.extra["r_model"], kind)
    except Exception as exc:  # noqa: BLE001 - rpy2's RRuntimeError and conversion errors
        raise FitError(f"clubSandwich failed: {exc}") from None
    idx = fit.fixed.index
    return pd.DataFrame({"df": num(res, "df"), "se": num(res, "se")}, index=idx)


def _map_group(g: str, group_of: dict[str, str]) -> str:
    """R's VarCorr group name -> the design's (``g.1`` for a second term on ``g`` stays)."""
    if g in group_of:
        return group_of[g]
    return g
