"""OTLP/HTTP trace bodies (protobuf or JSON) -> a compact per-batch summary.

Only the fields the KPIs need are read: ids, times, status, team, service, model, cost, tags,
span and operation names (memory operations), response ids and evaluation results. Message content (`gen_ai.prompt*`, `gen_ai.completion*`,
`gen_ai.input/output.messages`, `*.content`, event bodies) is never copied out of the decoded
message, so it cannot reach the store. The summary is aggregated on the spot (per minute, team,
service and model; one entry per trace), so what gets written grows with traces, not span detail.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collectors.limits import MAX_CLOCK_SKEW, MAX_COST_USD, MAX_ID_CHARS, MAX_TIME, MIN_TIME
from collectors.observability_kpis import KpiMapping
from collectors.otlp.wire import SPANS, any_value as _value, parse, text as _text
from signals.teams import UNATTRIBUTED
from signals.trace_ids import normalise_id

# Trace flags, OR-ed per trace across batches.
GENAI, SCORED, ESCALATED, MEMORY_ENABLED, MEMORY_USED = 1, 2, 4, 8, 16
EVALUATION_EVENT = "gen_ai.evaluation.result"  # OTel GenAI semantic conventions
EVAL_NAME, EVAL_VALUE, EVAL_LABEL = "gen_ai.evaluation.name", "gen_ai.evaluation.score.value", "gen_ai.evaluation.score.label"
EVAL_KEYS = (EVAL_NAME, EVAL_VALUE, EVAL_LABEL)
MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model", "litellm.model_group")
COST_KEYS = ("gen_ai.cost.total_cost", "gen_ai.usage.cost", "llm.usage.total_cost")  # LiteLLM, OpenLIT, others
CALL_ID_KEYS = ("litellm.call_id", "gen_ai.litellm.call_id")
# An evaluation sent as a log record without trace context names the completion it evaluates by
# this id; the span that has it as an attribute gives the trace (collectors.otlp.evaluations).
RESPONSE_ID = "gen_ai.response.id"
# Memory operations of the GenAI conventions (gen_ai.operation.name, semantic-conventions-genai):
# a search reads from memory (used, hence enabled); the others write or manage it (enabled only).
OPERATION = "gen_ai.operation.name"
MEMORY_READS = frozenset({"search_memory"})
MEMORY_WRITES = frozenset({"create_memory", "update_memory", "upsert_memory", "delete_memory",
                           "create_memory_store", "delete_memory_store"})
MAX_SCORE = 1e9             # scores are normalised with configured ranges; beyond this is garbage
_TRUE_LABELS = {"pass", "passed", "true", "yes", "success", "good", "correct"}
_FALSE_LABELS = {"fail", "failed", "false", "no", "failure", "bad", "incorrect"}
# span times outside [2000-01-01, 2100-01-01) are a sender's bug (unset, seconds sent as nanoseconds, ...)
MIN_TIME_NS, MAX_TIME_NS = int(MIN_TIME) * 10**9, int(MAX_TIME) * 10**9
_NO_SPAN_ID = bytes(8)


@dataclass
class Settings:
    """What the decoder reads, from the source config."""

    mapping: KpiMapping
    team_attributes: tuple[str, ...] = ("metadata.user_api_key_team_alias", "metadata.user_api_key_team_id")
    team_resource_attribute: str | None = "service.namespace"
    tag_attributes: tuple[str, ...] = ("langfuse.trace.tags", "tags", "metadata.tags")
    team_tag_prefix: str | None = "team:"
    clock: Callable[[], float] | None = None  # spans ending more than MAX_CLOCK_SKEW after it are refused
    keep_response_ids: bool = True  # spans' gen_ai.response.id, for evaluation records without trace context


@dataclass(frozen=True, slots=True)
class SpanRules:
    """What the span loop (`summarise`, `_add_span`) reads from the `Settings`, derived once per batch:
    the same for every span."""

    mapping: KpiMapping                 # team_from_tags
    wanted: frozenset[str]              # the span attributes the summary reads (the rest is never copied)
    team_attributes: tuple[str, ...]
    tag_attributes: tuple[str, ...]
    team_tag_prefix: str | None
    escalation_names: frozenset[str]    # score names whose value >= 0.5 marks the trace escalated
    escalation_tags: frozenset[str]
    memory_used_tags: frozenset[str]
    memory_enabled_tags: frozenset[str]
    memory_names: frozenset[str]        # span names of a memory lookup (memory used)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SpanRules":
        mapping = settings.mapping
        return cls(
            mapping=mapping,
            wanted=frozenset((*settings.team_attributes, *settings.tag_attributes, *MODEL_KEYS, *COST_KEYS,
                              *CALL_ID_KEYS, *EVAL_KEYS, OPERATION,
                              *((RESPONSE_ID,) if settings.keep_response_ids else ()))),
            team_attributes=tuple(settings.team_attributes), tag_attributes=tuple(settings.tag_attributes),
            team_tag_prefix=settings.team_tag_prefix,
            escalation_names=frozenset(s.name for s in mapping.escalation_scores),
            escalation_tags=frozenset(mapping.escalation_tags), memory_used_tags=frozenset(mapping.memory_used_tags),
            memory_enabled_tags=frozenset(mapping.memory_enabled_tags),
            memory_names=frozenset(mapping.memory_observation_names))


@dataclass
class Batch:
    spans: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    stats: dict[tuple, list] = field(default_factory=dict)     # (minute, team, service, model) -> [spans, genai, errors, cost, latency_s]
    traces: dict[str, list] = field(default_factory=dict)      # trace hex -> [minute, team | None, flags]
    ids: dict[str, int] = field(default_factory=dict)          # normalised call id -> minute
    responses: dict[str, tuple] = field(default_factory=dict)  # gen_ai.response.id -> (trace hex, minute)
    # trace hex -> [first, last] minute its GenAI spans cover (start to end): a gateway request joined
    # by trace id lies within its trace, in any of these minutes (see tables.write_batch)
    ranges: dict[str, list] = field(default_factory=dict)
    scores: list[tuple] = field(default_factory=list)          # (minute, trace hex, team | None, name, value)
    # Idempotency: trace id + span id of every summarised span (each key once: a span repeated in
    # the body is a duplicate). The store claims these keys in the transaction that writes the batch;
    # when some were claimed before (an exporter's retry), the batch is summarised again from
    # `request`, counting only the spans whose key was new (see tables.write_batch).
    keys: dict[bytes, int] = field(default_factory=dict)   # trace id + span id -> start_time_unix_nano
    duplicates: int = 0
    request: ExportTraceServiceRequest | None = field(default=None, repr=False, compare=False)
    settings: Settings | None = field(default=None, repr=False, compare=False)


def parse_body(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    return parse(body, content_type, ExportTraceServiceRequest(), SPANS)


def _tags(value) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value)
            return [str(v) for v in parsed] if isinstance(parsed, list) else []
        except (ValueError, RecursionError):  # a tag string of "[[[[..." must not fail the request
            return []
    return [value] if isinstance(value, str) and value else []


def evaluation_score(value, label) -> float | None:
    """An evaluation's value as a number: the score, else its label read as pass (1) / fail (0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # a score of inf or NaN would poison every mean it joins: read it as no score
        return float(value) if math.isfinite(value) and abs(value) <= MAX_SCORE else None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(label, str):
        lowered = label.strip().lower()
        if lowered in _TRUE_LABELS:
            return 1.0
        if lowered in _FALSE_LABELS:
            return 0.0
    return None


def _reject(batch: Batch, span, reason: str) -> None:
    batch.rejected += 1
    if len(batch.errors) < 5:
        batch.errors.append(f"span '{span.name[:60]}': {reason}")


def summarise(request: ExportTraceServiceRequest, settings: Settings, only: set[bytes] | None = None) -> Batch:
    """`only`: count just the spans with these keys (the ones the store had not seen); the others,
    and a span repeated within the body, are counted as duplicates."""
    rules = SpanRules.from_settings(settings)
    wanted = rules.wanted
    batch = Batch(request=request, settings=settings)
    latest_ns = MAX_TIME_NS if settings.clock is None else int((settings.clock() + MAX_CLOCK_SKEW) * 1e9)
    keys = batch.keys
    for resource_spans in request.resource_spans:
        service, resource_team = "unknown", None
        for kv in resource_spans.resource.attributes:
            if kv.key == "service.name":
                service = _text(_value(kv.value)) or "unknown"
            elif kv.key == settings.team_resource_attribute:
                resource_team = _text(_value(kv.value)) or None
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                batch.spans += 1
                trace_id = span.trace_id
                if len(trace_id) != 16 or not any(trace_id):
                    _reject(batch, span, "trace_id must be 16 non-zero bytes")
                    continue
                if not MIN_TIME_NS <= span.start_time_unix_nano <= span.end_time_unix_nano < MAX_TIME_NS:
                    _reject(batch, span, "start/end time must be in years 2000-2099 with end >= start")
                    continue
                if span.end_time_unix_nano > latest_ns:
                    _reject(batch, span, f"ends more than {MAX_CLOCK_SKEW:.0f} s after the monitor's clock")
                    continue
                # A span id that is not 8 non-zero bytes (invalid per the spec) cannot be deduplicated:
                # such a span is still counted, so a retry of it counts again (no SDK sends these).
                span_id = span.span_id
                if len(span_id) == 8 and span_id != _NO_SPAN_ID:
                    key = trace_id + span_id
                    if key in keys or (only is not None and key not in only):
                        batch.duplicates += 1
                        continue
                    keys[key] = span.start_time_unix_nano
                attrs, genai = {}, span.name == "litellm_request"
                for kv in span.attributes:
                    key = kv.key
                    if key in wanted:
                        attrs[key] = _value(kv.value)
                    if not genai and key.startswith("gen_ai."):
                        genai = True
                _add_span(batch, span, attrs, genai, service, resource_team, rules)
    return batch


def _first(attrs: dict, keys) -> object:
    for key in keys:
        value = attrs.get(key)
        if value:
            return value
    return None


def _add_span(batch: Batch, span, attrs: dict, genai: bool, service: str, resource_team: str | None,
              rules: SpanRules) -> None:
    """One valid, new span into the batch. `attrs`: its attributes named in `rules.wanted`, decoded;
    `genai`: a GenAI span (a `gen_ai.*` attribute, or LiteLLM's `litellm_request`)."""
    # the hot path of the receiver: plain loops and early outs, no per-span generators
    start, end = span.start_time_unix_nano / 1e9, span.end_time_unix_nano / 1e9
    minute = int(start // 60) * 60
    team = _first(attrs, rules.team_attributes)
    team = _text(team) or resource_team
    tags: list[str] = []
    for key in rules.tag_attributes:
        if key in attrs:
            tags.extend(_tags(attrs[key]))
    if team is None and tags:
        team = rules.mapping.team_from_tags(tags, rules.team_tag_prefix)
    model = _text(_first(attrs, MODEL_KEYS)) if genai else ""
    cost = 0.0
    for key in COST_KEYS:
        value = attrs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # the same sane range as the gateway's payloads; anything else is no cost, not a huge one
            cost = float(value) if math.isfinite(value) and 0.0 <= value <= MAX_COST_USD else 0.0
            break
    key = (minute, team or UNATTRIBUTED, service, model)
    stat = batch.stats.get(key)
    if stat is None:
        stat = batch.stats[key] = [0, 0, 0, 0.0, 0.0]
    stat[0] += 1
    stat[2] += span.status.code == 2  # STATUS_CODE_ERROR
    if genai:
        stat[1] += 1
        stat[3] += cost
        stat[4] += max(end - start, 0.0)
    flags = GENAI if genai else 0
    if tags:
        tag_set = set(tags)
        if tag_set & rules.escalation_tags:
            flags |= ESCALATED
        if tag_set & rules.memory_used_tags:
            flags |= MEMORY_USED | MEMORY_ENABLED
        elif tag_set & rules.memory_enabled_tags:
            flags |= MEMORY_ENABLED
    operation = attrs.get(OPERATION)
    operation = operation if isinstance(operation, str) else None  # an array value is not hashable
    if span.name in rules.memory_names or operation in MEMORY_READS:
        flags |= MEMORY_USED | MEMORY_ENABLED
    elif operation in MEMORY_WRITES:
        flags |= MEMORY_ENABLED
    trace = span.trace_id.hex()
    evaluations = []
    if EVAL_NAME in attrs:
        evaluations.append((minute, attrs[EVAL_NAME], evaluation_score(attrs.get(EVAL_VALUE), attrs.get(EVAL_LABEL))))
    for event in span.events:
        if event.name == EVALUATION_EVENT:
            fields = {kv.key: _value(kv.value) for kv in event.attributes if kv.key in EVAL_KEYS}
            event_ns = event.time_unix_nano
            event_minute = int(event_ns / 1e9 // 60) * 60 if MIN_TIME_NS <= event_ns < MAX_TIME_NS else minute
            evaluations.append((event_minute, fields.get(EVAL_NAME), evaluation_score(fields.get(EVAL_VALUE), fields.get(EVAL_LABEL))))
    for score_minute, name, value in evaluations:
        if not isinstance(name, str) or not name:
            continue
        flags |= SCORED
        if value is not None:
            batch.scores.append((score_minute, trace, team, _text(name), value))
            if name in rules.escalation_names and value >= 0.5:
                flags |= ESCALATED
    if not flags:
        return  # not a GenAI trace (health checks, HTTP plumbing): counted in the span stats only
    entry = batch.traces.get(trace)
    if entry is None:
        batch.traces[trace] = [minute, team, flags]
    else:
        entry[1] = entry[1] or team
        entry[2] |= flags
    end_minute = int(end // 60) * 60
    covered = batch.ranges.get(trace)
    if covered is None:
        batch.ranges[trace] = [minute, end_minute]
    else:
        covered[0], covered[1] = min(covered[0], minute), max(covered[1], end_minute)
    response_id = attrs.get(RESPONSE_ID)
    if isinstance(response_id, str) and 0 < len(response_id) <= MAX_ID_CHARS:
        batch.responses.setdefault(_text(response_id), (trace, minute))
    for call_key in CALL_ID_KEYS:  # aliases a gateway request can be matched by (the trace id is one too)
        call_id = attrs.get(call_key)
        if isinstance(call_id, str) and call_id:
            batch.ids.setdefault(normalise_id(call_id), minute)
