"""The history store on a real PostgreSQL server (Debian's package, started on 127.0.0.1) and on
SQLite: kill -9 in the middle of collection cycles loses nothing committed; the service runs on
PostgreSQL and survives kill -9; replicas sharing one PostgreSQL send the weekly digest once. (The store, history, migration, ledger and scheduler unit tests run on both databases
through the `store_url` fixture in tests/conftest.py.)"""
from __future__ import annotations

import random
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from sqlalchemy import func, select, text

from tests.integration.integration_support import (INGEST_TOKEN, REPO_ROOT, ManagedProcess, clean_env, expected_by_team,
                                                   free_port, load_sample_payloads, shift_to, wait_until)
from metrics.catalog import load_catalog
from monitor.digest.delivery.ledger import Ledger
from monitor.digest.config import DigestConfig
from monitor.storage.history import History, snapshot_kpis, snapshots
from monitor.runtime.scheduling import DIGEST_JOB_ID, SHARED, build_scheduler, ensure_digest_job, stop_scheduler
from collectors.litellm.store import Store, seen_attempts
from monitor.storage.database import open_database

pytestmark = pytest.mark.integration
T0 = 1_899_999_960.0  # a whole minute: the 60 s cadence slots start there

WRITER = """
import itertools, sys, time
from monitor.runtime.config import build_config
from monitor.storage.history import History, HistoryConfig
from monitor.runtime.service import Monitor
from tests.scenario import scenario_payloads  # the repository root is on PYTHONPATH (see crash_mid_cycle)

url, first = sys.argv[1], int(sys.argv[2])
monitor = Monitor(build_config({"evaluation_window": "1h", "store": {"url": url}}, environ={}))
history = History(monitor.store.engine, HistoryConfig(cadence="60s"))
for k in itertools.count(first):
    now = time.time()
    items = [dict(p, id=f"{p['id']}-{k}", litellm_call_id=f"{p['litellm_call_id']}-{k}")
             for p in scenario_payloads(t0=now - 30, rounds=1)]
    accepted = monitor.push.ingest(items).accepted
    print(f"ingested {k} {accepted}", flush=True)
    print(f"cycle {k}", flush=True)
    report = monitor.run_cycle()
    written = history.record(report, %r + 60 * k)
    print(f"snapshot {k} {written}", flush=True)
""" % T0


def lines(process: ManagedProcess) -> list[str]:
    return process.log_path.read_text(errors="replace").splitlines()


def crash_mid_cycle(url: str, workdir: Path, first: int, name: str) -> list[str]:
    """Run the writer until it acknowledged three snapshots, kill -9 it just after it starts a
    cycle, and return what it had printed (everything printed was committed before)."""
    process = ManagedProcess(name, [sys.executable, "-c", WRITER, url, str(first)], workdir / f"{name}.log",
                             env=clean_env(PYTHONPATH=str(REPO_ROOT)), cwd=workdir)  # the root, for tests.scenario
    try:
        def acknowledged():
            if not process.alive():
                pytest.fail(f"the writer exited\n{process.log_tail()}", pytrace=False)
            return sum(line.startswith("snapshot ") for line in lines(process)) >= 3

        wait_until(acknowledged, 90, "three snapshots from the writer", on_timeout=process.log_tail)
        seen = len(lines(process))
        wait_until(lambda: any(line.startswith("cycle ") for line in lines(process)[seen:]), 30, "a new cycle")
        time.sleep(random.uniform(0, 0.05))
        process.kill9()
        assert process.proc.returncode == -9
        return lines(process)
    finally:
        process.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_mid_cycle_loses_nothing_committed(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'history.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    printed = crash_mid_cycle(url, tmp_path, 0, "writer-1")
    printed += crash_mid_cycle(url, tmp_path, 1000, "writer-2")  # it starts again on the crashed database
    acked_snapshots = {int(k): int(n) for k, n in re.findall(r"^snapshot (\d+) (\d+)$", "\n".join(printed), re.M)}
    acked_attempts = sum(int(n) for n in re.findall(r"^ingested \d+ (\d+)$", "\n".join(printed), re.M))
    assert len(acked_snapshots) >= 6

    store = Store(open_database(url))
    try:
        with store.engine.connect() as conn:
            if backend == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert conn.execute(select(func.count()).select_from(seen_attempts)).scalar_one() >= acked_attempts
            per_slot = dict(conn.execute(select(snapshots.c.slot, func.count()).group_by(snapshots.c.slot)).all())
            per_snapshot = conn.execute(select(func.count()).select_from(snapshot_kpis)
                                        .group_by(snapshot_kpis.c.snapshot_id)).scalars().all()
        for k, teams in acked_snapshots.items():
            assert per_slot.get(int(T0 + 60 * k)) == teams, f"acknowledged snapshot {k} is incomplete or missing"
        assert set(per_slot.values()) == {max(acked_snapshots.values())}  # none half-written
        assert set(per_snapshot) == {len(load_catalog("aiops").kpis)} and len(per_snapshot) == sum(per_slot.values())
    finally:
        store.close()


def test_the_service_runs_on_postgresql_and_survives_kill_9(postgres_url, tmp_path, aiops_bin, http):
    port = free_port()
    config = tmp_path / "aiops.yaml"
    config.write_text(yaml.safe_dump({"server": {"host": "127.0.0.1", "port": port},
                                      "store": {"url": postgres_url}, "scheduler": {"interval_seconds": 0.5}}))
    payloads = shift_to(load_sample_payloads(), time.time() - 20)
    want = expected_by_team(payloads)["all"]
    base = f"http://127.0.0.1:{port}"

    def serve(run: int) -> ManagedProcess:
        process = ManagedProcess(f"serve-{run}", [aiops_bin, "serve", "--config", config], tmp_path / f"serve-{run}.log",
                                 env=clean_env(AIOPS_INGEST_TOKEN=INGEST_TOKEN), cwd=tmp_path)
        wait_until(lambda: process.alive() and http.get(f"{base}/healthz", timeout=2).status_code == 200, 60,
                   "the service on PostgreSQL", on_timeout=process.log_tail)
        return process

    def requests_counted():
        report = http.get(f"{base}/api/report").json()
        return report["kpis"]["api_error_rate"]["evidence"].get("requests") == want.requests and report

    process = serve(1)
    try:
        response = http.post(f"{base}/ingest/litellm", json=payloads, headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
        assert response.status_code == 200 and response.json()["accepted"] > 0, response.text
        before = wait_until(requests_counted, 30, "the payloads in the report")
        process.kill9()
        process = serve(2)
        after = wait_until(requests_counted, 30, "the same report after kill -9")
        assert after["kpis"]["monthly_spend_usd"]["value"] == pytest.approx(before["kpis"]["monthly_spend_usd"]["value"])
        again = http.post(f"{base}/ingest/litellm", json=payloads, headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
        assert again.json()["accepted"] == 0
    finally:
        process.stop()


REPLICA = """
import sys, time
from types import SimpleNamespace
from monitor.digest.config import DigestConfig
from monitor.digest.runner import DigestRunner
from monitor.runtime.scheduling import build_scheduler, start_scheduler
from collectors.litellm.store import Store
from monitor.storage.database import open_database

url, out, hook = sys.argv[1:4]
config = SimpleNamespace(model="aiops", scheduler=SimpleNamespace(interval_seconds=3600), digest=DigestConfig.model_validate(
    {"out_dir": out, "link": "https://ops.example/digests/{week}.html", "delivery": {"slack": {"enabled": True}}}))

class Runner(DigestRunner):
    def run_scheduled(self):
        outcomes = super().run_scheduled()
        print("ran", " ".join(f"{o.channel}={o.status}" for o in outcomes), flush=True)
        return outcomes

store = Store(open_database(url))
runner = Runner(store.engine, config, environ={"AIOPS_SLACK_WEBHOOK_URL": hook})
monitor = SimpleNamespace(config=config, safe_cycle=lambda: None, follow=lambda: None)
start_scheduler(build_scheduler(store.engine, config), monitor, runner)
print("started", flush=True)
while True:
    time.sleep(1)
"""


def test_replicas_on_one_postgresql_send_the_weekly_digest_once(postgres_url, tmp_path):
    from tests.monitor.digest.digest_support import W02, FakeWebhook, seed_weeks

    store = Store(open_database(postgres_url))
    seed_weeks(History(store.engine), W02, 2)
    digest = DigestConfig()
    scheduler = build_scheduler(store.engine, SimpleNamespace(digest=digest))
    scheduler.start(paused=True)
    ensure_digest_job(scheduler, digest)
    # due in a few seconds, when both replicas are up: both schedulers wake for it at the same moment
    due = datetime.now(timezone.utc) + timedelta(seconds=8)
    scheduler.modify_job(DIGEST_JOB_ID, jobstore=SHARED, next_run_time=due)
    stop_scheduler(scheduler)

    webhook = FakeWebhook()
    replicas = [ManagedProcess(f"replica-{i}", [sys.executable, "-c", REPLICA, postgres_url, str(tmp_path / f"out-{i}"),
                                                 webhook.url], tmp_path / f"replica-{i}.log", env=clean_env(), cwd=tmp_path)
                for i in range(2)]
    try:
        for replica in replicas:
            wait_until(lambda: replica.alive() and "started" in lines(replica), 60, f"{replica.name} to start",
                       on_timeout=replica.log_tail)
        assert datetime.now(timezone.utc) < due, "the replicas took too long to start"
        wait_until(lambda: webhook.delivered(), 60, "the weekly digest posted to Slack",
                   on_timeout=lambda: "\n".join(r.log_tail() for r in replicas))
        time.sleep(3)  # room for a duplicate to show up
        assert len(webhook.posts) == 1
        ran = [line for r in replicas for line in lines(r) if line.startswith("ran ")]
        assert sum("slack=sent" in line for line in ran) == 1, ran
        week = webhook.posts[0]["json"]["blocks"][0]["text"]["text"].rsplit(" ", 1)[1]
        statuses = Ledger(store.engine).statuses(week)
        assert {c: (s["status"], s["attempts"]) for c, s in statuses.items()} == {"folder": ("sent", 1),
                                                                                  "slack": ("sent", 1)}
    finally:
        for replica in replicas:
            replica.stop()
        webhook.close()
        store.close()
