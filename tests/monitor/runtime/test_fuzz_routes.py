"""Property-based fuzzing of every receiving route: whatever arrives, no 5xx, no traceback, and the
valid items of a batch are always stored beside the bad ones.

Bounded: a fixed number of examples per route, derandomized (the same cases on every run, so a
failure reproduces), no per-example deadline. The routes run in-process (Starlette's TestClient
raises any exception that escapes a handler, so an unhandled error fails the case)."""
from __future__ import annotations

import itertools
import json
import logging
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient

from monitor.runtime.config import build_config
from monitor.runtime.http import create_app
from monitor.runtime.service import Monitor
from tests.payloads import payload

NOW = 1_800_000_600.0
# 150 cases per test in the suite; AIOPS_FUZZ_EXAMPLES=3000 for a deeper run by hand.
EXAMPLES = int(os.environ.get("AIOPS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ROUTES = ("/ingest/litellm", "/v1/traces", "/webhooks/alertmanager", "/webhooks/deployments")
ids = itertools.count()

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                         st.floats(allow_nan=False), st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)
# Values that broke the routes before: overflowing times and costs, deep nesting, invalid UTF-8.
hostile_numbers = st.sampled_from([1e19, 1e308, -1e308, 1e400, -1.0, 0, 2**64, 1.7e9 * 1e9])
FIELDS = ["id", "litellm_call_id", "trace_id", "status", "startTime", "endTime", "response_cost", "cache_hit",
          "metadata", "request_tags", "model_group", "error_information"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    config = build_config({"store": {"url": f"sqlite:///{folder / 'h.db'}"}, "evaluation_window": "1h",
                           "sources": {"otlp": {}, "alertmanager": {}, "deployments": {}}}, environ={})
    monitor = Monitor(config, clock=lambda: NOW, environ={})
    with TestClient(create_app(monitor), raise_server_exceptions=True) as test_client:
        yield test_client, monitor
    monitor.close()


def _mutated(draw) -> dict:
    item = payload(f"fz-{next(ids)}", start=NOW - 120)
    field, value = draw(st.sampled_from(FIELDS)), draw(st.one_of(json_values, hostile_numbers))
    item[field] = value
    return item


def _failure_with_code(code: str) -> bytes:
    item = payload(f"code-{code[:8]}", status="failure", start=NOW - 90, error_code="500")
    item["error_information"]["error_code"] = code
    return json.dumps(item).encode()


# error codes that are digits to str.isdigit() but not to int(): they once made a 500
ERROR_CODES = [_failure_with_code(code) for code in ("²", "٤٠٤", "9" * 5000, " 429 ", "")]


def _is_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return False


def _deep(depth: int) -> bytes:
    return b'{"id": "deep", "messages": ' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def ingest_bodies(draw):
    """(body, number of valid payloads in it): valid items mixed with mutated and hostile ones."""
    valid = [payload(f"ok-{next(ids)}", start=NOW - 60) for _ in range(draw(st.integers(0, 3)))]
    bad = [json.dumps(_mutated(draw)).encode() for _ in range(draw(st.integers(0, 3)))]
    kind = draw(st.sampled_from(["array", "lines", "pretty", "raw"]))
    # Hostile but well delimited (an array item that does not close has no boundary to keep the rest
    # by); a broken line is only ever that line.
    hostile = [b"", _deep(5000), b'{"id": "ut\xff\xfe"}', b"null", b'"a string"', *ERROR_CODES]
    extra = draw(st.sampled_from(hostile + ([b"[1, 2", b"{not json"] if kind == "lines" else [])))
    items = [json.dumps(v).encode() for v in valid] + bad + ([extra] if extra else [])
    order = draw(st.permutations(range(len(items))))
    items = [items[i] for i in order]
    if kind == "pretty":  # what a person or a script with indent=2 posts
        return json.dumps([json.loads(v) for v in items if _is_object(v)], indent=2).encode(), len(valid)
    if kind == "array":
        return b"[" + b", ".join(items) + b"]", len(valid)
    if kind == "lines":
        return b"\n".join(items), len(valid)
    return draw(st.binary(max_size=300)), 0


@FUZZ
@given(case=ingest_bodies())
def test_ingest_never_fails_and_keeps_the_valid_items(client, case):
    test_client, _ = client
    body, valid = case
    response = test_client.post("/ingest/litellm", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    if valid:
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["accepted"] >= valid, answer
        assert answer["rejected"] == len(answer["errors"]) or len(answer["errors"]) == 10


@FUZZ
@given(body=st.one_of(st.binary(max_size=400), json_values.map(lambda v: json.dumps(v).encode()),
                      st.just(_deep(5000)), st.just(b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\xff"}]}]}]}')),
       media=st.sampled_from(["application/x-protobuf", "application/json"]))
def test_otlp_never_fails(client, body, media):
    test_client, _ = client
    response = test_client.post("/v1/traces", content=body, headers={"Content-Type": media})
    assert response.status_code < 500, response.content[:300]


@FUZZ
@given(route=st.sampled_from(ROUTES[2:]),
       body=st.one_of(st.binary(max_size=400), json_values.map(lambda v: json.dumps(v).encode()), st.just(_deep(5000))))
def test_webhooks_never_fail(client, route, body):
    test_client, _ = client
    response = test_client.post(route, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text[:300]


def test_no_traceback_was_logged_and_cycles_still_run(client, caplog):
    test_client, monitor = client
    with caplog.at_level(logging.WARNING):
        body = json.dumps([payload(f"after-{i}", start=NOW - 30) for i in range(25)]).encode()
        assert test_client.post("/ingest/litellm", content=body).status_code == 200
        report = monitor.run_cycle()
    assert report.org.kpis["api_error_rate"].samples >= 25
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
