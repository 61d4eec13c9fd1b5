"""`POST /v1/traces` and `POST /v1/logs`: OTLP/HTTP receivers (protobuf and JSON), per the OTLP
specification. Both routes share everything but the message types (`Signal`).

Responses follow the spec's "OTLP/HTTP Response" rules:
- 200 with an Export*ServiceResponse, encoded like the request; spans or log records that could not
  be used (a trace id that is not 16 non-zero bytes, a time outside 2000-2099 or an end before the
  start; an evaluation record that names neither a trace nor a response) are reported in
  `partial_success`. Items already received (an exporter's retry) are accepted and not counted again.
- 400 with a google.rpc.Status when the body cannot be decoded (not retryable by clients).
- 415 for a Content-Type other than application/x-protobuf or application/json.
- 401 without the configured bearer token, 413 above the body limit (the ingest route's rules).
- 503 with Retry-After when the store fails: the spec's retryable answer, so exporters resend.
gzip request bodies (Content-Encoding: gzip, what OTel exporters send with compression on) are
inflated with the same size limit applied to the inflated bytes.
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collectors.http_guard import RETRY_AFTER_SECONDS, STORE_ERRORS, BodyTooLarge, read_limited
from collectors.otlp.decode import Settings, parse_body, summarise
from collectors.otlp.logs import parse_logs, summarise_logs
from collectors.otlp.wire import BodyError

log = logging.getLogger("aiops_maturity.otlp")
PROTOBUF, JSON = "application/x-protobuf", "application/json"
_GRPC_INVALID_ARGUMENT, _GRPC_UNAUTHENTICATED, _GRPC_UNAVAILABLE = 3, 16, 14


class TooLarge(BodyTooLarge):
    pass


@dataclass(frozen=True)
class Signal:
    """What differs between the trace and the log route."""

    noun: str                                   # in outcomes and messages: "spans", "log_records"
    parse: Callable[[bytes, str], Any]
    summarise: Callable[[Any, Settings], Any]
    total: Callable[[Any], int]                 # items in a summarised batch
    ignored: Callable[[Any], int]               # of those, items accepted but of no use (not evaluations)
    response: type                              # the Export*ServiceResponse


TRACES = Signal("spans", parse_body, summarise, lambda b: b.spans, lambda b: 0, ExportTraceServiceResponse)
LOGS = Signal("log_records", parse_logs, summarise_logs, lambda b: b.records, lambda b: b.ignored,
              ExportLogsServiceResponse)


def _encode(message, content_type: str) -> bytes:
    if content_type == JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    return message.SerializeToString()


def _status(code: int, grpc_code: int, message: str, content_type: str, headers: dict | None = None) -> Response:
    body = _encode(status_pb2.Status(code=grpc_code, message=message), content_type)
    return Response(body, status_code=code, media_type=content_type, headers=headers)


def _inflate(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BodyError(f"gzip body could not be inflated: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge
    return out


def make_endpoint(settings: Settings, write: Callable[[Any], Any], token: str | None, limit: int,
                  authorized: Callable[[Request, str | None], bool], counter=None, signal: Signal = TRACES):
    """The route's handler. `write` stores a batch (runs in a worker thread) and may return the batch
    it counted (without the items stored before); `counter(outcome, n)` counts requests and items by
    outcome for the monitor's own metrics."""
    noun = signal.noun

    def count(outcome: str, n: int = 1) -> None:
        if counter is not None:
            counter(outcome, n)

    async def receive(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        reply_as = media if media in (PROTOBUF, JSON) else PROTOBUF
        if not authorized(request, token):
            count("unauthorized")
            return _status(401, _GRPC_UNAUTHENTICATED, "missing or wrong bearer token", reply_as)
        if media not in (PROTOBUF, JSON):
            count("unsupported_media_type")
            return _status(415, _GRPC_INVALID_ARGUMENT, f"unsupported Content-Type {media or '(none)'!r}; "
                           f"use {PROTOBUF} or {JSON}", reply_as)
        try:
            body = await read_limited(request, limit)
            encoding = request.headers.get("content-encoding", "identity").strip().lower()
            if encoding == "gzip":
                body = _inflate(body, limit)
            elif encoding not in ("identity", ""):
                count("bad_body")
                return _status(415, _GRPC_INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r}", reply_as)
            batch = await run_in_threadpool(lambda: signal.summarise(signal.parse(body, media), settings))
        except BodyTooLarge:
            count("too_large")
            return _status(413, _GRPC_INVALID_ARGUMENT, f"body larger than {limit} bytes", reply_as)
        except BodyError as exc:
            count("bad_body")
            return _status(400, _GRPC_INVALID_ARGUMENT, str(exc), reply_as)
        try:
            stored = await run_in_threadpool(write, batch)
        except STORE_ERRORS as exc:  # the store, not the spans, is at fault: the exporter retries
            log.warning("OTLP batch could not be stored: %s", type(exc).__name__)
            count("store_error")
            return _status(503, _GRPC_UNAVAILABLE, f"the monitor could not store the {noun.replace('_', ' ')}; "
                           "retry later", reply_as, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if stored is not None:
            batch = stored  # same items and rejections; `duplicates` now include those stored before
        ignored = signal.ignored(batch)
        count(f"accepted_{noun}", signal.total(batch) - batch.rejected - batch.duplicates - ignored)
        for outcome, n in (("duplicate", batch.duplicates), ("rejected", batch.rejected), ("ignored", ignored)):
            if n:
                count(f"{outcome}_{noun}", n)
        response = signal.response()
        if batch.rejected:
            setattr(response.partial_success, f"rejected_{noun}", batch.rejected)
            response.partial_success.error_message = "; ".join(batch.errors)[:500]
        return Response(_encode(response, reply_as), status_code=200, media_type=reply_as)

    return receive
