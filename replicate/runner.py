"""Run cases: load, validate, fit, compare, one case at a time.

One bad case never stops a run: its error is recorded in its
:class:`CaseResult` and the run goes on with the next case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .block_stage import block_shell, run_block
from .build import prepare
from .case import Case, load_case
from .engines import Engine, get_engine
from .errors import CaseError, DataError, ModelError, NotImplementedOption, ReplicateError
from .glmm_stage import run_glmm_case
from .outcome import DISCREPANT, ERROR, INVALID, OK, SKIPPED, CaseResult
from .rside_stage import is_repeated_measures, run_rside_case
from .selection import plan_run

if TYPE_CHECKING:  # the blocks' stage makes them; the runner only keeps them per fit
    from .inference import Inference


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
        for blk in case.blocks:
            res.blocks.append(block_shell(case, blk.index))
        if any(b.error for b in res.blocks):  # a refused block model: the case file needs fixing
            res.status = INVALID
        res.seconds = time.perf_counter() - t0
        return res
    native_only = {  # issues #16 (SAS's REPEATED or mmrm's covariance term), #17 (GLMMs)
        run_rside_case: is_repeated_measures(case),
        run_glmm_case: "family" in case.model,
    }
    for run, chosen in native_only.items():
        if chosen:
            run(case, engine, res)
            res.status, res.seconds = _case_status(res), time.perf_counter() - t0
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
    for blk in case.blocks:
        res.blocks.append(run_block(case, blk.index, design, engine, res.fits, inferences))
    if not case.blocks:
        try:
            res.fits[case.method] = engine.fit(design, case.method)
        except ReplicateError as exc:
            res.status, res.error = ERROR, str(exc)
    res.status = _case_status(res)
    res.seconds = time.perf_counter() - t0
    return res


def _case_status(res: CaseResult) -> str:
    if res.error:
        return res.status if res.status in (INVALID, ERROR) else ERROR
    if any(b.error_status == ERROR for b in res.blocks):  # a fit failed, or the engine failed
        return ERROR
    if any(b.error for b in res.blocks):
        return INVALID
    if any(b.status == DISCREPANT for b in res.blocks):
        return DISCREPANT
    return OK


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

    eng = get_engine(engine) if isinstance(engine, str) else engine
    files, loaded, dups = plan_run(paths, keyword)
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
