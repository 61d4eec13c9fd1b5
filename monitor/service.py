"""The monitor: ingest into the store, a collection cycle that publishes a snapshot."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from collectors.litellm.ingest import IngestOutcome, ingest
from metrics.catalog import Catalog, load_catalog
from metrics.report import Report, build_report
from monitor.config import Config
from monitor.durations import format_duration
from monitor.history import History
from monitor.database import STORE_ERRORS, StoreError, describe, sqlite_path
from monitor.source_guard import CollectorStatus, GuardedSources
from monitor.sources import CycleWindow, Source, SourceContext, build_sources
from monitor.store import HOUR, Store
from monitor.windows import windows_by_team

log = logging.getLogger("aiops_maturity")

SPEND_WINDOW = 30 * 86400
PUSH_COLLECTOR = "litellm_push"


class StoreWriteError(StoreError):
    """The store refused a write (disk full, read-only, corrupt): answered 503, retried by senders."""


def too_old_hint(count: int, raw_retention: float) -> str:
    """Why payloads were refused as too old, and the setting that changes it (one line)."""
    return (f"{count} older than store.raw_retention ({format_duration(raw_retention)}); "
            "raise it to backfill older data")


@dataclass
class Snapshot:
    """What the exporter and the API serve: built by a cycle, never at scrape time."""

    report: Report | None = None
    catalog: Catalog | None = None
    collectors: dict[str, CollectorStatus] = field(default_factory=dict)
    cycle_seconds: float | None = None
    taken_at: float | None = None  # clock time of the cycle that built it: its age is exported
    # Self-assessment results by model name (questionnaire claims capped by this cycle's evidence).
    models: dict = field(default_factory=dict)


class Monitor:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time, store: Store | None = None,
                 sources: list[Source] | None = None, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.catalog = load_catalog(config.model)
        self.store = store or Store(config.store.url, config.store.raw_retention, config.store.minute_retention,
                                    config.store.hour_retention)
        self.registry = CollectorRegistry()
        self.ingested = Counter("aiops_ingest_payloads", "Payloads received on the ingest routes, by outcome.",
                                ["route", "outcome"], registry=self.registry)
        self.cycle_duration = Histogram("aiops_cycle_duration_seconds", "Wall time of one collection cycle.",
                                        registry=self.registry)
        self.cycle_failures = Counter("aiops_cycle_failures", "Collection cycles that failed (each retry counts).",
                                      registry=self.registry)
        # Age at scrape time by design: a frozen snapshot must show as old, whatever it says.
        Gauge("aiops_snapshot_age_seconds", "Seconds since the served snapshot was built (-1 before the first).",
              registry=self.registry).set_function(
            lambda: -1.0 if self.snapshot.taken_at is None else max(self.clock() - self.snapshot.taken_at, 0.0))
        Gauge("aiops_cycle_interval_seconds", "The configured time between collection cycles.",
              registry=self.registry).set(config.scheduler.interval_seconds)
        self._rebuilt = 0  # minutes the last cycle rebuilt (a committed write when > 0)
        self.store_fault: str | None = None  # why the store cannot write, while it cannot (/healthz: not ready)
        shared_token = config.server.ingest_token.get_secret_value() if config.server.ingest_token else None
        context = SourceContext(self.store.engine, clock, dict(os.environ if environ is None else environ),
                                config.teams.tag_prefix, route_token=shared_token)
        self.sources: list[Source] = sources if sources is not None else build_sources(config.sources, context)
        self.collectors: dict[str, CollectorStatus] = {PUSH_COLLECTOR: CollectorStatus()}
        self.collectors.update({source.name: CollectorStatus() for source in self.sources})
        self.guarded = GuardedSources(self.collectors, config.scheduler.source_deadline)
        self.answers = None
        if config.assessment.answers is not None:
            from metrics.assessment import AssessmentError, load_answers

            try:
                self.answers = load_answers(config.assessment.answers)
            except AssessmentError as exc:
                from monitor.config import ConfigError

                raise ConfigError(f"assessment.answers: {exc}") from None
        self.history = History(self.store.engine, config.history)
        self.snapshot = Snapshot(catalog=self.catalog, collectors=dict(self.collectors))
        self._cycle_lock = threading.Lock()
        self._last_prune = 0.0

    # ------------------------------------------------------------------ ingest
    def ingest(self, items: Iterable[object], route: str = "http") -> IngestOutcome:
        """Validate and store a batch. A store that cannot write raises StoreWriteError (nothing of
        the batch is acknowledged; senders retry) and marks the monitor not ready until a write works."""
        try:
            outcome = ingest(items, self.store, self.config.teams.tag_prefix, self.clock())
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            self.ingested.labels(route, "store_error").inc()
            log.warning("ingest could not write: %s", self.store_fault)
            raise StoreWriteError(self.store_fault) from None
        if outcome.accepted:  # a committed write: the store works again
            self.store_fault = None
        for name in ("accepted", "duplicates", "rejected", "too_old", "health_checks"):
            count = getattr(outcome, name)
            if count:
                self.ingested.labels(route, name).inc(count)
        if outcome.too_old:
            outcome.hint = too_old_hint(outcome.too_old, self.config.store.raw_retention)
        if outcome.accepted:
            status = self.collectors[PUSH_COLLECTOR]
            status.up, status.last_success, status.last_error = True, self.clock(), None
        return outcome

    # ------------------------------------------------------------------ cycle
    def run_cycle(self) -> Report:
        with self._cycle_lock:
            started = time.perf_counter()
            now = self.clock()
            self._rebuilt = self.store.rebuild_dirty()
            window = self.config.evaluation_window
            spend_start = (int(now - SPEND_WINDOW) // HOUR) * HOUR  # hour-aligned trailing 30 days
            spans = {
                "evaluation": (now - window, now, self.store.window(now - window, now)),
                "30d": (spend_start, now, self.store.window(spend_start, now, with_latency=False)),
            }
            cycle_window = CycleWindow(now, now - window, now, spend_start)
            windows = windows_by_team(spans, self.config.teams.allow, self.config.teams.top_n,
                                      self.guarded.collect(cycle_window, self.sources))
            report = build_report(self.catalog, windows, now, {"window": {"start": now - window, "end": now,
                                                                           "seconds": window}})
            models = self._assess(report, windows["all"]["evaluation"].signals)
            self.history.maybe_record(report, now, models)  # one snapshot per history.cadence slot
            if now - self._last_prune > HOUR:
                self.store.prune(now)
                self._last_prune = now
            elapsed = time.perf_counter() - started
            self.cycle_duration.observe(elapsed)
            self.snapshot = Snapshot(report, self.catalog, {k: CollectorStatus(**vars(v)) for k, v in self.collectors.items()},
                                     elapsed, now, models)
            return report

    def _assess(self, report: Report, signals: dict) -> dict:
        """Score the configured answers file against this cycle's evidence (org-wide)."""
        if self.answers is None:
            return {}
        from metrics.assessment import assess_all, evidence_from_report

        counts = {name: value for name, value in signals.items() if isinstance(value, (int, float))}
        try:
            return assess_all(self.answers, evidence_from_report(report.as_dict(), counts))
        except Exception:  # noqa: BLE001 - a scoring fault must not stop the gateway KPIs
            log.exception("self-assessment scoring failed")
            return {}

    def safe_cycle(self, attempts: int = 2, pause: float = 1.0) -> bool:
        """The scheduler's job: a failing cycle is counted and tried again after a pause; if it still
        fails, the last snapshot stays served and its age (aiops_snapshot_age_seconds) grows, which
        the StaleMaturitySnapshot alert watches. Returns whether a cycle completed."""
        for attempt in range(1, attempts + 1):
            try:
                self.run_cycle()
            except Exception as exc:  # noqa: BLE001 - the service must keep running
                self.cycle_failures.inc()
                if isinstance(exc, STORE_ERRORS):
                    self._store_failed(exc)
                log.warning("collection cycle failed (attempt %d of %d): %s", attempt, attempts,
                            f"{type(exc).__name__}: {exc}"[:300], exc_info=log.isEnabledFor(logging.DEBUG))
                if attempt < attempts:
                    time.sleep(pause)
            else:
                if self._rebuilt:  # the cycle committed bucket writes: the store works again
                    self.store_fault = None
                return True
        return False

    def _store_failed(self, exc: BaseException) -> None:
        self.store_fault = describe(exc, sqlite_path(self.config.store.url), "the history database")

    def close(self) -> None:
        self.guarded.close()
        for source in self.sources:
            try:
                source.close()
            except Exception:  # noqa: BLE001
                log.exception("closing source %s", source.name)
        self.store.close()
