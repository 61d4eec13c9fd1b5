"""Check dashboard JSON against Grafana's dashboard schema as the Foundation SDK encodes it.

The SDK is generated from Grafana's own schema (CUE kinds and panel plugin schemas) but ships typed
Python classes, not a JSON Schema document. So a dashboard is valid here when:
1. it decodes through the SDK (`Dashboard.from_json`, with every panel plugin's options and field
   config decoded by that plugin's own model), and re-encoding loses nothing: a key the schema does
   not know is dropped on decode, so a misspelt or invented field shows up as a difference;
2. every decoded value has the type its class annotates (enums hold one of their values, lists and
   maps hold the right items, required fields are set).
This also runs on JSON that did not come from the builders (a hand-edited file, an export).
"""
from __future__ import annotations

import enum
import json
import types
import typing
from functools import lru_cache

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import dashboard as dm
from signals.errors import AiopsError


class DashboardSchemaError(AiopsError, ValueError):
    """The JSON does not fit the dashboard schema; the message names the path."""


@lru_cache(maxsize=1)
def _register_plugins() -> None:
    plugins.register_default_plugins()  # per-panel-type option models and per-datasource query models


def encode(model: object) -> dict:
    return json.loads(json.dumps(model, cls=JSONEncoder))


def _lost(original: object, roundtrip: object, path: str) -> str | None:
    """First place where `original` has something `roundtrip` lacks (defaults added on decode are fine)."""
    if isinstance(original, dict):
        if not isinstance(roundtrip, dict):
            return f"{path}: expected an object"
        for key, value in original.items():
            if key not in roundtrip:
                return f"{path}.{key}: not a field of the schema"
            found = _lost(value, roundtrip[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(original, list):
        if not isinstance(roundtrip, list) or len(original) != len(roundtrip):
            return f"{path}: list changed on decode"
        for i, (a, b) in enumerate(zip(original, roundtrip)):
            found = _lost(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if original == roundtrip else f"{path}: {original!r} decoded as {roundtrip!r}"


def _matches(value: object, hint: object) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any or hint is object:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(v, args[1]) for v in value.values())
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {m.value for m in hint} or isinstance(value, hint)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # an alias the SDK leaves open (e.g. a dataquery variant): checked by decoding


def _model_class(hint: object) -> type | None:
    """The one SDK model class a hint allows (Optional[X], list[X]), if any."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if len(args) == 1 and typing.get_origin(args[0]) is list:
        return _model_class(typing.get_args(args[0])[0])
    return args[0] if len(args) == 1 and isinstance(args[0], type) and hasattr(args[0], "from_json") else None


def _decode_raw(value: object, hint: object, path: str) -> object:
    """The SDK keeps a few typed fields (panel transformations, links) as raw JSON on decode: decode
    them with their class, and require that nothing is lost."""
    cls = _model_class(hint)
    if cls is None:
        return value
    if isinstance(value, dict):
        decoded = cls.from_json(value)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        decoded = [cls.from_json(v) for v in value]
    else:
        return value
    found = _lost(value, encode(decoded), path)
    if found:
        raise DashboardSchemaError(found)
    return decoded


def _check_types(obj: object, path: str) -> None:
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            _check_types(item, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for key, item in obj.items():
            _check_types(item, f"{path}.{key}")
        return
    if not hasattr(obj, "to_json") or isinstance(obj, UnknownDataquery) or not hasattr(obj, "__dict__"):
        return
    hints = typing.get_type_hints(type(obj))
    for name, hint in hints.items():
        value = _decode_raw(getattr(obj, name, None), hint, f"{path}.{name}")
        if not _matches(value, hint):
            raise DashboardSchemaError(f"{path}.{name}: {value!r} is not {hint}")
        _check_types(value, f"{path}.{name}")


def _check_panel_extras(panel: dict, path: str) -> None:
    """Parts the SDK types as `object`: override values that are value mappings, and query kinds."""
    for i, override in enumerate(panel.get("fieldConfig", {}).get("overrides", [])):
        for prop in override.get("properties", []):
            if prop.get("id") == "mappings":
                decoded = dm.FieldConfig.from_json({"mappings": prop["value"]})
                found = _lost(prop["value"], encode(decoded.mappings), f"{path}.overrides[{i}].mappings")
                if found:
                    raise DashboardSchemaError(found)
    for j, target in enumerate(panel.get("targets", [])):
        if target.get("datasource", {}).get("type") != "prometheus" or "expr" not in target:
            raise DashboardSchemaError(f"{path}.targets[{j}]: not a Prometheus query")


def validate_dashboard(data: dict) -> None:
    """Raise DashboardSchemaError naming the first path that does not fit the schema."""
    _register_plugins()
    for key in ("uid", "title", "schemaVersion", "panels"):
        if key not in data:
            raise DashboardSchemaError(f"$.{key}: required")
    model = dm.Dashboard.from_json(data)
    found = _lost(data, encode(model), "$")
    if found:
        raise DashboardSchemaError(found)
    _check_types(model, "$")
    for i, panel in enumerate(data["panels"]):
        for j, inner in enumerate([panel, *panel.get("panels", [])]):
            if inner.get("type") != "row":
                _check_panel_extras(inner, f"$.panels[{i}]" + (f".panels[{j - 1}]" if j else ""))
