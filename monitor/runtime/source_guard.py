"""Every source's `collect` under a deadline, so one hung or trickling source cannot stall a cycle.

A source's client has its own connect and read timeouts, but a server that sends a byte a second
never trips a read timeout. So each call runs in a worker thread and the cycle waits for it at most
`deadline` seconds (the source's own `deadline` attribute, else `scheduler.source_deadline`): past
that the source is marked down (`aiops_collector_up` 0) and the cycle goes on; its last signals are
kept until their staleness limit (`stale_after`), then dropped, so its KPIs turn `no_data`.
A call that is still running when the next cycle comes is not started again: a hung source costs
one thread, never one per cycle. Calls run in daemon threads, so a hung call never holds up the
process's exit. Sources are called one after the other, as before; only a call abandoned at its
deadline may still be running beside later ones (its source's own tables; SQLite's busy timeout
and PostgreSQL's locks serialise any write it still makes).
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, wait
from dataclasses import dataclass, field

from signals.source import CycleWindow, Source, SourceResult

log = logging.getLogger("aiops_maturity")


@dataclass
class CollectorStatus:
    up: bool = False
    last_success: float | None = None
    last_error: str | None = None
    info: dict = field(default_factory=dict)


class GuardedSources:
    def __init__(self, statuses: dict[str, CollectorStatus], default_deadline: float) -> None:
        self.statuses = statuses
        self.default_deadline = default_deadline
        self._calls: dict[str, Future] = {}
        self._results: dict[str, SourceResult] = {}
        self._collected_at: dict[str, float] = {}

    def deadline(self, source: Source) -> float:
        return float(getattr(source, "deadline", None) or self.default_deadline)

    def collect(self, window: CycleWindow, sources: list[Source]) -> list[SourceResult]:
        """The results of every source that answered in time or whose last answer is not yet stale,
        in the sources' order."""
        kept_results = []
        for source in sources:
            self.statuses.setdefault(source.name, CollectorStatus())
            self._call(source, window)
            kept = self._results.get(source.name)
            collected_at = self._collected_at.get(source.name)
            if kept is None or collected_at is None or window.now - collected_at > source.stale_after:
                continue
            kept_results.append(kept)
        return kept_results

    def _call(self, source: Source, window: CycleWindow) -> None:
        status = self.statuses[source.name]
        deadline = self.deadline(source)
        previous = self._calls.get(source.name)
        if previous is not None and not previous.done():
            self._down(source, status, f"still busy with an earlier call (over {deadline:g} s); skipped")
            return
        call = self._start(source, window)
        self._calls[source.name] = call
        # wait() rather than result(timeout): a source may itself raise TimeoutError (its client's),
        # which must read as that source's error, not as our deadline.
        if not wait([call], timeout=deadline).done:
            self._down(source, status, f"no answer within {deadline:g} s")
            return
        try:
            result = call.result()
        except Exception as exc:  # noqa: BLE001 - one failing source must not stop the others
            self._down(source, status, f"{type(exc).__name__}: {exc}"[:300])
        else:
            self._results[source.name] = result
            self._collected_at[source.name] = window.now
            status.up, status.last_success, status.last_error = True, window.now, None
            status.info = dict(result.info)
            pushed_at = getattr(source, "pushed_at", False)
            if pushed_at is not False:  # a push-only source is up once data arrived, as of its last delivery
                status.up, status.last_success = pushed_at is not None, pushed_at

    @staticmethod
    def _start(source: Source, window: CycleWindow) -> Future:
        """source.collect(window) in a daemon thread; its outcome in the returned Future."""
        call: Future = Future()
        call.set_running_or_notify_cancel()

        def run() -> None:
            try:
                call.set_result(source.collect(window))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting cycle
                call.set_exception(exc)

        threading.Thread(target=run, name=f"aiops-source-{source.name}", daemon=True).start()
        return call

    @staticmethod
    def _down(source: Source, status: CollectorStatus, why: str) -> None:
        status.up, status.last_error = False, why
        log.warning("source %s failed: %s", source.name, why)

    def close(self) -> None:
        """Nothing to stop: a call still running ends with its client's own timeout or with the process."""
        self._calls.clear()
