"""One way to turn invalid YAML or a pydantic ValidationError into the one-line message users see."""
from __future__ import annotations

from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError


def first_error(exc: ValidationError, prefix: str = "") -> str:
    """`prefix.field.path: message` of the first error (one line, no input values: they may be secrets)."""
    error = exc.errors()[0]
    path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "") or "(root)"
    return f"{path}: {error['msg']}"


M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(model: type[M], text: str, origin: str, error: type[Exception]) -> M:
    """YAML text validated as `model`; any failure is `error("origin: field.path: message")`."""
    try:
        return model.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise error(f"{origin}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise error(f"{origin}: {first_error(exc)}") from None
