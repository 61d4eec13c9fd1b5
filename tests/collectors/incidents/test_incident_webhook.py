"""The webhook route: v4 payloads recorded as incidents; bad input refused with a 4xx and counted."""
import orjson
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.collectors.incidents.alert_payloads import T0, alert, notification
from collectors.incidents.source import AlertmanagerConfig, AlertmanagerSource
from collectors.incidents.webhook import WebhookError, parse_notification
from signals.source import CycleWindow, SourceContext
from monitor.storage.database import open_database
from tests.kpi_support import kpi

TOKEN = "am-token-123"


@pytest.fixture
def setup(tmp_path):
    clock = {"now": T0 + 3600}
    engine = open_database(f"sqlite:///{tmp_path / 'h.db'}")
    context = SourceContext(engine, lambda: clock["now"], {"AIOPS_ALERTMANAGER_TOKEN": TOKEN})
    source = AlertmanagerSource(AlertmanagerConfig.model_validate({"max_body_bytes": 4096}), context)
    client = TestClient(Starlette(routes=source.routes()))
    yield source, client, clock
    engine.dispose()


def post(client, body, token=TOKEN, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/webhooks/alertmanager", content=content, headers=headers, **kwargs)


def window(now, seconds=86400):
    return CycleWindow(now, now - seconds, now, now - 30 * 86400)


def outcomes(source):
    return {s.labels["outcome"]: s.value for f in source.families() for s in f.samples}


def test_firing_then_resolved_gives_mttr(setup):
    source, client, clock = setup
    a = alert("HighErrorRate", T0, team="search")
    assert post(client, notification(a)).json()["new"] == 1
    result = source.collect(window(clock["now"]))
    assert result.signals["all"]["open_incident_age"].value == pytest.approx(3600)
    assert "mttr_seconds" not in result.signals["all"]
    resolved = alert("HighErrorRate", T0, T0 + 600, team="search")
    assert post(client, notification(resolved)).json()["updated"] == 1
    assert post(client, notification(resolved)).json()["unchanged"] == 1  # Alertmanager repeats itself
    signals = source.collect(window(clock["now"])).signals
    assert kpi(signals["all"], "mttr_seconds")[0] == 600 and kpi(signals["all"], "mttr_seconds")[1] == 1
    assert kpi(signals["search"], "mttr_seconds")[0] == 600
    assert signals["all"]["open_incident_age"].samples == 0
    assert kpi(signals["all"], "human_intervention_rate")[0] == 1.0


def test_median_and_mean_are_both_reported(setup):
    source, client, clock = setup
    for i, minutes in enumerate((1, 2, 30)):
        post(client, notification(alert(f"A{i}", T0, T0 + minutes * 60)))
    signals = source.collect(window(clock["now"])).signals["all"]
    assert kpi(signals, "mttr_seconds")[0] == 120           # the median: what the targets use
    assert signals["mttr_mean_seconds"].value == pytest.approx((60 + 120 + 1800) / 3)
    assert sorted(signals["incident_durations"].values) == [60, 120, 1800]  # what the median is taken of


def test_auto_resolved_mark(setup):
    source, client, clock = setup
    auto = alert("DiskFull", T0, T0 + 60)
    auto["annotations"]["auto_resolved"] = "true"
    post(client, notification(auto))
    post(client, notification(alert("Other", T0, T0 + 60)))
    signals = source.collect(window(clock["now"])).signals["all"]
    assert kpi(signals, "autonomous_resolution_rate")[0] == 0.5
    assert kpi(signals, "human_intervention_rate")[0] == 0.5


@pytest.mark.parametrize("body,token,status,reason", [
    (b"{not json", TOKEN, 400, "bad_json"),
    (b"[1, 2]", TOKEN, 422, "bad_payload"),
    ({**notification(alert("A", T0)), "version": "3"}, TOKEN, 422, "unsupported_version"),
    ({**notification(alert("A", T0)), "version": 4}, TOKEN, 422, "unsupported_version"),
    ({k: v for k, v in notification(alert("A", T0)).items() if k != "groupKey"}, TOKEN, 422, "bad_payload"),
    ({**notification(alert("A", T0)), "alerts": [{**alert("A", T0), "startsAt": "yesterday"}]}, TOKEN, 422, "bad_payload"),
    ({**notification(alert("A", T0)), "alerts": [{**alert("A", T0), "status": "resolved"}]}, TOKEN, 422, "bad_payload"),
    (b"x" * 5000, TOKEN, 413, "too_large"),
    (notification(alert("A", T0)), "wrong", 401, "unauthorized"),
    (notification(alert("A", T0)), None, 401, "unauthorized"),
])
def test_bad_input_is_refused_and_counted(setup, body, token, status, reason):
    source, client, clock = setup
    response = post(client, body, token=token)
    assert response.status_code == status, response.text
    assert outcomes(source) == {reason: 1}
    assert source.collect(window(clock["now"])).info["open_incidents"] == 0


def test_huge_body_without_content_length_is_refused(setup):
    source, client, _ = setup

    def chunks():
        for _ in range(10):
            yield b" " * 1000

    response = client.post("/webhooks/alertmanager", content=chunks(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 413
    assert outcomes(source) == {"too_large": 1}


def test_parse_keeps_times_and_ignores_a_firing_alerts_end():
    a = alert("A", T0)
    a["endsAt"] = "2027-01-15T08:04:00.123456789Z"  # Alertmanager's expiry guess for a firing alert
    _receiver, (o,) = parse_notification(orjson.dumps(notification(a)))
    assert o.starts_at == T0 and o.ends_at is None
    with pytest.raises(WebhookError) as info:
        parse_notification(b'{"version": "4"}')
    assert info.value.reason == "bad_payload" and "groupKey" in str(info.value)
