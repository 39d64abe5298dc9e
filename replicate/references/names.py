"""Names across programs: what SAS, HLM and nlme print, as lme4 names it.

The parsers keep names as printed; these functions give lme4's name for each,
for a case block's ``names:`` mapping (printed name -> engine name).

lme4's names: fixed effects ``(Intercept)``, ``ses``, ``sexM``, ``x:z``; random
effects ``group -> column`` with ``(Intercept)`` and variable names, and
``"col1, col2"`` for a correlation; groups ``schoolid``, ``classid:schoolid``.

CLASS variables (factors): SAS's GLM parameterization keeps a column for every
level and sets the *last* level (in SAS's order, by default the sorted
formatted values) to zero; R's treatment contrasts drop the *first* level (in
the factor's level order). A SAS row ``sex F`` is therefore the contrast F -
(last level), which is an R coefficient only when R's reference level is SAS's
last level: a case with ``model.contrasts: sas`` (the engine then makes the
last level the reference and names the other columns as R does, ``sexF``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ReferenceError_

INTERCEPT = "(Intercept)"
RESIDUAL = "Residual"


# ------------------------------------------------------------------ helpers


def _resolve(name: str, terms: Iterable[str] | None, what: str) -> str:
    """``name`` as spelled in ``terms`` (case-insensitive; HLM cuts names to 8 characters).

    Without ``terms`` the name is returned as printed.
    """
    if terms is None:
        return name
    terms = list(dict.fromkeys(terms))
    if name in terms:
        return name
    low = name.lower()
    hits = [t for t in terms if t.lower() == low]
    if not hits and len(name) == 8:
        hits = [t for t in terms if t.lower().startswith(low)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise ReferenceError_(
            f"{what} {name!r} matches none of the model's names", hint="model names: " + ", ".join(terms)
        )
    raise ReferenceError_(
        f"{what} {name!r} matches several of the model's names: " + ", ".join(hits),
        hint="map it by hand in the block's names:",
    )


def _interaction(parts: Sequence[str], terms: Iterable[str] | None) -> str:
    """lme4's name of an interaction: the order of its parts as in ``terms``."""
    if len(parts) == 1:
        return parts[0]
    if terms is not None:
        want = sorted(p.lower() for p in parts)
        for t in terms:
            if sorted(x.lower() for x in t.split(":")) == want:
                return t
    return ":".join(parts)


# ---------------------------------------------------------------------- SAS


def sas_term_to_lme4(effect: str, terms: Iterable[str] | None = None) -> str:
    """lme4's name of a SAS fixed effect without CLASS levels.

    ``Intercept`` -> ``(Intercept)``; ``x*z`` -> ``x:z`` (in the order ``terms``
    uses, if given); other names as printed, or as spelled in ``terms``.
    """
    e = effect.strip()
    if e.lower() in ("intercept", "int"):
        return INTERCEPT
    parts = [p.strip() for p in e.split("*")]
    if any(not p for p in parts):
        raise ReferenceError_(f"cannot read the SAS effect {effect!r}")
    terms_l = list(terms) if terms is not None else None
    variables = [v for t in (terms_l or []) for v in t.split(":")]
    parts = [_resolve(p, variables if terms_l is not None else None, "SAS variable") for p in parts]
    return _interaction(parts, terms_l)


def sas_class_term_to_r(
    effect: str,
    levels: Mapping[str, str],
    level_order: Mapping[str, Sequence[str]],
    contrasts: str = "sas",
    terms: Iterable[str] | None = None,
) -> str | None:
    """R's name of a SAS fixed-effect row with CLASS levels, or None for SAS's reference level.

    Args:
        effect: the ``Effect`` column (``sex``, ``sex*ses``, ``sex*race``).
        levels: the row's CLASS columns, e.g. ``{"sex": "F"}``.
        level_order: each CLASS variable's levels in the order R's factor has
            them (``data.levels`` of the case, or sorted values).
        contrasts: the case's ``model.contrasts``. Only ``sas`` (last level is
            the reference, as in SAS) makes SAS rows R coefficients.
        terms: lme4's fixed-effect names, to order interaction parts.

    Returns:
        ``sexF`` for ``sex F``; ``sexF:ses`` for ``sex*ses F``; None when the
        row is a reference level (SAS prints 0 with no SE).

    Raises:
        ReferenceError_: with ``contrasts='treatment'`` (the rows are other
            contrasts than R's), for a level not in ``level_order`` or an
            effect whose CLASS variable has no level order.
    """
    if contrasts not in ("sas", "treatment"):
        raise ReferenceError_(f"contrasts {contrasts!r} unknown", hint="'sas' or 'treatment'")
    if not levels:
        return sas_term_to_lme4(effect, terms)
    if contrasts == "treatment":
        raise ReferenceError_(
            f"SAS's row {effect} {' '.join(levels.values())} contrasts a level with the LAST level; R's treatment "
            "contrasts use the FIRST level, so no R coefficient matches it",
            hint="set model.contrasts: sas in the case so the engine uses SAS's reference level",
        )
    parts: list[str] = []
    for var in [p.strip() for p in effect.split("*")]:
        if var in levels:
            order = level_order.get(var)
            if order is None:
                raise ReferenceError_(
                    f"no level order for the CLASS variable {var!r}",
                    hint="give the factor's levels (data.levels in the case)",
                )
            lvl = levels[var]
            order_s = [str(x) for x in order]
            if str(lvl) not in order_s:
                raise ReferenceError_(f"level {lvl!r} of {var!r} is not among its levels: " + ", ".join(order_s))
            if str(lvl) == order_s[-1]:
                return None
            parts.append(f"{var}{lvl}")
        else:
            parts.append(var)
    return _interaction(parts, terms)


def sas_subject_to_lme4(subject: str) -> str:
    """lme4's group of a SAS subject: ``schoolid`` -> ``schoolid``; ``classid(schoolid)`` -> ``classid:schoolid``."""
    s = subject.strip()
    m = re.fullmatch(r"(\w+)\((\w+(?:\s*\*?\s*\w+)*)\)", s)
    if m:
        outer = [p.strip() for p in re.split(r"[*\s]+", m.group(2)) if p.strip()]
        return ":".join([m.group(1)] + outer)
    return s.replace("*", ":")


def sas_covparm_to_lme4(
    cov_parm: str, subject: str | None = None, random_effects: Sequence[str] | None = None
) -> tuple[str, Any]:
    """(group, column) in lme4's names of a SAS covariance parameter.

    Args:
        cov_parm: the ``Cov Parm`` column (``Intercept``, ``ses``,
            ``UN(2,1)``, ``Residual``, or an effect such as ``schoolID``).
        subject: the ``Subject`` column, if any.
        random_effects: the RANDOM statement's effects in order (lme4 names,
            e.g. ``["(Intercept)", "ses"]``), needed for ``UN(i,j)``.

    Returns:
        ``("Residual", None)``; ``(group, column)`` for a variance;
        ``(group, (col1, col2))`` for a covariance ``UN(i,j)``.
    """
    cp = cov_parm.strip()
    if cp.lower() == "residual":
        return RESIDUAL, None
    if subject:
        group = sas_subject_to_lme4(subject)
        m = re.fullmatch(r"UN\((\d+),(\d+)\)", cp, re.IGNORECASE)
        if m:
            if random_effects is None:
                raise ReferenceError_(
                    f"{cp} needs the RANDOM statement's effects in order",
                    hint="pass random_effects, e.g. ['(Intercept)', 'ses']",
                )
            i, j = sorted((int(m.group(1)), int(m.group(2))))
            if j > len(random_effects):
                raise ReferenceError_(f"{cp}: only {len(random_effects)} random effects given")
            if i == j:
                return group, random_effects[i - 1]
            return group, (random_effects[i - 1], random_effects[j - 1])
        if cp.lower() in ("intercept", "int"):
            return group, INTERCEPT
        if re.fullmatch(r"[A-Za-z_]\w*", cp):
            return group, cp
        raise ReferenceError_(f"covariance parameter {cp!r} (subject {subject}) has no lme4 counterpart")
    if "*" in cp:
        raise ReferenceError_(
            f"covariance parameter {cp!r} without SUBJECT=: cannot tell which factor is the group",
            hint="map it by hand in the block's names:",
        )
    return sas_subject_to_lme4(cp), INTERCEPT


def sas_un_names(random_effects: Sequence[str]) -> dict[str, str]:
    """``names:`` entries for the UN(i,i) columns: ``{"UN(1,1)": "(Intercept)", "UN(2,2)": "ses"}``."""
    return {f"UN({k},{k})": name for k, name in enumerate(random_effects, start=1)}


# ---------------------------------------------------------------------- HLM


def _hlm_var(label: str) -> str:
    """``INTRCPT2, γ00`` -> ``INTRCPT2``; ``URBAN slope, β1`` -> ``URBAN``; ``For INTRCPT1, β0`` -> ``INTRCPT1``."""
    s = label.strip()
    s = re.sub(r"^For\s+", "", s, flags=re.IGNORECASE)
    s = s.split(",")[0].strip()
    s = re.sub(r"\s+slope$", "", s, flags=re.IGNORECASE)
    return s


def _is_intercept(var: str) -> bool:
    return bool(re.fullmatch(r"INTRCPT\d", var, re.IGNORECASE))


def hlm_term_to_lme4(outcome_equation_var: str, level2_var: str, terms: Iterable[str] | None = None) -> str:
    """lme4's fixed-effect name of an HLM2 coefficient γ.

    Args:
        outcome_equation_var: the level-1 coefficient the row belongs to (the
            ``For`` line): ``INTRCPT1``, ``INTRCPT1, β0``, ``URBAN slope``.
        level2_var: the row's level-2 predictor: ``INTRCPT2``, ``INTRCPT2, γ10``,
            ``URBAN_LE, γ01``.
        terms: lme4's fixed-effect names; HLM prints names in capitals and cut
            to 8 characters, so they are matched without case and by prefix.

    Returns:
        ``(Intercept)`` for INTRCPT1/INTRCPT2; the level-2 variable for the
        intercept's equation; the level-1 variable for INTRCPT2 in a slope's
        equation; their interaction (``x:w``, ordered as in ``terms``) otherwise.
    """
    x, w = _hlm_var(outcome_equation_var), _hlm_var(level2_var)
    if not x or not w:
        raise ReferenceError_(f"cannot read the HLM coefficient {outcome_equation_var!r} / {level2_var!r}")
    terms_l = list(terms) if terms is not None else None
    variables = sorted({v for t in (terms_l or []) for v in t.split(":")}) if terms_l is not None else None
    if _is_intercept(x) and _is_intercept(w):
        return INTERCEPT
    if _is_intercept(x):
        return _resolve(w, variables, "HLM level-2 variable")
    if _is_intercept(w):
        return _resolve(x, variables, "HLM level-1 variable")
    return _interaction(
        [_resolve(x, variables, "HLM level-1 variable"), _resolve(w, variables, "HLM level-2 variable")], terms_l
    )


def hlm_random_to_lme4(label: str, group: str, terms: Iterable[str] | None = None) -> tuple[str, str | None]:
    """(group, column) of an HLM2 variance component.

    ``INTRCPT1, u0`` -> ``(group, "(Intercept)")``; ``URBAN slope, u1`` ->
    ``(group, "urban")`` (spelled as in ``terms``); ``level-1, r`` ->
    ``("Residual", None)``. ``group`` is lme4's grouping variable: HLM does
    not print it.
    """
    var = _hlm_var(label)
    if var.lower() == "level-1":
        return RESIDUAL, None
    if _is_intercept(var):
        return group, INTERCEPT
    variables = sorted({v for t in terms for v in t.split(":")}) if terms is not None else None
    return group, _resolve(var, variables, "HLM level-1 variable")


# --------------------------------------------------------------- lme4, nlme


def lme4_random_label(text: str) -> tuple[str, str | None]:
    """``schoolid (Intercept)`` -> ``("schoolid", "(Intercept)")``; ``Residual`` -> ``("Residual", None)``."""
    parts = text.split()
    if parts == [RESIDUAL]:
        return RESIDUAL, None
    if len(parts) != 2:
        raise ReferenceError_(f"cannot read {text!r} as 'group name'")
    return parts[0], parts[1]


def nlme_group_to_lme4(group: str) -> str:
    """``classid %in% schoolid`` -> ``classid:schoolid``; other names unchanged."""
    return ":".join(p.strip() for p in group.split("%in%"))


# ------------------------------------------------------------ a names: block


def suggest_names(
    parsed: Any,
    *,
    group: str | None = None,
    terms: Iterable[str] | None = None,
    random_effects: Sequence[str] | None = None,
    level_order: Mapping[str, Sequence[str]] | None = None,
    contrasts: str = "sas",
) -> tuple[dict[str, str], list[str]]:
    """A ``names:`` mapping (printed -> lme4) for a parsed printout, and what could not be mapped.

    Args:
        parsed: a :class:`~replicate.references.ParsedPrintout`.
        group: lme4's grouping variable for HLM's ``level-2``.
        terms: lme4's fixed-effect names (HLM capitals and 8-character names,
            SAS interactions).
        random_effects: the order of a SAS RANDOM statement's effects (UN(i,j)).
        level_order: factor levels for SAS CLASS rows.
        contrasts: the case's ``model.contrasts`` for SAS CLASS rows.

    Returns:
        (names, problems): only names that differ from lme4's are listed;
        each problem says which printed name is left unmapped and why.
    """
    out: dict[str, str] = {}
    problems: list[str] = []
    values = parsed.values
    sw = parsed.software

    def put(printed: str, engine: str | None) -> None:
        if engine is not None and engine != printed:
            if out.get(printed, engine) != engine:
                problems.append(f"{printed!r} maps to both {out[printed]!r} and {engine!r}")
                return
            out[printed] = engine

    if sw == "sas":
        effects = parsed.model_info.get("sas_effects", {})
        for key in values.get("fixed", {}):
            try:
                if key in effects:
                    e = effects[key]
                    put(key, sas_class_term_to_r(e["effect"], e["levels"], level_order or {}, contrasts, terms))
                else:
                    put(key, sas_term_to_lme4(key, terms))
            except ReferenceError_ as exc:
                problems.append(f"fixed {key!r}: {exc.message}")
        for grp, comps in values.get("random", {}).items():
            if grp == RESIDUAL:
                continue
            put(grp, sas_subject_to_lme4(grp))
            for col in comps:
                for piece in (p.strip() for p in col.split(",") if not col.startswith("UN(")):
                    if piece.lower() == "intercept":
                        put(piece, INTERCEPT)
                if col.startswith("UN("):
                    if random_effects is None:
                        problems.append(f"random {grp} {col!r}: needs random_effects (the RANDOM effects in order)")
                    else:
                        for k, v in sas_un_names(random_effects).items():
                            put(k, v)
        for label in values.get("covparms", {}):  # a REPEATED model's: SAS prints Variance where it has GROUP=
            name, _, level = str(label).partition(" / ")
            if level and name == "Variance":
                put(name, RESIDUAL)
    elif sw == "hlm":
        if group is None:
            problems.append("HLM prints no name for the level-2 grouping variable: pass group=")
        else:
            put("level-2", group)
        for key, info in parsed.model_info.get("hlm_fixed_terms", {}).items():
            try:
                if info.get("equation") is None:
                    raise ReferenceError_("no 'For ...' line above the row")
                put(key, hlm_term_to_lme4(info["equation"], info["predictor"], terms))
            except ReferenceError_ as exc:
                problems.append(f"fixed {key!r}: {exc.message}")
        for col in values.get("random", {}).get("level-2", {}):
            if "," in col:
                continue
            try:
                put(col, hlm_random_to_lme4(col, group or "level-2", terms)[1] or col)
            except ReferenceError_ as exc:
                problems.append(f"random {col!r}: {exc.message}")
    elif sw == "nlme":
        for grp in values.get("random", {}):
            put(grp, nlme_group_to_lme4(grp))
        sas_type = (parsed.model_info.get("residual") or {}).get("type")
        for name in values.get("covparms", {}):  # gls's correlation parameter, by SAS's label where it has one
            if name == "Phi" and sas_type in ("AR(1)", "ARH(1)"):
                put(name, sas_type)
            else:
                problems.append(f"covparms {name!r}: nlme's correlation parameter has no SAS covariance parameter")
    return out, problems
