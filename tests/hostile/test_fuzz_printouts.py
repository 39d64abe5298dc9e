"""Fuzzing ``replicate parse`` with damaged real printouts (issue #14, "the tests that find the next one").

Real printouts (``reference_outputs/``, ``tests/data/printouts/`` and, when
present, the forum seeds beside the shared data) are mutated: lines deleted,
duplicated or swapped, columns swapped within a line, bytes replaced (also
into invalid UTF-8), text cut. Whatever the damage:

* ``replicate parse FILE`` returns an exit code in {0, 1, 2} and never raises;
* the library (``parse_printouts``) raises nothing but its own ``ReferenceError_``;
* a line reported as not read names a line of the file.

Fast at the default size; ``REPLICATE_FUZZ_EXAMPLES=2000`` runs more examples.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replicate.cli import main
from replicate.errors import ReferenceError_
from replicate.references import SOFTWARE, parse_printouts

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("REPLICATE_FUZZ_EXAMPLES", "60"))


def _seed_dirs() -> list[Path]:
    dirs = [ROOT / "reference_outputs", ROOT / "tests" / "data" / "printouts"]
    for item in os.environ.get("REPLICATE_DATA_PATH", "").split(os.pathsep):
        if item.strip():
            dirs.append(Path(item.strip()).parent / "seeds")  # the forum seeds sit beside the shared data
    dirs.append(ROOT.parent / "shared" / "seeds")
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


SEEDS = sorted({p.resolve() for d in _seed_dirs() for ext in ("*.txt", "*.lst", "*.Rout") for p in d.rglob(ext)})
TEXTS = [p.read_bytes() for p in SEEDS]

OPS = ["delete", "duplicate", "swap lines", "swap columns", "replace byte", "insert bytes", "cut line"]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(TEXTS))
    lines = data.split(b"\n")
    for op in draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=6)):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap lines":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "swap columns":
            cols = lines[i].split()
            if len(cols) >= 2:
                a = draw(st.integers(0, len(cols) - 1))
                b = draw(st.integers(0, len(cols) - 1))
                cols[a], cols[b] = cols[b], cols[a]
                lines[i] = b" ".join(cols)
        elif op in ("replace byte", "insert bytes") and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            new = draw(st.binary(min_size=1, max_size=3))
            keep = k + 1 if op == "replace byte" else k
            lines[i] = lines[i][:k] + new + lines[i][keep:]
        elif op == "cut line":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return b"\n".join(lines)


def _run_cli(data: bytes, software: str | None) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "printout.txt"
        f.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        args = ["parse", str(f)] + (["--software", software] if software else [])
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        return code, out.getvalue() + err.getvalue()


pytestmark = pytest.mark.skipif(not TEXTS, reason="no printouts found to mutate")


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=damaged(), software=st.sampled_from([None, *SOFTWARE]))
def test_replicate_parse_never_crashes(data: bytes, software: str | None) -> None:
    code, output = _run_cli(data, software)
    assert code in (0, 1, 2), output
    assert "Traceback" not in output
    n_lines = data.count(b"\n") + 1
    for line in output.splitlines():
        if line.startswith("# line ") and " not read " in line:
            assert 1 <= int(line.split()[2]) <= n_lines, line


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=damaged(), software=st.sampled_from(SOFTWARE))
def test_the_library_raises_only_its_own_error(data: bytes, software: str) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        parts = parse_printouts(text, software)
    except ReferenceError_:
        return
    for part in parts:
        first, last = part.model_info["lines"]
        assert all(first <= line <= last for line, _raw, _why in part.unparsed)


def test_invalid_utf8_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _run_cli(TEXTS[0][:50] + b"\xff\xfe\x80" + TEXTS[0][50:], None)
    assert code == 2 and "UTF-8" in output and "Traceback" not in output


def test_the_seeds_are_found() -> None:
    assert any(p.is_relative_to(ROOT / "reference_outputs") for p in SEEDS)
