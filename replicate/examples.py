"""Where the example cases shipped with replicate live.

In a source checkout (and an editable install) they are the repository's own ``cases/`` and
``reference_outputs/``; a built package carries a copy of both under ``replicate/_examples``
(``setup.py`` puts it there). ``replicate run`` without paths uses ``./cases`` when there is one and
these otherwise, so an installed package runs its examples from any folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PARTS = ("cases", "reference_outputs")


def examples_root() -> Path | None:
    """The folder holding the shipped ``cases/`` and ``reference_outputs/``, if any."""
    checkout = PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "cases").is_dir():
        return checkout
    bundled = PACKAGE / "_examples"
    if (bundled / "cases").is_dir():
        return bundled
    return None


def default_cases(cwd: Path | None = None) -> tuple[Path, bool]:
    """The cases folder to run when none is named: ``./cases``, else the shipped examples.

    Returns the folder and whether it is the shipped examples (the CLI says so).
    """
    here = (cwd or Path.cwd()) / "cases"
    if here.is_dir():
        return Path("cases") if cwd is None else here, False
    root = examples_root()
    if root is None:
        return Path("cases"), False
    return root / "cases", True


def copy_examples(dest: Path) -> list[Path]:
    """Copy the shipped cases and raw printouts into ``dest`` (which must not hold them yet)."""
    root = examples_root()
    if root is None:
        raise FileNotFoundError("this installation of replicate carries no example cases")
    out: list[Path] = []
    for name in PARTS:
        target = dest / name
        if target.exists():
            raise FileExistsError(f"{target} exists already; choose an empty folder")
    for name in PARTS:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
            out.append(dest / name)
    return out
