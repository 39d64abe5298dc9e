"""Run cases: load, validate, fit, compare, one case at a time.

One bad case never stops a run: its error is recorded in its
:class:`CaseResult` and the run goes on with the next case.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from .build import prepare
from .case import Case, find_case_files, load_case
from .consistency import check_block
from .diagnose import diagnose_block
from .engines import Engine, get_engine
from .errors import CaseError, DataError, FitError, ModelError, NotImplementedOption, ReplicateError
from .fitguard import fit_failure, never_agree
from .hlm_entry import block_model_error, entry_checks
from .inference import Inference
from .optimum import at_reference_optimum, within_rounding
from .outcome import DISCREPANT, ERROR, INVALID, OK, SKIPPED, BlockResult, CaseResult
from .quantities import block_method, check_block_names, compare_block


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
