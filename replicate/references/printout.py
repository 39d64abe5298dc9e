"""The result of parsing a printout, and the builder the parsers fill in."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from ..errors import ReferenceError_
from ..printed import Printed
from .allowed import first_refused
from .numbers import Line


@dataclass(frozen=True)
class ParsedPrintout:
    """What a printout shows, in the case format.

    Attributes:
        software: the program the text was parsed as (one of ``SOFTWARE``).
        values: ``{"fixed": {term: {estimate, se, df, t, p}},
            "random": {group: {column: {variance, sd, se}, "col1, col2": {corr | cov}},
            "Residual": {variance, sd, se}},
            "fit": {loglik, deviance, reml_criterion, aic, bic, nobs, ngroups: {g: n}}}``
            with every number a :class:`~replicate.case.Printed`, under the
            names the program printed (see :mod:`replicate.references.names`
            to map them to lme4's). Sections with nothing in them are left out.
        tables: further tables, ``{table: {row: {column: Printed}}}`` (for
            example ``anova``, ``ranova``, ``Type III Tests of Fixed Effects``,
            ``Dimensions``, ``Variance Components``, ``Reliability``).
        model_info: text the printout states about the model (formula, REML
            or ML, df method, SAS ddfm, HLM robust SEs, ...).
        unparsed: ``(line, text, reason)`` for each line inside a recognised
            section that could not be read. Nothing is guessed: a number that
            is not in ``values`` or ``tables`` is listed here.
    """

    software: str
    values: dict[str, Any]
    tables: dict[str, dict[str, dict[str, Printed]]] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)
    unparsed: list[tuple[int, str, str]] = field(default_factory=list)

    def to_yaml(self) -> str:
        """The ``values:`` mapping as YAML text that the case loader reads back as printed.

        Numbers are written with their printed text; a text that YAML would
        not read as a number (``1e-5``) is written as ``{value: "1e-5"}``,
        bounds as quoted strings (``"<2e-16"``).
        """
        return yaml.dump(
            {"values": _plain(self.values)},
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=1000,
        )


class _Raw(str):
    """A scalar written without quotes."""


# libyaml's emitter and scanner when PyYAML was built with it: `replicate parse` of a long paste spends most of
# its time writing YAML.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    pass


def _raw_representer(dumper: yaml.SafeDumper, data: _Raw) -> yaml.Node:
    tag = dumper.resolve(yaml.ScalarNode, str(data), (True, False))
    return dumper.represent_scalar(tag, str(data), style="")


_Dumper.add_representer(_Raw, _raw_representer)


@lru_cache(maxsize=4096)
def _scalar(text: str) -> Any:
    """What YAML reads ``text`` as (a printout repeats the same few numbers, so this is cached)."""
    return yaml.load(text, Loader=_Loader)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, Printed):
        if obj.bound:
            return obj.text.replace(" ", "")
        loaded = _scalar(obj.text)
        if (
            isinstance(loaded, (int, float))
            and not isinstance(loaded, bool)
            and (math.isinf(obj.value) or float(loaded) == obj.value)
        ):
            return _Raw(obj.text)
        return {"value": obj.text}
    return obj


class Builder:
    """Collects what a parser reads; :meth:`build` returns the :class:`ParsedPrintout`."""

    def __init__(self, software: str) -> None:
        self.software = software
        self.fixed: dict[str, dict[str, Printed]] = {}
        self.random: dict[str, Any] = {}
        self.fit: dict[str, Any] = {}
        self.tables: dict[str, dict[str, dict[str, Printed]]] = {}
        self.info: dict[str, Any] = {}
        self.unparsed: list[tuple[int, str, str]] = []
        self.sections = 0
        # further sections of ``values`` (a REPEATED model's covparms, type3, lsmeans, ...): section -> content
        self.extra: dict[str, dict[str, Any]] = {}

    # -- values
    def add_fixed(self, line: Line, term: str, quantities: dict[str, Printed | None]) -> None:
        problem = first_refused(quantities)
        if problem:
            self.skip(line, problem)
            return
        if term in self.fixed:
            self.skip(line, f"fixed effect {term!r} was already read; a second table is not merged")
            return
        self.fixed[term] = {k: v for k, v in quantities.items() if v is not None}

    def add_random(self, line: Line, group: str, column: str, quantities: dict[str, Printed | None]) -> None:
        slot = self.random.setdefault(group, {}).setdefault(column, {})
        self._fill(line, slot, quantities, lambda k: f"{k} of {group} {column}")

    def add_random_row(
        self,
        line: Line,
        group: str,
        name: str,
        quantities: dict[str, Printed | None],
        earlier: Sequence[str],
        corrs: Sequence[Printed | None],
    ) -> None:
        """A random-effects term and its correlations with the group's ``earlier`` terms (empty cells left out)."""
        self.add_random(line, group, name, quantities)
        for other, c in zip(earlier, corrs):
            if c is not None:
                self.add_random(line, group, f"{other}, {name}", {"corr": c})

    def add_residual(self, line: Line, quantities: dict[str, Printed | None]) -> None:
        self._fill(line, self.random.setdefault("Residual", {}), quantities, lambda k: f"residual {k}")

    def _fill(
        self, line: Line, slot: dict[str, Printed], quantities: dict[str, Printed | None], label: Callable[[str], str]
    ) -> None:
        """Put ``quantities`` into ``slot``: a value read before is kept, and a different one reported;
        a row with a value its quantity cannot be (a negative SD, a correlation beyond 1) is reported, not read."""
        problem = first_refused(quantities)
        if problem:
            self.skip(line, problem)
            return
        for k, v in quantities.items():
            if v is None:
                continue
            if k in slot:
                if slot[k].text != v.text:
                    self.skip(line, f"{label(k)} was already read as {slot[k].text}")
                continue
            slot[k] = v

    def add_fit(self, key: str, value: Printed | dict[str, Printed] | None) -> None:
        """A fit statistic (``nobs``, ``aic``...), or a set of them under one key (``scaled_residuals``)."""
        if value is not None and key not in self.fit:
            self.fit[key] = value

    def add_ngroups(self, group: str, value: Printed | None) -> None:
        if value is not None:
            self.fit.setdefault("ngroups", {}).setdefault(group, value)

    # -- everything else
    def table_name(self, name: str) -> str:
        """``name``, or ``name 2``, ``name 3``... if a table of that name exists."""
        if name not in self.tables:
            return name
        k = 2
        while f"{name} {k}" in self.tables:
            k += 1
        return f"{name} {k}"

    def add_cell(self, table: str, row: str, column: str, value: Printed | None) -> None:
        if value is None:
            return
        self.tables.setdefault(table, {}).setdefault(row, {})[column] = value

    def set_info(self, key: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            self.info.setdefault(key, value)

    def note(self, text: str) -> None:
        notes = self.info.setdefault("notes", [])
        if text not in notes:
            notes.append(text)

    def skip(self, line: Line, reason: str) -> None:
        self.unparsed.append((line.no, line.raw, reason))

    def build(self, what: str, expected: str) -> ParsedPrintout:
        """The result.

        Raises:
            ReferenceError_: if no section of the program's output was found.
        """
        if self.sections == 0:
            raise ReferenceError_(
                f"no {what} output found in the text", field="software", hint=f"expected sections such as {expected}"
            )
        values: dict[str, Any] = {}
        if self.fixed:
            values["fixed"] = self.fixed
        random = {g: c for g, c in self.random.items() if c}
        if random:
            values["random"] = random
        if self.fit:
            values["fit"] = self.fit
        values |= {k: v for k, v in self.extra.items() if v}
        self.unparsed.sort(key=lambda u: u[0])
        return ParsedPrintout(self.software, values, self.tables, self.info, self.unparsed)
