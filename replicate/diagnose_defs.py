"""The diagnosis "different definition": the printed df or SE is another program's definition of it, computed
from the same fit (every df method and SE kind, Kenward-Roger in both information matrices and
parameterizations), named in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .compare import ValueComparison
from .diagnosis import Diagnosis, key_of, matches_printed
from .errors import ReplicateError
from .inference import DF_METHODS, KR_VARIANTS, SE_KINDS, Inference, kr_settings
from .inference.kenward_roger import INFORMATION, PARAMETERIZATIONS
from .reference_block import ReferenceBlock


def definitions_of(block: ReferenceBlock, inf: Inference, bad: list[ValueComparison]) -> list[Diagnosis]:

    out: list[Diagnosis] = []
    names = block.names
    fixed = block.section("fixed")
    cache: dict[tuple, pd.Series | None] = {}
    # Kenward-Roger is tried with either information matrix and both parameterizations
    kr_forms = [(info, par) for par in PARAMETERIZATIONS for info in INFORMATION]

    def get(kind: str, method: str, kr: tuple[str, str]) -> pd.Series | None:
        key = (kind, method, kr)
        if key not in cache:
            try:
                cache[key] = (inf.df if kind == "df" else inf.se)(method, kr=kr)
            except (ReplicateError, ValueError, np.linalg.LinAlgError):
                cache[key] = None
        return cache[key]

    own = kr_settings(block.options.as_dict(), block.software)

    def label(method: str, kr: tuple[str, str]) -> str:
        # the block's own Kenward-Roger settings go without saying; others are spelled out
        if method not in KR_VARIANTS or kr == own:
            return method
        return f"{method} (options.information: {kr[0]}, options.parameterization: {kr[1]})"

    for v in bad:
        if v.section != "fixed" or v.quantity not in ("df", "se"):
            continue
        term = names.get(v.name, v.name)
        ref = fixed.get(v.name, {}).get(v.quantity)
        methods = [m for m in (DF_METHODS if v.quantity == "df" else SE_KINDS) if m != "none"]
        hits: list[tuple[str, float]] = []
        for m in methods:
            forms = [own] + [f for f in kr_forms if f != own]
            for kr in forms if m in KR_VARIANTS else [own]:
                s = get(v.quantity, m, kr)
                if s is None or term not in s.index or not np.isfinite(s[term]):
                    continue
                val = float(s[term])
                same = any(lab.split(" ")[0] == m and abs(val - x) <= 1e-10 * abs(x) for lab, x in hits)
                if matches_printed(ref, val) and not same:  # a form that repeats a number is not listed again
                    hits.append((label(m, kr), val))
        if hits:
            desc = "; ".join(f"{m} gives {val:.6g}" for m, val in hits)
            declared = block.options.as_dict().get("df" if v.quantity == "df" else "se")
            text = f"different definition: {v.quantity} {v.reference} of {v.name} is reproduced by {desc}" + (
                f" (the block declares {declared})" if declared else ""
            )
            out.append(Diagnosis("different definition", (key_of(v),), text, {"methods": [m for m, _ in hits]}))
    return out
