"""PromQL signals against recorded Prometheus API answers: values, teams, retries, bad queries."""
import httpx
import pytest

from collectors.promql.client import PrometheusClient, PrometheusUnavailable, QueryError
from collectors.promql.source import PromqlConfig, PromqlSource
from signals.source import CycleWindow, SourceContext

NOW = 1_800_000_000.0
WINDOW = CycleWindow(NOW, NOW - 3600, NOW, NOW - 30 * 86400)


def vector(*items):
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [NOW, str(v)]} for m, v in items]}}


class FakePrometheus:
    """Answers by query text; a list of answers is served in order (for retries)."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        self.calls.append((request.url.path, form))
        answer = self.answers[form["query"]]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        return httpx.Response(status, json=body)


def make(answers, signals, **extra):
    fake = FakePrometheus(answers)
    config = PromqlConfig.model_validate({"url": "http://prom", "signals": signals, **extra})
    client = PrometheusClient("http://prom", retries=config.retries, transport=httpx.MockTransport(fake), sleep=lambda s: None)
    return PromqlSource(config, SourceContext(None, lambda: NOW, {}), client=client), fake


def test_instant_signal_with_fixed_samples():
    source, fake = make({"avg(up)": vector(({}, 0.995))}, {"system_health_score": {"query": "avg(up)", "samples": 60}})
    result = source.collect(WINDOW)
    m = result.signals["all"]["system_health_score"]
    assert (m.value, m.samples) == (0.995, 60)
    assert fake.calls[0][0] == "/api/v1/query" and fake.calls[0][1]["time"] == f"{NOW:.3f}"
    assert result.info["errors"] == {}


def test_per_team_values_and_samples_query():
    answers = {"q": vector(({"team": "search"}, 0.9), ({"team": "support"}, 0.7), ({}, 0.8)),
               "n": vector(({"team": "search"}, 40), ({"team": "support"}, 10), ({}, 50))}
    source, _ = make(answers, {"quality_score_avg": {"query": "q", "team_label": "team", "samples_query": "n"}})
    signals = source.collect(WINDOW).signals
    assert signals["search"]["quality_score_avg"].value == 0.9 and signals["search"]["quality_score_avg"].samples == 40
    assert signals["support"]["quality_score_avg"].samples == 10
    assert signals["all"]["quality_score_avg"].value == 0.8 and signals["all"]["quality_score_avg"].samples == 50


def test_range_mode_reduces_points():
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[NOW - 120, "1"], [NOW - 60, "0.5"], [NOW, "NaN"]]}]}}
    source, fake = make({"r": matrix}, {"x": {"query": "r", "mode": "range", "step": "1m", "samples": "points"}})
    m = source.collect(WINDOW).signals["all"]["x"]
    assert (m.value, m.samples) == (0.75, 2)  # NaN is no value
    path, form = fake.calls[0]
    assert path == "/api/v1/query_range" and float(form["start"]) == NOW - 3600 and form["step"] == "60"


def test_a_bad_query_fails_that_signal_only():
    bad = (400, {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected <by>"})
    source, fake = make({"sum by": bad, "ok": vector(({}, 1))},
                        {"broken": {"query": "sum by"}, "good": {"query": "ok"}})
    result = source.collect(WINDOW)
    assert "parse error" in result.info["errors"]["broken"] and "bad_data" in result.info["errors"]["broken"]
    assert result.signals["all"]["good"].value == 1 and "broken" not in result.signals["all"]
    assert len([c for c in fake.calls if c[1]["query"] == "sum by"]) == 1  # no retry of a rejected query


def test_several_series_without_team_label_is_a_clear_error():
    source, _ = make({"q": vector(({"a": "1"}, 1), ({"a": "2"}, 2))}, {"x": {"query": "q"}})
    assert "returned 2 series" in source.collect(WINDOW).info["errors"]["x"]


def test_retries_then_succeeds_and_then_gives_up():
    answers = {"q": [httpx.ConnectError("refused"), (503, {"status": "error", "errorType": "unavailable", "error": "x"}),
                     vector(({}, 3))]}
    source, fake = make(answers, {"x": {"query": "q"}}, retries=2)
    assert source.collect(WINDOW).signals["all"]["x"].value == 3 and len(fake.calls) == 3

    source, fake = make({"q": [httpx.ConnectError("refused")]}, {"x": {"query": "q"}, "y": {"query": "q"}}, retries=1)
    with pytest.raises(PrometheusUnavailable, match="after 2 attempts"):
        source.collect(WINDOW)
    assert len(fake.calls) == 2  # the second signal did not wait out the dead server again


def test_last_good_value_is_kept_until_stale():
    answers = {"q": [vector(({}, 0.5)), (422, {"status": "error", "errorType": "execution", "error": "boom"})]}
    source, _ = make(answers, {"x": {"query": "q"}}, stale_after="10m")
    assert source.collect(WINDOW).signals["all"]["x"].value == 0.5
    later = CycleWindow(NOW + 300, NOW - 3300, NOW + 300, NOW)
    result = source.collect(later)
    assert result.signals["all"]["x"].value == 0.5 and "boom" in result.info["errors"]["x"]
    assert "x" not in source.collect(CycleWindow(NOW + 900, NOW, NOW + 900, NOW)).signals.get("all", {})


def test_client_refuses_strings_and_non_api_answers():
    fake = FakePrometheus({"s": {"status": "success", "data": {"resultType": "string", "result": [NOW, "x"]}},
                           "h": (200, ["not", "the", "api"])})
    client = PrometheusClient("http://prom", transport=httpx.MockTransport(fake), sleep=lambda s: None)
    with pytest.raises(QueryError, match="string"):
        client.instant("s")
    with pytest.raises(PrometheusUnavailable, match="not a Prometheus API answer"):
        client.instant("h")


@pytest.mark.parametrize("section,message", [
    ({"url": "http://p"}, "signals"),
    ({"url": "http://p", "signals": {"x": {"query": ""}}}, "query"),
    ({"url": "http://p", "signals": {"x": {"query": "up", "mode": "sometimes"}}}, "mode"),
    ({"url": "http://p", "signals": {"9x": {"query": "up"}}}, "signal name"),
])
def test_config_errors_name_the_field(section, message):
    with pytest.raises(Exception, match=message):
        PromqlConfig.model_validate(section)


def test_signal_ok_series_shows_the_bad_query():
    bad = (400, {"status": "error", "errorType": "bad_data", "error": "parse error"})
    source, _ = make({"bad": bad, "ok": vector(({}, 1))}, {"broken": {"query": "bad"}, "good": {"query": "ok"}})
    source.collect(WINDOW)
    assert {s.labels["signal"]: s.value for f in source.families() for s in f.samples} == {"broken": 0.0, "good": 1.0}
