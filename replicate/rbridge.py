"""The bridge to R through rpy2, used for R datasets and the live R engines.

Nothing here pastes text into R code: package and dataset names are checked
against a strict pattern and passed as values to rpy2's functions.
"""

from __future__ import annotations

import re

import pandas as pd

from .errors import DataError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._]*$")


def r_available() -> tuple[bool, str]:
    """Whether rpy2 can start R here, and why not."""
    try:
        import rpy2.robjects  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or R failing to load
        return False, f"rpy2/R not usable: {exc}"
    return True, ""


def r_dataset(package: str, name: str) -> pd.DataFrame:
    """A data frame from an installed R package, factors as ordered Categoricals."""
    for v in (package, name):
        if not _NAME.match(v):
            raise DataError(f"{v!r} is not a valid R package or dataset name", field="data.dataset")
    import rpy2.robjects as ro
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter
    from rpy2.robjects.packages import PackageNotInstalledError, data, importr

    try:
        pkg = importr(package)
    except PackageNotInstalledError:
        raise DataError(f"R package {package!r} is not installed", field="data.dataset.package") from None
    try:
        robj = data(pkg).fetch(name)[name]
    except (KeyError, LookupError):
        raise DataError(f"R package {package!r} has no dataset {name!r}", field="data.dataset.name") from None
    with localconverter(ro.default_converter + pandas2ri.converter):
        df = ro.conversion.get_conversion().rpy2py(robj)
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{package}::{name} is not a data frame", field="data.dataset")
    return df.reset_index(drop=True)
