"""Incidents from the real Alertmanager (Debian's prometheus-alertmanager), fed by alert rules in the
real Prometheus on a series this test controls; webhooks delivered over HTTP to the monitor.

The expected numbers are read from the raw webhook bodies Alertmanager sent (parsed here with the
standard library, not the monitor's parser): MTTR = endsAt - startsAt of what Alertmanager said.
"""
from __future__ import annotations

import json
import statistics
import time
from datetime import datetime

import httpx
import pytest

from tests.integration.integration_support import wait_until
from tests.integration.support_ops import Exporter, start_alertmanager, start_ops_monitor, start_prometheus

pytestmark = pytest.mark.integration

TOKEN = "am-it-token-77"
RULES = """\
groups:
  - name: ops-test
    interval: 1s
    rules:
      - alert: SearchDown
        expr: test_condition{kind="down"} > 0
        labels: {team: search}
      - alert: SupportOverlap
        expr: test_condition{kind="overlap"} > 0
        labels: {team: support, auto_resolved: "true"}
      - alert: Flapping
        expr: test_condition{kind="flap"} > 0
        labels: {team: search}
"""
DELIVERY_TIMEOUT = 40


def parse_ts(value: str) -> float:
    """RFC 3339 with up to 9 fractional digits -> unix seconds (our own reading, not the monitor's)."""
    value = value.replace("Z", "+00:00")
    main, _, rest = value.partition(".")
    if not rest:
        return datetime.fromisoformat(value).timestamp()
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
    zone = rest[len(digits):]
    return datetime.fromisoformat(f"{main}{zone}").timestamp() + float("0." + digits)


class Env:
    def __init__(self, exporter, running, source, bodies, prometheus):
        self.exporter, self.running, self.source, self.bodies, self.prometheus = exporter, running, source, bodies, prometheus

    def sent(self, alertname: str) -> list[dict]:
        return [a for b in self.bodies for a in b["alerts"] if a["labels"]["alertname"] == alertname]

    def resolved_spans(self, alertname: str) -> dict[tuple[str, str], tuple[float, float]]:
        return {(a["fingerprint"], a["startsAt"]): (parse_ts(a["startsAt"]), parse_ts(a["endsAt"]))
                for a in self.sent(alertname) if a["status"] == "resolved"}

    def incidents(self, alertname: str):
        return [i for i in self.source.store.incidents(0) if i.labels.get("alertname") == alertname]

    def wait(self, what: str, predicate):
        return wait_until(predicate, DELIVERY_TIMEOUT, what, interval=0.25,
                          on_timeout=lambda: f"webhook bodies so far: {json.dumps(self.bodies)[:3000]}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from collectors.incidents.source import AlertmanagerConfig, AlertmanagerSource

    work = tmp_path_factory.mktemp("alertmanager")
    bodies: list[dict] = []
    holder = {}

    def make_sources(context):
        source = AlertmanagerSource(AlertmanagerConfig(), context)
        original = source.receive

        async def recording(request):
            body = await request.body()  # cached by Starlette: the route still reads it
            try:
                bodies.append(json.loads(body))
            except ValueError:
                pass
            return await original(request)

        source.receive = recording
        holder["source"] = source
        return [source]

    exporter = Exporter()
    started = []
    try:
        running = start_ops_monitor(work, make_sources, environ={"AIOPS_ALERTMANAGER_TOKEN": TOKEN})
        started.append(running.stop)
        am_base, am = start_alertmanager(work, f"{running.url}/webhooks/alertmanager", TOKEN)
        started.append(am.stop)
        prom_base, prom = start_prometheus(
            work, f"  - job_name: ctl\n    static_configs:\n      - targets: ['127.0.0.1:{exporter.port}']\n",
            rules=RULES, alertmanager=am_base.removeprefix("http://"))
        started.append(prom.stop)
        yield Env(exporter, running, holder["source"], bodies, prom_base)
    finally:
        for stop in reversed(started):
            stop()
        exporter.stop()


def test_firing_then_resolved_gives_the_mttr_alertmanager_sent(env):
    env.exporter.set("down", "a", 1)
    env.wait("an open SearchDown incident", lambda: [i for i in env.incidents("SearchDown") if i.open])
    time.sleep(2)
    env.exporter.set("down", "a", 0)
    env.wait("SearchDown resolved", lambda: env.incidents("SearchDown") and not env.incidents("SearchDown")[0].open)
    (incident,) = env.incidents("SearchDown")
    (span,) = env.resolved_spans("SearchDown").values()
    assert incident.duration == pytest.approx(span[1] - span[0], abs=1e-5)
    assert incident.duration >= 2
    assert incident.team("team") == "search" and not incident.autonomous
    assert all(b["version"] == "4" for b in env.bodies)


def test_overlapping_alerts_of_one_group_are_one_incident(env):
    env.exporter.set("overlap", "a", 1)
    env.wait("SupportOverlap member a firing", lambda: env.incidents("SupportOverlap"))
    time.sleep(1.5)
    env.exporter.set("overlap", "b", 1)
    env.wait("member b delivered", lambda: len({a["fingerprint"] for a in env.sent("SupportOverlap")}) == 2)
    env.exporter.set("overlap", "a", 0)
    env.wait("member a resolved", lambda: len(env.resolved_spans("SupportOverlap")) == 1)
    time.sleep(1.5)
    env.exporter.set("overlap", "b", 0)
    env.wait("both resolved", lambda: len(env.resolved_spans("SupportOverlap")) == 2
             and not env.incidents("SupportOverlap")[0].open)
    incidents = env.incidents("SupportOverlap")
    spans = list(env.resolved_spans("SupportOverlap").values())
    assert len(incidents) == 1, "two overlapping alerts of one group must be one incident"
    assert len(incidents[0].occurrences) == 2
    assert incidents[0].opened_at == pytest.approx(min(s for s, _ in spans), abs=1e-5)
    assert incidents[0].resolved_at == pytest.approx(max(e for _, e in spans), abs=1e-5)
    assert incidents[0].autonomous  # the rule labels its alerts auto_resolved="true"


def test_refired_alert_reopens_its_incident(env):
    for _ in range(2):
        env.exporter.set("flap", "a", 1)
        before = len(env.resolved_spans("Flapping"))
        env.wait("Flapping firing", lambda: any(i.open for i in env.incidents("Flapping")))
        env.exporter.set("flap", "a", 0)
        env.wait("Flapping resolved", lambda: len(env.resolved_spans("Flapping")) == before + 1)
    env.wait("Flapping closed", lambda: env.incidents("Flapping") and not env.incidents("Flapping")[0].open)
    incidents = env.incidents("Flapping")
    spans = sorted(env.resolved_spans("Flapping").values())
    assert len(spans) == 2 and spans[0][1] <= spans[1][0], "Prometheus sent two occurrences, one after the other"
    assert len(incidents) == 1 and incidents[0].reopened == 1
    assert incidents[0].duration == pytest.approx(spans[1][1] - spans[0][0], abs=1e-5)


def test_kpis_from_what_alertmanager_sent(env):
    """mttr_seconds (median) and the resolution rates over the three incidents above."""
    report = env.running.monitor.run_cycle().as_dict()
    durations = []
    for name in ("SearchDown", "SupportOverlap", "Flapping"):
        spans = env.resolved_spans(name).values()
        durations.append(max(e for _, e in spans) - min(s for s, _ in spans))
    mttr = report["kpis"]["mttr_seconds"]
    assert mttr["samples"] == 3 and mttr["status"] == "met"  # < 1 day at level 3
    assert mttr["value"] == pytest.approx(statistics.median(durations), abs=1e-4)
    assert mttr["evidence"]["count"] == 3  # the median of these three intervals
    auto = report["kpis"]["autonomous_resolution_rate"]
    assert auto["value"] == pytest.approx(1 / 3) and auto["samples"] == 3 and auto["status"] == "no_data"  # < 10
    assert report["kpis"]["human_intervention_rate"]["value"] == pytest.approx(2 / 3)
    text = httpx.get(f"{env.running.url}/metrics", timeout=5, trust_env=False).text
    assert 'aiops_webhook_requests_total{outcome="accepted",source="alertmanager"}' in text
    assert 'aiops_collector_up{collector="alertmanager"} 1.0' in text


def test_wrong_token_is_refused_over_http(env):
    body = {"version": "4", "groupKey": "x", "status": "firing", "alerts": []}
    url = f"{env.running.url}/webhooks/alertmanager"
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}, trust_env=False).status_code == 401
    assert httpx.post(url, json={**body, "version": "5"}, headers={"Authorization": f"Bearer {TOKEN}"},
                      trust_env=False).status_code == 422
    outcomes = {s.labels["outcome"]: s.value for f in env.source.families() for s in f.samples}
    assert outcomes["unauthorized"] >= 1 and outcomes["unsupported_version"] >= 1


def test_backfill_from_prometheus_alerts_history(env, tmp_path):
    """A fresh store backfilled from ALERTS finds the same incidents (to the query step); the webhook's
    store skips them as already known."""
    from collectors.incidents.backfill import BackfillConfig, backfill
    from collectors.incidents.store import IncidentStore
    from monitor.storage.database import open_database

    now = time.time() + 2  # past the last evaluation, so every alert above has ended in the query
    config = BackfillConfig(url=env.prometheus, lookback=600, step=1)
    fresh = IncidentStore(open_database(f"sqlite:///{tmp_path / 'fresh.db'}"))
    counts = backfill(fresh, config, now, "auto_resolved")
    assert counts["new"] >= 5 and counts["still_firing"] == 0, counts
    for name in ("SearchDown", "SupportOverlap", "Flapping"):
        (incident,) = [i for i in fresh.incidents(0) if i.labels.get("alertname") == name]
        spans = env.resolved_spans(name).values()
        want = max(e for _, e in spans) - min(s for s, _ in spans)
        assert incident.duration == pytest.approx(want, abs=3.0), name  # 1 s step + evaluation jitter
        assert {o.fingerprint for o in incident.occurrences} == {a["fingerprint"] for a in env.sent(name)}
    assert backfill(env.source.store, config, now, "auto_resolved")["new"] == 0  # known from the webhook
    fresh.engine.dispose()
