"""The demo's digest: `write_demo_digest(monitor, out_dir)` at the end of `aiops-maturity demo`.

A demo runs for minutes, so its history holds this week only. To give the trend charts something
to show, earlier days are synthesised by replaying the demo's own requests (the request rows in its
store) with older timestamps, one snapshot per day over the trend span, older days a little worse
(more failures, fewer cache hits, less attribution, slower) so a trend is visible. Those snapshots
are stored with source `synthetic`; the digest's charts draw them grey and its footer says so.
"""
from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from signals.distribution import SketchDistribution
from collectors.litellm.requests import Request, aggregate_by_team, gateway_result
from metrics.report import build_report
from monitor.digest.config import DigestConfig
from monitor.digest.render import render, write_files
from monitor.digest.runner import section
from monitor.digest.builder import build_digest
from monitor.digest.week import week_of, zone
from monitor.storage.history import History, HistoryConfig
from collectors.litellm.store import _request_from_row, requests as requests_table
from monitor.runtime.windows import windows_by_team

DAY = 86400


def recorded_requests(monitor) -> list[Request]:
    with monitor.store.engine.connect() as conn:
        return [_request_from_row(row) for row in conn.execute(select(requests_table))]


def _aged(request: Request, shift: float, age_weeks: float, rng: random.Random) -> Request:
    """The request `shift` seconds earlier, degraded with its age."""
    r = replace(request, start=request.start - shift, end=request.start - shift + request.latency * (1 + 0.12 * age_weeks))
    if r.cache_hit and rng.random() < min(0.12 * age_weeks, 0.9):
        r.cache_hit = False
        r.provider_attempts += 1
        r.provider_successes += int(r.success)
    if r.success and rng.random() < 0.012 * age_weeks:
        r.success = False
        r.provider_successes = 0
    if r.team and rng.random() < min(0.04 * age_weeks, 0.5):
        r.team = None
    return r


def synthesise_history(monitor, history: History, now: float, weeks: int = 8, seed: int = 5) -> int:
    """One synthetic snapshot per day from `weeks` weeks ago until yesterday. Returns how many days."""
    recorded = recorded_requests(monitor)
    if not recorded:
        return 0
    rng = random.Random(seed)
    window = monitor.config.evaluation_window
    teams = monitor.config.teams
    days = 0
    for age_days in range(weeks * 7, 0, -1):
        taken_at = now - age_days * DAY
        shift = age_days * DAY
        sample = [_aged(r, shift, age_days / 7, rng) for r in recorded if rng.random() < 0.85 + 0.15 * rng.random()]
        per_team = aggregate_by_team(sample, make_distribution=SketchDistribution)
        spans = {"evaluation": (taken_at - window, taken_at), "30d": (taken_at - 30 * DAY, taken_at)}
        gateway = gateway_result({name: per_team for name in spans})
        report = build_report(monitor.catalog, windows_by_team(spans, [gateway], teams.allow, teams.top_n), taken_at,
                              {"window": {"start": taken_at - window, "end": taken_at, "seconds": window}})
        if history.record(report, taken_at, source="synthetic") is not None:
            days += 1
    return days


def write_demo_digest(monitor, out_dir: Path, weeks: int | None = None) -> Path:
    """Record the demo's current state, synthesise earlier days if the history has none, and write
    this (in-progress) week's digest to OUT/<week>/. Returns the HTML's path."""
    config: DigestConfig = section(monitor.config, "digest", DigestConfig)
    history = History(monitor.store.engine, section(monitor.config, "history", HistoryConfig))
    now = monitor.clock()
    report = monitor.snapshot.report or monitor.run_cycle()
    history.record(report, now)
    weeks = weeks or config.weeks
    if not history.snapshots_between(now - weeks * 7 * DAY, now - DAY):
        synthesise_history(monitor, history, now, weeks)
    week = week_of(now, zone(config.timezone))
    digest = build_digest(history, week, config.timezone, monitor.config.model, config.headline_kpis, weeks,
                          config.top_movers, incidents=[], now=now)
    return write_files(render(digest), Path(out_dir))["html"]
