"""Run a Monte Carlo study: chunks of replicates, saved as they finish, then the reports.

Layout of the output folder::

    <out>/study.json                 the validated study and its fingerprint
    <out>/chunks/chunk-00012.json    the records of replicates 12*c .. 12*c + c - 1
    <out>/results.json               every table, with Monte Carlo SEs
    <out>/results.md                 the same as Markdown
    <out>/report.html                tables and SVG plots, self-contained

Each chunk file is written atomically when its chunk finishes, so a study that
is interrupted (Ctrl-C, a lost worker, a killed job) resumes where it stopped:
run it again with the same output folder and only the missing chunks are
computed. A chunk file is used only if its study fingerprint (seed, design,
truth, methods, chunk size), its replicate range and the version of the code
that computed it (:mod:`replicate.simulate.codeversion`: replicate, the engine,
numpy, scipy and the source of the modules a replicate runs through) match;
raising ``replicates`` keeps the finished chunks, and chunks of older code are
computed again (counted as ``stale``). Each replicate draws from its own
seeded stream (:mod:`replicate.simulate.generate`), so the results do not
depend on the chunking, the executor or the number of workers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..report import remove_stale, write_atomic
from ..version import __version__
from . import codeversion
from .config import Study, StudyError, load_study
from .executors import make_executor
from .report import render_json, render_markdown
from .report_html import render_html
from .summary import Summary, summarize
from .worker import run_chunk

FORMAT = 1
Progress = Callable[[int, int], None]


@dataclass
class StudyResult:
    """What :func:`run_study` did and found.

    Attributes:
        study: the validated study.
        out_dir: the output folder.
        summary: every result table (bias, RMSE, coverage, Type I error / power,
            each with its Monte Carlo SE).
        records: per-replicate numbers, in replicate order.
        computed: replicates computed in this run.
        resumed: replicates read back from chunk files of an earlier run.
        stale: replicates of an earlier run computed by other code (another
            engine or replicate version, or changed source), computed again.
        seconds: wall time of this run.
        executor: where the chunks ran.
        files: report name -> path.
    """

    study: Study
    out_dir: Path
    summary: Summary
    records: list[dict[str, Any]]
    computed: int
    resumed: int
    seconds: float
    executor: str
    files: dict[str, Path] = field(default_factory=dict)
    stale: int = 0

    @property
    def replicates(self) -> int:
        return len(self.records)


def chunk_ranges(study: Study) -> list[tuple[int, int, int]]:
    """``(index, start, stop)`` of every chunk."""
    n = math.ceil(study.replicates / study.chunk_size)
    return [(i, i * study.chunk_size, min((i + 1) * study.chunk_size, study.replicates)) for i in range(n)]


def chunk_path(out: Path, index: int) -> Path:
    return out / "chunks" / f"chunk-{index:05d}.json"


def _write(path: Path, text: str) -> None:
    write_atomic(path, text)


def _read_chunk(
    path: Path, study: Study, start: int, stop: int, code: str | None = None
) -> list[dict[str, Any]] | None:
    """The records of a finished chunk, or None if the file is absent, damaged, from another study
    or (when ``code`` is given) computed by another version of the code."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("fingerprint") != study.fingerprint():
        return None
    if code is not None and doc.get("code") != code:
        return None
    recs = doc.get("records")
    if (
        doc.get("start") != start
        or doc.get("stop") != stop
        or not isinstance(recs, list)
        or [r.get("r") for r in recs] != list(range(start, stop))
    ):
        return None
    return recs


def _prepare_out(out: Path, study: Study) -> None:
    """Create the folder; refuse one that holds chunks of a different study; remove temporary files of
    killed runs."""
    out.mkdir(parents=True, exist_ok=True)
    for folder in (out, out / "chunks"):
        remove_stale(folder)
    meta = out / "study.json"
    if meta.exists():
        try:
            old = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if (
            old.get("fingerprint")
            and old["fingerprint"] != study.fingerprint()
            and any((out / "chunks").glob("chunk-*.json"))
        ):
            raise StudyError(
                f"{out} holds the chunks of another study ({old.get('id', '?')}, fingerprint "
                f"{old['fingerprint']}); this one's fingerprint is {study.fingerprint()}",
                field="out",
                hint="choose another output folder, or delete its chunks/ folder to start over",
            )
    _write(
        meta,
        json.dumps(
            {
                "format": FORMAT,
                "id": study.id,
                "fingerprint": study.fingerprint(),
                "study": study.to_dict(),
                "source": study_payload(study),
            },
            indent=1,
            default=str,
        )
        + "\n",
    )


def study_payload(study: Study) -> dict[str, Any]:
    """What workers receive: the document as given (validated again there, to the same Study)."""
    return dict(study.raw) if study.raw else study.to_dict()


def run_study(
    source: str | Path | Mapping[str, Any] | Study,
    out_dir: str | Path,
    *,
    executor: str = "local",
    scheduler: Any = None,
    workers: int | None = None,
    progress: Progress | None = None,
    write_reports: bool = True,
) -> StudyResult:
    """Run (or resume) a Monte Carlo study and write its reports.

    Args:
        source: a study YAML file, the same as a mapping, or a :class:`Study`.
        out_dir: output folder (chunks, results, reports).
        executor: ``"local"`` (worker processes, the default), ``"dask"`` or
            ``"serial"`` (this process; for debugging).
        scheduler: Dask scheduler address, ``distributed.Client`` or cluster
            object; implies ``executor="dask"``. With ``executor="dask"`` and no
            scheduler, a LocalCluster is started and closed here.
        workers: worker processes (local, or the Dask LocalCluster; with a Dask
            scheduler: wait for this many workers). Default: the usable cores.
        progress: called as ``progress(done, total)`` (replicates) once at the
            start, counting those resumed from earlier runs, and after every chunk.
        write_reports: write results.json, results.md and report.html.

    Raises:
        StudyError: invalid study, or an output folder of another study.
    """
    t0 = time.perf_counter()
    study = source if isinstance(source, Study) else load_study(source)
    out = Path(out_dir)
    _prepare_out(out, study)

    code = codeversion.code_version()
    done: dict[int, list[dict[str, Any]]] = {}
    todo: list[tuple[int, int, int]] = []
    stale = 0
    for i, start, stop in chunk_ranges(study):
        recs = _read_chunk(chunk_path(out, i), study, start, stop, code)
        if recs is None:
            todo.append((i, start, stop))
            if _read_chunk(chunk_path(out, i), study, start, stop) is not None:
                stale += stop - start
        else:
            done[i] = recs
    resumed = sum(len(v) for v in done.values())
    total = study.replicates
    count = resumed
    if progress:
        progress(count, total)

    ex = make_executor(executor, scheduler, workers)
    payload = study_payload(study)
    fp = study.fingerprint()
    try:
        tasks = [((i, start, stop), (payload, start, stop)) for i, start, stop in todo]
        for (i, start, stop), result in ex.run(run_chunk, tasks):
            doc = {
                "format": FORMAT,
                "study": study.id,
                "fingerprint": fp,
                "code": code,
                "chunk": i,
                "start": start,
                "stop": stop,
                "seconds": result["seconds"],
                "records": result["records"],
            }
            _write(chunk_path(out, i), json.dumps(doc, separators=(",", ":")) + "\n")
            done[i] = result["records"]
            count += stop - start
            if progress:
                progress(count, total)
    finally:
        ex.close()

    records = [r for i in sorted(done) for r in done[i]]
    summary = summarize(study, records)
    seconds = time.perf_counter() - t0
    result = StudyResult(
        study=study,
        out_dir=out,
        summary=summary,
        records=records,
        computed=count - resumed,
        resumed=resumed,
        seconds=seconds,
        executor=ex.describe(),
        stale=stale,
    )
    if write_reports:
        result.files = write_study_reports(result)
    return result


def write_study_reports(result: StudyResult) -> dict[str, Path]:
    """Render results.json, results.md and report.html, then write each atomically."""
    meta = {
        "seconds": round(result.seconds, 3),
        "executor": result.executor,
        "computed": result.computed,
        "resumed": result.resumed,
        "stale": result.stale,
        "replicate_version": __version__,
    }
    rendered = {
        "json": (result.out_dir / "results.json", render_json(result.study, result.summary, meta)),
        "markdown": (result.out_dir / "results.md", render_markdown(result.study, result.summary, meta)),
        "html": (result.out_dir / "report.html", render_html(result.study, result.summary, meta)),
    }
    for path, text in rendered.values():
        _write(path, text)
    return {k: p for k, (p, _) in rendered.items()}


def load_results(out_dir: str | Path) -> tuple[Study, list[dict[str, Any]]]:
    """The study and every finished replicate's record found in an output folder."""
    out = Path(out_dir)
    try:
        meta = json.loads((out / "study.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudyError(f"{out} has no readable study.json: {exc}") from None
    study = load_study(meta.get("source") or meta["study"])
    records = []
    for i, start, stop in chunk_ranges(study):
        recs = _read_chunk(chunk_path(out, i), study, start, stop)
        if recs:
            records.extend(recs)
    return study, records
