"""One way to turn a pydantic ValidationError into the one-line message users see."""
from __future__ import annotations

from pydantic import ValidationError


def first_error(exc: ValidationError, prefix: str = "") -> str:
    """`prefix.field.path: message` of the first error (one line, no input values: they may be secrets)."""
    error = exc.errors()[0]
    path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "") or "(root)"
    return f"{path}: {error['msg']}"
