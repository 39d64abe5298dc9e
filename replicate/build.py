"""The model stage: a case -> its data (read once) -> the formula's spec -> the design.

A likelihood-ratio test's other model and the diagnosis's refit under another coding use the frame the
case's own model was built on, instead of reading the data again.
"""

from __future__ import annotations

from collections import OrderedDict

from .case import Case
from .data import Frame, load_frame
from .design import Design, build_design
from .errors import ModelError, ReplicateError
from .spec import ModelSpec, parse_formula, parse_levels


def build_spec(case: Case) -> ModelSpec:
    model = case.model
    try:
        if "formula" in model:
            return parse_formula(
                model["formula"], field="model.formula", fixed_only=bool(model.get("fixed_only", False))
            )
        return parse_levels(model["levels"], model["groups"], field="model.levels")
    except ModelError as exc:
        field_ = exc.field or "model"
        path = tuple(p for p in field_.split(".") if p)
        raise exc.located(file=str(case.path), line=case.line_of(*path)) from None


#: The frames of the last few cases: a likelihood-ratio test's other model, and the diagnosis's
#: refit under another coding, use the data the case's own model was built on instead of reading it again.
_FRAMES: OrderedDict[int, tuple[Case, Frame]] = OrderedDict()


def frame_of(case: Case) -> Frame:
    """The case's data after transforms and filter, read once per case object."""
    hit = _FRAMES.get(id(case))
    if hit is not None and hit[0] is case:
        _FRAMES.move_to_end(id(case))
        return hit[1]
    frame = load_frame(case)
    _FRAMES[id(case)] = (case, frame)
    while len(_FRAMES) > 4:
        _FRAMES.popitem(last=False)
    return frame


def prepare(case: Case, *, contrasts: str | None = None) -> tuple[ModelSpec, Design, list[str]]:
    """Case -> (spec, design, messages): data, transforms, model matrices."""
    spec = build_spec(case)
    frame = frame_of(case)
    try:
        design = build_design(
            spec,
            frame.df,
            contrasts=contrasts or case.model.get("contrasts", "treatment"),
            weights=case.model.get("weights"),
            file=str(case.path),
        )
    except ReplicateError as exc:
        raise exc.located(file=str(case.path), line=case.line_of("model")) from None
    return spec, design, list(frame.messages) + list(design.messages)


def prepare_other(case: Case, formula: str) -> Design:
    """Another model (an lme4 formula) on the case's data, transforms and filter."""
    spec = parse_formula(formula, field="compare_with")
    frame = frame_of(case)
    return build_design(
        spec,
        frame.df,
        contrasts=case.model.get("contrasts", "treatment"),
        weights=case.model.get("weights"),
        file=str(case.path),
    )


def prepare_with(case: Case, *, contrasts: str) -> Design:
    """The case's design under another contrast coding (for diagnosis)."""
    return prepare(case, contrasts=contrasts)[1]
