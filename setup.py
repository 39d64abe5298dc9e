"""Build hook: ship the example cases and the raw printouts they read inside the wheel.

The project's metadata is in pyproject.toml. The case library lives at the repository root
(``cases/``, ``reference_outputs/``) where contributors edit it and pytest collects it; an installed
package carries a copy under ``replicate/_examples`` so that ``replicate run`` works from any folder
(see ``replicate/examples.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("cases", "reference_outputs")


class BuildWithExamples(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        dest = Path(self.build_lib) / "replicate" / "_examples"
        for name in SHIPPED:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(
                    src, dest / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".*")
                )


setup(cmdclass={"build_py": BuildWithExamples})
