"""Bad days: a poisoned payload, a hung or trickling source, a failing cycle. The monitor keeps
telling the truth: the bad input is refused alone, the other KPIs keep their cadence, and a stale
number is visible as stale."""
from __future__ import annotations

import socket
import threading
import time

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.runtime.config import build_config
from monitor.runtime.exporter import MaturityCollector
from monitor.runtime.service import Monitor
from signals.source import SourceResult
from tests.payloads import payload
from tests.scenario import expected, scenario_payloads

NOW = 1_800_000_600.0


def _monitor(tmp_path, clock=lambda: NOW, **sections) -> Monitor:
    data = {"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "evaluation_window": "1h", **sections}
    return Monitor(build_config(data, environ={}), clock=clock, environ={})


def _sample(monitor: Monitor, name: str, **labels) -> float | None:
    return monitor.registry.get_sample_value(name, labels)


# ---------------------------------------------------------------------------- poison
def test_poisoned_payloads_are_refused_alone_and_every_cycle_still_runs(tmp_path):
    monitor = _monitor(tmp_path)
    poison = []
    for k, (field, value) in enumerate([("response_cost", 1e308), ("response_cost", -5.0), ("startTime", 1e19),
                                        ("endTime", 1e19), ("startTime", 1e12), ("response_cost", 2e6)]):
        item = payload(f"poison-{k}", start=NOW - 300)
        item[field] = value
        poison.append(item)
    future = payload("future", start=NOW + 7200)  # beyond the allowed clock skew
    try:
        for round_ in range(3):  # poison in every batch: no cycle may fail
            outcome = monitor.push.ingest(poison + [future])
            assert outcome.accepted == 0 and outcome.rejected == len(poison) + 1
        outcome = monitor.push.ingest(scenario_payloads(t0=NOW - 900))
        assert outcome.rejected == 0
        report = monitor.run_cycle()
        assert monitor.safe_cycle()
    finally:
        monitor.close()
    want = expected()
    assert report.org.kpis["api_error_rate"].samples == want["requests"]
    assert report.org.kpis["monthly_spend_usd"].value == pytest.approx(want["monthly_spend_usd"])
    assert _sample(monitor, "aiops_cycle_failures_total") == 0.0


def test_each_poisoned_item_is_named_in_the_answer(tmp_path):
    monitor = _monitor(tmp_path)
    bad = payload("bad", start=NOW - 60)
    bad["startTime"] = float("nan")
    try:
        outcome = monitor.push.ingest([payload("good", start=NOW - 60), bad])
    finally:
        monitor.close()
    assert outcome.accepted == 1 and outcome.rejected == 1
    assert outcome.errors == ["item 1: field 'startTime' is not a unix time in seconds between 2000 and 2100: nan"]


# ---------------------------------------------------------------------------- failing cycles
def test_a_failing_cycle_is_retried_counted_and_its_snapshot_ages(tmp_path):
    clock = {"now": NOW}
    monitor = _monitor(tmp_path, clock=lambda: clock["now"])
    try:
        monitor.push.ingest(scenario_payloads(t0=NOW - 900))
        assert monitor.safe_cycle()
        assert _sample(monitor, "aiops_snapshot_age_seconds") == 0.0
        calls = {"n": 0}
        original = monitor.history.maybe_record  # a step of the cycle itself, not of one source

        def broken(*_args):
            calls["n"] += 1
            raise RuntimeError("simulated fault")

        monitor.history.maybe_record = broken
        clock["now"] = NOW + 120
        assert monitor.safe_cycle(pause=0) is False
        assert calls["n"] == 2  # tried again once
        assert _sample(monitor, "aiops_cycle_failures_total") == 2.0
        assert _sample(monitor, "aiops_snapshot_age_seconds") == 120.0  # the stale number shows as stale
        monitor.history.maybe_record = original
        assert monitor.safe_cycle(pause=0)
        assert _sample(monitor, "aiops_snapshot_age_seconds") == 0.0
    finally:
        monitor.close()


# ---------------------------------------------------------------------------- hung sources
class _HangingServer:
    """A TCP server on 127.0.0.1 that accepts and then never answers (or trickles a byte a second)."""

    def __init__(self, trickle: bool) -> None:
        self.trickle, self.stop = trickle, threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            self.clients.append(client)
            if self.trickle:
                threading.Thread(target=self._drip, args=(client,), daemon=True).start()

    def _drip(self, client: socket.socket) -> None:
        body = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + b" " * 100000
        for byte in body:
            if self.stop.wait(1.0):
                return
            try:
                client.send(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        for client in self.clients:
            client.close()
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize("trickle", [False, True], ids=["hangs", "trickles"])
def test_a_hung_source_is_down_within_its_deadline_and_the_gateway_keeps_its_cadence(tmp_path, trickle):
    server = _HangingServer(trickle)
    clock = {"now": NOW}
    monitor = _monitor(tmp_path, clock=lambda: clock["now"], scheduler={"source_deadline": "1s"},
                       sources={"prometheus": {"url": f"http://127.0.0.1:{server.port}", "timeout": "30s", "retries": 0,
                                               "stale_after": "90s",
                                               "signals": {"system_health_score": {"query": "avg(up)"}}}})
    try:
        monitor.push.ingest(scenario_payloads(t0=NOW - 900))
        for cycle in range(3):
            clock["now"] = NOW + cycle * 30
            monitor.push.ingest([payload(f"cadence-{cycle}-{i}", start=clock["now"] - 60) for i in range(10)])
            started = time.monotonic()
            report = monitor.run_cycle()
            took = time.monotonic() - started
            assert took < 5, f"cycle {cycle} waited {took:.1f} s for a hung source"
            status = monitor.collectors["prometheus"]
            assert status.up is False and status.last_success is None
            assert ("no answer within 1 s" if cycle == 0 else "still busy") in status.last_error
            # the gateway KPIs follow ingest every cycle
            assert report.org.kpis["api_error_rate"].samples == 30 + 10 * (cycle + 1)
        registry_text = generate_latest(monitor.registry).decode()
        monitor.registry.register(MaturityCollector(lambda: monitor.snapshot, monitor.sources))
        up = {s.labels["collector"]: s.value for f in text_string_to_metric_families(generate_latest(monitor.registry).decode())
              if f.name == "aiops_collector_up" for s in f.samples}
        assert up["prometheus"] == 0.0 and up["litellm_push"] == 1.0
        assert "aiops_cycle_failures_total 0.0" in registry_text
    finally:
        server.close()
        monitor.close()


class _SlowThenFine:
    """A source that hangs on its first call only, then answers: its KPIs come back."""

    name = "slow"
    stale_after = 60.0
    deadline = 0.5

    def __init__(self) -> None:
        self.release, self.calls = threading.Event(), 0

    def collect(self, window):
        self.calls += 1
        if self.calls == 1:
            self.release.wait(10)
        return SourceResult(signals={"all": {}}, info={"call": self.calls})

    def routes(self):
        return []

    def families(self):
        return []

    def close(self):
        self.release.set()


def test_a_source_that_recovers_is_up_again(tmp_path):
    source = _SlowThenFine()
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "evaluation_window": "1h"}, environ={})
    monitor = Monitor(config, clock=lambda: NOW, sources=[source], environ={})
    try:
        monitor.run_cycle()
        assert monitor.collectors["slow"].up is False
        source.release.set()
        deadline = time.monotonic() + 10
        while not monitor.guarded._calls["slow"].done():  # the hung call returns; its late answer is not used
            assert time.monotonic() < deadline, "the released call never returned"
            time.sleep(0.01)
        monitor.run_cycle()
        assert monitor.collectors["slow"].up is True and monitor.collectors["slow"].info == {"call": 2}
    finally:
        monitor.close()
