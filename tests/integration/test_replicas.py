"""Three `serve` replicas on one real PostgreSQL: any of them receives, one runs the cycles, all
serve the same snapshot. Load spread across them survives `kill -9` of the leader with every
acknowledged payload counted exactly once; a survivor takes the cycles over; a real Prometheus
scraping all three gives every dashboard value and every alert once (compared with one scraping a
single replica)."""
from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitor.generate.dashboards import panel_queries
from tests.dashboards.alerting_stack import Prometheus, fast_rules, metric_names, substitute
from tests.integration.integration_support import (INGEST_TOKEN, ManagedProcess, clean_env, expected_by_team, free_port,
                                                   load_sample_payloads, renamed, shift_to, wait_until)

pytestmark = pytest.mark.integration

INTERVAL = 1.0  # seconds between cycles: a takeover is due within two of them
GRAFANA = Path(__file__).resolve().parents[2] / "dashboards" / "grafana"
# Series each replica has of its own: its role, its snapshot's age, what it received and ran.
OWN_SERIES = {"aiops_cycle_leader", "aiops_snapshot_age_seconds"}
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}


class Replicas:
    def __init__(self, url: str, tmp: Path, aiops_bin: Path, count: int) -> None:
        self.http = httpx.Client(timeout=10, trust_env=False)
        self.processes: list[ManagedProcess] = []
        self.bases: list[str] = []
        self.acknowledged: list[int] = []  # which replica acknowledged each batch, in order
        for index in range(count):
            port = free_port()
            config = tmp / f"replica-{index}.yaml"
            config.write_text(yaml.safe_dump({"server": {"host": "127.0.0.1", "port": port}, "store": {"url": url},
                                              "scheduler": {"interval_seconds": INTERVAL}}))
            self.processes.append(ManagedProcess(f"replica-{index}", [aiops_bin, "serve", "--config", config],
                                                 tmp / f"replica-{index}.log",
                                                 env=clean_env(AIOPS_INGEST_TOKEN=INGEST_TOKEN), cwd=tmp))
            self.bases.append(f"http://127.0.0.1:{port}")

    def alive(self) -> list[int]:
        return [i for i, p in enumerate(self.processes) if p.alive()]

    def logs(self) -> str:
        return "\n".join(p.log_tail(15) for p in self.processes)

    def get(self, index: int, path: str) -> httpx.Response:
        return self.http.get(self.bases[index] + path)

    def wait_ready(self, timeout: float = 90) -> None:
        def ready():
            if len(self.alive()) < len(self.processes):
                pytest.fail(f"a replica exited while starting\n{self.logs()}", pytrace=False)
            return all(self._status(i, "/readyz") == 200 for i in self.alive())
        wait_until(ready, timeout, "every replica ready (the leader's first snapshot served)", interval=0.3,
                   on_timeout=self.logs)

    def _status(self, index: int, path: str) -> int | None:
        try:
            return self.get(index, path).status_code
        except httpx.TransportError:
            return None

    def gauges(self, index: int) -> dict:
        """Gauge samples of a replica's /metrics (counters, and when each was created, are each
        replica's own)."""
        text = self.get(index, "/metrics").text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) if family.type == "gauge"
                for s in family.samples if not s.name.endswith("_created")}

    def leaders(self) -> list[int]:
        return [i for i in self.alive() if self.gauges(i).get(("aiops_cycle_leader", ())) == 1.0]

    def report(self, index: int) -> dict:
        return self.get(index, "/api/report").json()

    def post(self, batch: list[dict], first: int) -> tuple[int, dict]:
        """Post to replica `first`, or to the next one while a replica refuses or is gone: the
        sender's retry. Returns the replica that acknowledged (HTTP 200) and its outcome."""
        for step in range(3 * len(self.bases)):
            index = (first + step) % len(self.bases)
            try:
                response = self.http.post(self.bases[index] + "/ingest/litellm", json=batch, headers=AUTH)
            except httpx.TransportError:
                continue
            if response.status_code == 200:
                self.acknowledged.append(index)
                return index, response.json()
            time.sleep(0.1)
        raise AssertionError(f"no replica acknowledged a batch\n{self.logs()}")

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.http.close()


@pytest.fixture
def replicas(postgres_url, tmp_path, aiops_bin):
    started: list[Replicas] = []

    def start(count: int = 3) -> Replicas:
        group = Replicas(postgres_url, tmp_path, aiops_bin, count)
        started.append(group)
        group.wait_ready()
        return group

    yield start
    for group in started:
        group.close()


def evidence_requests(report: dict) -> int | None:
    return report["kpis"]["api_error_rate"]["evidence"].get("requests")


def test_kill_9_of_the_leader_mid_stream_loses_no_acknowledged_payload(replicas):
    group = replicas(3)
    leaders = wait_until(lambda: (found := group.leaders()) and len(found) == 1 and found, 30, "one leader")
    killed = leaders[0]
    now = time.time()
    samples = load_sample_payloads()
    batches = [shift_to(renamed(samples, f"b{i}"), now - 20) for i in range(30)]
    want = expected_by_team([p for batch in batches for p in batch])["all"].requests

    with ThreadPoolExecutor(max_workers=3) as pool:  # three senders at once, spread over the replicas
        futures = [pool.submit(group.post, batch, i % 3) for i, batch in enumerate(batches)]
        wait_until(lambda: len(set(group.acknowledged)) == 3 and len(group.acknowledged) >= 8, 60,
                   "every replica acknowledging batches", on_timeout=lambda: f"{group.acknowledged}")
        group.processes[killed].kill9()  # mid-stream: other batches are in flight
        killed_at = time.monotonic()
        for future in futures:
            future.result()
    assert len(group.acknowledged) == len(batches) and len(set(group.acknowledged)) == 3

    survivors = group.alive()
    assert killed not in survivors and len(survivors) == 2
    new_leader, = wait_until(lambda: (found := group.leaders()) and len(found) == 1 and found, 15,
                             "a survivor running the cycles", interval=0.2, on_timeout=group.logs)
    print(f"\ntakeover: replica {new_leader} leads {time.monotonic() - killed_at:.1f} s after the kill "
          f"(interval {INTERVAL:g} s)")

    def counted_everywhere():
        reports = [group.report(i) for i in survivors]
        same = len({r["generated_at"] for r in reports}) == 1
        return same and all(evidence_requests(r) == want for r in reports) and reports

    reports = wait_until(counted_everywhere, 30, f"{want} requests in both survivors' reports",
                         on_timeout=lambda: f"{[evidence_requests(group.report(i)) for i in survivors]}\n{group.logs()}")
    assert reports[0] == reports[1]
    gauges = [group.gauges(i) for i in survivors]
    if any(g.get(("aiops_snapshot_age_seconds", ())) is None for g in gauges):
        pytest.fail("a survivor exports no snapshot age")
    shared = [{k: v for k, v in g.items() if k[0] not in OWN_SERIES} for g in gauges]
    assert shared[0] == shared[1] or _retry_equal(group, survivors), "the survivors' /metrics differ"
    assert shared[0][("aiops_maturity_level", (("model", "aiops"), ("team", "all")))] == reports[0]["level"]


def _retry_equal(group: Replicas, survivors: list[int]) -> bool:
    """The two scrapes may straddle a new snapshot: read again until both serve the same one."""
    def same():
        gauges = [{k: v for k, v in group.gauges(i).items() if k[0] not in OWN_SERIES} for i in survivors]
        return gauges[0] == gauges[1]

    def differences() -> str:
        a, b = ({k: v for k, v in group.gauges(i).items() if k[0] not in OWN_SERIES} for i in survivors)
        return "\n".join(f"{k}: {a.get(k)} vs {b.get(k)}" for k in sorted(a.keys() | b.keys())
                         if a.get(k) != b.get(k))[:3000]
    return wait_until(same, 10, "the survivors serving the same snapshot", interval=0.1, on_timeout=differences)


def start_prometheus(tmp: Path, prometheus_bin: Path, name: str, targets: list[str]) -> tuple[ManagedProcess, Prometheus]:
    folder = tmp / name
    folder.mkdir()
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(fast_rules(folder / "rules.yml"))],
        "scrape_configs": [{"job_name": "aiops", "static_configs": [{"targets": targets}]}],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    process = ManagedProcess(name, [prometheus_bin, f"--config.file={folder / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={folder / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                                    "--log.level=warn"], folder / "prometheus.log", env=clean_env(), cwd=folder)
    return process, Prometheus(f"http://127.0.0.1:{port}")


def comparable(expr: str) -> bool:
    """Panel queries whose value is the snapshot's: not the replicas' own counters (their sum over
    replicas is the right total and differs from one replica's) and not the time of the query."""
    names = metric_names(expr)
    return "time()" not in expr and not any(n.endswith(("_total", "_bucket", "_sum", "_count")) for n in names)


def results(prom: Prometheus, expr: str) -> dict:
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k != "instance")): float(r["value"][1])
            for r in prom.query(expr)}


def close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12) or
                                        (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def test_prometheus_scraping_every_replica_sees_each_value_and_alert_once(replicas, tmp_path, prometheus_bin):
    group = replicas(3)
    group.post(shift_to(load_sample_payloads(), time.time() - 20), 1)
    wait_until(lambda: all(evidence_requests(group.report(i)) for i in range(3)), 30, "the payloads in every report",
               on_timeout=group.logs)
    targets = [base.removeprefix("http://") for base in group.bases]
    started = []
    try:
        every, prom_every = start_prometheus(tmp_path, prometheus_bin, "prom-every", targets)
        started += [every, prom_every]
        one, prom_one = start_prometheus(tmp_path, prometheus_bin, "prom-one", targets[:1])
        started += [one, prom_one]

        def scraped():
            copies = prom_every.query("count(aiops_maturity_level{team=\"all\",model=\"aiops\"})")
            alerts = prom_one.query("ALERTS")
            return copies and copies[0]["value"][1] == "3" and alerts and prom_every.query("ALERTS")

        wait_until(scraped, 60, "three replicas scraped and alerts evaluated", interval=0.5,
                   on_timeout=lambda: every.log_tail() + one.log_tail())
        time.sleep(3)  # every rule evaluated a few times on both

        alerts = [tuple(sorted(r["metric"].items())) for r in prom_every.query('ALERTS{alertstate="firing"}')]
        assert alerts and len(alerts) == len(set(alerts)), "an alert fires once per replica"
        assert not any("instance" in dict(a) for a in alerts)
        wait_until(lambda: set(alerts) == {tuple(sorted(r["metric"].items()))
                                           for r in prom_one.query('ALERTS{alertstate="firing"}')},
                   20, "the same alerts from three replicas as from one")

        compared, differ = 0, []
        for data in (json.loads(p.read_text()) for p in sorted(GRAFANA.glob("*.json"))):
            for title, ref, raw in panel_queries(data):
                expr = substitute(raw)
                if not comparable(expr):
                    continue
                if not wait_until_equal(prom_every, prom_one, expr):
                    differ.append(f"{data['title']} / {title} / {ref}: {results(prom_every, expr)} "
                                  f"vs {results(prom_one, expr)}")
                compared += bool(results(prom_one, expr))
        assert not differ, "panels read differently over three replicas than over one:\n" + "\n".join(differ)
        assert compared >= 30, f"only {compared} panel queries had data to compare"
    finally:
        for item in started:
            item.stop()


def wait_until_equal(a: Prometheus, b: Prometheus, expr: str, attempts: int = 10) -> bool:
    """Scrapes of different replicas may hold neighbouring snapshots for a second: ask again."""
    for _ in range(attempts):
        if close(results(a, expr), results(b, expr)):
            return True
        time.sleep(0.5)
    return False
