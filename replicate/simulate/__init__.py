"""Simulation: Monte Carlo studies of bias, coverage and Type I error, and data for property tests.

* :func:`run_study` runs a study file (``studies/*.yaml``; format in
  :mod:`replicate.simulate.config`) on local processes or a Dask cluster,
  saving each chunk of replicates as it finishes, and writes Markdown, JSON and
  HTML reports.
* :func:`simulate_command` / :func:`main_simulate` are the command line
  (``replicate simulate STUDY.yaml [--out DIR] [--scheduler ADDRESS] [--workers N]``;
  also ``python -m replicate.simulate STUDY.yaml ...``).
* :mod:`replicate.simulate.strategies` (needs ``hypothesis``) draws hierarchical
  data sets with their true parameters for property-based tests.
* :mod:`replicate.simulate.theory` has exact results for the balanced one-way
  design that a study should reproduce.
"""

from __future__ import annotations

from .cli import main_simulate, simulate_command
from .config import Study, StudyError, load_study
from .study import StudyResult, load_results, run_study
from .summary import Summary

__all__ = [
    "Study",
    "StudyError",
    "StudyResult",
    "Summary",
    "load_results",
    "load_study",
    "main_simulate",
    "run_study",
    "simulate_command",
]
