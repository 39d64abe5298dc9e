"""Small case files for the hostile-input tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dyestuff_copy(folder: Path, suffix: str, *, label: str | None = None) -> Path:
    """The shipped Dyestuff case (30 rows) under the id ``dyestuff-<suffix>``."""
    text = (ROOT / "cases" / "dyestuff.yaml").read_text(encoding="utf-8")
    text = text.replace("id: dyestuff\n", f"id: dyestuff-{suffix}\n", 1)
    if label is not None:
        text = text.replace("  - label: lme4-live\n", f"  - label: {label}\n", 1)
    path = folder / f"dyestuff-{suffix}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = ROOT / "cases" / "classroom-mathkind-ses-school.yaml"


def variant(folder: Path, name: str, *subs: tuple[str, str], text: str | None = None) -> Path:
    """The shipped classroom random-intercept case (a fit of 0.1 s) under id ``name``, with each
    ``(old, new)`` replaced once (each ``old`` must be there, so a test cannot silently test nothing)."""
    body = BASE.read_text(encoding="utf-8") if text is None else text
    body = body.replace("id: classroom-mathkind-ses-school", f"id: {name}", 1)
    for old, new in subs:
        assert old in body, old
        body = body.replace(old, new, 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def good_case(folder: Path) -> Path:
    """A case that agrees, to show that a bad neighbour does not stop it."""
    return variant(folder, "good-neighbour")
