import math

import pytest

from replicate.compare import (
    AGREES,
    DISCREPANCY,
    NOT_COMPARABLE,
    WITHIN,
    compare_value,
    lre,
    printed_unit,
    resolve_tolerance,
)
from replicate.printed import Printed


def P(text: str) -> Printed:
    t = text.strip()
    for op in ("<=", ">=", "<", ">"):
        if t.startswith(op):
            return Printed(float(t[len(op) :]), t, bound=op)
    return Printed(float(t), t)


def cmp(ref: str, eng: float | None, kind: str = "se", **tol):
    return compare_value("fixed", "x", kind, P(ref), eng, resolve_tolerance(kind, tol))


def test_printed_precision_is_respected():
    # 0.5460 printed agrees with 0.54597 (rounds to 0.5460), not with 0.54605
    assert cmp("0.5460", 0.54597).verdict == AGREES
    assert cmp("0.5460", 0.54606).verdict == DISCREPANCY
    assert printed_unit(P("0.5460")) == pytest.approx(1e-4)
    assert printed_unit(P("2.35e-11")) == pytest.approx(1e-13)
    assert printed_unit(P("309")) == 1


def test_digits_are_capped_at_what_was_printed():
    v = cmp("0.5460", 0.54600000001)
    assert v.lre == 4.0  # four significant digits printed
    assert lre(1.0, 1.0 + 1e-9) == pytest.approx(9.0)
    assert lre(0.0, 1e-5) == pytest.approx(5.0)


def test_tolerance_layers():
    assert cmp("1.00000", 1.0004, rtol=1e-3).verdict == WITHIN
    assert cmp("1.00000", 1.0004).verdict == DISCREPANCY
    t = resolve_tolerance("df", {"rtol": 0.1}, None, {"rtol": 0.2, "value": 3})
    assert t.rtol == 0.2


def test_bounds():
    assert cmp("<2e-16", 1e-30, kind="p").verdict == AGREES
    assert cmp("<.0001", 0.01, kind="p").verdict == DISCREPANCY


def test_missing_engine_value_is_not_comparable():
    v = cmp("1.0", None)
    assert v.verdict == NOT_COMPARABLE and v.engine is None
    # a NaN from the engine is a failed computation, not a value it does not compute (issue #14)
    assert cmp("1.0", math.nan).verdict == DISCREPANCY


def test_within_rounding_uses_the_range_over_the_box():
    from replicate.compare import DISCREPANCY, WITHIN, compare_value, resolve_tolerance
    from replicate.optimum import within_rounding

    tol = resolve_tolerance("se")

    def cmp(engine: float):
        return compare_value("random", "g x", "se", Printed(0.4036, "0.4036"), engine, tol)

    center = [cmp(0.403656), cmp(0.5)]
    assert [v.verdict for v in center] == [DISCREPANCY, DISCREPANCY]
    corners = [[cmp(0.403644), cmp(0.51)], [cmp(0.403668), cmp(0.49)]]
    out = within_rounding(center, corners)
    # the printed 0.4036 (0.40355 to 0.40365) meets the engine's range 0.403644 to 0.403668
    assert out[0].verdict == WITHIN and "0.403644 to 0.403668" in out[0].note
    # 0.49 to 0.51 is far from it: still a discrepancy
    assert out[1].verdict == DISCREPANCY
    assert within_rounding(center, [])[0].verdict == DISCREPANCY
