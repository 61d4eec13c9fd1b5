"""OTLP/HTTP request bodies of either signal (traces, logs), protobuf or JSON, as protobuf messages,
and the attribute values read out of them.

Both routes parse the same way: the OTLP JSON encoding is protobuf's JSON mapping except that trace
and span ids are hex (protobuf's mapping wants base64 for bytes), so ids are converted before the
message is parsed, and unknown fields are ignored as the specification requires. A body that cannot
be parsed is a `BodyError` (HTTP 400, not retryable).
"""
from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from signals.errors import AiopsError


class BodyError(AiopsError, ValueError):
    """The body is not a decodable OTLP export request (HTTP 400)."""


# Where each signal's JSON keeps the records carrying hex ids: (resource list, scope list, record
# list, id keys). Span links carry ids too.
SPANS = ("resourceSpans", "scopeSpans", "spans", ("traceId", "spanId", "parentSpanId"))
LOG_RECORDS = ("resourceLogs", "scopeLogs", "logRecords", ("traceId", "spanId"))


def parse(body: bytes, content_type: str, message: Message, layout: tuple) -> Message:
    """`message` (an empty Export*ServiceRequest) filled from the body; `layout`: SPANS or LOG_RECORDS."""
    what = type(message).__name__
    if content_type == "application/x-protobuf":
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError, RecursionError) as exc:  # upb: nesting > 100 is a DecodeError
            raise BodyError(f"not an OTLP protobuf {what}: {str(exc)[:200]}") from None
        return message
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise BodyError("OTLP JSON body must be an object")
        _hex_ids_to_base64(data, layout)
        json_format.ParseDict(data, message, ignore_unknown_fields=True)  # the spec: unknown fields are ignored
    except BodyError:
        raise
    except RecursionError:  # json.loads: nested deeper than the interpreter's recursion limit
        raise BodyError("OTLP JSON body is nested too deeply") from None
    except (ValueError, TypeError, json_format.ParseError) as exc:
        raise BodyError(f"not an OTLP JSON {what}: {str(exc)[:200]}") from None
    return message


def _hex_to_base64(holder: dict, key: str) -> None:
    value = holder.get(key)
    if isinstance(value, str) and value:  # "" is "no id" (a log record without trace context)
        try:
            holder[key] = base64.b64encode(bytes.fromhex(value)).decode()
        except ValueError:
            raise BodyError(f"{key} is not hex: {value[:40]!r}") from None


def _hex_ids_to_base64(data: dict, layout: tuple) -> None:
    resources, scopes, records, keys = layout
    for resource in data.get(resources) or []:
        for scope in (resource or {}).get(scopes) or []:
            for record in (scope or {}).get(records) or []:
                if not isinstance(record, dict):
                    continue
                for key in keys:
                    _hex_to_base64(record, key)
                for link in record.get("links") or []:
                    if isinstance(link, dict):
                        _hex_to_base64(link, "traceId")
                        _hex_to_base64(link, "spanId")


def any_value(value) -> Any:
    """An AnyValue as a Python value: text, number, bool or a list of them; None for the rest (maps,
    bytes), which no reader here needs."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "double_value":
        return value.double_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    return None


def text(value: object) -> str:
    """An attribute as stored text: NUL removed (PostgreSQL text cannot hold it, and it would fail
    the whole batch's write instead of this span's)."""
    return str(value).replace("\x00", "") if value else ""
