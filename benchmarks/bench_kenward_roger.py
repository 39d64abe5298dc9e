"""Kenward-Roger side by side: ours against pbkrtest (vcovAdj + Lb_ddf per coefficient).

A thin wrapper around ``replicate bench --only kenward_roger`` (replicate/bench/):
High School and Beyond (``MathAch ~ SES + (SES | School)`` and the
intercepts-and-slopes-as-outcomes model), Exam and sleepstudy, each on a fit
made beforehand. Every option of ``replicate bench`` is passed on; the scaling
curves of Kenward-Roger are ``--only kenward_roger,rows_rs,groups_rs``::

    /tmp/venv/bin/python benchmarks/bench_kenward_roger.py [--reps 7]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], "kenward_roger"))
