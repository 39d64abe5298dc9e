"""Run cases: load, validate, fit, compare, one case at a time.

One bad case never stops a run: its error is recorded in its
:class:`CaseResult` and the run goes on with the next case.
"""

from __future__ import annotations

import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .case import Case, find_case_files, load_case
from .compare import AGREES, DISCREPANCY, EXPLAINED, NOT_COMPARABLE, WITHIN, ValueComparison
from .consistency import check_block
from .data import Frame, load_frame
from .design import Design, build_design
from .diagnose import Diagnosis, diagnose_block
from .engines import Engine, get_engine
from .errors import CaseError, DataError, FitError, ModelError, NotImplementedOption, ReplicateError
from .findings import Finding
from .fitguard import fit_failure, never_agree
from .hlm_entry import block_model_error, entry_checks
from .inference import Inference
from .quantities import block_method, check_block_names, compare_block
from .results import FitResult
from .spec import ModelSpec, parse_formula, parse_levels
from .vocab import Status

#: Case statuses, from best to worst.
OK = Status.OK
DISCREPANT = Status.DISCREPANT
SKIPPED = Status.SKIPPED
ERROR = Status.ERROR
INVALID = Status.INVALID


@dataclass
class BlockResult:
    """The comparison of one reference block."""

    label: str
    software: str
    version: str
    call: str
    source: str
    options: dict[str, Any]
    method: str
    values: list[ValueComparison] = field(default_factory=list)
    error: str | None = None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    consistency: list[Finding] = field(default_factory=list)

    @property
    def inconsistent(self) -> list[Finding]:
        return [f for f in self.consistency if not f.ok]

    @property
    def boundaries(self) -> list[Finding]:
        """Printed boundary (singular) fits: flags, not contradictions."""
        return [f for f in self.consistency if f.boundary]

    @property
    def status(self) -> str:
        if self.error:
            return INVALID
        if any(v.verdict == DISCREPANCY for v in self.values):
            return DISCREPANT
        return OK

    def counts(self) -> dict[str, int]:
        out = {AGREES: 0, WITHIN: 0, DISCREPANCY: 0, EXPLAINED: 0, NOT_COMPARABLE: 0}
        for v in self.values:
            out[v.verdict] += 1
        return out


@dataclass
class CaseResult:
    """Everything a run learned about one case."""

    path: str
    case_id: str
    title: str = ""
    status: str = OK
    error: str | None = None
    error_kind: str | None = None
    engine: str = ""
    engine_version: str = ""
    blocks: list[BlockResult] = field(default_factory=list)
    fits: dict[str, FitResult] = field(default_factory=dict)
    design: Design | None = None
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0


def build_spec(case: Case) -> ModelSpec:
    model = case.model
    try:
        if "formula" in model:
            return parse_formula(
                model["formula"], field="model.formula", fixed_only=bool(model.get("fixed_only", False))
            )
        return parse_levels(model["levels"], model["groups"], field="model.levels")
    except ModelError as exc:
        field_ = exc.field or "model"
        path = tuple(p for p in field_.split(".") if p)
        raise exc.located(file=str(case.path), line=case.line_of(*path)) from None


#: The frames of the last few cases: a likelihood-ratio test's other model, and the diagnosis's
#: refit under another coding, use the data the case's own model was built on instead of reading it again.
_FRAMES: OrderedDict[int, tuple[Case, Frame]] = OrderedDict()


def frame_of(case: Case) -> Frame:
    """The case's data after transforms and filter, read once per case object."""
    hit = _FRAMES.get(id(case))
    if hit is not None and hit[0] is case:
        _FRAMES.move_to_end(id(case))
        return hit[1]
    frame = load_frame(case)
    _FRAMES[id(case)] = (case, frame)
    while len(_FRAMES) > 4:
        _FRAMES.popitem(last=False)
    return frame


def prepare(case: Case, *, contrasts: str | None = None) -> tuple[ModelSpec, Design, list[str]]:
    """Case -> (spec, design, messages): data, transforms, model matrices."""
    spec = build_spec(case)
    frame = frame_of(case)
    try:
        design = build_design(
            spec,
            frame.df,
            contrasts=contrasts or case.model.get("contrasts", "treatment"),
            weights=case.model.get("weights"),
            file=str(case.path),
        )
    except ReplicateError as exc:
        raise exc.located(file=str(case.path), line=case.line_of("model")) from None
    return spec, design, list(frame.messages) + list(design.messages)


def prepare_other(case: Case, formula: str) -> Design:
    """Another model (an lme4 formula) on the case's data, transforms and filter."""
    spec = parse_formula(formula, field="compare_with")
    frame = frame_of(case)
    return build_design(
        spec,
        frame.df,
        contrasts=case.model.get("contrasts", "treatment"),
        weights=case.model.get("weights"),
        file=str(case.path),
    )


def prepare_with(case: Case, *, contrasts: str) -> Design:
    """The case's design under another contrast coding (for diagnosis)."""
    return prepare(case, contrasts=contrasts)[1]


def run_case(case_or_path: Case | str | Path, engine: Engine) -> CaseResult:
    """Run one case with ``engine``, never raising for problems of the case.

    Every exception inside the case becomes the case's error: the anticipated ones (a bad case,
    data or model; a fit that fails) as themselves, anything else (a recursion or memory limit, a
    bug) as invalid input naming the exception, so one case never stops a run.
    """
    t0 = time.perf_counter()
    try:
        return _run_case(case_or_path, engine)
    except Exception as exc:  # noqa: BLE001 - the rule: one case never stops the run
        path = str(case_or_path.path if isinstance(case_or_path, Case) else case_or_path)
        res = CaseResult(path=path, case_id=Path(path).stem, engine=engine.name)
        if isinstance(case_or_path, Case):
            res.case_id, res.title = case_or_path.id, case_or_path.title
        res.status, res.error_kind = INVALID, type(exc).__name__
        res.error = (
            f"{path}: this case could not be used: {type(exc).__name__}: {exc}"
            " (replicate did not expect this input; the case is skipped and the run goes on)"
        )
        res.seconds = time.perf_counter() - t0
        return res


def _run_case(case_or_path: Case | str | Path, engine: Engine) -> CaseResult:
    t0 = time.perf_counter()
    path = str(case_or_path.path if isinstance(case_or_path, Case) else case_or_path)
    res = CaseResult(path=path, case_id=Path(path).stem, engine=engine.name)
    try:
        case = case_or_path if isinstance(case_or_path, Case) else load_case(path)
    except CaseError as exc:
        res.status, res.error, res.error_kind = INVALID, str(exc), type(exc).__name__
        return res
    res.case_id, res.title = case.id, case.title
    if "unavailable" in case.data:
        res.status = SKIPPED
        res.messages.append(f"data not public: {case.data['unavailable']}")
        for i, blk in enumerate(case.expected):
            res.blocks.append(_block_shell(case, i))
        if any(b.error for b in res.blocks):  # a refused block model: the case file needs fixing
            res.status = INVALID
        res.seconds = time.perf_counter() - t0
        return res
    try:
        _, design, messages = prepare(case)
    except (CaseError, DataError, ModelError, NotImplementedOption) as exc:
        res.status, res.error, res.error_kind = INVALID, str(exc), type(exc).__name__
        res.seconds = time.perf_counter() - t0
        return res
    res.design = design
    res.messages.extend(messages)
    try:
        res.engine_version = engine.version()
    except Exception as exc:  # noqa: BLE001 - a version query must never lose a case
        res.engine_version = f"unknown ({exc})"
    inferences: dict[str, Inference] = {}  # one per fit: its df, SEs and Kenward-Roger shared by the blocks
    for i in range(len(case.expected)):
        blk = _block_shell(case, i)
        res.blocks.append(blk)
        try:
            check_block_names(case, i, design)
        except CaseError as exc:
            blk.error = str(exc)
            continue
        try:
            fit = res.fits.get(blk.method)
            if fit is None:
                fit = engine.fit(design, blk.method)
                res.fits[blk.method] = fit
                inferences[blk.method] = Inference(fit, design, refit=engine.fit)
            inf = inferences[blk.method]
            at_ref = None
            if (case.expected[i].get("options") or {}).get("optimum") == "reference":
                fit, at_ref, corners = at_reference_optimum(case, i, fit, design, engine)
                inf = Inference(fit, design, refit=engine.fit)  # the fit at the printed variance components
                blk.values = within_rounding(
                    compare_block(case, i, fit, design, fitter=engine.fit, inference=inf),
                    [compare_block(case, i, f, design, fitter=engine.fit) for f in corners],
                )
            else:
                blk.values = compare_block(case, i, fit, design, fitter=engine.fit, inference=inf)
            blk.diagnoses = diagnose_block(case, i, blk.values, fit, design, engine, inference=inf)
            if at_ref is not None:
                blk.diagnoses.insert(0, at_ref)
            failure = fit_failure(fit, engine.name)
            if failure:  # issue #14: a failed fit is never agreement
                blk.error = failure
                blk.values = never_agree(blk.values, "compared against a fit that did not converge")
        except (FitError, NotImplementedOption) as exc:
            blk.error = f"{engine.name} could not fit the model: {exc}"
        except ReplicateError as exc:
            blk.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - an engine bug must not lose the other cases
            blk.error = f"internal error in engine {engine.name!r}: {exc!r}\n" + traceback.format_exc(limit=3)
    if not case.expected:
        try:
            res.fits[case.method] = engine.fit(design, case.method)
        except ReplicateError as exc:
            res.status, res.error = ERROR, str(exc)
    res.status = _case_status(res)
    res.seconds = time.perf_counter() - t0
    return res


def at_reference_optimum(
    case: Case, i: int, fit: FitResult, design: Design, engine: Engine
) -> tuple[FitResult, Diagnosis, list[FitResult]]:
    """The fit at block ``i``'s own variance components (``options.optimum: reference``).

    For a program known to stop before the optimum: every number of the block
    is then computed at the variance components it printed, and the gap to the
    engine's optimum is reported with the block. Also returns the fits at the
    corners of the box the printed variance components round from (see
    :func:`replicate.diagnose.reference_theta_box`).
    """
    from .diagnose import reference_theta, reference_theta_box
    from .engine.fit import fit_at

    block = case.expected[i]
    if engine.name != "native":
        raise NotImplementedOption(
            "options.optimum: reference is evaluated by the native engine only", hint="run with --engine native"
        )
    ref = reference_theta(block, design)
    if ref is None:
        raise CaseError(
            f"{case.path}: expected[{i}] ({case.block_label(i)}) sets options.optimum: reference "
            "but does not print every variance component (each random term and the residual)",
            hint="give values.random for every term, or drop options.optimum",
        )
    at = fit_at(design, fit.method, ref[0], like=fit)
    gap = fit.loglik - at.loglik
    crit = "REML log-likelihood" if fit.method == "REML" else "log-likelihood"
    text = (
        f"compared at {block['software']}'s own variance components (options.optimum: reference): they lie "
        f"{gap:.3g} {crit} units {'below' if gap >= 0 else 'above'} the engine's optimum"
    )
    corners = []
    for th in reference_theta_box(block, design):
        try:
            corners.append(fit_at(design, fit.method, th, like=fit))
        except FitError:
            continue
    return (
        at,
        Diagnosis(
            "at the reference's optimum",
            (),
            text,
            {"loglik_engine": fit.loglik, "loglik_at_reference": at.loglik, "gap": gap},
        ),
        corners,
    )


def within_rounding(center: list[ValueComparison], corners: list[list[ValueComparison]]) -> list[ValueComparison]:
    """A value that differs at the printed variance components, but whose printed value lies within
    the range the engine's value takes over the box those components round from (its centre and
    corners), agrees within tolerance: the program's own variance components may have been there."""
    from dataclasses import replace

    from .compare import printed_unit
    from .printed import Printed

    out = []
    for k, v in enumerate(center):
        if v.verdict == DISCREPANCY and v.engine is not None and corners:
            vals = [v.engine] + [
                c[k].engine
                for c in corners
                if k < len(c) and c[k].name == v.name and c[k].quantity == v.quantity and c[k].engine is not None
            ]
            lo, hi = min(vals), max(vals)
            ref = Printed(v.reference_value, v.reference)
            half = 0.5 * (printed_unit(ref) or 0.0)
            bound = v.reference.lstrip()[:1] in ("<", ">")  # a printed bound is not a rounded number
            if not bound and ref.value + half >= lo and ref.value - half <= hi:
                v = replace(
                    v,
                    verdict=WITHIN,
                    note=(v.note + "; " if v.note else "")
                    + f"within the range {lo:.6g} to {hi:.6g} the engine's value takes over the "
                    "rounding of the printed variance components",
                )
        out.append(v)
    return out


def _block_shell(case: Case, i: int) -> BlockResult:
    blk = case.expected[i]
    method = block_method(case, i)
    return BlockResult(
        label=case.block_label(i),
        software=blk["software"],
        version=str(blk.get("version", "")),
        call=str(blk.get("call", "")),
        source=str(blk.get("source", "")),
        options=dict(blk.get("options") or {}),
        method=method,
        consistency=check_block(blk["values"], method, blk.get("software")) + entry_checks(case, i),
        error=block_model_error(case, i),
    )


def _case_status(res: CaseResult) -> str:
    if res.error:
        return res.status if res.status in (INVALID, ERROR) else ERROR
    if any(b.error and "could not fit" in b.error or (b.error or "").startswith("internal error") for b in res.blocks):
        return ERROR
    if any(b.error for b in res.blocks):
        return INVALID
    if any(b.status == DISCREPANT for b in res.blocks):
        return DISCREPANT
    return OK


def select(cases: list[Path], expr: str | None, loaded: dict[Path, Case | Exception]) -> list[Path]:
    """Keep cases whose id, title or tags match a ``-k`` expression."""
    if not expr:
        return cases
    from .keyword import matches

    out = []
    for p in cases:
        c = loaded.get(p)
        words = [p.stem]
        if isinstance(c, Case):
            words += [c.id, c.title, *c.tags]
        if matches(expr, words):
            out.append(p)
    return out


def run_cases(
    paths: Iterable[str | Path],
    engine: str | Engine = "native",
    *,
    keyword: str | None = None,
    progress: Callable[[int, int, CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run every case under ``paths`` (files or folders) with one engine.

    Two files with the same case id are both invalid (neither is run).
    """
    from .case_ids import duplicate_ids

    eng = get_engine(engine) if isinstance(engine, str) else engine
    files = find_case_files(list(paths))
    loaded: dict[Path, Case | Exception] = {}
    for f in files:
        try:
            loaded[f] = load_case(f)
        except CaseError as exc:
            loaded[f] = exc
    files = select(files, keyword, loaded)
    dups = duplicate_ids(loaded)
    results = []
    for k, f in enumerate(files):
        c = loaded.get(f)
        if f in dups:
            r = CaseResult(
                path=str(f),
                case_id=c.id if isinstance(c, Case) else f.stem,
                status=INVALID,
                error=dups[f],
                error_kind="CaseError",
                engine=eng.name,
            )
        else:
            r = run_case(c if isinstance(c, Case) else f, eng)
        results.append(r)
        if progress:
            progress(k + 1, len(files), r)
    return results


def exit_code(results: list[CaseResult]) -> int:
    """0 when everything agrees, 2 on invalid input, else 1."""
    if any(r.status == INVALID for r in results):
        return 2
    if any(r.status in (DISCREPANT, ERROR) for r in results):
        return 1
    return 0
