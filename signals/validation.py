"""One way to turn unreadable files, invalid YAML or a pydantic ValidationError into the one-line
message users see."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError


def first_error(exc: ValidationError, prefix: str = "") -> str:
    """`prefix.field.path: message` of the first error (one line, no input values: they may be secrets)."""
    error = exc.errors()[0]
    path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "") or "(root)"
    return f"{path}: {error['msg']}"


def yaml_problem(exc: yaml.YAMLError, origin: str) -> str:
    """`origin:line:column: not valid YAML: what` (line and column from 1, as editors count)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark is not None else origin
    problem = " ".join(filter(None, [getattr(exc, "context", None), getattr(exc, "problem", None)]))
    return f"{where}: not valid YAML: {problem or str(exc).splitlines()[0]}"


def read_text_file(file: Path, error: type[Exception]) -> str:
    """The UTF-8 text of a file the user named, or `error` saying in one line why not and what to do."""
    if file.is_dir():
        raise error(f"{file}: is a directory; give the path of a file in it")
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{file}: no such file") from None
    except PermissionError:
        raise error(f"{file}: permission denied; make it readable by this user") from None
    except UnicodeDecodeError as exc:
        raise error(f"{file}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise error(f"{file}: cannot read ({exc.strerror})") from None


def load_yaml_mapping(file: Path, error: type[Exception]) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (an empty file is an empty mapping)."""
    try:
        data = yaml.safe_load(read_text_file(file, error))
    except yaml.YAMLError as exc:
        raise error(yaml_problem(exc, str(file))) from None
    if data is not None and not isinstance(data, dict):
        raise error(f"{file}: the top level must be a mapping (key: value lines), got a {type(data).__name__}")
    return data or {}


M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(model: type[M], text: str, origin: str, error: type[Exception]) -> M:
    """YAML text validated as `model`; any failure is `error("origin: field.path: message")`."""
    try:
        return model.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise error(yaml_problem(exc, origin)) from None
    except ValidationError as exc:
        raise error(f"{origin}: {first_error(exc)}") from None
