"""OTLP/HTTP log bodies (protobuf or JSON) -> the GenAI evaluation results they carry.

The GenAI semantic conventions are replacing span events with log-based events, so evaluation
results (`gen_ai.evaluation.result`) increasingly arrive as OTLP log records: the event name in the
record's `event_name` field (older SDKs: an `event.name` attribute), and the same attributes as the
span event (`gen_ai.evaluation.name`, `.score.value`, `.score.label`; `gen_ai.response.id`). Only
those records are read, and of them only these attributes and the team attributes; every other log
record is accepted and ignored (the monitor is no log store), and no record body is ever read, so
explanations and content never reach the store.

The convention parents the event to the span it evaluates (its trace context) or, when no span
context is available, names the completion by `gen_ai.response.id`. A record with neither cannot be
joined to a trace and is rejected (`partial_success`). Joining happens at the next cycle
(collectors.otlp.evaluations), so a record may arrive before or after its span.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collectors.limits import MAX_CLOCK_SKEW, MAX_ID_CHARS
from collectors.otlp.decode import (
    EVAL_KEYS, EVAL_LABEL, EVAL_NAME, EVAL_VALUE, EVALUATION_EVENT, MAX_TIME_NS, MIN_TIME_NS, RESPONSE_ID, Settings,
    evaluation_score,
)
from collectors.otlp.wire import LOG_RECORDS, any_value, parse, text

EVENT_NAME_ATTRIBUTE = "event.name"  # where events were named before LogRecord.event_name existed


@dataclass
class LogBatch:
    records: int = 0
    rejected: int = 0
    ignored: int = 0                   # log records that are not evaluation results
    errors: list[str] = field(default_factory=list)
    # (minute, trace hex | None, response id | None, team | None, name, value | None), one per record
    evaluations: list[tuple] = field(default_factory=list)
    # Idempotency, as for spans (decode.Batch.keys): a record has no id of its own, so its key is a
    # 16-byte digest of the record as sent (an exporter's retry sends the same record), stored with
    # its time beside the spans' 24-byte keys (tables.seen), which it can never equal.
    keys: dict[bytes, int] = field(default_factory=dict)
    duplicates: int = 0
    request: ExportLogsServiceRequest | None = field(default=None, repr=False, compare=False)
    settings: Settings | None = field(default=None, repr=False, compare=False)


def parse_logs(body: bytes, content_type: str) -> ExportLogsServiceRequest:
    return parse(body, content_type, ExportLogsServiceRequest(), LOG_RECORDS)


def _reject(batch: LogBatch, reason: str) -> None:
    batch.rejected += 1
    if len(batch.errors) < 5:
        batch.errors.append(f"log record: {reason}")


def _is_evaluation(record) -> bool:
    if record.event_name:
        return record.event_name == EVALUATION_EVENT
    return any(kv.key == EVENT_NAME_ATTRIBUTE and any_value(kv.value) == EVALUATION_EVENT for kv in record.attributes)


def summarise_logs(request: ExportLogsServiceRequest, settings: Settings, only: set[bytes] | None = None) -> LogBatch:
    """`only`: count just the records with these keys (the ones the store had not seen); the others,
    and a record repeated within the body, are counted as duplicates."""
    batch = LogBatch(request=request, settings=settings)
    latest_ns = MAX_TIME_NS if settings.clock is None else int((settings.clock() + MAX_CLOCK_SKEW) * 1e9)
    wanted = frozenset((*EVAL_KEYS, RESPONSE_ID, *settings.team_attributes))
    for resource_logs in request.resource_logs:
        resource_team = None
        for kv in resource_logs.resource.attributes:
            if kv.key == settings.team_resource_attribute:
                resource_team = text(any_value(kv.value)) or None
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                batch.records += 1
                if not _is_evaluation(record):
                    batch.ignored += 1
                    continue
                _add_record(batch, record, wanted, resource_team, settings, latest_ns, only)
    return batch


def _add_record(batch: LogBatch, record, wanted: frozenset, resource_team: str | None, settings: Settings,
                latest_ns: int, only: set[bytes] | None) -> None:
    # the event time; an SDK always sets the observed time, a sender may leave the event time unset (0)
    time_ns = record.time_unix_nano or record.observed_time_unix_nano
    if not MIN_TIME_NS <= time_ns < MAX_TIME_NS:
        return _reject(batch, "time must be in years 2000-2099")
    if time_ns > latest_ns:
        return _reject(batch, f"more than {MAX_CLOCK_SKEW:.0f} s after the monitor's clock")
    attrs = {kv.key: any_value(kv.value) for kv in record.attributes if kv.key in wanted}
    name = attrs.get(EVAL_NAME)
    if not isinstance(name, str) or not text(name):
        return _reject(batch, f"{EVALUATION_EVENT} without {EVAL_NAME}")
    # the trace context, when valid (OTLP: empty or all-zero means none); else the response id
    trace = record.trace_id.hex() if len(record.trace_id) == 16 and any(record.trace_id) else None
    response_id = attrs.get(RESPONSE_ID)
    response_id = text(response_id) if trace is None and isinstance(response_id, str) else None
    if trace is None and not (response_id and len(response_id) <= MAX_ID_CHARS):
        return _reject(batch, f"neither a trace context nor {RESPONSE_ID}: cannot be joined to a trace")
    if trace is None and not settings.keep_response_ids:
        return _reject(batch, f"no trace context, and joining by {RESPONSE_ID} is off (keep_response_ids)")
    key = hashlib.blake2b(record.SerializeToString(deterministic=True), digest_size=16).digest()
    if key in batch.keys or (only is not None and key not in only):
        batch.duplicates += 1
        return None
    batch.keys[key] = time_ns
    team = next((text(attrs[k]) for k in settings.team_attributes if attrs.get(k)), None) or resource_team
    minute = int(time_ns // 10**9 // 60) * 60
    value = evaluation_score(attrs.get(EVAL_VALUE), attrs.get(EVAL_LABEL))
    batch.evaluations.append((minute, trace, response_id, team, text(name), value))
    return None
