"""Errors of the assessment package: each message is one line that names the key at fault."""
from __future__ import annotations


class AssessmentError(ValueError):
    """Base: a user-facing, one-line problem (the CLI prints it and exits 2)."""


class AnswersError(AssessmentError):
    """An answers file (or an interactive answer) is not valid; the message names the key."""


class EvidenceError(AssessmentError):
    """The evidence input (report JSON or signals) is not valid; the message names the key."""


class DefinitionError(AssessmentError):
    """A packaged data file (questions, models, evidence map) is not valid."""
