"""Validation of a study's ``design`` section: groups, group sizes, predictors, slopes, missing values."""

from __future__ import annotations

from typing import Any

from .checker import DESIGN_KEYS, PRED_KEYS, Checker, kind_of, name_ok
from .studytypes import (
    DISTRIBUTIONS,
    INTERCEPT,
    RESPONSE,
    SIZE_DISTRIBUTIONS,
    DesignSpec,
    GroupSizes,
    Mechanism,
    Missingness,
    Predictor,
)


def check_design(ck: Checker, value: Any) -> DesignSpec:
    path = ("design",)
    d = ck.mapping(value, path, DESIGN_KEYS, required=("groups", "group_size"))
    J = ck.integer(d["groups"], path + ("groups",), low=3, high=100_000)
    group = ck.text(d.get("group", "group"), path + ("group",))
    if not name_ok(group) or group == RESPONSE:
        raise ck.error(
            f"{group!r} cannot name the grouping variable",
            path + ("group",),
            hint=f"a name of letters, digits and '_', not {RESPONSE!r}",
        )
    sizes = check_sizes(ck, d["group_size"], J)
    preds_raw = d.get("predictors", {}) or {}
    ppath = path + ("predictors",)
    if not isinstance(preds_raw, dict):
        raise ck.error(f"must be a mapping of predictor name -> settings, not {kind_of(preds_raw)}", ppath)
    preds = []
    for name, spec in preds_raw.items():
        name = str(name)
        pp = ppath + (name,)
        if not name_ok(name) or name in (RESPONSE, group, INTERCEPT):
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
        raise ck.error(f"must be a list of level-1 predictors, not {kind_of(slopes_raw)}", spath)
    slopes: list[str] = []
    for i, raw in enumerate(slopes_raw):
        slope = ck.text(raw, spath + (i,))
        if slope not in names:
            raise ck.error(
                f"{slope!r} is not a predictor of the design", spath + (i,), hint="declare it under design.predictors"
            )
        if next(p for p in preds if p.name == slope).level != 1:
            raise ck.error(
                f"{slope!r} is a level-2 predictor: a random slope needs variation within groups", spath + (i,)
            )
        if slope in slopes:
            raise ck.error(f"{slope!r} is listed twice", spath + (i,))
        slopes.append(slope)
    hold = d.get("hold_fixed", False)
    if not isinstance(hold, bool):
        raise ck.error(f"must be true or false, not {hold!r}", path + ("hold_fixed",))
    missing = check_missing(ck, d.get("missing", {}) or {}, preds)
    return DesignSpec(
        groups=J,
        sizes=sizes,
        predictors=tuple(preds),
        random_slopes=tuple(slopes),
        group=group,
        hold_fixed=hold,
        missing=tuple(missing),
    )


def check_sizes(ck: Checker, value: Any, J: int) -> GroupSizes:
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
        s = ck.mapping(value, path, ("distribution", "mean", "min", "max", "cv"), required=("distribution",))
        dist = ck.choices(s["distribution"], path + ("distribution",), SIZE_DISTRIBUTIONS)[0]
        low = ck.integer(s.get("min", 1), path + ("min",), low=1)
        if "cv" in s and dist != "gamma":
            raise ck.error(f"'cv' does not apply to the {dist} distribution", path + ("cv",))
        if dist == "gamma":
            if "max" in s:
                raise ck.error("'max' does not apply to the gamma distribution", path + ("max",))
            for key in ("mean", "cv"):
                if key not in s:
                    raise ck.error(f"required key {key!r} is missing", path + (key,))
            mean = ck.number(s["mean"], path + ("mean",), low=float(low), high=1e6)
            cv = ck.number(s["cv"], path + ("cv",), low=0.0, high=3.0)
            return GroupSizes("gamma", mean=mean, min=low, cv=cv)
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


MISSING_KEYS = ("share", "mechanism", "depends_on", "strength")


def check_missing(ck: Checker, raw: Any, preds: list[Predictor]) -> tuple[Missingness, ...]:
    """``design.missing``: variable -> a share (MCAR) or ``{share, mechanism: mar, depends_on, strength}``."""
    mpath = ("design", "missing")
    if not isinstance(raw, dict):
        raise ck.error(f"must be a mapping of variable -> share of missing values, not {kind_of(raw)}", mpath)
    names = [p.name for p in preds]
    out = []
    for k, v in raw.items():
        k = str(k)
        path = mpath + (k,)
        if k != RESPONSE and k not in names:
            raise ck.error(f"{k!r} is neither {RESPONSE!r} nor a predictor", path)
        if not isinstance(v, dict):
            out.append(Missingness(k, ck.number(v, path, low=0.0, high=0.5)))
            continue
        s = ck.mapping(v, path, MISSING_KEYS, required=("share",))
        share = ck.number(s["share"], path + ("share",), low=0.0, high=0.5)
        word = ck.text(s.get("mechanism", "mcar"), path + ("mechanism",)).strip().lower()
        if word not in {m.value for m in Mechanism}:
            raise ck.error(
                f"{word!r} is not a known mechanism",
                path + ("mechanism",),
                hint="mcar or mar (missing not at random cannot be analysed by these fits)",
            )
        mech = Mechanism(word)
        if mech is Mechanism.MCAR:
            extra = [key for key in ("depends_on", "strength") if key in s]
            if extra:
                raise ck.error(f"{extra[0]!r} applies to mechanism: mar only", path + (extra[0],))
            out.append(Missingness(k, share))
            continue
        if "depends_on" not in s:
            raise ck.error("mechanism: mar needs 'depends_on' (the observed predictor it depends on)", path)
        dep = ck.text(s["depends_on"], path + ("depends_on",))
        if dep not in names:
            raise ck.error(f"{dep!r} is not a predictor of the design", path + ("depends_on",))
        if dep in raw or dep == k:
            raise ck.error(
                f"{dep!r} has missing values itself: MAR depends on an observed variable",
                path + ("depends_on",),
                hint="choose a predictor that is not listed under design.missing",
            )
        strength = ck.number(s.get("strength", 1.0), path + ("strength",), low=-10.0, high=10.0)
        out.append(Missingness(k, share, mech, dep, strength))
    return tuple(out)
