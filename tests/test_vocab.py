"""One vocabulary: the case schema, the inference layer, the simulation config, the comparison and the
runner all name df methods, SE kinds, verdicts and statuses from replicate/vocab.py."""

from __future__ import annotations

import json

from replicate import compare, runner
from replicate.case_schema import schema
from replicate.inference import DF_METHODS, SE_KINDS
from replicate.simulate.config import DF_CHOICES, SE_CHOICES
from replicate.vocab import DfMethod, SeKind, Status, Verdict


def test_the_case_schema_lists_exactly_the_df_methods_and_se_kinds():
    options = schema()["$defs"]["block"]["properties"]["options"]["properties"]
    assert options["df"]["enum"] == [m.value for m in DfMethod]
    assert options["se"]["enum"] == [k.value for k in SeKind]


def test_inference_and_simulation_take_their_names_from_the_vocabulary():
    assert DF_METHODS == DF_CHOICES == tuple(DfMethod)
    assert SE_KINDS == SE_CHOICES == tuple(SeKind)
    assert "kenward-roger-2" in DF_CHOICES and "cr2-satterthwaite" in DF_CHOICES  # once missing from studies


def test_verdicts_and_statuses_are_the_enums_and_serialize_as_their_names():
    assert {compare.AGREES, compare.WITHIN, compare.DISCREPANCY, compare.NOT_COMPARABLE, compare.EXPLAINED} == set(
        Verdict
    )
    assert {runner.OK, runner.DISCREPANT, runner.SKIPPED, runner.ERROR, runner.INVALID} == set(Status)
    assert json.dumps([Verdict.AGREES, Status.INVALID]) == '["agrees", "invalid"]'
    assert f"{Verdict.WITHIN}" == "within tolerance" and str(Status.OK) == "agrees"
