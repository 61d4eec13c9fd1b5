"""`MaturityLogger`: a LiteLLM CustomLogger that reports every attempt to the monitor.

Name it in a proxy config (`callbacks: ["collectors.litellm.logger.handler"]`) or add it to an SDK
app (`litellm.callbacks = [MaturityLogger(endpoint=...)]`). It sends only the fields the monitor
reads (no messages, responses, headers or keys), in batches, from a background thread, so a slow
or down monitor never slows the LLM call path: the queue is bounded and overflow is counted.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

import httpx
import orjson
from litellm.integrations.custom_logger import CustomLogger

log = logging.getLogger("aiops_maturity.logger")

DEFAULT_ENDPOINT = "http://127.0.0.1:9464/ingest/litellm"
# user_api_key_hash is already a hash, never the key; it tells the monitor the call was authenticated.
_METADATA_KEYS = ("user_api_key_team_alias", "user_api_key_team_id", "user_api_key_hash")
_ERROR_KEYS = ("error_code", "error_class")
_TOP_KEYS = ("id", "litellm_call_id", "trace_id", "status", "startTime", "endTime", "response_cost", "cache_hit",
             "request_tags", "model_group", "custom_llm_provider", "status_fields")


def project(payload: dict) -> dict:
    """The StandardLoggingPayload reduced to what the monitor reads."""
    slim = {key: payload.get(key) for key in _TOP_KEYS}
    metadata = payload.get("metadata") or {}
    slim["metadata"] = {key: metadata.get(key) for key in _METADATA_KEYS}
    error = payload.get("error_information") or {}
    slim["error_information"] = {key: error.get(key) for key in _ERROR_KEYS}
    return slim


class MaturityLogger(CustomLogger):
    def __init__(self, endpoint: str | None = None, token: str | None = None, batch_size: int = 100,
                 flush_interval: float = 1.0, max_queue: int = 10_000, timeout: float = 5.0) -> None:
        super().__init__()
        self.endpoint = endpoint or os.environ.get("AIOPS_MONITOR_URL", DEFAULT_ENDPOINT)
        token = token if token is not None else os.environ.get("AIOPS_INGEST_TOKEN")
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.batch_size, self.flush_interval, self.timeout = batch_size, flush_interval, timeout
        self._queue: deque[dict] = deque(maxlen=max_queue)
        self.dropped = 0  # overflowed the queue or failed delivery after retries
        self.sent = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._inflight = 0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ LiteLLM hooks
    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._enqueue(kwargs)

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._enqueue(kwargs)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._enqueue(kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._enqueue(kwargs)

    # ------------------------------------------------------------------ batching
    def _enqueue(self, kwargs: dict) -> None:
        payload = kwargs.get("standard_logging_object")
        if not isinstance(payload, dict):
            return
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(project(payload))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aiops-logger", daemon=True)
                self._thread.start()
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def _take(self) -> list[dict]:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._inflight += len(batch)
        return batch

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                while batch := self._take():
                    try:
                        self._send(client, batch)
                    finally:
                        with self._lock:
                            self._inflight -= len(batch)

    def _send(self, client: httpx.Client, batch: list[dict]) -> None:
        body = orjson.dumps(batch)
        for attempt in range(3):
            try:
                response = client.post(self.endpoint, content=body, headers=self._headers)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        log.warning("monitor refused a batch: HTTP %s", response.status_code)
                    self.sent += len(batch)
                    return
            except httpx.HTTPError as exc:
                log.debug("monitor unreachable (%s), retrying", type(exc).__name__)
            time.sleep(0.5 * 2**attempt)
        self.dropped += len(batch)
        log.warning("dropped %d payloads: monitor at %s did not accept them", len(batch), self.endpoint)

    def flush(self, timeout: float = 10.0) -> None:
        """Block until the queue is empty (used by the demo and tests before they read KPIs)."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while (self._queue or self._inflight) and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)


handler = MaturityLogger()
