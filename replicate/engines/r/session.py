"""The R session behind the live reference engines: helpers, conversions, status, versions.

The R helper functions are constant code in ``helpers.R`` beside this module, evaluated once into a
private environment whose parents are the attached base packages (so a variable missing from the data
is never looked up in R's global environment). Nothing from a case file is ever evaluated as R code.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HELPERS_R = Path(__file__).with_name("helpers.R")

_helpers_env: Any = None


def r_helpers() -> Any:
    """The private R environment holding this module's helper functions."""
    global _helpers_env
    if _helpers_env is None:
        import rpy2.robjects as ro

        _helpers_env = ro.r(HELPERS_R.read_text(encoding="utf-8"))
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


def message_list(res: Any) -> list[str]:
    return strs(res, "warnings") + strs(res, "messages")


def r_error(res: Any) -> str | None:
    val = get(res, "value")
    try:
        cls = list(val.rclass)
    except Exception:  # noqa: BLE001 - not an R object with a class
        return None
    if "replicate_error" in cls:
        return str(val.rx2("message")[0])
    return None


def provenance(call: str, packages: dict[str, str]) -> dict[str, Any]:
    return {
        "r_version": packages.get("R", ""),
        "packages": {k: v for k, v in packages.items() if k != "R"},
        "call": call,
        "date": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
