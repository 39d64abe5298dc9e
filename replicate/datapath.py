"""Where data files are found: the search path, a file's checksum, and finding a file on the path.

The case folder, ``data/`` of the enclosing ``cases`` folder, the datasets shipped inside the package, then
each folder of ``REPLICATE_DATA_PATH``. A stage-1 module (it imports only the errors), so that the case
loader can name a data file's checksum in its own error and `replicate new` can place a file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import DataError

ENV_PATH = "REPLICATE_DATA_PATH"

#: The public datasets shipped inside the package (see its README.md).
SHIPPED_DATA = Path(__file__).resolve().parent / "datasets"


def search_path(case_dir: Path | None = None) -> list[Path]:
    """Folders searched for data files, in order.

    The case's own folder (and ``data/`` of the enclosing ``cases`` folder),
    then the datasets shipped with the package, then each folder of
    ``REPLICATE_DATA_PATH`` (users' own data). Nothing outside these is read,
    so a fresh clone or an installed package runs its cases anywhere.
    """
    out: list[Path] = []
    if case_dir is not None:
        out.append(case_dir)
        for parent in [case_dir, *case_dir.parents]:
            if parent.name == "cases":
                out.append(parent / "data")
                break
    out.append(SHIPPED_DATA)
    for item in os.environ.get(ENV_PATH, "").split(os.pathsep):
        if item.strip():
            out.append(Path(item.strip()).expanduser())
    seen: dict[Path, None] = {}
    for p in out:
        seen.setdefault(p, None)
    return list(seen)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_file(name: str, case_dir: Path | None, *, file: str | None = None, line: int | None = None) -> Path:
    """Locate a data file by name on the search path, staying inside it."""
    if Path(name).name != name or name in ("", ".", ".."):
        raise DataError(
            f"data file {name!r} must be a plain file name, without folders",
            file=file,
            line=line,
            field="data.file",
            hint=f"put the folder on {ENV_PATH} instead",
        )
    dirs = search_path(case_dir)
    for d in dirs:
        cand = d / name
        if cand.is_file():
            real = cand.resolve()
            if real.parent != d.resolve():
                raise DataError(
                    f"data file {name!r} in {d} is a link leaving the data folder",
                    file=file,
                    line=line,
                    field="data.file",
                )
            return cand
    raise DataError(
        f"data file {name!r} not found",
        file=file,
        line=line,
        field="data.file",
        hint="searched "
        + ", ".join(str(d) for d in dirs)
        + f"; put the file beside the case, or set {ENV_PATH} to the folder holding it",
    )
