"""The residual covariance of a repeated-measures model, from a formula term or a SAS-like mapping.

Two ways to write the same :class:`ResidualSpec` (issue #16):

* in a formula, as the mmrm package writes it: a covariance term added to the fixed effects,
  ``FEV1 ~ ARMCD * AVISIT + us(AVISIT | USUBJID)``, grouped ``ar1(AVISIT | ARMCD / USUBJID)``,
  spatial on one or more coordinates ``sp_exp(x1, x2 | id)``;
* in a case file, as a mapping that reads like SAS's REPEATED statement:
  ``{type: UN, repeated: AVISIT, subject: USUBJID, group: ARMCD}`` with SAS's TYPE= names
  (``UN``, ``CS``, ``CSH``, ``AR(1)``, ``ARH(1)``, ``TOEP``, ``TOEP(2)``, ``TOEPH``, ``ANTE(1)``, ``UN(1)``, ``VC``,
  ``SP(EXP)(x y)``, ``SP(GAU)(t)``, ``SP(POW)(t)``) or mmrm's names.

The text is untrusted: it is matched against the small grammar below and never evaluated::

    term     := STRUCT '(' coords '|' [NAME '/'] NAME ')'      STRUCT: an mmrm name (us, ar1, sp_exp ...)
    coords   := NAME (',' NAME)*                                 several only for sp_exp, sp_gau, sp_pow
    sas_type := WORD ['(' WORD ')'] ['(' NAME ((' ' | ',') NAME)* ')']

NAME is an identifier (letters, digits, ``_`` and ``.``) or a back-quoted name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ModelError
from .rside_names import SAS_TYPE, SPATIAL, StructureName, known_names, structure_name

_NAME = r"(?:[A-Za-z._][A-Za-z0-9._]*|`[^`]+`)"
_NAME_RE = re.compile(rf"\s*({_NAME})\s*")
_TERM_NAMES = sorted((s.value for s in StructureName), key=len, reverse=True)
_CALL_RE = re.compile(r"(?<![A-Za-z0-9._])(" + "|".join(_TERM_NAMES) + r")\s*\(")
_SAS_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*([A-Za-z0-9]+)\s*\))?\s*(?:\(([^()]*)\))?\s*$")
MAPPING_KEYS = ("type", "repeated", "subject", "group")


@dataclass(frozen=True)
class ResidualSpec:
    """A residual covariance structure within subjects.

    Attributes:
        structure: the structure (mmrm's name; SAS's TYPE= in :attr:`sas_type`).
        coordinates: the repeated (visit) factor, or the spatial coordinates (one or more).
        subject: the subject factor (SAS's SUBJECT=).
        group: a factor with one set of covariance parameters per level (SAS's GROUP=), or None.
    """

    structure: StructureName
    coordinates: tuple[str, ...]
    subject: str
    group: str | None = None

    @property
    def visit(self) -> str:
        """The repeated factor (the first coordinate of a spatial structure)."""
        return self.coordinates[0]

    @property
    def spatial(self) -> bool:
        return self.structure in SPATIAL

    @property
    def sas_type(self) -> str:
        base = SAS_TYPE[self.structure]
        return f"{base}({' '.join(self.coordinates)})" if self.spatial else base

    def term(self) -> str:
        """The structure as mmrm's formula term, e.g. ``us(AVISIT | ARMCD / USUBJID)``."""
        by = f"{self.group} / {self.subject}" if self.group else self.subject
        return f"{self.structure.value}({', '.join(self.coordinates)} | {by})"

    def variables(self) -> list[str]:
        """Every data column the structure uses."""
        return list(dict.fromkeys([*self.coordinates, self.subject] + ([self.group] if self.group else [])))


def _name(text: str, what: str, field: str | None) -> str:
    m = _NAME_RE.fullmatch(text)
    if not m:
        raise ModelError(
            f"{what} {text.strip()!r} is not a variable name",
            field=field,
            hint="write a column name (letters, digits, _ and .), or `back-quoted`; derive other columns under "
            "'transform:'",
        )
    return m.group(1).strip("`")


def top_level_splits(text: str, seps: str) -> list[tuple[str, str]]:
    """``text`` cut at the characters of ``seps`` outside parentheses and quotes: (separator before, piece)."""
    out: list[tuple[str, str]] = []
    depth, quote, start, sep = 0, "", 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "`'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch in seps and depth == 0:
            out.append((sep, text[start:i]))
            sep, start = ch, i + 1
    out.append((sep, text[start:]))
    return out


def _balanced(text: str) -> bool:
    """True where every ')' closes an earlier '(' and every '(' is closed."""
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def parse_term(text: str, *, field: str | None = "model.formula") -> ResidualSpec:
    """The :class:`ResidualSpec` of one mmrm covariance term, e.g. ``ar1(AVISIT | ARMCD / USUBJID)``."""
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*", text, flags=re.DOTALL)
    if not m or not _balanced(m.group(2)):
        raise ModelError(f"{text.strip()!r} is not a covariance term", field=field, hint="write e.g. us(visit | id)")
    name, inner = m.group(1), m.group(2)
    if name not in {s.value for s in StructureName}:
        raise ModelError(
            f"{name}(...) is not a covariance structure",
            field=field,
            hint="mmrm's names: " + ", ".join(sorted(s.value for s in StructureName)),
        )
    structure = StructureName(name)
    parts = top_level_splits(inner, "|")
    if len(parts) != 2 or "||" in inner:
        raise ModelError(
            f"{text.strip()!r} needs one '|' between the visit and the subject",
            field=field,
            hint=f"write {name}(visit | subject) or {name}(visit | group / subject)",
        )
    left, right = parts[0][1], parts[1][1]
    if not left.strip():
        raise ModelError(f"{text.strip()!r} has no visit variable before '|'", field=field)
    coords = tuple(_name(c, "visit variable", field) for _, c in top_level_splits(left, ","))
    if len(coords) > 1 and structure not in SPATIAL:
        raise ModelError(
            f"{name}(...) takes one visit variable, not {len(coords)} ({', '.join(coords)})",
            field=field,
            hint="only the spatial structures sp_exp, sp_gau and sp_pow take several coordinates",
        )
    by = right.split("/")
    if len(by) > 2:
        raise ModelError(
            f"{text.strip()!r}: after '|' write subject or group / subject (one group)",
            field=field,
        )
    subject = _name(by[-1], "subject", field)
    group = _name(by[0], "group", field) if len(by) == 2 else None
    return ResidualSpec(structure, coords, subject, group)


def has_covariance_term(text: str) -> bool:
    """Does the formula ``text`` hold an mmrm covariance term (``us(...)``, ``ar1(...)``, ...) at its top level?

    Only looks; :func:`split_formula` reads the term and says what is wrong with it.
    """
    sides = top_level_splits(str(text), "~")
    if len(sides) != 2:
        return False
    names = {s.value for s in StructureName}
    for _, piece in top_level_splits(sides[1][1], "+-"):
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(", piece)
        if m and m.group(1) in names:
            return True
    return False


def split_formula(text: str, *, field: str | None = "model.formula") -> tuple[str, ResidualSpec | None]:
    """The fixed-effects formula and the covariance term of ``text`` (None where it has none).

    ``"FEV1 ~ ARMCD * AVISIT + us(AVISIT | USUBJID)"`` gives ``("FEV1 ~ ARMCD * AVISIT", <us ...>)``.

    Raises:
        ModelError: more than one covariance term, a term inside an interaction or after '-', a
            random-effect term beside it (not implemented yet), or a malformed term.
    """
    sides = top_level_splits(text, "~")
    if len(sides) != 2:
        return text, None  # not a two-sided formula: the formula parser says what is wrong
    lhs, rhs = sides[0][1], sides[1][1]
    pieces = top_level_splits(rhs, "+-")
    found: list[tuple[int, ResidualSpec]] = []
    for i, (op, piece) in enumerate(pieces):
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(", piece)
        if m and m.group(1) in {s.value for s in StructureName}:
            if op == "-":
                raise ModelError(f"a covariance term cannot be subtracted: '- {piece.strip()}'", field=field)
            found.append((i, parse_term(piece, field=field)))
    if len(found) > 1:
        raise ModelError(
            f"{len(found)} covariance terms ({', '.join(s.term() for _, s in found)}): a model has one",
            field=field,
        )
    rest = [(op, p) for i, (op, p) in enumerate(pieces) if i not in {j for j, _ in found}]
    for _, piece in rest:
        if _CALL_RE.search(piece) and "|" in piece:
            raise ModelError(
                f"the covariance term in {piece.strip()!r} must be added on its own",
                field=field,
                hint="write y ~ x * visit + us(visit | id), not inside an interaction",
            )
    if not found:
        return text, None
    if any("|" in p for _, p in rest):
        raise ModelError(
            "random effects together with a residual covariance term are not implemented yet",
            field=field,
            hint="fit the residual structure alone (REPEATED without RANDOM) for now",
        )
    body = ""
    for k, (op, piece) in enumerate(rest):
        if not piece.strip():
            if k == 0:
                continue  # before a leading '-' (y ~ -1 + ...)
            raise ModelError(f"an empty term after '{op}' in {text!r}", field=field)
        if not body:
            body = piece.strip() if op in ("", "+") else f"- {piece.strip()}"
        else:
            body += f" {op} {piece.strip()}"
    return f"{lhs.strip()} ~ {body or '1'}", found[0][1]


def parse_sas_type(text: str, *, field: str | None = "model.residual.type") -> tuple[StructureName, tuple[str, ...]]:
    """SAS's TYPE= (or an mmrm name): the structure and the spatial coordinates written in it.

    ``"SP(EXP)(x y)"`` gives ``(sp_exp, ("x", "y"))``; ``"AR(1)"`` gives ``(ar1, ())``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ModelError(f"type {text!r} is not a covariance type", field=field, hint="e.g. UN, AR(1), SP(EXP)(time)")
    m = _SAS_RE.match(text)
    if not m:
        raise ModelError(
            f"type {text!r} is not of SAS's form NAME, NAME(arg) or SP(kind)(coordinates)",
            field=field,
            hint="one of: " + ", ".join(known_names()),
        )
    word, arg, clist = m.group(1), m.group(2), m.group(3)
    key = word + (f"({arg})" if arg else "")
    if word.upper() in ("TOEP", "UN", "TOEPH", "ARMA") and arg and key.upper() not in ("UN(1)", "TOEP(2)"):
        raise ModelError(
            f"type {text!r} (a banded or other variant) is not implemented",
            field=field,
            hint=f"{word.upper()} over all lags is; UN(1) is the diagonal, TOEP(2) the lag-1 band",
        )
    structure = structure_name(key, field=field)
    coords: tuple[str, ...] = ()
    if clist is not None:
        if structure not in SPATIAL:
            raise ModelError(f"type {text!r}: only SP(...) types take coordinates", field=field)
        coords = tuple(_name(c, "coordinate", field) for c in re.split(r"[\s,]+", clist.strip()) if c)
        if not coords:
            raise ModelError(f"type {text!r} names no coordinate", field=field, hint="write e.g. SP(EXP)(time)")
    return structure, coords


def _text(mapping: Mapping[str, object], key: str, field: str, required: bool) -> str | None:
    value = mapping.get(key)
    if value is None:
        if required:
            raise ModelError(f"'{key}' is missing", field=f"{field}.{key}", hint=_MAPPING_HINT)
        return None
    if not isinstance(value, str):
        raise ModelError(f"'{key}' must be a column name, not {value!r}", field=f"{field}.{key}")
    return _name(value, key, f"{field}.{key}")


_MAPPING_HINT = "write e.g. {type: UN, repeated: AVISIT, subject: USUBJID, group: ARMCD} (SAS's default type is VC)"


def residual_from_mapping(mapping: Mapping[str, object], *, field: str = "model.residual") -> ResidualSpec:
    """The :class:`ResidualSpec` of a SAS-like REPEATED mapping (keys ``type``, ``repeated``, ``subject``, ``group``).

    For a spatial type the coordinates are those written in the type (``SP(EXP)(x y)``) or, if it has
    none, ``repeated`` (a name, or a list of names).
    """
    if not isinstance(mapping, Mapping):
        raise ModelError(f"expected a mapping, got {type(mapping).__name__}", field=field, hint=_MAPPING_HINT)
    for key in mapping:
        if key not in MAPPING_KEYS:
            close = difflib.get_close_matches(str(key), MAPPING_KEYS, n=1)
            raise ModelError(
                f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                field=f"{field}.{key}",
                hint="allowed: " + ", ".join(MAPPING_KEYS),
            )
    if mapping.get("type") is None:
        raise ModelError("'type' is missing", field=f"{field}.type", hint=_MAPPING_HINT)
    structure, coords = parse_sas_type(str(mapping["type"]), field=f"{field}.type")
    repeated = mapping.get("repeated")
    if structure in SPATIAL and isinstance(repeated, list):
        listed = tuple(_name(str(c), "coordinate", f"{field}.repeated") for c in repeated)
    elif structure in SPATIAL and isinstance(repeated, str):
        listed = tuple(_name(c, "coordinate", f"{field}.repeated") for c in re.split(r"[\s,]+", repeated.strip()))
    else:
        rep = _text(mapping, "repeated", field, required=not coords)
        listed = (rep,) if rep else ()
    if coords and listed and listed != coords:
        raise ModelError(
            f"repeated {', '.join(listed)} differs from the coordinates in type ({', '.join(coords)})",
            field=f"{field}.repeated",
            hint="name the coordinates once, in the type: SP(EXP)(x y)",
        )
    subject = _text(mapping, "subject", field, required=True)
    assert subject is not None
    return ResidualSpec(structure, coords or listed, subject, _text(mapping, "group", field, required=False))
