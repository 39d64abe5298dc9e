"""A Design as R sees it: safe names, the data frame handed to R, the formula built from symbols.

A name of the design (response, model-matrix column, grouping factor) reaches R only if it passes
:func:`check_r_name`: ASCII R identifiers (a letter, then letters, digits, ``.`` and ``_``; not a
reserved word), or such identifiers joined by ``:`` (interaction columns ``x:fhi`` and nested
grouping factors ``classid:schoolid``). Every other name (the columns of formula functions such as
``I(x^2)``, ``poly(x, 2)1``, ``log(z)``, ``factor(g)2``, or a back-quoted column name) is handed to
R under a generated name (``.col1``, ``.resp1``, ``.fac1``: a leading '.', which a checked name
never has), and R's answers are mapped back to the design's names, which are R's printed names. So
no text from a case file reaches R except as a checked symbol. The formula is never parsed from
text: a fixed R function builds it as a language object from the names with ``as.name`` and
``call``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...design import Design
from ...errors import FitError, ModelError
from .session import get, matrix, num, r_call, strs

# ----------------------------------------------------------------- names

_IDENT = r"[A-Za-z][A-Za-z0-9._]*"
_PLAIN_NAME = re.compile(rf"^{_IDENT}$")
#: Names this module generates for R (``.col1``, ``.grp2``): a leading '.', so
#: they can never equal a checked model name.
_GENERATED = re.compile(r"^\.[a-z]+[0-9]+$")
_JOINED_NAME = re.compile(rf"^{_IDENT}(?::{_IDENT})*$")

#: R's reserved words (?Reserved): never usable as plain symbols.
R_RESERVED = frozenset(
    {
        "if",
        "else",
        "repeat",
        "while",
        "function",
        "for",
        "next",
        "break",
        "in",
        "TRUE",
        "FALSE",
        "NULL",
        "Inf",
        "NaN",
        "NA",
        "NA_integer_",
        "NA_real_",
        "NA_character_",
        "NA_complex_",
    }
)

#: Names this module gives R columns itself; they start with '.', which
#: :func:`check_r_name` never accepts, so they cannot collide with a model name.
WEIGHTS_COLUMN = ".weights"
#: The offset column handed to lme4 (``offset = .offset``).
OFFSET_COLUMN = ".offset"

#: lme4's BOBYQA (nloptwrap) tolerances with ``Lme4Engine(tight=True)``; helpers.R
#: spells the same numbers (a test reads them there).
TIGHT_TOLERANCES = {"ftol_abs": 1e-15, "ftol_rel": 1e-15, "xtol_abs": 1e-13, "xtol_rel": 1e-13}


def check_r_name(name: Any, what: str, *, allow_colon: bool = True) -> str:
    """Return ``name`` if it is safe to hand to R as a symbol, else raise ModelError.

    Accepted: an ASCII R identifier that does not start with ``.`` or ``_`` and
    is not a reserved word, or (with ``allow_colon``) several such identifiers
    joined by ``:``.
    """
    text = name if isinstance(name, str) else None
    pattern = _JOINED_NAME if allow_colon else _PLAIN_NAME
    if text is None or len(text) > 200 or not pattern.fullmatch(text) or any(p in R_RESERVED for p in text.split(":")):
        raise ModelError(
            f"{what} {name!r} is not a name that can be passed to R",
            field="model",
            hint="names given to R must be letters, digits, '.' and '_' starting with a letter"
            + (" (or such names joined by ':')" if allow_colon else "")
            + "; rename the column under 'transform:' (e.g. new_name: `old name`) and use the new name",
        )
    return text


def is_r_name(name: Any, *, allow_colon: bool = True) -> bool:
    """Whether :func:`check_r_name` lets ``name`` reach R as a symbol."""
    try:
        check_r_name(name, "name", allow_colon=allow_colon)
    except ModelError:
        return False
    return True


def strip_ticks(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == "`" and name[-1] == "`" else name


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
        offset: whether an offset column is present (the response is then the data's own ``y``).
        design_names: R's name -> the design's, for every name handed to R generated
            (``.col1`` -> ``I(x^2)``, ``.resp1`` -> the response, ``.fac1`` -> a grouping factor).
    """

    response: str
    fixed: tuple[str, ...]
    intercept: bool
    terms: tuple[tuple[str, tuple[str, ...], bool], ...]
    group_names: tuple[str, ...]
    frame: pd.DataFrame
    weighted: bool
    offset: bool = False
    design_names: dict[str, str] = field(default_factory=dict)

    def design_name(self, r_name: str) -> str:
        """The design's name of a model column R reports (back-quotes dropped, generated names mapped back)."""
        bare = strip_ticks(r_name)
        return self.design_names.get(bare, bare)

    def legend(self) -> str:
        """The generated names and what they stand for, to record beside R's call (empty if none)."""
        if not self.design_names:
            return ""
        return "; where " + ", ".join(f"{r} = {name}" for r, name in self.design_names.items())


def _intercept_col(values: np.ndarray) -> bool:
    return bool(np.all(values == 1.0))


def model_frame(
    design: Design,
    *,
    group_columns: Sequence[str] | None = None,
    inverse_weights: bool = False,
    rename_joined: bool = False,
    offset_column: bool = False,
) -> RModelFrame:
    """Name every column of ``design`` for R and build the data frame.

    A name that :func:`check_r_name` accepts is used as it is; any other gets a generated name
    (``.resp1`` for the response, ``.col1``, ... for model columns, ``.fac1``, ... for grouping
    factors), recorded in :attr:`RModelFrame.design_names` (and, for groups, by position in
    :attr:`RModelFrame.group_names`).

    Args:
        design: the design to fit.
        group_columns: R column names for the grouping factors, one per term
            (default: the design's group names, generated where they are not safe for R).
        inverse_weights: also add ``.invweights`` = 1 / weights (for nlme's
            ``varFixed``).
        rename_joined: give columns whose names join identifiers with ``:``
            (``x:fhi``) generated R names (``.col1``, ...) instead of
            back-quoted symbols (for nlme, which deparses and re-parses names).
        offset_column: for a design with ``offset(...)``, hand R the response ``y`` and the offset as
            ``.offset`` (for lmer's ``offset =``); otherwise R gets ``y - offset`` (the design's ``y``)
            under the generated name ``.resp1``, so that the recorded call does not claim to model ``y``.

    Raises:
        ModelError: two columns of one name differ, or a given group column is not safe for R.
    """
    has_offset = design.offset is not None
    y = np.asarray(design.y, dtype=float)
    plain = is_r_name(design.response, allow_colon=False) and (offset_column or not has_offset)
    response = design.response if plain else ".resp1"
    if has_offset and offset_column:
        y = y + np.asarray(design.offset, dtype=float)
    cols: dict[str, np.ndarray] = {response: y}
    r_name: dict[str, str] = {}

    def add(name: str, values: np.ndarray, what: str) -> str:
        if (rename_joined and ":" in name) or not is_r_name(name):
            name = r_name.setdefault(name, f".col{len(r_name) + 1}")
        values = np.asarray(values, dtype=float)
        if name in cols:
            if cols[name].shape != values.shape or not np.array_equal(cols[name], values):
                raise ModelError(f"{what} {name!r} has the name of another column with other values", field="model")
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
    fac_name: dict[str, str] = {}
    generated_groups: dict[str, str] = {}  # R's name -> the design's group
    for t, gname in zip(design.reterms, gcols):
        if group_columns is None and not is_r_name(gname):
            gname = fac_name.setdefault(gname, f".fac{len(fac_name) + 1}")
        elif not _GENERATED.fullmatch(gname):
            check_r_name(gname, "grouping factor")
        if _GENERATED.fullmatch(gname):
            generated_groups.setdefault(gname, t.group)
        tcols: list[str] = []
        t_int = False
        for j, c in enumerate(t.columns):
            if c == "(Intercept)":
                if j != 0 or not _intercept_col(t.Xre[:, j]):
                    raise ModelError(
                        f"the intercept of the random term on {t.group!r} is not a first column of ones", field="model"
                    )
                t_int = True
                continue
            tcols.append(add(c, t.Xre[:, j], "random-effect column"))
        labels = [str(x) for x in t.levels]
        codes = np.asarray(t.index, dtype=np.int64)
        fac = pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object))
        if gname in factors:
            if not (np.array_equal(factors[gname].codes, fac.codes) and list(factors[gname].categories) == labels):
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
    if has_offset and offset_column:
        data[OFFSET_COLUMN] = np.asarray(design.offset, dtype=float)
    frame = pd.DataFrame(data)
    return RModelFrame(
        response=response,
        fixed=tuple(fixed),
        intercept=intercept,
        terms=tuple(groups),
        group_names=tuple(t.group for t in design.reterms),
        frame=frame,
        weighted=weighted,
        offset=has_offset and offset_column,
        design_names={
            **({response: design.response} if response != design.response else {}),
            **{generated: name for name, generated in r_name.items()},
            **generated_groups,
        },
    )


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
    got = [strip_ticks(n) for n in strs(ex, "fixnames")]
    if got != expected:
        raise FitError(f"R returned fixed effects {got}, expected {expected}")


def ranef_frames(res: Any, group_of: dict[str, str], cols_of: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    names = strs(res, "ranef_names")
    mats = get(res, "ranef")
    for i, rname in enumerate(names):
        m = mats[i]
        rows = [str(x) for x in m.rownames]
        arr = np.asarray(m, dtype=float)
        grp = group_of.get(rname, rname)
        cols = cols_of.get(grp) or [strip_ticks(str(c)) for c in m.colnames]
        out[grp] = pd.DataFrame(arr, index=pd.Index(rows, name=grp), columns=cols)
    return out


def fixed_effects(ex: Any, mf: RModelFrame, names: list[str]) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """(estimates, their covariance, R's coefficient table) of an extracted fit, under the design's names,
    after checking that R's names are the columns handed to it (lme4 and nlme alike)."""
    check_fixed_names(ex, mf)
    p = len(names)
    fixed = pd.Series(num(ex, "fixef"), index=names)
    vcov = pd.DataFrame(matrix(ex, "vcov", p), index=names, columns=names)
    coefcols = strs(ex, "coefcols")
    coef = pd.DataFrame(matrix(ex, "coef", len(coefcols)), index=names, columns=coefcols)
    return fixed, vcov, coef


def with_offset(fitted: np.ndarray, design: Design) -> np.ndarray:
    """R's fitted values of ``y - offset`` (the response handed to R) plus the offset, as lme4's ``fitted()``
    gives them for a model with ``offset(...)`` and as the native engine reports them."""
    return fitted if design.offset is None else np.asarray(fitted, dtype=float) + design.offset
