"""A reference block's printed names, mapped to the engine's through its ``names:``."""

from __future__ import annotations

from .reference_block import ReferenceBlock


def mapped(block: ReferenceBlock, name: str) -> str:
    """The engine's name of a printed name (the name itself when the block maps it to nothing else)."""
    return str(block.names.get(name, name))


def component_columns(block: ReferenceBlock, comp: str) -> list[str]:
    """Engine column names of a random component key: one column, or a pair ``a, b``.

    A key the block maps under ``names`` as a whole is one column, even with a
    comma in it (HLM prints ``INTRCPT1, u0``), unless it maps to two names
    separated by a comma (SAS's ``UN(2,1)`` -> ``"(Intercept), x"``).
    """
    if comp in block.names:
        whole = str(block.names[comp])
        if "," not in whole:
            return [whole]
        # a label for a pair, such as SAS's UN(2,1): names: {"UN(2,1)": "(Intercept), x"}
        return [mapped(block, c.strip()) for c in whole.split(",")]
    return [mapped(block, c.strip()) for c in str(comp).split(",")]
