"""Fixtures for the native engine tests: an R session with lme4 through rpy2."""

from __future__ import annotations

import pytest

from tests.engine.rbridge import require_r


@pytest.fixture(scope="session")
def ro():
    """rpy2's ``robjects`` with lme4 loaded (skips, or fails under REPLICATE_REQUIRE_R=1)."""
    return require_r()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for every model where lme4's default fit stopped short of the native optimum."""
    found = [
        value
        for rep in terminalreporter.stats.get("passed", [])
        for key, value in getattr(rep, "user_properties", [])
        if key == "higher_likelihood"
    ]
    if found:
        names = ", ".join(v.split(" (")[0] for v in found)
        terminalreporter.write_line(
            f"native engine: a higher likelihood than lme4's default fit (lme4 stopped early) on {len(found)} "
            f"model(s): {names}; details in the JUnit properties (--junitxml)"
        )
