"""`decode._add_span` on real protobuf spans: one span -> the batch's stats row, trace flags,
evaluation scores and call-id aliases, with exact expected contents (no server, no store)."""
from __future__ import annotations

import math

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collectors.limits import MAX_COST_USD
from collectors.observability_kpis import KpiMapping
from collectors.otlp.decode import (ESCALATED, EVALUATION_EVENT, GENAI, MEMORY_ENABLED, MEMORY_USED, SCORED, Batch,
                                    Settings, SpanRules, _add_span, _value, summarise)
from signals.teams import UNATTRIBUTED

T0 = 1_800_000_000          # a minute boundary (2027-01-15 08:00:00 UTC)
NS = 10**9
RULES = SpanRules.from_settings(Settings(KpiMapping()))
MEMORY = MEMORY_USED | MEMORY_ENABLED


def trace_hex(trace: int) -> str:
    return f"{trace:032x}"


def _set(any_value, value) -> None:
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, list):
        for item in value:
            _set(any_value.array_value.values.add(), item)
    else:
        any_value.string_value = value


def make_span(trace: int = 1, name: str = "litellm_request", start_ns: int = (T0 + 5) * NS, duration_ns: int = 0,
              status: int = Status.STATUS_CODE_UNSET, attributes: dict | None = None,
              events: tuple[tuple[str, int, dict], ...] = ()) -> Span:
    """A Span as an SDK sends it. events: (name, time_unix_nano, attributes)."""
    span = Span(trace_id=trace.to_bytes(16, "big"), span_id=(1).to_bytes(8, "big"), name=name,
                start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + duration_ns)
    span.status.code = status
    for key, value in (attributes or {}).items():
        kv = span.attributes.add()
        kv.key = key
        _set(kv.value, value)
    for event_name, time_ns, event_attributes in events:
        event = span.events.add(name=event_name, time_unix_nano=time_ns)
        for key, value in event_attributes.items():
            kv = event.attributes.add()
            kv.key = key
            _set(kv.value, value)
    return span


def add(batch: Batch, span: Span, *, genai: bool = True, service: str = "svc", resource_team: str | None = None,
        rules: SpanRules = RULES) -> Batch:
    """What `summarise` does for a valid new span: decode the wanted attributes, then `_add_span`."""
    attrs = {kv.key: _value(kv.value) for kv in span.attributes if kv.key in rules.wanted}
    _add_span(batch, span, attrs, genai, service, resource_team, rules)
    return batch


def one(span: Span, **kwargs) -> Batch:
    return add(Batch(), span, **kwargs)


def evaluation(name, value=None, label=None) -> dict:
    attributes = {"gen_ai.evaluation.name": name}
    if value is not None:
        attributes["gen_ai.evaluation.score.value"] = value
    if label is not None:
        attributes["gen_ai.evaluation.score.label"] = label
    return attributes


# ------------------------------------------------------------------------------------ span stats
def test_genai_spans_stats_row_counts_errors_cost_and_latency():
    batch = Batch()
    team = {"metadata.user_api_key_team_alias": "search", "gen_ai.request.model": "gpt-4o"}
    add(batch, make_span(duration_ns=1_500_000_000, status=Status.STATUS_CODE_ERROR,
                         attributes={**team, "gen_ai.cost.total_cost": 0.25}))
    add(batch, make_span(trace=2, start_ns=(T0 + 30) * NS, duration_ns=500_000_000, status=Status.STATUS_CODE_OK,
                         attributes={**team, "gen_ai.cost.total_cost": MAX_COST_USD * 2}))   # out of range: no cost
    add(batch, make_span(trace=3, start_ns=(T0 + 59) * NS, duration_ns=2 * NS,       # ends in the next minute
                         attributes={**team, "gen_ai.cost.total_cost": math.nan}))         # NaN: no cost
    add(batch, make_span(trace=4, start_ns=(T0 + 60) * NS, duration_ns=1_000_000_000,
                         attributes={**team, "gen_ai.cost.total_cost": 0.5}))               # the next minute
    # (minute, team, service, model) -> [spans, genai spans, errors, cost, latency seconds]
    assert batch.stats == {(T0, "search", "svc", "gpt-4o"): [3, 3, 1, 0.25, 4.0],
                           (T0 + 60, "search", "svc", "gpt-4o"): [1, 1, 0, 0.5, 1.0]}
    assert batch.traces == {trace_hex(1): [T0, "search", GENAI], trace_hex(2): [T0, "search", GENAI],
                            trace_hex(3): [T0, "search", GENAI], trace_hex(4): [T0 + 60, "search", GENAI]}
    assert batch.scores == [] and batch.ids == {}


@pytest.mark.parametrize(("attributes", "cost"), [
    ({"gen_ai.cost.total_cost": 0.25}, 0.25),
    ({"gen_ai.cost.total_cost": 3}, 3.0),                               # an int attribute
    ({"gen_ai.cost.total_cost": 0.0}, 0.0),
    ({"gen_ai.cost.total_cost": MAX_COST_USD}, MAX_COST_USD),           # the limit itself is in range
    ({"gen_ai.cost.total_cost": MAX_COST_USD * 1.01}, 0.0),
    ({"gen_ai.cost.total_cost": -0.01}, 0.0),
    ({"gen_ai.cost.total_cost": math.nan}, 0.0),
    ({"gen_ai.cost.total_cost": math.inf}, 0.0),
    ({"gen_ai.cost.total_cost": True}, 0.0),                            # a bool is no cost
    ({"gen_ai.usage.cost": 0.125}, 0.125),                              # OpenLIT
    ({"llm.usage.total_cost": 0.75}, 0.75),
    ({"gen_ai.cost.total_cost": "0.5", "llm.usage.total_cost": 0.75}, 0.75),   # a text value: the next key
    ({"gen_ai.cost.total_cost": 0.25, "gen_ai.usage.cost": 9.0}, 0.25),         # the first key wins
    ({"gen_ai.cost.total_cost": math.nan, "gen_ai.usage.cost": 9.0}, 0.0),      # the first number decides
], ids=lambda value: repr(value) if not isinstance(value, dict) else ",".join(map(str, value.values())))
def test_cost_is_the_first_numeric_cost_attribute_within_range(attributes, cost):
    batch = one(make_span(attributes={"gen_ai.request.model": "m", **attributes}))
    assert batch.stats == {(T0, UNATTRIBUTED, "svc", "m"): [1, 1, 0, cost, 0.0]}


def test_model_is_the_first_model_attribute_of_a_genai_span():
    batch = one(make_span(attributes={"gen_ai.request.model": "", "gen_ai.response.model": "gpt-4o-2024",
                                      "litellm.model_group": "group"}))
    assert list(batch.stats) == [(T0, UNATTRIBUTED, "svc", "gpt-4o-2024")]
    batch = one(make_span(attributes={"litellm.model_group": "group"}))
    assert list(batch.stats) == [(T0, UNATTRIBUTED, "svc", "group")]


def test_non_genai_span_is_counted_in_the_stats_only():
    span = make_span(name="GET /health", duration_ns=2 * NS, status=Status.STATUS_CODE_ERROR,
                     attributes={"litellm.model_group": "group", "llm.usage.total_cost": 0.5,
                                 "litellm.call_id": "abc-123", "tags": ["unrelated"]})
    batch = one(span, genai=False, service="gateway")
    # no model, cost or latency outside GenAI spans; no trace row, alias or score
    assert batch.stats == {(T0, UNATTRIBUTED, "gateway", ""): [1, 0, 1, 0.0, 0.0]}
    assert batch.traces == {} and batch.ids == {} and batch.scores == []


# ------------------------------------------------------------------------------------------ team
TEAM_RULES = SpanRules.from_settings(Settings(KpiMapping(), team_tag_prefix="squad:"))


@pytest.mark.parametrize(("attributes", "resource_team", "rules", "team"), [
    ({"metadata.user_api_key_team_alias": "search", "metadata.user_api_key_team_id": "t-1"}, "ns", RULES, "search"),
    ({"metadata.user_api_key_team_alias": "", "metadata.user_api_key_team_id": "t-1"}, "ns", RULES, "t-1"),
    ({"metadata.user_api_key_team_alias": "se\x00arch"}, None, RULES, "search"),          # NUL removed
    ({"tags": ["team:ads"]}, "payments", RULES, "payments"),                             # resource before tags
    ({}, "payments", RULES, "payments"),
    ({"tags": ["x", "user_api_key_team_alias:ops"]}, None, RULES, "ops"),                # a mapping prefix
    ({"langfuse.trace.tags": '["squad:blue"]'}, None, TEAM_RULES, "blue"),               # the settings' prefix
    ({"metadata.tags": ["squad:blue"]}, None, RULES, None),                              # not a prefix by default
    ({"tags": ["team:"]}, None, RULES, None),                                            # a prefix alone: no team
    ({"other.team": "ignored"}, None, RULES, None),
])
def test_team_from_attributes_then_resource_then_tags(attributes, resource_team, rules, team):
    batch = one(make_span(attributes={"gen_ai.request.model": "m", **attributes}), resource_team=resource_team,
                rules=rules)
    assert batch.stats == {(T0, team or UNATTRIBUTED, "svc", "m"): [1, 1, 0, 0.0, 0.0]}
    assert batch.traces == {trace_hex(1): [T0, team, GENAI]}   # the trace keeps None: not attributed yet


# ------------------------------------------------------------------------------------ escalation
@pytest.mark.parametrize(("attributes", "events", "flags"), [
    ({"tags": ["escalated"]}, (), GENAI | ESCALATED),
    ({"metadata.tags": '["handoff:human"]'}, (), GENAI | ESCALATED),
    ({"tags": ["escalation"]}, (), GENAI),
    (evaluation("human_escalation", 0.5), (), GENAI | SCORED | ESCALATED),
    (evaluation("human_escalation", 1), (), GENAI | SCORED | ESCALATED),
    (evaluation("human_escalation", 0.49), (), GENAI | SCORED),
    (evaluation("escalated", label="yes"), (), GENAI | SCORED | ESCALATED),
    (evaluation("escalated", label="no"), (), GENAI | SCORED),
    (evaluation("quality", 0.9), (), GENAI | SCORED),                                    # not an escalation score
    ({}, ((EVALUATION_EVENT, (T0 + 10) * NS, evaluation("escalated", 0.75)),), GENAI | SCORED | ESCALATED),
    ({}, ((EVALUATION_EVENT, (T0 + 10) * NS, evaluation("escalated", 0.25)),), GENAI | SCORED),
])
def test_escalation_by_tag_or_by_an_escalation_score_of_at_least_half(attributes, events, flags):
    batch = one(make_span(attributes=attributes, events=events))
    assert batch.traces == {trace_hex(1): [T0, None, flags]}


def test_escalation_names_come_from_the_mapping():
    rules = SpanRules.from_settings(Settings(KpiMapping(escalation_scores=["handoff"], escalation_tags=["human"])))
    assert one(make_span(attributes=evaluation("handoff", 0.5)), rules=rules).traces[trace_hex(1)][2] == \
        GENAI | SCORED | ESCALATED
    assert one(make_span(attributes=evaluation("human_escalation", 1.0)), rules=rules).traces[trace_hex(1)][2] == \
        GENAI | SCORED
    assert one(make_span(attributes={"tags": ["human"]}), rules=rules).traces[trace_hex(1)][2] == GENAI | ESCALATED
    assert one(make_span(attributes={"tags": ["escalated"]}), rules=rules).traces[trace_hex(1)][2] == GENAI


# ---------------------------------------------------------------------------------------- memory
@pytest.mark.parametrize(("name", "tags", "genai", "flags"), [
    ("litellm_request", ["memory:used"], True, GENAI | MEMORY),
    ("litellm_request", ["memory-hit"], True, GENAI | MEMORY),
    ("litellm_request", ["memory"], True, GENAI | MEMORY_ENABLED),
    ("litellm_request", ["memory-enabled", "memory-hit"], True, GENAI | MEMORY),
    ("litellm_request", ["memories"], True, GENAI),
    ("memory.search", [], False, MEMORY),        # a memory lookup span: used, even without GenAI attributes
    ("retrieve_memory", ["memory"], False, MEMORY),
    ("mem0.search", [], True, GENAI | MEMORY),
])
def test_memory_used_and_enabled_by_tag_and_by_span_name(name, tags, genai, flags):
    batch = one(make_span(name=name, attributes={"tags": tags} if tags else {}), genai=genai)
    assert batch.traces == {trace_hex(1): [T0, None, flags]}


@pytest.mark.parametrize(("operation", "flags"), [
    ("search_memory", GENAI | MEMORY),                          # reads memory: used (and so enabled)
    *((op, GENAI | MEMORY_ENABLED) for op in ("create_memory", "update_memory", "upsert_memory", "delete_memory",
                                              "create_memory_store", "delete_memory_store")),   # writes: enabled
    ("chat", GENAI), ("retrieval", GENAI), ("Search_Memory", GENAI),                # other operations, exact names
    (["search_memory"], GENAI),                                 # not a text value: no operation
])
def test_memory_operations_by_gen_ai_operation_name(operation, flags):
    batch = one(make_span(name="memory op", attributes={"gen_ai.operation.name": operation}))
    assert batch.traces == {trace_hex(1): [T0, None, flags]}


def test_a_memory_search_span_name_still_counts_beside_the_operation_names():
    attributes = {"gen_ai.operation.name": "create_memory"}
    assert one(make_span(name="mem0.search", attributes=attributes)).traces[trace_hex(1)][2] == GENAI | MEMORY


def test_a_non_genai_span_with_another_name_makes_no_trace_row():
    batch = one(make_span(name="memory.write", attributes={"tags": ["memories"]}), genai=False)
    assert batch.traces == {} and batch.stats == {(T0, UNATTRIBUTED, "svc", ""): [1, 0, 0, 0.0, 0.0]}


# ------------------------------------------------------------------------------------ evaluations
def test_evaluation_from_span_attributes_at_the_span_minute():
    batch = one(make_span(start_ns=(T0 + 65) * NS, attributes={"metadata.user_api_key_team_alias": "search",
                                                              **evaluation("quality", 0.8)}))
    assert batch.scores == [(T0 + 60, trace_hex(1), "search", "quality", 0.8)]
    assert batch.traces == {trace_hex(1): [T0 + 60, "search", GENAI | SCORED]}


@pytest.mark.parametrize(("attributes", "value"), [
    (evaluation("quality", 4), 4.0),
    (evaluation("quality", True), 1.0),
    (evaluation("quality", label=" Pass "), 1.0),
    (evaluation("quality", label="FAILED"), 0.0),
    (evaluation("quality", 0.25, label="pass"), 0.25),                  # the value before the label
])
def test_evaluation_value_or_label(attributes, value):
    assert one(make_span(attributes=attributes)).scores == [(T0, trace_hex(1), None, "quality", value)]


@pytest.mark.parametrize("attributes", [
    evaluation("quality", label="meh"), evaluation("quality", math.inf), evaluation("quality", 2e9),
    evaluation("quality", "0.5"), evaluation("quality"),
])
def test_an_evaluation_without_a_usable_value_marks_the_trace_scored_without_a_score(attributes):
    batch = one(make_span(attributes=attributes))
    assert batch.scores == []
    assert batch.traces == {trace_hex(1): [T0, None, GENAI | SCORED]}


def test_evaluations_from_events_at_their_own_minute_or_else_the_spans():
    span = make_span(start_ns=(T0 + 65) * NS, duration_ns=NS, attributes={
        "metadata.user_api_key_team_alias": "search", **evaluation("correctness", 0.5)}, events=(
        (EVALUATION_EVENT, (T0 + 150) * NS, evaluation("helpfulness", 0.75)),     # its own minute: T0 + 120
        (EVALUATION_EVENT, 0, evaluation("quality", 0.25)),                       # unset time: the span's minute
        (EVALUATION_EVENT, 5_000_000_000 * NS, evaluation("csat", 4)),             # beyond 2100: the span's minute
        ("exception", (T0 + 70) * NS, evaluation("quality", 0.0)),                 # another event: ignored
        (EVALUATION_EVENT, (T0 + 70) * NS, {"gen_ai.evaluation.score.value": 1.0}),   # no name: ignored
    ))
    batch = one(span)
    assert batch.scores == [(T0 + 60, trace_hex(1), "search", "correctness", 0.5),
                            (T0 + 120, trace_hex(1), "search", "helpfulness", 0.75),
                            (T0 + 60, trace_hex(1), "search", "quality", 0.25),
                            (T0 + 60, trace_hex(1), "search", "csat", 4.0)]
    assert batch.traces == {trace_hex(1): [T0 + 60, "search", GENAI | SCORED]}


@pytest.mark.parametrize("name", ["", 7, None])
def test_a_score_without_a_text_name_is_ignored(name):
    attributes = {"gen_ai.evaluation.score.value": 0.9}
    if name is not None:
        attributes["gen_ai.evaluation.name"] = name
    event = (EVALUATION_EVENT, (T0 + 10) * NS, dict(attributes))
    batch = one(make_span(attributes=attributes, events=(event,)))
    assert batch.scores == []
    assert batch.traces == {trace_hex(1): [T0, None, GENAI]}     # not SCORED


def test_a_score_name_has_nul_removed():
    batch = one(make_span(attributes=evaluation("qual\x00ity", 0.5)))
    assert batch.scores == [(T0, trace_hex(1), None, "quality", 0.5)]


# ------------------------------------------------------------------------------- call-id aliases
def test_call_id_aliases_are_normalised():
    batch = one(make_span(attributes={"litellm.call_id": "  8F1C-AB12-Cd34\n", "gen_ai.litellm.call_id": "XY-9"}))
    assert batch.ids == {"8f1cab12cd34": T0, "xy9": T0}


def test_call_id_alias_keeps_its_first_minute_and_skips_non_text():
    batch = Batch()
    add(batch, make_span(trace=1, attributes={"litellm.call_id": "Abc-1"}))
    add(batch, make_span(trace=2, start_ns=(T0 + 120) * NS, attributes={"litellm.call_id": "abc1 ",
                                                                        "gen_ai.litellm.call_id": 42}))
    add(batch, make_span(trace=3, attributes={"litellm.call_id": ""}))
    assert batch.ids == {"abc1": T0}


# ------------------------------------------------------------------------- provider, response id
@pytest.mark.parametrize("attribute", ["gen_ai.provider.name", "gen_ai.system"])
def test_the_provider_attribute_new_or_old_makes_a_genai_span(attribute):
    """Any gen_ai.* attribute marks a GenAI span; the provider (the current name or the deprecated
    one) is not read for its value anywhere."""
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(make_span(name="chat", attributes={attribute: "openai"}))
    batch = summarise(request, Settings(KpiMapping()))
    assert batch.traces == {trace_hex(1): [T0, None, GENAI]} and batch.stats[(T0, UNATTRIBUTED, "unknown", "")][1] == 1


def test_response_ids_of_trace_spans_are_kept_for_the_log_evaluations():
    batch = Batch()
    add(batch, make_span(trace=1, attributes={"gen_ai.response.id": "chatcmpl-1"}))
    add(batch, make_span(trace=2, start_ns=(T0 + 70) * NS, attributes={"gen_ai.response.id": "chatcmpl-1"}))  # first wins
    add(batch, make_span(trace=3, attributes={"gen_ai.response.id": "x" * 513}))      # longer than an id: skipped
    add(batch, make_span(trace=4, attributes={"gen_ai.response.id": 7}))
    add(batch, make_span(trace=5, name="GET /", attributes={"gen_ai.response.id": "r5"}), genai=False)  # no trace row
    assert batch.responses == {"chatcmpl-1": (trace_hex(1), T0)}


def test_ranges_cover_each_trace_from_its_first_start_to_its_last_end():
    batch = Batch()
    add(batch, make_span(trace=1, start_ns=(T0 + 70) * NS, duration_ns=5 * NS))
    add(batch, make_span(trace=1, start_ns=(T0 + 10) * NS, duration_ns=NS))
    add(batch, make_span(trace=1, start_ns=(T0 + 100) * NS, duration_ns=200 * NS))   # ends at T0 + 300
    add(batch, make_span(trace=2, name="GET /", start_ns=T0 * NS, duration_ns=600 * NS), genai=False)  # no trace row
    assert batch.ranges == {trace_hex(1): [T0, T0 + 300]}


# ------------------------------------------------------------------------------ one trace, spans
def test_spans_of_one_trace_merge_flags_and_keep_the_first_team_and_minute():
    batch = Batch()
    add(batch, make_span(name="memory.search", start_ns=(T0 + 5) * NS), genai=False)              # no team yet
    add(batch, make_span(start_ns=(T0 + 70) * NS, attributes={"metadata.user_api_key_team_alias": "search",
                                                              **evaluation("quality", 0.5)}))
    add(batch, make_span(start_ns=(T0 + 80) * NS, attributes={"metadata.user_api_key_team_alias": "ads",
                                                              "tags": ["escalated"]}))
    assert batch.traces == {trace_hex(1): [T0, "search", MEMORY | GENAI | SCORED | ESCALATED]}
    assert batch.scores == [(T0 + 60, trace_hex(1), "search", "quality", 0.5)]
    assert batch.stats == {(T0, UNATTRIBUTED, "svc", ""): [1, 0, 0, 0.0, 0.0],
                           (T0 + 60, "search", "svc", ""): [1, 1, 0, 0.0, 0.0],
                           (T0 + 60, "ads", "svc", ""): [1, 1, 0, 0.0, 0.0]}


def test_rules_are_derived_once_from_the_settings():
    mapping = KpiMapping(escalation_scores=[{"name": "handoff", "min": 1, "max": 5}], memory_observation_names=["m"])
    rules = SpanRules.from_settings(Settings(mapping, team_attributes=("team",), tag_attributes=("labels",),
                                             team_tag_prefix=None))
    assert (rules.team_attributes, rules.tag_attributes, rules.team_tag_prefix) == (("team",), ("labels",), None)
    assert rules.escalation_names == {"handoff"} and rules.memory_names == {"m"}
    assert rules.escalation_tags == {"escalated", "human-escalation", "handoff:human"}
    assert rules.memory_used_tags == {"memory:used", "memory-hit"}
    assert rules.memory_enabled_tags == {"memory", "memory-enabled"}
    assert {"team", "labels", "gen_ai.request.model", "litellm.call_id", "gen_ai.evaluation.name",
            "gen_ai.response.id", "gen_ai.operation.name"} <= rules.wanted
    assert "metadata.user_api_key_team_alias" not in rules.wanted
    with pytest.raises(AttributeError):
        rules.team_attributes = ()   # frozen: one per batch, shared by its spans
