"""`replicate show` names values plainly and shows numbers at the printed precision (issue #18)."""

from __future__ import annotations

from types import SimpleNamespace

from replicate.value_labels import digits_text, engine_text, reference_text, value_label


def _v(section: str, name: str, quantity: str, **kw: object) -> SimpleNamespace:
    return SimpleNamespace(section=section, name=name, quantity=quantity, **kw)


def test_fit_values_have_plain_labels() -> None:
    assert value_label(_v("fit", "loglik", "loglik")) == "logLik"
    assert value_label(_v("fit", "reml_criterion", "reml_criterion")) == "REML criterion"
    assert value_label(_v("fit", "groups Batch", "ngroups")) == "groups (Batch)"
    assert value_label(_v("fixed", "ses", "se")) == "fixed ses se"


def test_numbers_at_the_printed_precision() -> None:
    assert engine_text(465.74629405, "465.746") == "465.746"
    assert engine_text(2.0577532, "2.058") == "2.058"
    assert engine_text(19.383412178, "19.383412178752796") == "19.38341218"
    assert reference_text("1527.500000000001") == "1527.5"
    assert reference_text("6.234475995350789e-09") == "6.234475995e-09"
    assert reference_text("<2e-16") == "<2e-16" and reference_text("0.5460") == "0.5460"
    assert engine_text(None, "1.0") == "—"


def test_an_exact_match_says_exact() -> None:
    assert digits_text(SimpleNamespace(abs_diff=0.0, lre=2.0)) == "exact"
    assert digits_text(SimpleNamespace(abs_diff=0.1, lre=2.04)) == "2.0"
    assert digits_text(SimpleNamespace(abs_diff=None, lre=None)) == "—"
