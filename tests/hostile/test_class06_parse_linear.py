"""Issue #14, class 6 (parse speed): ``replicate parse`` of a long paste does work linear in its size.

Before, every model's part of a paste was parsed as a copy of the whole text
with the other lines blanked, so a paste of k printouts cost k times its
length (1 MB took 49 s). The work is counted here (lines normalised, the
per-line step of every parser), never timed; ``benchmarks/bench_parse.py``
measures the seconds.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from replicate.cli import main
from replicate.references import numbers, parse_printouts, split_printouts

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"
SEEDS = [
    ("sas_glimmix_model3.txt", "sas"),
    ("lmertest_nels_model1_ml.txt", "lmerTest"),
    ("hlm_model1_urban_level1.txt", "hlm"),
]


def _lines_normalised(monkeypatch: pytest.MonkeyPatch, run) -> int:
    count = 0
    real = numbers.normalize_chars

    def counting(s: str) -> str:
        nonlocal count
        count += 1
        return real(s)

    monkeypatch.setattr(numbers, "normalize_chars", counting)
    run()
    monkeypatch.setattr(numbers, "normalize_chars", real)
    return count


@pytest.mark.parametrize(("name", "software"), SEEDS)
def test_doubling_the_paste_doubles_the_work(monkeypatch: pytest.MonkeyPatch, name: str, software: str) -> None:
    one = (PRINTOUTS / name).read_text(encoding="utf-8")
    work = {}
    for k in (8, 16, 32):
        text = one * k
        work[k] = _lines_normalised(monkeypatch, lambda text=text: parse_printouts(text, software))
        assert len(parse_printouts(text, software)) == k
    n_lines = len(one.split("\n"))
    assert work[16] <= 2.2 * work[8] and work[32] <= 2.2 * work[16], work
    # a constant number of passes over each line (was: one pass over the whole paste per printout)
    assert work[32] <= 4 * 32 * n_lines, work


def test_parts_keep_the_paste_line_numbers_without_copying_it() -> None:
    one = (PRINTOUTS / "sas_glimmix_model3.txt").read_text(encoding="utf-8")
    text = one * 3
    parts = split_printouts(text, "sas")
    assert len(parts) == 3
    assert sum(len(p.body) for p in parts) <= len(text)
    total = len(text.split("\n"))
    assert all(len(p.text.split("\n")) == total for p in parts)  # the padded view is still there
    parsed = parse_printouts(text, "sas")
    assert [p.model_info["lines"] for p in parsed] == [(p.first_line, p.last_line) for p in parts]
    # the same printout at another place in the paste reads the same numbers
    assert parsed[0].values == parsed[2].values


def test_cli_parse_of_many_printouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = (PRINTOUTS / "hlm_model1_urban_level1.txt").read_text(encoding="utf-8")
    f = tmp_path / "many.txt"
    out = io.StringIO()
    for k in (10, 20):
        f.write_text(one * k, encoding="utf-8")
        with contextlib.redirect_stdout(out):
            work = _lines_normalised(monkeypatch, lambda: main(["parse", str(f), "--software", "hlm"]))
        assert work <= 4 * k * len(one.split("\n"))
    assert out.getvalue().count("# printout 20 of 20") == 1
