"""The configuration reference (docs/config-reference.md), generated from the pydantic models.

The models are the one source of truth: the top-level `monitor.runtime.config.Config` and, for each
source registered in the entry point group `aiops_maturity.sources`, its `config_model`. Every field
is listed with its dotted path, type, default and description (`Field(description=...)`; "—" when
a field has none). A test keeps the committed page equal to this output:

    python -m monitor.generate.config_reference > docs/config-reference.md
"""
from __future__ import annotations

import enum
import json
import math
import sys
import types
import typing
from importlib.metadata import entry_points
from pathlib import PurePath
from typing import Any, Iterator, Literal, Union

import annotated_types
import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from signals.durations import format_duration, parse_duration

ENTRY_POINT_GROUP = "aiops_maturity.sources"
COMMAND = "python -m monitor.generate.config_reference > docs/config-reference.md"
NO_DESCRIPTION = "—"
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", SecretStr: "secret"}


def _parses_duration(func: Any) -> bool:
    func = getattr(func, "__func__", func)
    if func is parse_duration:
        return True
    code = getattr(func, "__code__", None)
    return code is not None and "parse_duration" in code.co_names


def _duration_fields(model: type[BaseModel]) -> set[str]:
    """Fields that are durations: typed `Duration` (a validator in the field's metadata) or named by a
    `field_validator` that parses a duration (signals.durations.parse_duration)."""
    found = {name for name, field in model.model_fields.items()
             if any(_parses_duration(getattr(item, "func", None)) for item in field.metadata)}
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if _parses_duration(decorator.func):
            found.update(decorator.info.fields)
    return found


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(tp)
    return None


def _type_name(tp: Any, duration: bool = False, plural: bool = False) -> str:
    if tp is type(None):
        return "null"
    union = _union_args(tp)
    if union is not None:
        return " or ".join(_type_name(arg, duration, plural) for arg in union)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(f"`{_yaml_scalar(a)}`" for a in args)
    if origin in (list, tuple, set, frozenset):
        return ("lists" if plural else "list") + (f" of {_type_name(args[0], duration, plural=True)}" if args else "")
    if origin is dict:
        return ("mappings" if plural else "mapping") + (
            f" of names to {_type_name(args[1], duration, plural=True)}" if args else "")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in tp)
    if tp is Any:
        name = "any value"
    elif duration and tp in (int, float):
        name = "duration"
    elif _is_model(tp):
        name = "section"
    elif isinstance(tp, type) and issubclass(tp, PurePath):
        name = "path"
    else:
        name = _SCALARS.get(tp) or getattr(tp, "__name__", str(tp))
    return name + ("s" if plural and name != "any value" else "")


def _constraints(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for attr, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(item, getattr(annotated_types, attr.capitalize())):
                parts.append(f"{symbol} {getattr(item, attr)}")
        if isinstance(item, annotated_types.MinLen):
            parts.append("not empty" if item.min_length == 1 else f"length ≥ {item.min_length}")
        if isinstance(item, annotated_types.MaxLen):
            parts.append(f"length ≤ {item.max_length}")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            parts.append(f"matches `{pattern}`")
    return ", ".join(parts)


def _plain(value: Any) -> Any:
    """A default as the plain data it would be written as in the YAML file."""
    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    return value


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    # Bare when YAML reads it back as this string inside a flow list or mapping; quoted otherwise
    # (a number, a bool, a time like 08:00, a trailing colon, brackets ...).
    if text and text.strip() == text and not any(c in text for c in ",[]{}#`\"'") and ": " not in text:
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def _yaml_flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml_scalar(k)}: {_yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_flow(v) for v in value) + "]"
    return _yaml_scalar(value)


def _default(field: FieldInfo, duration: bool) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True, validated_data={})
    if isinstance(value, BaseModel):
        return "(keys below)"
    if duration and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"`{format_duration(value)}`"
    return f"`{_yaml_flow(_plain(value))}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _inner_models(tp: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """(path suffix, model) for the models a field's type holds: itself, list items, mapping values."""
    union = _union_args(tp)
    if union is not None:
        for arg in union:
            yield from _inner_models(arg)
        return
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_model(tp):
        yield "", tp
    elif origin in (list, tuple, set, frozenset) and args:
        for suffix, model in _inner_models(args[0]):
            yield "[]" + suffix, model
    elif origin is dict and len(args) == 2:
        for suffix, model in _inner_models(args[1]):
            yield ".<name>" + suffix, model


Row = tuple[str, str, str, str]


def _row(path: str, field: FieldInfo, duration: bool) -> Row:
    """(dotted path, type, default, description) of one field."""
    type_text = _type_name(field.annotation, duration)
    constraints = _constraints(field)
    if constraints:
        type_text += f" ({constraints})"
    description = " ".join(field.description.split()) if field.description else NO_DESCRIPTION
    return path, type_text, _default(field, duration), description


def field_rows(model: type[BaseModel], prefix: str) -> list[Row]:
    """A row for every field of a model, nested models included, in declaration order."""
    rows = []
    durations = _duration_fields(model)
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        rows.append(_row(path, field, name in durations))
        for suffix, inner in _inner_models(field.annotation):
            rows.extend(field_rows(inner, path + suffix))
    return rows


def _table(rows: list[Row]) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, type_text, default, description in rows:
        lines.append(f"| `{path}` | {_cell(type_text)} | {_cell(default)} | {_cell(description)} |")
    return lines


def _doc(model: type) -> str:
    """The first paragraph of a class's own docstring (not an inherited one)."""
    doc = model.__dict__.get("__doc__") or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def source_models() -> list[tuple[str, str, type[BaseModel]]]:
    """(config name, entry point, config model) of every registered source, by name."""
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        found.append((ep.name, ep.value, ep.load().config_model))
    return found


def render_config_reference() -> str:
    from monitor.runtime.config import Config

    out = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the pydantic models; do not edit. Regenerate with: {COMMAND} -->",
        "",
        "Generated from the configuration models; do not edit by hand. Regenerate with:",
        "",
        "```bash",
        COMMAND,
        "```",
        "",
        "Every key is optional, except that a key whose default reads *required* must be set when its",
        "section is present. A *duration* accepts `90s`, `15m`, `24h`, `30d`, `1w` or plain seconds. A",
        "*secret* is never read from the file: it comes from the environment variable named in",
        "[Configuration](configuration.md). A dotted path is the key's place in the YAML file; `[]` is",
        "an item of a list, `<name>` a key you choose. A description reads \"—\" where the model gives",
        "none; the page about each section explains it.",
        "",
    ]
    # A field whose type is a model is a section of its own (`server:`, `digest:` ...); the other
    # top-level keys share one table. `sources` holds each source's section, rendered after.
    sections = {name: model for name, field in Config.model_fields.items()
                for suffix, model in _inner_models(field.annotation) if suffix == ""}
    durations = _duration_fields(Config)
    out += ["## Top level", ""]
    out += _table([_row(name, field, name in durations)
                   for name, field in Config.model_fields.items() if name not in sections]) + [""]

    for name, model in sections.items():
        field = Config.model_fields[name]
        out += [f"## `{name}`", ""]
        if field.description or _doc(model):
            out += [field.description or _doc(model), ""]
        out += _table(field_rows(model, name)) + [""]

    out += ["## `sources`", "",
            "Each key under `sources:` enables one source by its name; its section is validated by the",
            "source's own model, below (sources registered in the entry point group",
            f"`{ENTRY_POINT_GROUP}`, by name).", ""]
    for name, value, model in source_models():
        out += [f"### `sources.{name}`", "", f"Source `{value}`, section model `{model.__name__}`.", ""]
        if _doc(model):
            out += [_doc(model), ""]
        out += _table(field_rows(model, f"sources.{name}")) + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.write(render_config_reference())


if __name__ == "__main__":
    main()
