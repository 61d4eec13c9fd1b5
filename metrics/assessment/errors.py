"""The self-assessment's errors: user-facing, one line, naming the key at fault (the CLI prints
the message and exits 2, like every AiopsError)."""
from __future__ import annotations

from signals.errors import AiopsError


class AssessmentError(AiopsError, ValueError):
    """Base: a user-facing, one-line problem naming the key at fault (the CLI prints it, exit 2)."""


class AnswersError(AssessmentError):
    """An answers file (or an interactive answer) is not valid."""


class EvidenceError(AssessmentError):
    """The evidence input (report JSON or signals) is not valid."""


class DefinitionError(AssessmentError):
    """A packaged data file (questions, models, evidence map) is not valid."""
