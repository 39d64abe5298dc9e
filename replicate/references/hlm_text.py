"""HLM2 output (HLM 6 and 7, the text file or a copy of the HTML page).

Reads
  * ``Final estimation of fixed effects`` and the same table ``(with robust
    standard errors)``: ``For INTRCPT1, β0`` lines give the level-1
    coefficient, rows ``INTRCPT2, γ00  coefficient  se  t-ratio  d.f.  p``;
  * ``Final estimation of variance components``: rows ``INTRCPT1, u0  sd
    variance  d.f.  χ2  p`` and ``level-1, r  sd  variance``;
  * the numbers of units: ``Run-time deletion has reduced the number of
    level-1 records to N`` if printed, else ``The maximum number of level-1
    units`` (all units are used); the level-2 count only without run-time
    deletion;
  * ``Random level-1 coefficient  Reliability estimate``;
  * ``Deviance = ...``, ``Number of estimated parameters = ...``,
    ``σ2 = ...``, ``The value of the log-likelihood function at iteration
    k = ...``, ``Method of estimation: ...``, ``The outcome variable is ...``,
    the numbers of level-1 and level-2 units.

Rows may be on one line or one cell per line (as copied from HLM 7's HTML
output), with Greek letters (γ, β, u, χ2) or HLM 6's letters (G, B, U,
Chi-square), and a header split over lines.

Names as printed: fixed effects under their row label (``INTRCPT2, γ00``,
``URBAN_LE, γ01``), except that the ``INTRCPT2`` row of a slope's equation is
named by the slope (``URBAN slope, γ10``: the printed ``INTRCPT2, γ10`` only
says which equation through its subscript); the ``For`` line of every row is in
``model_info["hlm_fixed_terms"]``. Variance components of the level-2 units go
under the group ``level-2`` and the coefficient's name, without the comma and
symbol (``random["level-2"]["INTRCPT1"]``, ``["URBAN slope"]``, with sd,
variance, df, chisq, p and the reliability when printed): a comma in a
component's name would read as a correlation pair. ``level-1, r`` is the
residual. HLM prints no name for the level-2 grouping variable. See
:mod:`replicate.references.names` to map the names to lme4's.

Under REML, HLM's deviance is -2 times the restricted log-likelihood: it goes
to ``fit.reml_criterion``; under ML to ``fit.deviance``; when the method is
not printed, only to ``tables["Statistics"]``.
"""

from __future__ import annotations

import re

from ..errors import ReferenceError_
from .numbers import (
    NUMBER,
    Line,
    Section,
    cells,
    collapse,
    find_sections,
    is_cell,
    is_ruler,
    line_index,
    parse_number,
    prepare,
    tokens,
)
from .printout import Builder, ParsedPrintout

EXPECTED = "'Final estimation of fixed effects', 'Final estimation of variance components'"
GROUP = "level-2"

_I = re.IGNORECASE
PATTERNS = [
    ("fixed", re.compile(r"^Final estimation of fixed effects\b", _I)),
    ("varcomp", re.compile(r"^Final estimation of (?:level-1 and level-2 )?variance components\b", _I)),
    ("reliability", re.compile(r"^Random level-1 coefficient\b", _I)),
    ("statistics", re.compile(r"^Statistics for (?:the )?current covariance components model", _I)),
    (
        "other",
        re.compile(
            r"^(?:Final Results|Iterations stopped|The value of the|Summary of the model|"
            r"Level-1 Model|Level-2 Model|Mixed Model|The outcome variable is|Tau\b|τ|"
            r"Variance-Covariance components test|Results of General Linear Hypothesis|"
            r"Specifications for this|The model specified for|Weighting Specification|"
            r"Level-1 OLS regressions|Least Squares estimates|The maximum number of)",
            _I,
        ),
    ),
]
_COUNTED = {"fixed", "varcomp", "reliability", "statistics"}

_NAME = r"(?:level-1|level-2|[A-Za-z_][A-Za-z0-9_.]*(?:\s+slope)?)"
_SYMBOL = r"[^\s,0-9<>+\-.][^\s,]*"
_FOR = re.compile(rf"^For\s+(?P<name>{_NAME})\s*,\s*(?P<sym>{_SYMBOL})\s*$", _I)
_LABEL = re.compile(rf"^(?P<name>{_NAME})\s*,\s*(?P<sym>{_SYMBOL})(?:\s+(?P<rest>.*))?$", _I)

_GLOBAL = [
    ("Deviance", re.compile(rf"^Deviance\s*=\s*(?P<v>{NUMBER})\s*$", _I)),
    ("Number of estimated parameters", re.compile(rf"^Number of estimated parameters\s*=\s*(?P<v>{NUMBER})\s*$", _I)),
    ("sigma2", re.compile(rf"^(?:σ2|σ\^2|sigma\^2|sigma_squared|sigma squared)\s*=\s*(?P<v>{NUMBER})\s*$", _I)),
    (
        "log-likelihood",
        re.compile(
            rf"^The value of the (?:log-)?likelihood function at iteration\s+(?P<it>\d+)\s*="
            rf"\s*(?P<v>{NUMBER})\s*$",
            _I,
        ),
    ),
    ("level-1 units", re.compile(r"^The maximum number of level-1 units\s*=\s*(?P<v>[0-9]+)\s*$", _I)),
    ("level-2 units", re.compile(r"^The maximum number of level-2 units\s*=\s*(?P<v>[0-9]+)\s*$", _I)),
    (
        "level-1 records used",
        re.compile(
            r"^Run-time deletion has reduced the number of level-1 records to\s*"
            r"(?P<v>[0-9]+)",
            _I,
        ),
    ),
]


def parse(text: str, software: str = "hlm", *, first_line: int = 1) -> ParsedPrintout:
    """Parse HLM2 output (see the module docstring); ``first_line`` numbers the text's first line."""
    lines = prepare(text, first_line=first_line)
    b = Builder(software)
    stats: dict[str, object] = {}
    for ln in lines:
        _global_line(ln, b, stats)
    seen: dict[str, int] = {}
    fixed_tables: list[tuple[bool, Section]] = []
    for sec in find_sections(lines, PATTERNS):
        if sec.kind in _COUNTED:
            b.sections += 1
        if sec.kind == "fixed":
            robust = _is_robust(sec)
            key = "fixed robust" if robust else "fixed"
            _once(key, sec, seen)
            fixed_tables.append((robust, sec))
        elif sec.kind == "varcomp":
            _once("varcomp", sec, seen)
            _varcomp(sec, b)
        elif sec.kind == "reliability":
            _once("reliability", sec, seen)
            _reliability(sec, b)
    has_model_based = any(not r for r, _s in fixed_tables)
    for robust, sec in fixed_tables:
        if robust and has_model_based:
            _fixed(sec, b, table="Fixed Effects (robust standard errors)")
        else:
            _fixed(sec, b, table=None)
            if robust:
                b.set_info("se", "robust")
                b.set_info("fixed_effects_se", "with robust standard errors")
        if not robust:
            b.set_info("se", "model")
    _finish(b, stats)
    return b.build("HLM2", EXPECTED)


def _once(key: str, sec: Section, seen: dict[str, int]) -> None:
    if key in seen:
        raise ReferenceError_(
            f"the text holds more than one '{sec.title.stripped}' table (line {sec.title.no}; the first at line "
            f"{seen[key]})",
            line=sec.title.no,
            hint="paste one HLM run per file, or use parse_printouts()",
        )
    seen[key] = sec.title.no


_STOP = re.compile(r"^(?:Deviance|Number of estimated parameters)\s*=", _I)


def part_starts(lines: list[Line]) -> list[int]:
    """Indices of the lines where a new HLM run's output begins.

    A run begins where a table printed once per run appears again; the lines
    just before it that belong to no table of the previous run (the new run's
    σ2, τ, reliabilities, method, outcome) go with it.
    """
    starts = [0]
    seen: set[str] = set()
    sections = find_sections(lines, PATTERNS)
    kind_at: dict[int, str] = {}
    for sec in sections:
        first = line_index(lines, sec.title)
        for k in range(first, first + len(sec.lines)):
            kind_at[k] = sec.kind
    for sec in sections:
        if sec.kind not in _COUNTED:
            continue
        key = sec.kind + (" robust" if sec.kind == "fixed" and _is_robust(sec) else "")
        if key in seen:
            j = line_index(lines, sec.title) - 1
            while j > starts[-1]:
                s = collapse(lines[j].stripped)
                if _STOP.match(s):
                    break
                if (
                    kind_at.get(j) in ("fixed", "varcomp")
                    and s
                    and (_LABEL.match(s) or all(is_cell(t) for t in tokens(s)))
                ):
                    break
                j -= 1
            if j + 1 > starts[-1]:
                starts.append(j + 1)
            seen = set()
        seen.add(key)
    return starts


def _is_robust(sec: Section) -> bool:
    texts = [sec.title.stripped] + [ln.stripped for ln in sec.body if ln.stripped][:2]
    return any(re.search(r"robust\s+standard\s+errors", t, _I) for t in texts)


def _global_line(ln: Line, b: Builder, stats: dict[str, object]) -> None:
    s = collapse(ln.stripped)
    if not s:
        return
    m = re.match(r"^Module:\s*(?P<m>HLM\w*)", s, _I)
    if m:
        b.set_info("module", s.split(":", 1)[1].strip())
        if re.match(r"HLM[3-9]", m.group("m"), _I):
            raise ReferenceError_(
                f"{m.group('m')} output (more than two levels) is not supported",
                line=ln.no,
                hint="only HLM2 output is read",
            )
        return
    m = re.match(r"^Method of estimation:\s*(?P<m>.+)$", s, _I)
    if m:
        text = m.group("m").strip()
        b.set_info("estimation", text)
        if re.search(r"restricted", text, _I):
            b.set_info("method", "REML")
        elif re.search(r"full maximum likelihood|^maximum likelihood", text, _I):
            b.set_info("method", "ML")
        return
    m = re.match(r"^The outcome variable is\s+(?P<y>\S+)", s, _I)
    if m:
        b.set_info("outcome", m.group("y"))
        return
    for name, rx in _GLOBAL:
        m = rx.match(s)
        if m:
            v = parse_number(m.group("v"))
            if v is not None and name not in stats:
                stats[name] = v
                b.add_cell("Statistics", name, "value", v)
                if name == "log-likelihood":
                    b.set_info("loglik_iteration", m.group("it"))
            return


def _rows(sec: Section, b: Builder, counts: tuple[int, ...]) -> list[tuple[Line, str | None, str, str, list]]:
    """Rows of an HLM table: (line, For-context, name, symbol, values).

    A row is a label ``NAME, symbol`` followed by numbers on the same line or
    on the following lines. Lines before the first row are the header; a line
    that is neither a label, a ``For`` line nor numbers ends the table.
    """
    out: list[tuple[Line, str | None, str, str, list]] = []
    context: str | None = None
    pending: list = []  # [line, context, name, sym, [tokens]]
    started = False

    def flush() -> None:
        if not pending:
            return
        ln, ctx, name, sym, vals = pending
        pending.clear()
        if len(vals) not in counts:
            b.skip(ln, f"{name}, {sym}: expected {' or '.join(map(str, counts))} numbers, found {len(vals)}")
            return
        out.append((ln, ctx, name, sym, cells(vals)))

    held: list[Line] = []  # text after a row: past the table, unless another row follows

    def inside() -> None:
        for h in held:
            b.skip(h, "a line of text inside the table (the rows after it are read)")
        held.clear()

    for ln in sec.body:
        s = ln.stripped
        if not s or is_ruler(s):
            continue
        m = _FOR.match(collapse(s))
        if m:
            flush()
            inside()
            context = collapse(m.group("name"))
            started = True
            continue
        m = _LABEL.match(collapse(s))
        if m:
            rest = tokens(m.group("rest") or "")
            if all(is_cell(t) for t in rest):
                flush()
                inside()
                pending[:] = [ln, context, collapse(m.group("name")), m.group("sym"), rest]
                started = True
                continue
        toks = tokens(s)
        if toks and all(is_cell(t) for t in toks):
            if held:
                break  # numbers after text: another table, past this one
            if pending:
                pending[4].extend(toks)
            elif started:
                b.skip(ln, "numbers without a row label")
            continue
        if started:
            flush()
            held.append(ln)
    flush()
    return out


def _fixed(sec: Section, b: Builder, table: str | None) -> None:
    terms = b.info.setdefault("hlm_fixed_terms", {}) if table is None else {}
    for ln, ctx, name, sym, vals in _rows(sec, b, (5,)):
        key = f"{name}, {sym}"
        q = dict(zip(("estimate", "se", "t", "df", "p"), vals))
        if ctx is not None and name.upper() == "INTRCPT2" and re.search(r"\sslope$", ctx, _I):
            key = f"{ctx}, {sym}"  # the slope's own coefficient: 'URBAN slope, γ10'
        if table is not None:
            for k, v in q.items():
                b.add_cell(table, key, k, v)
            continue
        if key in b.fixed and ctx is not None:
            key = f"{ctx}: {key}"
        b.add_fixed(ln, key, q)
        terms[key] = {"equation": ctx, "predictor": name, "symbol": sym}


def _varcomp(sec: Section, b: Builder) -> None:
    for ln, _ctx, name, sym, vals in _rows(sec, b, (2, 5)):
        label = f"{name}, {sym}"
        q = dict(zip(("sd", "variance", "df", "chisq", "p"), vals))
        for k, v in q.items():
            b.add_cell("Variance Components", label, k, v)
        if name.lower() == "level-1":
            b.add_residual(ln, {"sd": q["sd"], "variance": q["variance"]})
        else:
            b.add_random(ln, GROUP, name, q)


def _reliability(sec: Section, b: Builder) -> None:
    for _ln, _ctx, name, sym, vals in _rows(sec, b, (1,)):
        b.add_cell("Reliability", f"{name}, {sym}", "reliability", vals[0])


def _finish(b: Builder, stats: dict[str, object]) -> None:
    comps = b.random.get(GROUP, {})
    for label, cols in b.tables.get("Reliability", {}).items():
        coef = re.sub(r"\s+slope$", "", label.split(",")[0].strip(), flags=_I).lower()
        hits = [c for c in comps if re.sub(r"\s+slope$", "", c, flags=_I).lower() == coef]
        if len(hits) == 1:
            comps[hits[0]].setdefault("reliability", cols["reliability"])
    method = b.info.get("method")
    dev = stats.get("Deviance")
    if dev is not None:
        if method == "REML":
            b.add_fit("reml_criterion", dev)  # type: ignore[arg-type]
        elif method == "ML":
            b.add_fit("deviance", dev)  # type: ignore[arg-type]
        else:
            b.note(
                "the deviance is in tables['Statistics'] only: the estimation method (REML or ML) is not "
                "printed, and HLM's deviance is -2 times the REML log-likelihood under REML"
            )
    ll = stats.get("log-likelihood")
    if ll is not None:
        b.add_fit("loglik", ll)  # type: ignore[arg-type]
    used = stats.get("level-1 records used")
    n1 = stats.get("level-1 units")
    if used is not None:
        b.add_fit("nobs", used)  # type: ignore[arg-type]
        if stats.get("level-2 units") is not None:
            b.note(
                "run-time deletion removed level-1 records, so the number of level-2 units used is not "
                "printed; 'The maximum number of level-2 units' is in tables['Statistics']"
            )
    else:
        if n1 is not None:
            b.add_fit("nobs", n1)  # type: ignore[arg-type]
        n2 = stats.get("level-2 units")
        if n2 is not None:
            b.add_ngroups(GROUP, n2)  # type: ignore[arg-type]
