"""Strategies for three-level (pupils in classes in schools) and crossed (subjects by items) data sets.

Part of :mod:`replicate.simulate.strategies`; see there for what every strategy guarantees.
"""

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from .strategy_parts import INTERCEPT, Drawn, TrueParameters, draw_coef, draw_icc, ensure_rows, feasible


@st.composite
def three_level(
    draw,
    *,
    min_schools: int = 3,
    max_schools: int = 40,
    max_classes: int = 5,
    max_pupils: int = 8,
    icc: Any = None,
    missing: bool | None = None,
) -> Drawn:
    """Pupils in classes in schools: ``y ~ x + c + w + (1 | school/class)``.

    Class labels restart at 1 in every school (so only ``school/class`` -- the
    interaction ``class:school`` -- identifies a class). Schools may have one
    class and classes one pupil.
    """
    J = draw(st.integers(min_schools, max_schools))
    rho = draw_icc(draw, icc)
    share = draw(st.floats(0.0, 1.0, allow_nan=False))  # part of the ICC that is between schools
    balanced = draw(st.booleans())
    miss = draw(st.booleans()) if missing is None else missing
    seed = draw(st.integers(0, 2**32 - 1))
    fixed = {
        INTERCEPT: draw_coef(draw, zero_share=False),
        "x": draw_coef(draw),
        "c": draw_coef(draw),
        "w": draw_coef(draw),
    }
    rng = np.random.default_rng(seed)
    if balanced:
        m = np.full(J, int(rng.integers(2, max_classes + 1)))
    else:
        m = rng.integers(1, max_classes + 1, size=J)
    C = int(m.sum())
    if balanced:
        sizes = np.full(C, int(rng.integers(2, max_pupils + 1)))
    else:
        sizes = rng.integers(1, max_pupils + 1, size=C)
        sizes[0] = max(sizes[0], 2)
    sizes = ensure_rows(sizes, C + J + 6, max(max_pupils, 4))
    school_of_class = np.repeat(np.arange(J), m)
    class_label = np.concatenate([np.arange(1, mj + 1) for mj in m])
    cls = np.repeat(np.arange(C), sizes)
    school = school_of_class[cls]
    n = int(sizes.sum())
    tau_s, tau_c, sigma2 = rho * share, rho * (1 - share), 1.0 - rho
    x = rng.normal(0, 1, n)
    c = rng.normal(0, 1, C)[cls]
    w = rng.normal(0, 1, J)[school]
    y = (
        fixed[INTERCEPT]
        + fixed["x"] * x
        + fixed["c"] * c
        + fixed["w"] * w
        + rng.normal(0, np.sqrt(tau_s), J)[school]
        + rng.normal(0, np.sqrt(tau_c), C)[cls]
        + rng.normal(0, np.sqrt(sigma2), n)
    )
    frame = pd.DataFrame({"y": y, "x": x, "c": c, "w": w, "school": school + 1, "class": class_label[cls]})
    if miss:
        trial = frame.copy()
        trial.loc[rng.random(n) < 0.08, "y"] = np.nan
        trial.loc[rng.random(n) < 0.08, "x"] = np.nan
        trial["cs"] = trial["class"].astype(str) + ":" + trial["school"].astype(str)
        if feasible(trial, ["school", "cs"], ["y", "x", "c", "w"], 1, len(fixed), between=2):
            frame = trial.drop(columns="cs")
    truth = TrueParameters(
        fixed=fixed,
        random={"class:school": ((INTERCEPT,), np.array([[tau_c]])), "school": ((INTERCEPT,), np.array([[tau_s]]))},
        sigma2=sigma2,
        levels={"x": 1, "c": 1, "w": 2},
        group="school",
        structure="three-level",
        balanced=bool(np.all(m == m[0]) and np.all(sizes == sizes[0])),
        icc=rho,
        info={"schools": J, "classes": C, "seed": seed},
    )
    return Drawn(frame, "y ~ x + c + w + (1 | school/class)", truth)


# ---------------------------------------------------------------- crossed


@st.composite
def crossed(
    draw,
    *,
    min_levels: int = 3,
    max_subjects: int = 60,
    max_items: int = 30,
    icc: Any = None,
    missing: bool | None = None,
) -> Drawn:
    """Subjects crossed with items, incompletely: ``y ~ x + (1 | subject) + (1 | item)``."""
    S = draw(st.integers(min_levels, max_subjects))
    I_ = draw(st.integers(min_levels, max_items))
    while S * I_ < S + I_ + 4:  # room for residual df even when fully crossed
        I_ += 1
    rho = draw_icc(draw, icc)
    share = draw(st.floats(0.0, 1.0, allow_nan=False))
    p_obs = draw(st.floats(0.3, 1.0, allow_nan=False))
    miss = draw(st.booleans()) if missing is None else missing
    seed = draw(st.integers(0, 2**32 - 1))
    fixed = {INTERCEPT: draw_coef(draw, zero_share=False), "x": draw_coef(draw)}
    rng = np.random.default_rng(seed)
    obs = rng.random((S, I_)) < p_obs
    obs[np.arange(S), rng.integers(0, I_, S)] = True  # every subject answers an item
    obs[rng.integers(0, S, I_), np.arange(I_)] = True  # every item is answered
    obs[0, :2] = True  # a subject with two rows, an item with two rows
    obs[:2, 0] = True
    # residual df: more answers than subjects + items + fixed effects
    while obs.sum() < S + I_ + 4 and not obs.all():
        free = np.argwhere(~obs)
        obs[tuple(free[rng.integers(len(free))])] = True
    si, ii = np.nonzero(obs)
    n = len(si)
    tau_s, tau_i, sigma2 = rho * share, rho * (1 - share), 1.0 - rho
    x = rng.normal(0, 1, n)
    y = (
        fixed[INTERCEPT]
        + fixed["x"] * x
        + rng.normal(0, np.sqrt(tau_s), S)[si]
        + rng.normal(0, np.sqrt(tau_i), I_)[ii]
        + rng.normal(0, np.sqrt(sigma2), n)
    )
    frame = pd.DataFrame(
        {"y": y, "x": x, "subject": [f"s{v + 1:03d}" for v in si], "item": [f"i{v + 1:03d}" for v in ii]}
    )
    if miss:
        trial = frame.copy()
        trial.loc[rng.random(n) < 0.08, "y"] = np.nan
        if feasible(trial, ["subject", "item"], ["y", "x"], 1, len(fixed)):
            frame = trial
    truth = TrueParameters(
        fixed=fixed,
        random={"subject": ((INTERCEPT,), np.array([[tau_s]])), "item": ((INTERCEPT,), np.array([[tau_i]]))},
        sigma2=sigma2,
        levels={"x": 1},
        group="subject",
        structure="crossed",
        balanced=bool(obs.all()),
        icc=rho,
        info={"subjects": S, "items": I_, "seed": seed},
    )
    return Drawn(frame, "y ~ x + (1 | subject) + (1 | item)", truth)
