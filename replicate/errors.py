"""Errors raised by replicate, one subclass per pipeline stage.

Every error carries enough context for a user to find and fix the problem: the
file, the line and the field where it applies, and what is allowed instead.
"""

from __future__ import annotations


class ReplicateError(Exception):
    """Root of every error this package raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(self.__str__())

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file) + (f":{self.line}" if self.line else ""))
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def located(self, *, file: str | None = None, line: int | None = None, field: str | None = None) -> ReplicateError:
        """Return the same error with missing location parts filled in."""
        err = type(self)(
            self.message,
            file=self.file or file,
            line=self.line or line,
            field=self.field or field,
            hint=self.hint,
        )
        return err


class CaseError(ReplicateError):
    """A case file is malformed or does not follow the schema."""


class DataError(ReplicateError):
    """A dataset cannot be found, read, checked or transformed."""


class ModelError(ReplicateError):
    """A model specification is invalid for the data."""


class FitError(ReplicateError):
    """An engine could not fit a model."""


class EngineUnavailable(ReplicateError):
    """An engine's dependencies (R, rpy2, ...) are not installed."""


class ReferenceError_(ReplicateError):
    """A reference block is inconsistent with the model or cannot be parsed."""


class NotImplementedOption(ReplicateError):
    """An option that is part of the format but not implemented yet."""
