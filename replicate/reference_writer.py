"""Write reference blocks from a live run of lme4 (or nlme) into case files.

:func:`make_reference_block` fits a case with a live R engine and returns a
reference block in the case format (every number at full precision);
:func:`write_reference` adds it to the case file, or replaces the block with
the same label, editing the file's text in place (the rest of the file is kept
byte for byte), or writes it to ``OUT/<software>/<case id>.yaml``. An existing
block is replaced only with ``force=True``; a replacement reports which values
changed by more than 1e-10 (relative) and which package versions changed.
:func:`reference_command` is the ``replicate reference`` command.

Numbers are written as the shortest text that reads back as the same double
(Python's ``repr``, with a mantissa point and a signed exponent so that YAML
1.1 reads it as a float); the written file is validated with
:func:`replicate.case.load_case`, and the values read back are checked to be
the values computed, before the file is replaced (atomically).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Any

import yaml

from .case import Case, Printed, load_case, load_yaml, validate_document
from .errors import CaseError, EngineUnavailable, FitError, ReplicateError

SOURCE = "live run (replicate reference)"
#: Relative difference above which a regenerated value counts as changed.
CHANGE_RTOL = 1e-10

#: Engine -> the ``software`` of the block it writes.
SOFTWARE = {"lme4": "lme4", "nlme": "nlme", "pbkrtest": "pbkrtest", "clubsandwich": "clubSandwich"}


# ------------------------------------------------------------- results

@dataclass(frozen=True)
class ValueChange:
    """One value that differs between the old and the new block.

    ``old`` or ``new`` is None when the value is only in one of them.
    """

    path: str
    old: float | None
    new: float | None

    @property
    def rel_diff(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        if self.old == self.new:
            return 0.0
        return abs(self.new - self.old) / abs(self.old) if self.old != 0 else math.inf

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.path}: new value {_fmt(self.new)}"
        if self.new is None:
            return f"{self.path}: removed (was {_fmt(self.old)})"
        return f"{self.path}: {_fmt(self.old)} -> {_fmt(self.new)} (relative difference {self.rel_diff:.3g})"


def _fmt(v: float | None) -> str:
    return "None" if v is None else repr(v)


@dataclass(frozen=True)
class ReferenceWriteResult:
    """What :func:`write_reference` did.

    Attributes:
        path: the file written (or that would have been written).
        label: the block's label.
        action: ``added``, ``replaced`` or ``refused`` (a block with that
            label exists and ``force`` was not given; nothing was written).
        changes: values that differ from the block replaced (or that would
            be replaced) beyond 1e-10 relative.
        version_changes: package -> (old version, new version), for those
            that differ.
    """

    path: Path
    label: str
    action: str
    changes: tuple[ValueChange, ...] = ()
    version_changes: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def written(self) -> bool:
        return self.action in ("added", "replaced")

    def summary(self) -> str:
        if self.action == "refused":
            text = (f"refused: {self.path} already has a reference block labelled {self.label!r}; "
                    "use --force to replace it")
            if self.changes or self.version_changes:
                text += "\n" + self._diff_text("a new run differs")
            return text
        if self.action == "added":
            return f"added reference block {self.label!r} to {self.path}"
        text = f"replaced reference block {self.label!r} in {self.path}"
        if not self.changes and not self.version_changes:
            return text + ": no value changed beyond 1e-10 (relative) and no package version changed"
        return text + "\n" + self._diff_text("changes")

    def _diff_text(self, title: str) -> str:
        lines = [f"{title}:"]
        for pkg, (old, new) in self.version_changes.items():
            lines.append(f"  version of {pkg}: {old or '(none)'} -> {new or '(none)'}")
        for c in self.changes:
            lines.append(f"  {c}")
        if not self.changes:
            lines.append("  no value changed beyond 1e-10 (relative)")
        return "\n".join(lines)


# --------------------------------------------------------- the block

def _get_engine(name: str) -> Any:
    """The engine by name: the registry first, then the live R engines here."""
    from .engines import ENGINES, get_engine

    if name in ENGINES:
        return get_engine(name)
    if name == "lme4":
        from .engines.r.lme4 import Lme4Engine

        eng: Any = Lme4Engine()
    elif name == "nlme":
        from .engines.r.nlme import NlmeEngine

        eng = NlmeEngine()
    else:
        raise EngineUnavailable(f"unknown engine {name!r} for reference blocks", field="--engine",
                                hint="use lme4 or nlme")
    ok, why = eng.available()
    if not ok:
        raise EngineUnavailable(f"engine {name!r} is not available: {why}", field="--engine")
    return eng


def default_label(engine_name: str) -> str:
    return f"{engine_name}-live"


def make_reference_block(case: Case | str | Path, engine_name: str = "lme4", *,
                         engine: Any = None, label: str | None = None,
                         compare_with: Sequence[str] = (), refit: bool = True) -> dict[str, Any]:
    """Fit ``case`` with a live engine and return its reference block.

    The block follows the case format: ``label`` (default ``<engine>-live``),
    ``software``, ``version``, ``call`` (the exact R call run), ``date``,
    ``options`` (method, df definition, SE kind), ``source`` and ``values``
    (fixed estimate/se/df/t/p, random variance/sd/corr, fit loglik,
    reml_criterion or deviance, aic, bic, nobs, ngroups). Numbers are Python
    floats at full precision (integers for counts).

    Raises:
        CaseError, DataError, ModelError: the case cannot be prepared.
        EngineUnavailable: the engine cannot run here.
        FitError: the fit failed or did not converge.
    """
    from .runner import prepare

    c = case if isinstance(case, Case) else load_case(case)
    if "unavailable" in c.data:
        raise CaseError("the case's data is not public, so no live reference can be computed",
                        file=str(c.path), line=c.line_of("data"), field="data.unavailable")
    _, design, _ = prepare(c)
    eng = engine if engine is not None else _get_engine(engine_name)
    method = c.method
    fit = eng.fit(design, method)
    if not fit.converged:
        raise FitError(f"{eng.name} did not converge on this case, so it is no reference: "
                       + "; ".join(fit.messages), file=str(c.path))
    extra = fit.extra
    table = extra.get("coef_table")
    if "satterthwaite_df" in extra:
        df_method, dfs = "satterthwaite", extra["satterthwaite_df"]
        t_col, p_col = "t value", "Pr(>|t|)"
    elif "nlme_df" in extra:
        df_method, dfs = "nlme", extra["nlme_df"]
        t_col, p_col = "t-value", "p-value"
    else:
        df_method, dfs, t_col, p_col = None, None, "", ""

    fixed: dict[str, dict[str, Any]] = {}
    se = fit.se
    for name in fit.fixed.index:
        vals: dict[str, Any] = {"estimate": float(fit.fixed[name]), "se": float(se[name])}
        if dfs is not None and _finite(dfs[name]):
            vals["df"] = float(dfs[name])
        if table is not None and t_col in table.columns:
            vals["t"] = float(table.loc[name, t_col])
        else:
            vals["t"] = float(fit.fixed[name] / se[name])
        if "df" in vals and table is not None and p_col in table.columns:
            vals["p"] = float(table.loc[name, p_col])
        fixed[str(name)] = {k: v for k, v in vals.items() if _finite(v)}

    random: dict[str, Any] = {}
    groups = {t.group for t in design.reterms}
    for _, row in fit.varcorr.iterrows():
        grp = str(row["grp"])
        split = re.fullmatch(r"(.*)\.\d+", grp)  # lme4 prints (x || g) as groups g and g.1
        if grp not in groups and split and split.group(1) in groups:
            grp = split.group(1)
        if grp == "Residual":
            random["Residual"] = {"variance": float(row["vcov"]), "sd": float(row["sdcor"])}
            continue
        v1, v2 = row["var1"], row["var2"]
        comps = random.setdefault(grp, {})
        if _missing(v2):
            entry = {"variance": float(row["vcov"]), "sd": float(row["sdcor"])}
            comps[str(v1)] = {k: v for k, v in entry.items() if _finite(v)}
        elif _finite(row["sdcor"]):
            comps[f"{v1}, {v2}"] = {"corr": float(row["sdcor"])}
    if "Residual" in random:  # print it last, as lme4 does
        random["Residual"] = random.pop("Residual")

    fitv: dict[str, Any] = {"loglik": float(fit.loglik)}
    if method == "REML" and fit.reml_criterion is not None:
        fitv["reml_criterion"] = float(fit.reml_criterion)
    elif fit.deviance is not None:
        fitv["deviance"] = float(fit.deviance)
    if fit.aic is not None:
        fitv["aic"] = float(fit.aic)
    if fit.bic is not None:
        # nlme's BIC of a REML fit counts n - p observations: a block with
        # software nlme is compared under nlme's definition (inference/fitstats.py)
        fitv["bic"] = float(fit.bic)
    fitv["nobs"] = int(fit.nobs)
    fitv["ngroups"] = {str(g): int(n) for g, n in fit.ngroups.items()}

    tests: dict[str, Any] = {}
    for k, other_formula in enumerate(compare_with, 1):
        from .engines.r.lme4 import anova_lrt
        from .runner import prepare_other

        if eng.name != "lme4":
            raise CaseError("likelihood-ratio references (--compare-with) are computed by the lme4 engine",
                            file=str(c.path))
        other_fit = eng.fit(prepare_other(c, other_formula), method)
        res = anova_lrt(fit, other_fit, refit)
        tests[f"lrt-{k}"] = {"compare_with": other_formula, "refit": bool(refit), **res}
    prov = extra.get("provenance") or {}
    options: dict[str, Any] = {"method": method}
    if df_method:
        options["df"] = df_method
    options["se"] = "model"
    block: dict[str, Any] = {
        "label": label or default_label(eng.name),
        "software": SOFTWARE.get(eng.name, "other"),
        "version": eng.version(),
        "call": prov.get("call") or extra.get("r_call") or f"{eng.name}: {design.formula}",
        "date": prov.get("date") or _now(),
        "options": options,
        "source": SOURCE,
        "values": {"fixed": fixed, "random": random, "fit": fitv, **({"tests": tests} if tests else {})},
    }
    if tests:
        block["call"] += "; " + "; ".join(
            f"anova(fit, lmer({t['compare_with']}), refit = {'TRUE' if refit else 'FALSE'})" for t in tests.values())
    return block


def make_inference_block(case: Case | str | Path, program: str, *, tight: bool = False) -> dict[str, Any]:
    """A reference block of pbkrtest's Kenward-Roger or clubSandwich's CR2 numbers.

    The case is fitted by lme4 (REML) in R, then ``pbkrtest::vcovAdj`` /
    ``Lb_ddf`` or ``clubSandwich::vcovCR(type = "CR2")`` / ``coef_test`` give
    each fixed effect's SE and df; the estimate is lme4's.
    """
    from .engines.r.lme4 import Lme4Engine, club_sandwich
    from .runner import prepare

    c = case if isinstance(case, Case) else load_case(case)
    if "unavailable" in c.data:
        raise CaseError("the case's data is not public, so no live reference can be computed",
                        file=str(c.path), line=c.line_of("data"), field="data.unavailable")
    if c.method != "REML":
        raise CaseError(f"{program} references are computed on REML fits; this case is fitted by {c.method}",
                        file=str(c.path), line=c.line_of("model", "method"), field="model.method")
    _, design, _ = prepare(c)
    eng = Lme4Engine(tight=tight)
    fit = eng.fit(design, "REML")
    if not fit.converged:
        raise FitError("lme4 did not converge on this case, so it is no reference: " + "; ".join(fit.messages),
                       file=str(c.path))
    if program == "pbkrtest":
        tab = eng.kenward_roger(fit)
        options = {"method": "REML", "df": "kenward-roger", "se": "kenward-roger"}
        call = "pbkrtest::vcovAdj(fit); pbkrtest::Lb_ddf(L, vcov(fit), vcovAdj(fit)) for each unit L"
    else:
        tab = club_sandwich(fit, "CR2")
        options = {"method": "REML", "df": "cr2-satterthwaite", "se": "cr2"}
        call = 'clubSandwich::vcovCR(fit, type = "CR2"); clubSandwich::coef_test(fit, vcov, test = "Satterthwaite")'
    prov = fit.extra.get("provenance") or {}
    fixed = {str(n): {"estimate": float(fit.fixed[n]), "se": float(tab.loc[n, "se"]), "df": float(tab.loc[n, "df"])}
             for n in fit.fixed.index}
    versions = eng.version()
    if program == "clubsandwich":
        from .engines.r.session import r_versions

        versions += "; clubSandwich " + str(r_versions(["clubSandwich"]).get("clubSandwich", "?"))
    return {
        "label": default_label(program),
        "software": SOFTWARE[program],
        "version": versions,
        "call": f"fit <- {prov.get('call') or fit.extra.get('r_call')}; {call}",
        "date": prov.get("date") or _now(),
        "options": options,
        "source": SOURCE,
        "values": {"fixed": fixed},
    }


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v == ""


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------ YAML text

_PLAIN = re.compile(r"^[A-Za-z_(][A-Za-z0-9_.()-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def number_text(x: float) -> str:
    """Shortest text of ``x`` that YAML (1.1, as PyYAML) reads back as the same float."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"cannot write {x!r} as a reference number")
    t = repr(x)
    if "e" in t:
        mant, exp = t.split("e")
        if "." not in mant:
            mant += ".0"
        sign = "-" if exp.startswith("-") else "+"
        t = f"{mant}e{sign}{exp.lstrip('+-')}"
    elif "." not in t:
        t += ".0"
    back = yaml.safe_load(t)
    if not isinstance(back, float) or back != x or math.copysign(1.0, back) != math.copysign(1.0, x):
        raise ValueError(f"{t!r} does not read back as {x!r}")
    return t


def _str(s: str) -> str:
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS:
        return s
    return json.dumps(s, ensure_ascii=True)  # a JSON string is a YAML double-quoted scalar


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return number_text(v)
    if isinstance(v, str):
        return _str(v)
    raise TypeError(f"cannot write {type(v).__name__} in a reference block")


def _flow(d: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{_str(str(k))}: {_scalar(v)}" for k, v in d.items()) + "}"


def _emit(d: Mapping[str, Any], indent: int, out: list[str], first_prefix: str | None = None) -> None:
    pad = " " * indent
    for i, (k, v) in enumerate(d.items()):
        lead = first_prefix if (i == 0 and first_prefix is not None) else pad
        key = _str(str(k))
        if isinstance(v, Mapping):
            if v and all(not isinstance(x, Mapping) for x in v.values()):
                out.append(f"{lead}{key}: {_flow(v)}")
            elif not v:
                out.append(f"{lead}{key}: {{}}")
            else:
                out.append(f"{lead}{key}:")
                _emit(v, indent + 2, out)
        else:
            out.append(f"{lead}{key}: {_scalar(v)}")


def block_text(block: Mapping[str, Any], dash_col: int | None = 2) -> str:
    """The block as YAML text: a sequence item at ``dash_col``, or a top-level mapping (None)."""
    return _block_text(block, dash_col)


def _block_text(block: Mapping[str, Any], dash_col: int | None = 2) -> str:
    out: list[str] = []
    if dash_col is None:
        _emit(block, 0, out)
    else:
        _emit(block, dash_col + 2, out, first_prefix=" " * dash_col + "- ")
    return "\n".join(out) + "\n"


# ------------------------------------------------------- comparing blocks

def _num(v: Any) -> float | None:
    if isinstance(v, Mapping):
        v = v.get("value")
    if isinstance(v, Printed):
        return None if v.bound else v.value
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def flatten_values(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"fixed.ses.estimate": 10.72, ...}`` from a block's ``values``."""
    out: dict[str, float] = {}
    for k, v in (values or {}).items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and "value" not in v:
            out.update(flatten_values(v, path))
        else:
            x = _num(v)
            if x is not None:
                out[path] = x
    return out


def value_changes(old: Mapping[str, Any], new: Mapping[str, Any], rtol: float = CHANGE_RTOL
                  ) -> tuple[ValueChange, ...]:
    """Values of two blocks' ``values`` that differ beyond ``rtol`` (relative)."""
    a, b = flatten_values(old), flatten_values(new)
    out: list[ValueChange] = []
    for key in list(a) + [k for k in b if k not in a]:
        x, y = a.get(key), b.get(key)
        if x is None or y is None or abs(y - x) > rtol * max(abs(x), abs(y)):
            out.append(ValueChange(key, x, y))
    return tuple(out)


def parse_versions(text: str) -> dict[str, str]:
    """``"R 4.2.2; lme4 1.1-31"`` -> ``{"R": "4.2.2", "lme4": "1.1-31"}``."""
    out: dict[str, str] = {}
    for part in str(text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, ver = part.partition(" ")
        out[name] = ver.strip()
    return out


def version_changes(old: str, new: str) -> dict[str, tuple[str, str]]:
    a, b = parse_versions(old), parse_versions(new)
    return {k: (a.get(k, ""), b.get(k, "")) for k in list(a) + [k for k in b if k not in a]
            if a.get(k, "") != b.get(k, "")}


# ---------------------------------------------------------- text edits

def _dash_line(lines: list[str], line: int) -> int:
    for k in range(min(line, len(lines) - 1), -1, -1):
        if re.match(r"^\s*-(\s|$)", lines[k]):
            return k
    return line


def _trim_end(lines: list[str], start: int, end: int) -> int:
    """Move ``end`` back over trailing blank and comment-only lines."""
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def edit_case_text(text: str, block: Mapping[str, Any], file: str = "<case>") -> tuple[str, bool]:
    """The case text with ``block`` added to ``expected`` or replacing the block of its label.

    Only the lines of the replaced block (or the new lines) change. Returns the
    new text and whether a block was replaced.
    """
    label = str(block["label"])
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl

    def item_text(dash_col: int | None) -> str:  # the block, with the file's line ends
        return _block_text(block, dash_col).replace("\n", nl)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise CaseError("a case file must be a mapping", file=file, line=1)
    seq = knode = None
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "expected":
            knode, seq = k, v
    if seq is None:
        return "".join(lines) + "expected:" + nl + item_text(2), False
    if not isinstance(seq, yaml.SequenceNode):
        raise CaseError("'expected' is not a list", file=file, line=seq.start_mark.line + 1, field="expected")
    if seq.flow_style:
        if seq.value:
            raise CaseError("'expected' is written as a flow list [...]; write it as a block list "
                            "('- label: ...' lines) to add a reference block", file=file,
                            line=seq.start_mark.line + 1, field="expected")
        dash = (knode.start_mark.column if knode is not None else 0) + 2
        start, end = seq.start_mark.index, seq.end_mark.index
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        new = text[:start].rstrip(" ") + text[end:line_end].rstrip() + nl + item_text(dash) \
            + text[line_end + 1:]
        return new, False
    items = list(seq.value)
    starts = [_dash_line(lines, it.start_mark.line) for it in items]
    seq_end = seq.end_mark.line + (1 if seq.end_mark.column > 0 else 0)
    seq_end = min(seq_end, len(lines))
    ends = starts[1:] + [seq_end]
    dash = len(lines[starts[0]]) - len(lines[starts[0]].lstrip(" "))
    labels = []
    for i, it in enumerate(items):
        lab = None
        if isinstance(it, yaml.MappingNode):
            for k, v in it.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "label" and isinstance(v, yaml.ScalarNode):
                    lab = v.value
        labels.append(lab)
    new_lines = item_text(dash).splitlines(keepends=True)
    if label in labels:
        i = labels.index(label)
        end = _trim_end(lines, starts[i], ends[i])
        return "".join(lines[:starts[i]] + new_lines + lines[end:]), True
    end = _trim_end(lines, starts[-1], ends[-1])
    return "".join(lines[:end] + new_lines + lines[end:]), False


# ------------------------------------------------------------- writing

#: Suffix of temporary files written beside case files: never ``.yaml``/``.yml``, so a
#: temporary file left by a killed run is not picked up as a second case.
TMP_SUFFIX = ".replicate-tmp"


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step, keeping the file's mode (new files: ``0666 & ~umask``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=str(path.parent))
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _check_same_values(written: Mapping[str, Any], block: Mapping[str, Any], file: str) -> None:
    a = flatten_values(written.get("values") or {})
    b = flatten_values(block.get("values") or {})
    if a != b:
        bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        raise CaseError(f"the written block does not read back as computed: {bad[:5]}", file=file)


def out_path(case: Case, block: Mapping[str, Any], out: str | Path) -> Path:
    """``OUT/<software>/<case id>.yaml``."""
    software = str(block["software"])
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", software) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", case.id):
        raise CaseError(f"cannot name a file after software {software!r} and case {case.id!r}", file=str(case.path))
    return Path(out) / software / f"{case.id}.yaml"


def existing_block(case_path: str | Path, label: str, *, out: str | Path | None = None,
                   software: str | None = None) -> dict[str, Any] | None:
    """The block labelled ``label`` that a write would replace, or None."""
    case = load_case(case_path)
    if out is None:
        for i, blk in enumerate(case.expected):
            if case.block_label(i) == label:
                return blk
        return None
    path = out_path(case, {"software": software or "other"}, out)
    if not path.exists():
        return None
    data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    return data if isinstance(data, dict) else {}


def write_reference(case_path: str | Path, block: Mapping[str, Any], *, out: str | Path | None = None,
                    force: bool = False) -> ReferenceWriteResult:
    """Add ``block`` to the case file, or write it to ``out/<software>/<case id>.yaml``.

    A block with the same label (or an existing file under ``out``) is
    replaced only with ``force=True``; otherwise nothing is written and the
    result's action is ``refused``. The case file's other text is kept as it
    is; the new file is validated with :func:`~replicate.case.load_case` (or,
    under ``out``, the block against the case schema) before it replaces the
    old one.

    Raises:
        CaseError: the case file is invalid, or the result would not validate.
    """
    case = load_case(case_path)
    label = str(block["label"])
    path = Path(case_path) if out is None else out_path(case, block, out)
    old = existing_block(case_path, label, out=out, software=str(block["software"]))
    changes: tuple[ValueChange, ...] = ()
    vchanges: dict[str, tuple[str, str]] = {}
    if old is not None:
        changes = value_changes(old.get("values") or {}, block.get("values") or {})
        vchanges = version_changes(str(old.get("version", "")), str(block.get("version", "")))
        if not force:
            return ReferenceWriteResult(path, label, "refused", changes, vchanges)
    if out is None:
        text = path.read_bytes().decode("utf-8")  # keep the file's line ends as they are
        new_text, replaced = edit_case_text(text, block, str(path))
        _validate_case_text(new_text, path, block)
    else:
        header = (f"# Reference block {label!r} for case {case.id!r} ({case.path.name}),\n"
                  f"# from a live run: replicate reference --engine ... (see 'call' and 'version').\n")
        new_text = header + block_text(block, None)
        data, _ = load_yaml(new_text, str(path))
        doc = dict(case.raw)
        doc["expected"] = [data]
        validate_document(doc, {}, str(path))
        _check_same_values(data, block, str(path))
        replaced = old is not None
    _atomic_write(path, new_text)
    return ReferenceWriteResult(path, label, "replaced" if replaced else "added", changes, vchanges)


def _validate_case_text(text: str, path: Path, block: Mapping[str, Any]) -> None:
    """Validate the new case text with load_case (from a file beside the case)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=TMP_SUFFIX, dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        try:
            case = load_case(tmp)
        except CaseError as exc:
            raise CaseError(f"adding the reference block would make the case invalid: {exc.message}",
                            file=str(path), line=exc.line, field=exc.field) from None
    finally:
        os.unlink(tmp)
    labels = [case.block_label(i) for i in range(len(case.expected))]
    blk = case.expected[labels.index(str(block["label"]))]
    _check_same_values(blk, block, str(path))


# -------------------------------------------------------------- command

def reference_command(case_path: str | Path, engine: str = "lme4", force: bool = False,
                      out: str | Path | None = None, *, tight: bool = False,
                      compare_with: Sequence[str] = (), refit: bool = True) -> tuple[int, str]:
    """``replicate reference CASE --engine lme4 [--force] [--out DIR]``.

    Returns the exit code and the text to print: 0 when the block was written,
    1 when a block with that label exists and ``force`` was not given (nothing
    is fitted or written), 2 when the case, the data or the engine fail.
    """
    try:
        label = default_label(engine)
        if not force:
            old = existing_block(case_path, label, out=out, software=SOFTWARE.get(engine, "other"))
            if old is not None:
                where = case_path if out is None else out_path(load_case(case_path),
                                                               {"software": SOFTWARE.get(engine, "other")}, out)
                return 1, (f"refused: {where} already has a reference block labelled {label!r}; "
                           "use --force to replace it")
        if engine in ("pbkrtest", "clubsandwich"):
            block = make_inference_block(case_path, engine, tight=tight)
            res = write_reference(case_path, block, out=out, force=force)
            return (1 if res.action == "refused" else 0), res.summary()
        eng_obj = None
        if tight:
            if engine != "lme4":
                return 2, "error: --tight applies to the lme4 engine only"
            from .engines.r.lme4 import Lme4Engine

            eng_obj = Lme4Engine(tight=True)
        block = make_reference_block(case_path, engine, engine=eng_obj, compare_with=compare_with, refit=refit)
        res = write_reference(case_path, block, out=out, force=force)
    except ReplicateError as exc:
        return 2, f"error: {exc}"
    return (1 if res.action == "refused" else 0), res.summary()
