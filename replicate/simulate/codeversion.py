"""The version of the code that computes a study's replicates, for resuming safely.

A chunk saved by an earlier run is reused only if it was computed by the same
code: the same replicate version, the same engine version, the same numpy and
scipy, and the same source of every module a replicate's numbers go through
(the engine, the inference methods, the design and formula code, and the study's
own generator and worker). A rerun after any of these changes computes its
chunks again instead of mixing old numbers in (it says how many it recomputed).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy
import scipy

from ..engines import get_engine
from ..version import __version__

_PACKAGE = Path(__file__).resolve().parents[1]
#: Folders and modules (relative to the package) whose source decides a replicate's numbers.
SOURCES = (
    "engine",
    "inference",
    "design.py",
    "spec.py",
    "spec_terms.py",
    "spec_model.py",
    "spec_tokens.py",
    "spec_formula.py",
    "spec_levels.py",
    "expr.py",
    "expr_nodes.py",
    "expr_tokens.py",
    "expr_parse.py",
    "expr_eval.py",
    "results.py",
    "simulate/worker.py",
    "simulate/generate.py",
    "simulate/config.py",
    "simulate/studytypes.py",
    "simulate/blas.py",
)


def _source_files() -> list[Path]:
    files: list[Path] = []
    for item in SOURCES:
        p = _PACKAGE / item
        files.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return files


@lru_cache(maxsize=1)
def code_version() -> str:
    """``replicate 0.1.0; native engine ...; numpy ...; scipy ...; source <hash>``."""
    digest = hashlib.sha256()
    for f in _source_files():
        digest.update(f.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        try:
            digest.update(f.read_bytes())
        except OSError:
            digest.update(b"missing")
        digest.update(b"\0")
    engine = get_engine("native").version()
    return (
        f"replicate {__version__}; engine {engine}; numpy {numpy.__version__}; scipy {scipy.__version__}; "
        f"source {digest.hexdigest()[:16]}"
    )
