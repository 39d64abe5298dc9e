"""Studies as grids: one study file, several conditions, one tidy table of results.

A grid study is a study file with a ``grid`` section: each key is the dotted path of a
setting of the study, each value the list of values it takes; the conditions are every
combination (the first factor varies slowest)::

    id: small-j-df
    seed: 20261204
    replicates: 500
    design: {groups: 12, group_size: 8, predictors: {x: {level: 1}, w: {level: 2}}}
    truth: {fixed: {(Intercept): 0, x: 0.3, w: 0}, icc: 0.2}
    methods: {df: [residual, satterthwaite, kenward-roger], se: [model]}
    grid:
      design.groups: [6, 12, 24]
      truth.icc: [0.05, 0.2]

Each condition is an ordinary :class:`~replicate.simulate.config.Study` (validated as
one, an error naming the condition and the grid key), with the id ``<id>.c01``,
``<id>.c02``, ... and a seed of its own drawn from the study's seed and the
condition's number, so conditions are independent and adding replicates to one
never changes another. Only the settings of ``replicates``, ``alpha``, ``design``,
``truth`` and ``methods`` can vary.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checker import kind_of
from .config import Study, StudyError, read_study_yaml, validate_study

GRID_KEY = "grid"
GRID_SECTIONS = ("replicates", "alpha", "design", "truth", "methods", "analysis")
MAX_CONDITIONS = 10_000


@dataclass(frozen=True)
class Condition:
    """One cell of the grid: its factor values and the study they make."""

    number: int  # 1-based
    factors: tuple[tuple[str, Any], ...]  # (dotted path, value), in the grid's order
    study: Study

    @property
    def label(self) -> str:
        """``groups=6, icc=0.05``: the last part of each path and its value."""
        return ", ".join(f"{short_name(path)}={value}" for path, value in self.factors)


@dataclass(frozen=True)
class Grid:
    """A validated grid study: the factors and every condition."""

    id: str
    title: str
    factors: tuple[tuple[str, tuple[Any, ...]], ...]
    conditions: tuple[Condition, ...]
    path: str | None = None


def short_name(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def condition_seed(seed: int, number: int) -> int:
    """The seed of condition ``number``: a spawned stream of the study's seed (an unsigned 32-bit integer)."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise KeyError(part)
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def expand_grid(doc: Any, *, file: str | None = None, lines: Mapping[tuple, int] | None = None) -> Grid:
    """Validate a grid study (plain data as loaded from YAML) and expand it into its conditions.

    A document without ``grid`` is a grid of one condition (the study itself).

    Raises:
        StudyError: naming the file, line and field; for a condition that is not a valid
            study, also the condition and its factor values.
    """
    lines = lines or {}
    if not isinstance(doc, dict):
        return _single(validate_study(doc, file=file, lines=lines))
    base = {k: v for k, v in doc.items() if k != GRID_KEY}
    raw = doc.get(GRID_KEY, {})
    if not isinstance(raw, dict) or (GRID_KEY in doc and not raw):
        raise StudyError(
            f"must be a mapping of setting -> list of values, not {kind_of(raw) if raw else 'empty'}",
            file=file,
            line=lines.get((GRID_KEY,)),
            field=GRID_KEY,
            hint="for example  grid: {design.groups: [6, 12, 24]}",
        )
    factors: list[tuple[str, tuple[Any, ...]]] = []
    for key, values in raw.items():
        path = str(key)
        line = lines.get((GRID_KEY, key), lines.get((GRID_KEY,)))
        field = f"{GRID_KEY}.{path}"
        if path.split(".")[0] not in GRID_SECTIONS or not all(path.split(".")):
            raise StudyError(
                f"{path!r} is not a setting a grid can vary",
                file=file,
                line=line,
                field=field,
                hint="a path under " + ", ".join(GRID_SECTIONS),
            )
        if not isinstance(values, list) or not values:
            raise StudyError(
                f"must be a non-empty list of values, not {kind_of(values)}", file=file, line=line, field=field
            )
        if any(values.count(v) > 1 for v in values):
            raise StudyError("lists a value twice", file=file, line=line, field=field)
        factors.append((path, tuple(values)))
    count = int(np.prod([len(v) for _, v in factors])) if factors else 1
    if count > MAX_CONDITIONS:
        raise StudyError(
            f"{count} conditions are more than {MAX_CONDITIONS}", file=file, line=lines.get((GRID_KEY,)), field=GRID_KEY
        )
    if not factors:
        return _single(validate_study(base, file=file, lines=lines))
    conditions = []
    for number, combo in enumerate(itertools.product(*(v for _, v in factors)), start=1):
        cdoc = copy.deepcopy(base)
        chosen = tuple((path, value) for (path, _), value in zip(factors, combo, strict=True))
        for path, value in chosen:
            try:
                _set(cdoc, path, value)
            except KeyError as exc:
                raise StudyError(
                    f"{path!r}: {exc.args[0]!r} is not a mapping in the study",
                    file=file,
                    line=lines.get((GRID_KEY, path)),
                    field=f"grid.{path}",
                ) from None
        cdoc["id"] = f"{base.get('id')}.c{number:02d}"
        if isinstance(base.get("seed"), int) and not isinstance(base.get("seed"), bool):
            cdoc["seed"] = condition_seed(base["seed"], number)
        label = ", ".join(f"{short_name(p)}={v}" for p, v in chosen)
        cdoc["title"] = f"{base.get('title', base.get('id'))} ({label})"
        try:
            study = validate_study(cdoc, file=file, lines=lines)
        except StudyError as exc:
            raise StudyError(
                f"condition {number} ({label}): {exc.message}",
                file=file,
                line=exc.line,
                field=exc.field,
                hint=exc.hint,
            ) from None
        conditions.append(Condition(number, chosen, study))
    sid = str(base.get("id"))
    return Grid(sid, str(base.get("title", sid)), tuple(factors), tuple(conditions), file)


def _single(study: Study) -> Grid:
    return Grid(study.id, study.title, (), (Condition(1, (), study),), study.path)


def load_grid(source: str | Path | Mapping[str, Any]) -> Grid:
    """Read a grid study (or a plain study, as a grid of one) from YAML or a mapping.

    Raises:
        StudyError: unreadable, unsafe or invalid; the message names file, line and field.
    """
    if isinstance(source, Mapping):
        return expand_grid(dict(source))
    path = Path(source)
    doc, lines = read_study_yaml(path)
    return expand_grid(doc, file=str(path), lines=lines)
