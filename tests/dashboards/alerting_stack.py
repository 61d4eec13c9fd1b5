"""A real alerting stack for the dashboard and rule tests, all on 127.0.0.1 with free ports:
the demo (`aiops-maturity demo`, a real LiteLLM Router generating traffic), Debian's Prometheus
scraping it and evaluating the generated rules, Debian's Alertmanager with the shipped config,
and a webhook receiver held by the test. Every process is stopped by the fixture that started it.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

from tests.integration.integration_support import ManagedProcess, clean_env, free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "dashboards" / "prometheus" / "aiops-rules.yml"
ALERTMANAGER_CONFIG = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"
DEMO_SECONDS = 240      # upper bound: the fixture stops the demo when the tests are done
READY_TIMEOUT = 120     # the demo imports litellm and needs 20 requests per team before KPIs have data
WEBHOOK_TOKEN = "dashboards-test-webhook-token"
JOB = "aiops-demo"


@dataclass
class Webhook:
    """A tiny HTTP server standing in for the monitor's /webhooks/alertmanager."""

    received: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)

    def start(self) -> str:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hook.headers.append(dict(self.headers))
                hook.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/alertmanager"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def alerts(self) -> list[dict]:
        return [alert for message in self.received for alert in message.get("alerts", [])]


def fast_rules(path: Path) -> Path:
    """The generated rules with every `for:` at 1s: same expressions, alerts within the test's time."""
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule["for"] = "1s"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def alertmanager_config_for_test(path: Path, webhook_url: str, token_file: Path) -> Path:
    """The shipped Alertmanager config with the test's webhook URL, token file and short waits."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
            hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    config["route"].update(group_wait="1s", group_interval="1s")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(timeout=30, trust_env=False)

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        params = {"query": promql, **({"time": at} if at is not None else {})}
        response = self.http.get(f"{self.base}/api/v1/query", params=params)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{promql}\n-> {body}"
        return body["data"]["result"]

    def names(self) -> set[str]:
        body = self.http.get(f"{self.base}/api/v1/label/__name__/values",
                             params={"match[]": f'{{job="{JOB}"}}'}).json()
        return set(body["data"])

    def stop(self) -> None:  # the fixture stops everything in `started`; this closes the client
        self.http.close()


@dataclass
class Stack:
    prometheus: Prometheus
    webhook: Webhook
    demo_url: str


def start_stack(tmp: Path, aiops_bin: Path, prometheus_bin: Path, alertmanager_bin: Path, started: list) -> Stack:
    env = clean_env(LITELLM_LOCAL_MODEL_COST_MAP="True")
    demo_port = free_port()
    demo = ManagedProcess("demo", [aiops_bin, "demo", "--port", demo_port, "--duration", DEMO_SECONDS,
                                   "--data-dir", tmp / "demo-data"], tmp / "demo.log", env=env, cwd=tmp)
    started.append(demo)

    webhook = Webhook()
    started.append(webhook)
    token_file = tmp / "webhook_token"
    token_file.write_text(WEBHOOK_TOKEN)
    am_port = free_port()
    am_config = alertmanager_config_for_test(tmp / "alertmanager.yml", webhook.start(), token_file)
    alertmanager = ManagedProcess("alertmanager", [
        alertmanager_bin, f"--config.file={am_config}",
        f"--storage.path={tmp / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=", "--log.level=warn"], tmp / "alertmanager.log", env=env, cwd=tmp)
    started.append(alertmanager)

    prom_port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(fast_rules(tmp / "rules.yml"))],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{demo_port}"]}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    prometheus = ManagedProcess("prometheus", [
        prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], tmp / "prometheus.log", env=env, cwd=tmp)
    started.append(prometheus)
    prom = Prometheus(f"http://127.0.0.1:{prom_port}")
    started.append(prom)

    def logs() -> str:
        return "\n".join(p.log_tail() for p in (demo, prometheus, alertmanager))

    def ready():
        for process in (demo, prometheus, alertmanager):
            assert process.alive(), f"{process.name} exited\n{logs()}"
        # The demo's KPIs are in Prometheus for the organisation and at least three teams, including
        # the demo's smallest one (unattributed, 10 % of the traffic, needs 20 requests).
        rows = prom.query('aiops_kpi_met{kpi="provider_availability",level="2"}')
        return len({r["metric"]["team"] for r in rows} - {"all", "other"}) >= 3 and prom.query(
            'aiops_maturity_level{team="all"} >= 1') and prom.query(
            'aiops_kpi_value{kpi="monthly_spend_usd",team="unattributed"}')

    wait_until(ready, READY_TIMEOUT, "the demo's KPIs in Prometheus", interval=1, on_timeout=logs)
    time.sleep(3)  # a few more scrapes, so rate() over the demo's counters has two points everywhere
    return Stack(prom, webhook, f"http://127.0.0.1:{demo_port}")


# ---------------------------------------------------------------------------- PromQL helpers
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
             "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads: identifiers that are not functions, keywords or label names."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)         # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)        # range and subquery durations
    text = _GROUPING.sub("", text)
    names = set()
    for match in re.finditer(r"(?<![A-Za-z0-9_.:])[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end():].lstrip()[:1]
        if match.group() not in _KEYWORDS and following != "(":
            names.add(match.group())
    return names


def substitute(expr: str, team: str = ".*", kpi: str = "api_error_rate") -> str:
    """Grafana's variables as Grafana would send them with the defaults (team = All = .*)."""
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "15s").replace("$__range", "5m")
            .replace("${team}", team).replace("$team", team).replace("${kpi}", kpi).replace("$kpi", kpi))
