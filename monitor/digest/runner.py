"""Producing and delivering a week's digest: what the CLI, the weekly job and the retry in the
collection cycle call."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import Engine

from signals.teams import ALL
from monitor.digest.delivery import Channel, Ledger, Outcome, build_channels, deliver
from monitor.digest.builder import build_digest
from monitor.digest.config import DigestConfig
from monitor.digest.hooks import crosswalk_from_answers, load_incident_provider
from monitor.digest.roadmap import assessment_report
from monitor.digest.render import Rendered, render
from monitor.digest.week import last_complete_week, week_bounds, zone
from monitor.storage.history import History, HistoryConfig

log = logging.getLogger("aiops_maturity")


def section(config: Any, name: str, default: type) -> Any:
    """A config section, or its defaults while monitor/runtime/config.py does not have it."""
    return getattr(config, name, None) or default()


def report_from_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The contract's report shape from a stored snapshot (for the self-assessment's evidence)."""
    return {"level": snapshot["level"], "score": snapshot["score"],
            "kpis": {kpi: {k: row.get(k) for k in ("value", "status", "samples", "min_samples", "evidence")}
                     for kpi, row in snapshot["kpis"].items()}}


class DigestRunner:
    def __init__(self, engine: Engine, config: Any, environ: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.time, out_dir: Path | None = None,
                 channels: list[Channel] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        import os

        self.engine = engine
        self.config: DigestConfig = section(config, "digest", DigestConfig)
        self.history = History(engine, section(config, "history", HistoryConfig))
        self.model: str | None = getattr(config, "model", None)
        self.assessment_answers = getattr(getattr(config, "assessment", None), "answers", None)  # assessment.answers
        self.clock = clock
        self.sleep = sleep
        self.ledger = Ledger(engine, lease=self.config.delivery.lease)
        env = dict(os.environ if environ is None else environ)
        self.channels = channels if channels is not None else build_channels(self.config, env, out_dir)
        self._last_retry = 0.0

    # ------------------------------------------------------------------ content
    def _incidents(self, start: float, end: float) -> tuple[list[dict] | None, str | None]:
        try:
            provider = load_incident_provider(self.config.incidents_provider)
            return (provider(self.engine, start, end) if provider else None), None
        except Exception as exc:  # noqa: BLE001 - one section must not stop the digest
            log.warning("digest: incidents provider failed: %s", exc)
            return None, f"{type(exc).__name__}: {exc}"

    def _crosswalk(self, end: float, start: float) -> tuple[dict | None, dict | None]:
        """The self-assessment scored against the week's evidence, and its assessment report."""
        answers = self.config.answers or self.assessment_answers
        if answers is None:
            return None, None
        latest = self.history.latest_before(end, start)
        snapshot = next((s for (m, team), s in latest.items() if team == ALL and m == (self.model or m)), None)
        report = report_from_snapshot(snapshot) if snapshot else {"kpis": {}}
        try:
            crosswalk = crosswalk_from_answers(answers, report)
        except Exception as exc:  # noqa: BLE001
            log.warning("digest: self-assessment failed: %s", exc)
            return None, None
        try:
            return crosswalk, assessment_report(answers, report, zone(self.config.timezone), min(self.clock(), end - 1))[1]
        except Exception as exc:  # noqa: BLE001 - the report section must not stop the digest
            log.warning("digest: assessment report failed: %s", exc)
            return crosswalk, None

    def render_week(self, week: str) -> Rendered:
        tz = zone(self.config.timezone)
        start_dt, end_dt = week_bounds(week, tz)
        start, end = start_dt.timestamp(), end_dt.timestamp()
        incidents, error = self._incidents(start, end)
        crosswalk, assessment = self._crosswalk(end, start)
        digest = build_digest(self.history, week, self.config.timezone, self.model, self.config.headline_kpis,
                              self.config.weeks, self.config.top_movers, incidents, crosswalk,
                              now=self.clock(), assessment=assessment)
        if error:
            digest.incidents["error"] = error
        return render(digest)

    # ------------------------------------------------------------------ delivery
    def run_week(self, week: str) -> list[Outcome]:
        statuses = self.ledger.statuses(week)
        pending = [c for c in self.channels if statuses.get(c.name, {}).get("status") != "sent"]
        if not pending:
            return [Outcome(c.name, "skipped", "already sent") for c in self.channels]
        return deliver(lambda: self.render_week(week), pending, self.ledger, week, self.config, self.sleep)

    def run_scheduled(self) -> list[Outcome]:
        """The weekly job: the last complete week in the configured time zone."""
        week = last_complete_week(self.clock(), zone(self.config.timezone))
        outcomes = self.run_week(week)
        log.info("digest %s: %s", week, ", ".join(f"{o.channel} {o.status}" for o in outcomes))
        return outcomes

    def retry_pending(self, force: bool = False) -> dict[str, list[Outcome]]:
        """From the collection cycle: weeks with a failed (or abandoned) delivery are tried again,
        at most every `retry_interval`, until `give_up_after` past the week's end."""
        now = self.clock()
        if not force and now - self._last_retry < self.config.delivery.retry_interval:
            return {}
        self._last_retry = now
        tz = zone(self.config.timezone)
        done = {}
        for week in self.ledger.unfinished_weeks(now):
            if week_bounds(week, tz)[1].timestamp() + self.config.delivery.give_up_after < now:
                continue
            done[week] = self.run_week(week)
        return done


def digest_command(config: Any, out_dir: Path, week: str | None = None, send: bool = False,
                   environ: dict[str, str] | None = None) -> tuple[str, Path, list[Outcome]]:
    """`aiops-maturity digest`: write OUT/<week>/digest.{md,html,json} and charts/; with `send`,
    also deliver through the configured Slack / e-mail channels (once per week, via the ledger).
    Returns (week, path of the HTML, delivery outcomes)."""
    import os

    from monitor.digest.delivery import FolderChannel
    from collectors.litellm.store import Store
    from monitor.storage.database import open_database

    digest_config: DigestConfig = section(config, "digest", DigestConfig)
    env = dict(os.environ if environ is None else environ)
    week = week or last_complete_week(time.time(), zone(digest_config.timezone))
    channels = build_channels(digest_config, env)[1:] if send else []  # validate secrets before any work
    store = Store(open_database(config.store.url), config.store.raw_retention, config.store.minute_retention,
                  config.store.hour_retention)
    try:
        runner = DigestRunner(store.engine, config, env, channels=channels)
        rendered = runner.render_week(week)
        FolderChannel(out_dir).send(rendered)
        outcomes = deliver(rendered, channels, runner.ledger, week, digest_config) if channels else []
        return week, Path(out_dir) / week / "digest.html", outcomes
    finally:
        store.close()
