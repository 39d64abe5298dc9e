"""SAS's WEIGHT statement as a block option: comparable with lme4's weights, refused when it does
not match the model's weights."""

from __future__ import annotations

from pathlib import Path

import yaml

from replicate.engines import get_engine
from replicate.runner import run_case

CASES = Path(__file__).resolve().parents[1] / "cases"
CASE = CASES / "imm23-urban-weighted-sas.yaml"


def _flat(values: dict, names: dict) -> dict:
    out = {}
    for section, items in values.items():
        for name, qs in items.items():
            name = names.get(name, name)
            if section == "random" and name != "Residual":
                for comp, q in qs.items():
                    out.update({(section, name, names.get(comp, comp), k): v for k, v in q.items()})
            elif isinstance(qs, dict):
                out.update({(section, name, k): v for k, v in qs.items()})
            else:
                out[(section, name)] = qs
    return out


def test_the_sas_weight_block_holds_only_numbers_of_the_live_lme4_run():
    case = yaml.safe_load(CASE.read_text())
    live, sas = case["expected"]
    assert live["software"] == "lme4" and "weights = .weights" in live["call"]
    assert sas["software"] == "sas" and sas["options"]["weight"] == case["model"]["weights"]
    live_values, sas_values = _flat(live["values"], {}), _flat(sas["values"], sas["names"])
    assert sas_values and all(live_values[k] == v for k, v in sas_values.items())


def test_a_weighted_sas_block_agrees_with_the_weighted_engine_fit(data_dir):
    res = run_case(CASE, get_engine("native"))
    assert res.status == "agrees", [(b.label, b.error) for b in res.blocks]
    sas = next(b for b in res.blocks if b.label == "sas-weight")
    assert len(sas.values) >= 10 and all(v.verdict in ("agrees", "within tolerance") for v in sas.values)


def test_without_the_models_weights_the_sas_weight_block_is_refused_by_name(data_dir, tmp_path):
    text = CASE.read_text().replace("  weights: wt\n", "", 1)
    p = tmp_path / "cases" / "w.yaml"
    p.parent.mkdir()
    p.write_text(text)
    res = run_case(p, get_engine("native"))
    sas = next(b for b in res.blocks if b.label == "sas-weight")
    assert sas.error and "fitted with weight 'wt', but the model has no weights" in sas.error
    assert "options.weight" in sas.error and "set model.weights: wt" in sas.error
    # and the unweighted fit really is another model: the live lme4 block no longer agrees
    live = next(b for b in res.blocks if b.label == "lme4-live")
    assert any(v.verdict == "discrepancy" for v in live.values)
