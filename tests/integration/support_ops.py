"""Helpers for the operations integration tests (Alertmanager, PromQL, LiteLLM /metrics): the real
Prometheus and Alertmanager servers on 127.0.0.1, a tiny exporter whose series the test sets, and a
monitor whose sources are built here (before their entry points are installed)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import httpx
import pytest

from tests.integration.integration_support import ManagedProcess, clean_env, free_port, require_executable, wait_until

START_TIMEOUT = 30


class Exporter:
    """/metrics with gauges the test sets: `test_condition{kind=..., member=...} value`."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], float] = {}
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                lines = ["# TYPE test_condition gauge"] + [
                    f'test_condition{{kind="{k}",member="{m}"}} {v}' for (k, m), v in sorted(exporter.values.items())]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, kind: str, member: str, value: float) -> None:
        self.values[(kind, member)] = value

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ready(process: ManagedProcess, url: str) -> Callable[[], bool]:
    def check() -> bool:
        if not process.alive():
            pytest.fail(f"{process.name} exited with {process.proc.returncode}\n{process.log_tail()}", pytrace=False)
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    return check


def start_prometheus(workdir: Path, scrape_configs: str, rules: str | None = None,
                     alertmanager: str | None = None) -> tuple[str, ManagedProcess]:
    binary = require_executable(["/usr/bin/prometheus", "prometheus"], "the Prometheus server binary")
    port = free_port()
    config = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
    if rules:
        (workdir / "rules.yml").write_text(rules)
        config += "rule_files: [rules.yml]\n"
    if alertmanager:
        config += f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n"
    config += "scrape_configs:\n" + scrape_configs
    (workdir / "prometheus.yml").write_text(config)
    process = ManagedProcess("prometheus", [
        binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", "--rules.alert.resend-delay=1s", "--log.level=warn",
    ], workdir / "prometheus.log", env=clean_env(), cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    wait_until(_ready(process, f"{base}/-/ready"), START_TIMEOUT, "Prometheus to be ready", 0.2, process.log_tail)
    return base, process


def start_alertmanager(workdir: Path, webhook_url: str, token: str) -> tuple[str, ManagedProcess]:
    binary = require_executable(["/usr/bin/prometheus-alertmanager", "alertmanager"], "the Alertmanager binary")
    port = free_port()
    (workdir / "alertmanager.yml").write_text(f"""\
route:
  receiver: aiops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: aiops
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
""")
    process = ManagedProcess("alertmanager", [
        binary, f"--config.file={workdir / 'alertmanager.yml'}", f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn",
    ], workdir / "alertmanager.log", env=clean_env(), cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    wait_until(_ready(process, f"{base}/-/ready"), START_TIMEOUT, "Alertmanager to be ready", 0.2, process.log_tail)
    return base, process


def start_ops_monitor(data_dir: Path, make_sources: Callable, environ: dict[str, str] | None = None, **sections):
    """A RunningMonitor (real HTTP server, free port) whose sources `make_sources(context)` builds."""
    from monitor.runtime.config import build_config
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor
    from monitor.runtime.sources import wire_ports
    from signals.source import SourceContext
    from collectors.litellm.store import Store
    from monitor.storage.database import open_database

    data = {"store": {"url": f"sqlite:///{data_dir / 'history.db'}"}, "scheduler": {"interval_seconds": 3600}, **sections}
    config = build_config(data, environ={})
    store = Store(open_database(config.store.url))
    import time

    context = SourceContext(store.engine, time.time, dict(environ or {}), config.teams.tag_prefix, gateway=store)
    monitor = Monitor(config, store=store, sources=wire_ports(make_sources(context), context))
    return RunningMonitor(monitor, host="127.0.0.1", port=0).start(timeout=20)
