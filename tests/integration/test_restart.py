"""`aiops-maturity serve` as a real process: killed with SIGKILL and started again on the same SQLite
store, it loses nothing that was acknowledged and counts re-sent payloads once."""
from __future__ import annotations

import time

import httpx
import pytest
import yaml

from tests.integration.integration_support import (
    INGEST_TOKEN, ManagedProcess, clean_env, expected_by_team, free_port, is_health_check, load_sample_payloads,
    renamed, shift_to, wait_until,
)

pytestmark = pytest.mark.integration

START_TIMEOUT = 30
CYCLE_TIMEOUT = 20
INTERVAL = 0.5


def split(payloads: list[dict]):
    """A: the first half of the requests (and the health probes); B: the second half plus the failed
    attempt of one fallback request F; C: F's successful attempt plus 20 new requests."""
    calls: dict[str, list[dict]] = {}
    for p in payloads:
        if not is_health_check(p):
            calls.setdefault(p["litellm_call_id"], []).append(p)
    fallback = next(cid for cid, attempts in calls.items()
                    if len(attempts) == 2 and {a["status"] for a in attempts} == {"failure", "success"})
    failed, succeeded = sorted(calls.pop(fallback), key=lambda a: a["status"])  # failure < success
    ordered = sorted(calls.values(), key=lambda attempts: min(a["startTime"] for a in attempts))
    half = len(ordered) // 2
    a = [p for attempts in ordered[:half] for p in attempts] + [p for p in payloads if is_health_check(p)]
    b = [p for attempts in ordered[half:] for p in attempts] + [failed]
    c = [succeeded] + renamed([p for attempts in ordered[:20] for p in attempts], "after-restart")
    return a, b, c, fallback


class Service:
    def __init__(self, aiops_bin, workdir, port):
        self.aiops_bin, self.workdir, self.port = aiops_bin, workdir, port
        self.base = f"http://127.0.0.1:{port}"
        self.config = workdir / "aiops.yaml"
        self.config.write_text(yaml.safe_dump({
            "server": {"host": "127.0.0.1", "port": port},
            "store": {"url": f"sqlite:///{workdir / 'store' / 'history.db'}"},
            "scheduler": {"interval_seconds": INTERVAL},
        }))
        self.process: ManagedProcess | None = None
        self.runs = 0

    def start(self, http: httpx.Client) -> None:
        self.runs += 1
        self.process = ManagedProcess(f"aiops-maturity serve #{self.runs}",
                                      [self.aiops_bin, "serve", "--config", self.config],
                                      self.workdir / f"serve-{self.runs}.log",
                                      env=clean_env(AIOPS_INGEST_TOKEN=INGEST_TOKEN), cwd=self.workdir)
        process = self.process

        def ready():
            if not process.alive():
                pytest.fail(f"the service exited with {process.proc.returncode}\n{process.log_tail()}", pytrace=False)
            return http.get(f"{self.base}/api/report", timeout=2).status_code == 200

        wait_until(ready, START_TIMEOUT, "the service to serve its first report", interval=0.1,
                   on_timeout=process.log_tail)

    def post(self, http: httpx.Client, payloads: list[dict]) -> dict:
        response = http.post(f"{self.base}/ingest/litellm", json=payloads,
                             headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
        assert response.status_code == 200, response.text
        return response.json()

    def report(self, http: httpx.Client) -> dict:
        return http.get(f"{self.base}/api/report").raise_for_status().json()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def counts_of(report: dict) -> dict:
    kpis = report["kpis"]
    return {
        "requests": kpis["api_error_rate"]["evidence"]["requests"],
        "failed_requests": kpis["api_error_rate"]["evidence"]["failed_requests"],
        "cache_hit_requests": kpis["cache_hit_rate"]["evidence"]["cache_hit_requests"],
        "provider_attempts": kpis["provider_availability"]["evidence"]["provider_attempts"],
        "provider_successes": kpis["provider_availability"]["evidence"]["provider_successes"],
    }


def wanted(payloads: list[dict]) -> dict:
    e = expected_by_team(payloads)["all"]
    return {k: getattr(e, k) for k in ("requests", "failed_requests", "cache_hit_requests", "provider_attempts",
                                       "provider_successes")}


def await_counts(service: Service, http: httpx.Client, want: dict, what: str) -> dict:
    """Wait for a report with the wanted counts, then check that two more cycles keep them."""
    last: dict = {}

    def matches():
        last["report"] = report = service.report(http)
        return report if counts_of(report) == want else None

    report = wait_until(matches, CYCLE_TIMEOUT, what, interval=0.2,
                        on_timeout=lambda: f"want {want}, last report had {counts_of(last['report'])}"
                        if "report" in last else "no report")
    seen_at = report["generated_at"]
    later = wait_until(lambda: (r := service.report(http))["generated_at"] >= seen_at + 2 * INTERVAL and r,
                       CYCLE_TIMEOUT, "two more collection cycles")
    assert counts_of(later) == want, f"{what}: counts changed in later cycles"
    return later


def test_kill_9_and_restart_lose_nothing_and_count_once(tmp_path, aiops_bin, http):
    payloads = shift_to(load_sample_payloads(), time.time() - 20)
    a, b, c, fallback = split(payloads)
    service = Service(aiops_bin, tmp_path, free_port())
    try:
        service.start(http)
        a_real = [p for p in a if not is_health_check(p)]
        outcome = service.post(http, a)
        assert outcome["accepted"] == len({p["id"] for p in a_real}), outcome
        assert outcome["health_checks"] == len(a) - len(a_real)
        await_counts(service, http, wanted(a), "the first batch in the report")

        # B is acknowledged, then the process is killed before any cycle can be relied on.
        outcome = service.post(http, b)
        assert outcome["accepted"] == len(b) and outcome["duplicates"] == 0, outcome
        service.process.kill9()
        assert service.process.proc.returncode == -9

        service.start(http)
        await_counts(service, http, wanted(a + b), "everything acknowledged before kill -9 after the restart")

        # The same payloads again (as a logger retrying after a crash would): counted once.
        outcome = service.post(http, a + b)
        assert outcome["accepted"] == 0, outcome
        assert outcome["duplicates"] == len(a_real) + len(b), outcome
        # New ones, including the successful fallback of a request whose failed attempt came before the crash.
        outcome = service.post(http, c)
        assert outcome["accepted"] == len(c) and outcome["duplicates"] == 0, outcome
        final = await_counts(service, http, wanted(a + b + a + c), "the final counts")

        want_all = expected_by_team(a + b + c)["all"]
        assert final["kpis"]["monthly_spend_usd"]["value"] == pytest.approx(want_all.cost_usd, rel=1e-9)
        # F: its failed attempt was stored before the crash, its success after: one successful request.
        f_before = expected_by_team([p for p in a + b if p["litellm_call_id"] == fallback])["all"]
        f_after = expected_by_team([p for p in a + b + c if p["litellm_call_id"] == fallback])["all"]
        assert (f_before.requests, f_before.failed_requests) == (1, 1)
        assert (f_after.requests, f_after.failed_requests, f_after.attempts) == (1, 0, 2)
    finally:
        service.stop()
