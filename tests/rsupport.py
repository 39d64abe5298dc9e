"""Helpers shared by test files: R through rpy2, the shared data, engine fits, printed numbers.

Imported as ``tests.rsupport``: ``tests/`` is a package, so pytest puts the
repository's root on the path as it does for any package of tests.

R-backed tests skip when R, rpy2 or an R package cannot be loaded, saying which,
and fail instead when the environment sets ``REPLICATE_REQUIRE_R=1``. Data go to
R as data frames through pandas2ri; nothing is pasted into R code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from replicate.data import SHIPPED_DATA

ROOT = Path(__file__).resolve().parents[1]


#: The test being set up (tests/conftest.py sets it), so that a test reaching for R without the ``r`` marker is
#: caught: ``-m "not r"`` must deselect every test that needs R.
CURRENT_TEST: Any = None


def check_marker() -> None:
    item = CURRENT_TEST
    if item is None or item.get_closest_marker("r") is not None:
        return
    log = os.environ.get("REPLICATE_R_MARKER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(item.nodeid + "\n")
        return
    pytest.fail(f"{item.nodeid} needs R but has no @pytest.mark.r: add it, so that -m 'not r' deselects it")


def _no_r(reason: str):
    """Skip with ``reason``, or fail with it under REPLICATE_REQUIRE_R=1."""
    if os.environ.get("REPLICATE_REQUIRE_R") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def need_r(*packages: str):
    """rpy2's ``robjects`` with the R ``packages`` loaded, or skip (fail under REPLICATE_REQUIRE_R=1).

    The reason names what failed to load: rpy2 (or R itself) or the first missing package.
    """
    check_marker()
    missing = "rpy2"
    if os.environ.get("REPLICATE_HIDE_R") == "1":  # as on a machine without R (to check the r markers)
        _no_r("R hidden (REPLICATE_HIDE_R=1)")
    try:
        import rpy2.robjects as ro
        from rpy2.robjects.packages import importr

        for missing in packages:
            importr(missing)
        return ro
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - depends on the machine
        wanted = " / ".join(("R", "rpy2") + packages)
        _no_r(f"{wanted} not available ({missing} failed to load): {type(exc).__name__}: {exc}")


def to_r(ro, frame: pd.DataFrame, name: str | None = None):
    """``frame`` as an R data frame (through pandas2ri), assigned to ``name`` in R's global environment if given."""
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter

    with localconverter(ro.default_converter + pandas2ri.converter):
        robj = ro.conversion.get_conversion().py2rpy(frame)
    if name is not None:
        ro.globalenv[name] = robj
    return robj


def from_r(ro, obj) -> pd.DataFrame:
    """An R data frame as pandas; ``obj`` is an R object or an R expression to evaluate."""
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter

    if isinstance(obj, str):
        obj = ro.r(obj)
    with localconverter(ro.default_converter + pandas2ri.converter):
        return ro.conversion.get_conversion().rpy2py(obj)


def shared_data_dir() -> Path:
    """The public datasets shipped inside the package (replicate/datasets)."""
    return SHIPPED_DATA


def data_file(name: str) -> Path:
    """A dataset shipped with the package; a missing one is an error, never a skip."""
    path = SHIPPED_DATA / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not among the package's datasets ({SHIPPED_DATA})")
    return path


def data_folder() -> Path:
    """The folder of the shipped datasets."""
    return SHIPPED_DATA


def require_engine(cls, **kw):
    """A ready engine ``cls(**kw)``, or skip (fail under REPLICATE_REQUIRE_R=1)."""
    check_marker()
    if os.environ.get("REPLICATE_HIDE_R") == "1":
        _no_r("R hidden (REPLICATE_HIDE_R=1)")
    try:
        eng = cls(**kw)
        ok, why = eng.available()
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - depends on the machine
        ok, why = False, f"{type(exc).__name__}: {exc}"
    if not ok:  # pragma: no cover - depends on the machine
        _no_r(f"the {cls.name} engine needs R with its packages through rpy2: {why}")
    return eng


def fit_formula(formula: str, frame: pd.DataFrame, method: str = "REML", weights: str | None = None):
    """(native fit, design) of ``formula`` on ``frame``."""
    from replicate.design import build_design
    from replicate.engine import fit_design
    from replicate.spec import parse_formula

    design = build_design(parse_formula(formula), frame, weights=weights)
    return fit_design(design, method), design


def fit_with(engine, formula: str, frame: pd.DataFrame, method: str = "REML"):
    """(design, ``engine``'s fit, native fit through ``replicate.fit``) of ``formula`` on ``frame``."""
    import replicate
    from replicate.design import build_design
    from replicate.spec import parse_formula

    design = build_design(parse_formula(formula), frame)
    return design, engine.fit(design, method), replicate.fit(formula, frame, method=method).result


def lre(a, b) -> np.ndarray:
    """Agreeing significant digits of a against b (absolute where |b| < 1e-8)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    err = np.abs(a - b) / np.where(np.abs(b) < 1e-8, 1.0, np.abs(b))
    with np.errstate(divide="ignore"):
        return np.where(err == 0, 15.0, -np.log10(err))


def printed_texts(obj: Any) -> Any:
    """Printed numbers -> their printed text, recursively through dicts."""
    from replicate.printed import Printed

    if isinstance(obj, dict):
        return {k: printed_texts(v) for k, v in obj.items()}
    if isinstance(obj, Printed):
        return obj.text
    return obj
