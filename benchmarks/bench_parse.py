"""Seconds ``replicate parse`` takes for pastes of 0.25 to 4 MB (issue #14: linear, 1 MB in under 2 s).

Run: ``python benchmarks/bench_parse.py [MB ...]``. Each paste repeats one of the
test printouts (SAS, lmerTest, HLM) until it has the size asked for; the
time is that of ``replicate.cli.main(["parse", file])`` in this process
(imports excluded), output discarded.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

from replicate.cli import main

PRINTOUTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "printouts"
SEEDS = ["sas_glimmix_model3.txt", "lmertest_nels_model1_ml.txt", "hlm_model1_urban_level1.txt"]


def bench(sizes_mb: list[float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'printout':<32} {'MB':>5} {'printouts':>9} {'seconds':>8} {'exit':>4}")
        for name in SEEDS:
            one = (PRINTOUTS / name).read_text(encoding="utf-8")
            for mb in sizes_mb:
                k = int(mb * 1e6 / len(one.encode())) + 1
                f = Path(tmp) / f"{mb}_{name}"
                f.write_text(one * k, encoding="utf-8")
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    code = main(["parse", str(f)])
                print(f"{name:<32} {f.stat().st_size / 1e6:5.2f} {k:9d} {time.perf_counter() - t0:8.2f} {code:4d}")


if __name__ == "__main__":
    bench([float(a) for a in sys.argv[1:]] or [0.25, 0.5, 1.0, 2.0, 4.0])
