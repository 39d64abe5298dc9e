"""A GLIMMIX or HLM block of a GLMM whose df, SEs, t or p differ: another of the program's definitions, on the
same fit, reproduces them.

SAS GLIMMIX prints t tests with the df of its DDFM= (containment by default, between-within, the residual
``n - rank(X)``, or none) and, with EMPIRICAL, the subjects' sandwich SEs; HLM's HGLM its own df and, on request,
robust SEs. A block that declares one rule while its numbers follow another is named: every differing df, SE, t
and p of the block is recomputed under each other rule and SE kind, and the first combination that reproduces
all of them (else all of its df) is the explanation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .compare import AGREES, WITHIN, ValueComparison
from .diagnosis import Diagnosis, key_of
from .errors import ReplicateError
from .reference_block import BlockOptions, ReferenceBlock
from .vocab import DfMethod, SeKind, program_name

#: Recompute the block's values with other options (its df rule, its SE kind).
Recompute = Callable[[BlockOptions], list[ValueComparison]]

DF_RULES = (DfMethod.CONTAINMENT, DfMethod.BETWEEN_WITHIN, DfMethod.RESIDUAL, DfMethod.NONE)
WORDS = {
    DfMethod.CONTAINMENT: "GLIMMIX's containment df (its default)",
    DfMethod.BETWEEN_WITHIN: "GLIMMIX's between-within df (DDFM=BW)",
    DfMethod.RESIDUAL: "the residual df n - rank(X) (DDFM=RESIDUAL)",
    DfMethod.NONE: "infinite df (z tests, DDFM=NONE)",
    DfMethod.HLM: "HLM's df (J - S - 1 for a coefficient with a random part)",
    SeKind.MODEL: "the model-based SEs",
    SeKind.CR0: "the empirical (sandwich) SEs (GLIMMIX's EMPIRICAL, HLM's robust SEs)",
}
QUANTITIES = (" df", " p", " se", " t", " z")


def other_definition(block: ReferenceBlock, bad: set[str], recompute: Recompute, hlm: bool) -> Diagnosis | None:
    """The first df rule and SE kind (other than the block's) under which every differing df, SE, t and p of the
    block agrees (else every differing df); ``hlm``: HLM's df rule is a candidate too (pseudo-likelihood blocks)."""
    keys = {k for k in bad if k.endswith(QUANTITIES)}
    if not keys:
        return None
    rules = (*DF_RULES, DfMethod.HLM) if hlm else DF_RULES
    own = (block.options.df, block.options.se)
    tried: list[tuple[tuple[DfMethod | None, SeKind], set[str]]] = []
    for se in (block.options.se, *(k for k in (SeKind.MODEL, SeKind.CR0) if k != block.options.se)):
        for df in (block.options.df, *(r for r in rules if r != block.options.df)):
            if (df, se) == own:
                continue
            try:
                again = recompute(replace(block.options, df=df, se=se))
            except ReplicateError:
                continue
            agree = {key_of(v) for v in again if v.verdict in (AGREES, WITHIN)}
            tried.append(((df, se), keys & agree))
            if keys <= agree:
                return _diagnosis(block, tuple(sorted(keys)), df, se)
    df_keys = {k for k in keys if k.endswith(" df")}
    for (df, se), agreed in tried:
        if df_keys and df_keys <= agreed and se == block.options.se:
            explained = tuple(sorted(k for k in agreed if k.endswith((" df", " p"))))
            return _diagnosis(block, explained, df, se)
    return None


def _diagnosis(block: ReferenceBlock, keys: tuple[str, ...], df: DfMethod | None, se: SeKind) -> Diagnosis:
    said = []
    if df != block.options.df and df is not None:
        said.append(f"{WORDS[df]} (options.df: {df}), not the block's {block.options.df or 'none declared'}")
    if se != block.options.se:
        said.append(f"{WORDS[se]} (options.se: {se}), not the block's {block.options.se}")
    kinds = ", ".join(sorted({k.rsplit(" ", 1)[-1] for k in keys}))
    return Diagnosis(
        "different definition",
        keys,
        f"different definition: {program_name(block.software)}'s {kinds} are reproduced, on the same fit, by "
        + "; ".join(said),
        {"df": str(df) if df is not None else None, "se": str(se)},
    )
