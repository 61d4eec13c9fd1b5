"""The monitor: ingest into the store, a collection cycle that publishes a snapshot."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from collectors.http_guard import StoreHealth
from collectors.litellm.push import LiteLLMPushSource
from collectors.litellm.imports import StoreImports
from collectors.litellm.store import HOUR, Store
from metrics.catalog import Catalog, formula_signals, load_catalog
from metrics.engine import evaluate
from metrics.report import Report, build_report
from monitor.runtime.config import Config, ConfigError
from monitor.storage.database import STORE_ERRORS, describe, open_database, sqlite_path
from monitor.storage.history import History
from monitor.runtime.leadership import Leadership, leadership_for
from monitor.runtime.shared_snapshot import SharedSnapshot, SnapshotFormatError, snapshot_state
from monitor.runtime.source_guard import CollectorStatus, GuardedSources
from monitor.runtime.sources import build_sources
from monitor.runtime.windows import windows_by_team
from signals.source import CycleWindow, Source, SourceContext

log = logging.getLogger("aiops_maturity")

SPEND_WINDOW = 30 * 86400


CHANGE_PERIODS = ("24h", "prev_24h")


def dashboard_periods(now: float) -> dict[str, tuple[float, float]]:
    """The KPI dashboard's periods: the last 24 hours (from the start of the minute 24 hours ago),
    the 24 hours before them, the month to date (UTC). The stores read whole minutes, so the two
    days meet at a minute boundary and the earlier one ends just before it: no minute is in both."""
    day = 86400
    cut = int((now - day) // 60) * 60
    month = datetime.fromtimestamp(now, timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {"24h": (cut, now), "prev_24h": (cut - day, cut - 0.001), "mtd": (month.timestamp(), now)}


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
    # The KPI dashboard's periods (monitor/runtime/dashboard_series.py): team -> period -> signals,
    # and the catalog evaluated over CHANGE_PERIODS: period -> team -> Assessment.
    periods: dict = field(default_factory=dict)
    period_kpis: dict = field(default_factory=dict)
    # Gauge families the sources built in this cycle (model mix, OTLP span counts, forecast, ...):
    # part of the snapshot, so every replica exports the leader's. Counters stay each replica's own.
    families: list = field(default_factory=list)


def cycle_families(sources: list[Source]) -> list:
    """The gauge families the sources built in this cycle. Counters (what this replica received)
    are read live from the sources at scrape time instead, so each replica exports its own."""
    return [family for source in sources for family in source.families() if family.type != "counter"]


class Monitor:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time, store: Store | None = None,
                 sources: list[Source] | None = None, environ: dict[str, str] | None = None,
                 leadership: Leadership | None = None) -> None:
        self.config = config
        self.clock = clock
        self.catalog = load_catalog(config.model)
        # The history database: opened, checked and migrated once (monitor/storage/migrations); the
        # push source's store and every other source's tables live in it.
        self.store = store or Store(open_database(config.store.url), config.store.raw_retention,
                                    config.store.minute_retention, config.store.hour_retention)
        self.engine = self.store.engine
        # Replicas on one database: one runs the cycles and publishes the snapshot, all serve it
        # (monitor/runtime/leadership.py, shared_snapshot.py).
        self.leadership = leadership or leadership_for(self.engine)
        self.shared = SharedSnapshot(self.engine)
        self.leading = False
        self.registry = CollectorRegistry()
        self.cycle_duration = Histogram("aiops_cycle_duration_seconds", "Wall time of one collection cycle.",
                                        registry=self.registry)
        self.cycle_failures = Counter("aiops_cycle_failures", "Collection cycles that failed (each retry counts).",
                                      registry=self.registry)
        # Age at scrape time by design: a frozen snapshot must show as old, whatever it says.
        Gauge("aiops_snapshot_age_seconds", "Seconds since the served snapshot was built (-1 before the first).",
              registry=self.registry).set_function(
            lambda: -1.0 if self.snapshot.taken_at is None else max(self.clock() - self.snapshot.taken_at, 0.0))
        Gauge("aiops_cycle_leader", "1 on the replica that runs the collection cycles, 0 on the others.",
              registry=self.registry).set_function(lambda: 1.0 if self.leading else 0.0)
        Gauge("aiops_cycle_interval_seconds", "The configured time between collection cycles.",
              registry=self.registry).set(config.scheduler.interval_seconds)
        # Why the store cannot write, while it cannot (/healthz: not ready); any write clears it.
        self.health = StoreHealth(self._describe)
        shared_token = config.server.ingest_token.get_secret_value() if config.server.ingest_token else None
        self.push = LiteLLMPushSource(self.store, clock, self.health, config.teams.tag_prefix, shared_token,
                                      config.server.max_body_bytes)
        context = SourceContext(self.engine, clock, dict(os.environ if environ is None else environ),
                                config.teams.tag_prefix, route_token=shared_token, gateway=self.store,
                                gateway_imports=StoreImports(self.store))
        self.sources: list[Source] = sources if sources is not None else build_sources(config.sources, context)
        self._check_configured_signals()
        self.collectors: dict[str, CollectorStatus] = {source.name: CollectorStatus() for source in self.all_sources}
        self.guarded = GuardedSources(self.collectors, config.scheduler.source_deadline)
        self.answers = None
        if config.assessment.answers is not None:
            from metrics.assessment import AssessmentError, load_answers

            try:
                self.answers = load_answers(config.assessment.answers)
            except AssessmentError as exc:
                raise ConfigError(f"assessment.answers: {exc}") from None
        self.history = History(self.engine, config.history)
        self.snapshot = Snapshot(catalog=self.catalog, collectors=dict(self.collectors))
        self._cycle_lock = threading.Lock()

    def _check_configured_signals(self) -> None:
        """A signal a config names (a PromQL query per signal) that is a KPI the engine computes from
        other signals would be collected for nothing, silently: refuse it and name the inputs.
        (Other names the catalog does not read are collected, exported, not graded.)"""
        kpis = {k.id: k for k in self.catalog.kpis}
        for source in self.sources:
            for name in getattr(source, "configured_signals", ()):
                if name in kpis and name not in self.catalog.signals:
                    raise ConfigError(f"sources.{source.name}.signals.{name}: {name} is computed from "
                                      f"{', '.join(formula_signals(kpis[name].formula))}; give those signals instead")

    @property
    def all_sources(self) -> list[Source]:
        """The push source first (its names win no ties: sources publish disjoint signals), then the configured ones."""
        return [self.push, *self.sources]

    @property
    def store_fault(self) -> str | None:
        return self.health.fault

    # ------------------------------------------------------------------ cycle
    def run_cycle(self) -> Report:
        with self._cycle_lock:
            started = time.perf_counter()
            now = self.clock()
            window = self.config.evaluation_window
            spend_start = (int(now - SPEND_WINDOW) // HOUR) * HOUR  # hour-aligned trailing 30 days
            spans = {"evaluation": (now - window, now), "30d": (spend_start, now)}
            periods = dashboard_periods(now)
            cycle_window = CycleWindow(now, now - window, now, spend_start, periods)
            # Importers into the gateway store first: the push source then reads their rows this cycle.
            feeders = [s for s in self.all_sources if getattr(s, "feeds_gateway", False)]
            results = self.guarded.collect(cycle_window, feeders) if feeders else []
            results += self.guarded.collect(cycle_window, [s for s in self.all_sources if s not in feeders])
            windows = windows_by_team({**spans, **periods}, results, self.config.teams.allow, self.config.teams.top_n,
                                      only_given=set(periods))
            by_period = {team: {name: windows[team].pop(name) for name in periods} for team in windows}
            # The KPIs over the last 24 h and the 24 h before, for the dashboard's changes: the
            # catalog evaluated with that period as its evaluation window (30-day KPIs unchanged).
            period_kpis = {name: {team: evaluate(self.catalog, {**windows[team], "evaluation": by_period[team][name]})
                                  for team in windows} for name in CHANGE_PERIODS}
            report = build_report(self.catalog, windows, now, {"window": {"start": now - window, "end": now,
                                                                           "seconds": window}})
            models = self._assess(report, windows["all"]["evaluation"].signals)
            if "aiops" in models:  # where telemetry cannot decide a roadmap criterion, the answers stand in
                from metrics.roadmap import claims_of, with_claims

                claims = claims_of(models["aiops"])
                report.roadmap = {team: with_claims(doc, claims) for team, doc in report.roadmap.items()}
            self.history.maybe_record(report, now, models)  # one snapshot per history.cadence slot
            elapsed = time.perf_counter() - started
            self.cycle_duration.observe(elapsed)
            self.snapshot = Snapshot(report, self.catalog, {k: CollectorStatus(**vars(v)) for k, v in self.collectors.items()},
                                     elapsed, now, models,
                                     {team: {n: w.signals for n, w in p.items()} for team, p in by_period.items()},
                                     period_kpis, cycle_families(self.all_sources))
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
        """The scheduler's job: on the replica holding the cycle lock, a cycle published for the
        others; on the others, the published snapshot. A failing cycle is counted and tried again
        after a pause; if it still fails, the last snapshot stays served and its age
        (aiops_snapshot_age_seconds) grows, which the AiopsSnapshotStale alert watches. Returns
        whether a snapshot was built or read."""
        self.leading = self.leadership.holds()
        if not self.leading:
            return self.follow()
        if self._cycle_with_retries(attempts, pause):
            self._publish()
            return True
        return False

    def follow(self) -> bool:
        """Serve the snapshot the leader published, if it is newer (a replica not holding the lock)."""
        if self.leading:
            return False
        try:
            state = self.shared.newer_than(self.snapshot.taken_at)
        except SnapshotFormatError as exc:
            log.warning("%s", exc)
            return False
        except STORE_ERRORS as exc:
            log.warning("cannot read the shared snapshot: %s", self._describe(exc))
            return False
        if state is None:
            return False
        self.snapshot = Snapshot(catalog=self.catalog, **state)
        return True

    def _publish(self) -> None:
        # Checked again: a leader cut off during the cycle must not overwrite its successor's snapshot.
        if not self.leadership.holds():
            self.leading = False
            return
        try:
            self.shared.publish(self.snapshot.taken_at, snapshot_state(self.snapshot))
        except STORE_ERRORS as exc:  # the others keep serving the previous one; its age shows it
            log.warning("cannot publish the snapshot to the other replicas: %s", self._describe(exc))

    def _describe(self, exc: BaseException) -> str:
        """One line for a history-database error (monitor.storage.database.describe)."""
        return describe(exc, sqlite_path(self.config.store.url), "the history database")

    def _cycle_with_retries(self, attempts: int, pause: float) -> bool:
        for attempt in range(1, attempts + 1):
            try:
                self.run_cycle()
            except Exception as exc:  # noqa: BLE001 - the service must keep running
                self.cycle_failures.inc()
                if isinstance(exc, STORE_ERRORS):
                    self.health.failed(exc)
                log.warning("collection cycle failed (attempt %d of %d): %s", attempt, attempts,
                            f"{type(exc).__name__}: {exc}"[:300], exc_info=log.isEnabledFor(logging.DEBUG))
                if attempt < attempts:
                    time.sleep(pause)
            else:
                return True
        return False

    def close(self) -> None:
        self.leadership.close()  # a stopping leader hands over at once
        self.guarded.close()
        for source in self.all_sources:
            try:
                source.close()
            except Exception:  # noqa: BLE001
                log.exception("closing source %s", source.name)
        self.engine.dispose()
