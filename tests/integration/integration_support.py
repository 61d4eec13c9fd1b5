"""Helpers for the integration tests: free ports, bounded waits, managed subprocesses, and an
independent implementation of the contract's gateway definitions (README, "Gateway KPI
definitions") to compute expected values without the monitor's own code.

The expectation helpers do not use the monitor's code: they must not share its bugs.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.recorded import LITELLM_SAMPLES

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = LITELLM_SAMPLES
VENV_BIN = Path(sys.executable).parent
HEALTH_CHECK_TAG = "litellm-internal-health-check"
INGEST_TOKEN = "it-ingest-token-5f1c"
SETUP_HINT = "install it with the project's setup script (scripts/) before running the integration tests"


# ---------------------------------------------------------------------------- environment
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_executable(candidates: list[str | Path], what: str) -> Path:
    """The first candidate that exists and is executable; otherwise FAIL (never skip)."""
    for candidate in candidates:
        path = Path(candidate) if os.sep in str(candidate) else (shutil.which(str(candidate)) or "")
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return Path(path)
    pytest.fail(f"{what} not found (looked for {', '.join(map(str, candidates))}); {SETUP_HINT}", pytrace=False)


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without proxies or a database URL, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy") and k not in ("DATABASE_URL",)}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1,
               on_timeout: Callable[[], str] | None = None) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last one
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            extra = f"\n{on_timeout()}" if on_timeout else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}{extra}", pytrace=False)
        time.sleep(interval)


class ManagedProcess:
    """A subprocess in its own process group, logged to a file, stopped group-wide."""

    def __init__(self, name: str, cmd: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name, self.cmd, self.log_path = name, [str(c) for c in cmd], log_path
        with open(log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=cwd, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = []
        return f"--- last lines of {self.name} log ({self.log_path}) ---\n" + "\n".join(text)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # the group id is the pid: start_new_session=True
        except (ProcessLookupError, PermissionError):
            pass

    def kill9(self) -> None:
        """Crash it: SIGKILL to the whole group, no chance to clean up."""
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, grace: float = 10.0) -> None:
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)  # leftover children, if any
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def start_monitor(data_dir: Path, token: str | None = INGEST_TOKEN, **sections):
    """An in-process monitor (HTTP server on a free port, scheduler) with SQLite under data_dir.
    The scheduler interval is an hour: the tests run cycles themselves."""
    from monitor.runtime.config import build_config
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor

    data: dict[str, Any] = {"store": {"url": f"sqlite:///{data_dir / 'history.db'}"},
                            "scheduler": {"interval_seconds": 3600}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    config = build_config(data, environ={"AIOPS_INGEST_TOKEN": token} if token else {})
    return RunningMonitor(Monitor(config), host="127.0.0.1", port=0).start(timeout=20)


# ---------------------------------------------------------------------------- payloads
def load_sample_payloads() -> list[dict]:
    path = SAMPLES / "callback_run_payloads.jsonl"
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [item.get("standard_logging_object", item) for item in items]


def shift_to(payloads: list[dict], last_end: float) -> list[dict]:
    """Deep copies with every timestamp moved by one offset so the latest endTime is `last_end`."""
    offset = last_end - max(p["endTime"] for p in payloads)
    shifted = []
    for p in payloads:
        q = copy.deepcopy(p)
        for key in ("startTime", "endTime", "completionStartTime"):
            if isinstance(q.get(key), (int, float)):
                q[key] += offset
        shifted.append(q)
    return shifted


def renamed(payloads: list[dict], suffix: str) -> list[dict]:
    """Copies that are new requests: attempt id, call id and trace id get `suffix`."""
    out = []
    for p in payloads:
        q = copy.deepcopy(p)
        q["id"] = f"{p['id']}-{suffix}"
        q["litellm_call_id"] = f"{p['litellm_call_id']}-{suffix}"
        if q.get("trace_id"):
            q["trace_id"] = f"{p['trace_id']}-{suffix}"
        out.append(q)
    return out


def is_health_check(p: dict) -> bool:
    return HEALTH_CHECK_TAG in (p.get("request_tags") or [])


def _team(p: dict, tag_prefix: str | None = "team:") -> str | None:
    md = p.get("metadata") or {}
    team = md.get("user_api_key_team_alias") or md.get("user_api_key_team_id")
    if team:
        return str(team)
    for tag in p.get("request_tags") or []:
        if tag_prefix and isinstance(tag, str) and tag.startswith(tag_prefix) and len(tag) > len(tag_prefix):
            return tag[len(tag_prefix):]
    return None


def _client_error(p: dict) -> bool:
    info = p.get("error_information") or {}
    code = str(info.get("error_code") or "").strip()
    if code.isdigit():
        code_i = int(code)
        return 400 <= code_i < 500 and code_i not in (408, 429)
    return info.get("error_class") in ("BadRequestError", "ProxyModelNotFoundError", "AuthenticationError",
                                       "NotFoundError", "PermissionDeniedError", "UnprocessableEntityError")


@dataclass
class Expected:
    requests: int = 0
    failed_requests: int = 0
    cache_hit_requests: int = 0
    attempts: int = 0
    provider_attempts: int = 0
    provider_successes: int = 0
    cost_usd: float = 0.0
    attributed_cost_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)


def expected_by_team(payloads: list[dict], tag_prefix: str | None = "team:") -> dict[str, Expected]:
    """The contract's gateway signals per team (`unattributed` without identity) and `all`.

    A request is one litellm_call_id (health probes excluded, a repeated attempt id counted once);
    it succeeded if any attempt succeeded, hit the cache if any attempt did; provider attempts
    leave out cache hits and client errors (4xx other than 408/429)."""
    seen: set[str] = set()
    calls: dict[str, list[dict]] = defaultdict(list)
    for p in payloads:
        if is_health_check(p) or p["id"] in seen:
            continue
        seen.add(p["id"])
        calls[p.get("litellm_call_id") or p["id"]].append(p)
    result: dict[str, Expected] = defaultdict(Expected)
    for attempts in calls.values():
        team = next((t for t in (_team(a, tag_prefix) for a in attempts) if t), None)
        success = any(a["status"] == "success" for a in attempts)
        cache_hit = any(a.get("cache_hit") is True for a in attempts)
        cost = sum(float(a.get("response_cost") or 0.0) for a in attempts)
        provider = [a for a in attempts if a.get("cache_hit") is not True
                    and (a["status"] == "success" or not _client_error(a))]
        latency = max(a["endTime"] for a in attempts) - min(a["startTime"] for a in attempts)
        for key in (team or "unattributed", "all"):
            e = result[key]
            e.requests += 1
            e.failed_requests += int(not success)
            e.cache_hit_requests += int(cache_hit)
            e.attempts += len(attempts)
            e.provider_attempts += len(provider)
            e.provider_successes += sum(a["status"] == "success" for a in provider)
            e.cost_usd += cost
            e.attributed_cost_usd += cost if team else 0.0
            e.latencies.append(latency)
    return dict(result)


def evidence_counts(kpis: dict) -> dict[str, float]:
    """The signal counts the report's KPI evidence carries (the contract's numerators/denominators)."""
    ev = {}
    for kpi_id in ("api_error_rate", "provider_availability", "cache_hit_rate", "cost_attribution_coverage"):
        ev.update({k: v for k, v in kpis[kpi_id]["evidence"].items() if not k.startswith("window")})
    return ev
