"""DORA for prompts and models: the measures by hand, the webhook, LiteLLM /model/info, Langfuse prompts."""
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from collectors.deployments.events import WEEK, Deployment, DeploymentStore, dora_signals
from collectors.deployments.pollers import poll_langfuse, poll_litellm
from collectors.deployments.source import DeploymentsConfig, DeploymentsSource
from collectors.incidents.book import incidents_of
from collectors.incidents.webhook import Occurrence
from signals.source import CycleWindow, SourceContext
from monitor.storage.database import open_database
from tests.collectors.deployments.prompts_double import PromptsDouble
from tests.kpi_support import kpi

NOW = 1_800_000_000.0
DAY, HOUR = 86400.0, 3600.0


def incident(opened, closed, team=None):
    labels = {"alertname": f"a{opened}", **({"team": team} if team else {})}
    return incidents_of([Occurrence(f"fp{opened}", opened, "g", labels, {}, closed)])[0]


def test_dora_measures_by_hand():
    deployments = [Deployment("prompt", "p", str(i), NOW - (20 - i) * DAY, NOW - (20 - i) * DAY - (i + 1) * HOUR, "search")
                   for i in range(10)]
    deployments.append(Deployment("model", "m", "x", NOW - 10 * 60, team="search"))  # window still open: undecided
    incidents = [incident(deployments[2].deployed_at + 600, deployments[2].deployed_at + 900, "search"),
                 incident(deployments[5].deployed_at + 2 * HOUR, deployments[5].deployed_at + 3 * HOUR),  # too late
                 incident(deployments[7].deployed_at + 60, deployments[7].deployed_at + 120, "other-team")]
    teams = {n: i.labels.get("team") for n, i in enumerate(incidents)}
    out = dora_signals(deployments, incidents, NOW, NOW - 30 * DAY, NOW - 30 * DAY, HOUR, teams)
    all_, search = out["all"], out["search"]
    assert all_["deployment_frequency"].value == pytest.approx(11 / (30 / 7)) and all_["deployment_frequency"].samples == 11
    assert kpi(all_, "lead_time_for_changes")[0] == pytest.approx(5.5 * HOUR) and kpi(all_, "lead_time_for_changes")[1] == 10
    assert kpi(all_, "change_failure_rate")[0] == pytest.approx(2 / 10)  # deployments 2 and 7; the model is undecided
    assert kpi(search, "change_failure_rate")[0] == pytest.approx(1 / 10)  # another team's incident is not search's


def test_frequency_span_is_at_least_a_week_and_starts_at_first_observation():
    deployments = [Deployment("model", "m", str(i), NOW - i * HOUR) for i in range(3)]
    out = dora_signals(deployments, [], NOW, NOW - 30 * DAY, NOW - 2 * DAY, HOUR)
    assert out["all"]["deployment_frequency"].value == pytest.approx(3.0)  # 3 in the first (minimum) week
    out = dora_signals(deployments, [], NOW, NOW - 30 * DAY, NOW - 14 * DAY, 3 * HOUR)
    assert out["all"]["deployment_frequency"].value == pytest.approx(1.5)
    assert "change_failure_rate" not in out["all"]  # nothing decided yet: no rate, not 0


@pytest.fixture
def context(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'h.db'}")
    clock = {"now": NOW}
    yield SourceContext(engine, lambda: clock["now"], {"AIOPS_DEPLOYMENTS_TOKEN": "dep-token"}), clock
    engine.dispose()


def test_webhook_events_become_kpis(context):
    ctx, clock = context
    source = DeploymentsSource(DeploymentsConfig(), ctx)
    client = TestClient(Starlette(routes=source.routes()))
    headers = {"Authorization": "Bearer dep-token"}
    events = [{"kind": "prompt", "name": "support-answer", "version": str(i), "team": "support",
               "deployed_at": NOW - (10 - i) * DAY, "created_at": NOW - (10 - i) * DAY - 2 * HOUR} for i in range(6)]
    events.append({"kind": "model", "name": "gpt-4o-mini", "version": "2024-07-18",
                   "deployed_at": "2027-01-14T08:00:00Z"})
    response = client.post("/webhooks/deployments", content=orjson.dumps(events), headers=headers)
    assert response.status_code == 200 and response.json() == {"received": 7, "added": 7}
    assert client.post("/webhooks/deployments", content=orjson.dumps(events), headers=headers).json()["added"] == 0
    assert client.post("/webhooks/deployments", json=events[0]).status_code == 401
    assert client.post("/webhooks/deployments", content=b"{", headers=headers).status_code == 400
    assert client.post("/webhooks/deployments", json={"name": "x"}, headers=headers).status_code == 422
    assert client.post("/webhooks/deployments", json={"name": "x", "version": "1", "deployed_at": "soon"},
                       headers=headers).status_code == 422
    result = source.collect(CycleWindow(NOW, NOW - DAY, NOW, NOW - 30 * DAY))
    support = result.signals["support"]
    assert kpi(support, "lead_time_for_changes")[0] == 2 * HOUR and kpi(support, "lead_time_for_changes")[1] == 6
    assert kpi(support, "change_failure_rate")[0] == 0 and kpi(support, "change_failure_rate")[1] == 6
    assert result.signals["all"]["deployment_frequency"].samples == 7
    assert result.info["webhook_rejected"] == 4


class ModelInfo:
    def __init__(self, models):
        self.models = models

    def __call__(self, request):
        assert request.headers["authorization"] == "Bearer sk-master"
        return httpx.Response(200, json={"data": [
            {"model_name": name, "litellm_params": {"model": model}, "model_info": {"id": ident}}
            for name, model, ident in self.models]})


def test_litellm_model_changes_between_cycles(context):
    ctx, _ = context
    store = DeploymentStore(ctx.engine)
    fake = ModelInfo([("gpt-4o-mini", "openai/gpt-4o-mini", "id-1"), ("claude", "anthropic/x", "id-2")])
    http = httpx.Client(transport=httpx.MockTransport(fake), headers={"Authorization": "Bearer sk-master"})
    assert poll_litellm(http, "http://proxy", store, NOW, None)["baseline"]
    fake.models = [("gpt-4o-mini", "openai/gpt-4o-mini", "id-1b"), ("claude", "anthropic/x", "id-2")]  # params changed
    info = poll_litellm(http, "http://proxy", store, NOW + 60, None)
    assert info == {"models": 2, "added": 1, "removed": 1}
    (event,) = store.since(0)
    assert (event.kind, event.name, event.deployed_at, event.created_at) == ("model", "gpt-4o-mini", NOW + 60, None)
    assert poll_litellm(http, "http://proxy", store, NOW + 120, None)["added"] == 0


@pytest.mark.parametrize("send_created_at", [True, False])
def test_langfuse_prompt_label_moves_are_deployments(context, send_created_at):
    ctx, _ = context
    store = DeploymentStore(ctx.engine)
    double = PromptsDouble("v3", send_created_at=send_created_at)
    double.add_version("support-answer", NOW - 5 * DAY, labels=["production"], tags=["team:support"])
    double.add_version("search-rerank", NOW - 3 * DAY, labels=["production"])
    api = double.client()
    assert poll_langfuse(api, store, NOW, "production", "team:")["baseline"]
    v2 = double.add_version("support-answer", NOW + 100, tags=["team:support"])
    assert poll_langfuse(api, store, NOW + 300, "production", "team:")["added"] == 0  # created, not deployed
    double.move_label("support-answer", "production", v2)
    info = poll_langfuse(api, store, NOW + 4000, "production", "team:")
    assert info["added"] == 1 and info["prompts"] == 2
    (event,) = store.since(0)
    assert (event.kind, event.name, event.version, event.team) == ("prompt", "support-answer", "2", "support")
    assert event.deployed_at == NOW + 4000
    # createdAt when the server sends it; otherwise the first time the monitor listed the version
    assert event.created_at == pytest.approx(NOW + 100 if send_created_at else NOW + 300)
    assert double.violations == [] and double.validated >= 6


def test_source_polls_langfuse_at_its_interval(context):
    ctx, clock = context
    config = DeploymentsConfig.model_validate({"langfuse": {"host": "http://127.0.0.1:1", "poll_interval": "5m"}})
    source = DeploymentsSource(config, ctx)
    double = PromptsDouble("v4")
    double.add_version("triage", NOW - DAY, labels=["production"], tags=["team:support"])
    source.langfuse = double.client()  # the SDK client, on the double's transport instead of a socket
    window = lambda now: CycleWindow(now, now - DAY, now, now - 30 * DAY)  # noqa: E731
    assert source.collect(window(NOW)).info["langfuse"]["baseline"]
    double.move_label("triage", "production", double.add_version("triage", NOW + 10, tags=["team:support"]))
    assert "langfuse" not in source.collect(window(NOW + 60)).info  # not due yet
    clock["now"] = NOW + 301
    result = source.collect(window(NOW + 301))
    assert result.info["langfuse"]["added"] == 1
    assert kpi(result.signals["support"], "lead_time_for_changes")[0] == pytest.approx(291)
    assert double.violations == []
