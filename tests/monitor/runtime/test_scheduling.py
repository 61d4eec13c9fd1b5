"""The scheduler: the weekly digest as a cron job in the configured time zone, kept in the history
database (SQLite and PostgreSQL), run once at start-up when it was missed, never replaced on
restart; the collection job runs the cycle and the delivery retry."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, table

from monitor.runtime import scheduling
from monitor.digest.config import DigestConfig
from monitor.runtime.scheduling import DIGEST_JOB_ID, SHARED, build_scheduler, ensure_digest_job, start_scheduler, stop_scheduler


class Calls:
    """Stands in for the monitor and the digest runner; records what the jobs call."""

    def __init__(self, digest: DigestConfig, interval: float = 3600) -> None:
        self.config = SimpleNamespace(digest=digest, scheduler=SimpleNamespace(interval_seconds=interval))
        self.digests, self.cycles, self.retries, self.follows = [], 0, 0, 0
        self.event = threading.Event()

    def run_scheduled(self):
        self.digests.append(time.time())
        self.event.set()
        return []

    def safe_cycle(self):
        self.cycles += 1

    def follow(self):
        self.follows += 1

    def retry_pending(self):
        self.retries += 1
        return {}


def start(store, calls):
    return start_scheduler(build_scheduler(store.engine, calls.config), calls, calls)


def miss_the_run(store, digest: DigestConfig, hours_late: float) -> None:
    """As if the service was down when the weekly run was due `hours_late` hours ago."""
    scheduler = build_scheduler(store.engine, SimpleNamespace(digest=digest))
    scheduler.start(paused=True)
    ensure_digest_job(scheduler, digest)
    due = datetime.now(ZoneInfo(digest.timezone)) - timedelta(hours=hours_late)
    scheduler.modify_job(DIGEST_JOB_ID, jobstore=SHARED, next_run_time=due)
    stop_scheduler(scheduler)


def test_the_weekly_job_is_cron_in_the_configured_zone_and_persisted(store):
    digest = DigestConfig(timezone="Europe/Berlin")
    calls = Calls(digest)
    scheduler = start(store, calls)
    try:
        job = scheduler.get_job(DIGEST_JOB_ID, jobstore=SHARED)
        run = job.next_run_time
        assert str(run.tzinfo) == "Europe/Berlin" and (run.weekday(), run.hour, run.minute) == (0, 8, 0)
        assert run > datetime.now(ZoneInfo("UTC")) and job.misfire_grace_time == 6 * 86400 and job.coalesce
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(table(scheduling.JOBS_TABLE))).scalar_one() == 1
    finally:
        stop_scheduler(scheduler)
    assert calls.digests == []


def test_a_missed_run_runs_once_at_start_up(store):
    digest = DigestConfig(timezone="UTC")
    miss_the_run(store, digest, hours_late=26)
    calls = Calls(digest)
    scheduler = start(store, calls)
    try:
        assert calls.event.wait(15), "the missed weekly run did not run at start-up"
        time.sleep(1.0)
        assert len(calls.digests) == 1
        assert scheduler.get_job(DIGEST_JOB_ID, jobstore=SHARED).next_run_time > datetime.now(ZoneInfo("UTC"))
    finally:
        stop_scheduler(scheduler)
    again = Calls(digest)  # a later restart does not run it again
    scheduler = start(store, again)
    time.sleep(1.0)
    stop_scheduler(scheduler)
    assert again.digests == []


def test_a_run_missed_by_more_than_the_grace_is_skipped(store):
    digest = DigestConfig(misfire_grace="1h")
    miss_the_run(store, digest, hours_late=3)
    calls = Calls(digest)
    scheduler = start(store, calls)
    try:
        deadline = time.monotonic() + 10
        while scheduler.get_job(DIGEST_JOB_ID, jobstore=SHARED).next_run_time < datetime.now(ZoneInfo("UTC")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop_scheduler(scheduler)
    assert calls.digests == []


def test_restart_keeps_the_pending_run_and_a_new_schedule_reschedules(store):
    digest = DigestConfig(timezone="America/New_York", day_of_week="fri", time="17:45")
    scheduler = start(store, Calls(digest))
    first = scheduler.get_job(DIGEST_JOB_ID, jobstore=SHARED).next_run_time
    stop_scheduler(scheduler)
    scheduler = start(store, Calls(digest))
    assert scheduler.get_job(DIGEST_JOB_ID, jobstore=SHARED).next_run_time == first
    stop_scheduler(scheduler)
    changed = DigestConfig(timezone="America/New_York", day_of_week="fri", time="09:30")
    scheduler = start(store, Calls(changed))
    run = scheduler.get_job(DIGEST_JOB_ID, jobstore=SHARED).next_run_time
    stop_scheduler(scheduler)
    assert (run.weekday(), run.hour, run.minute) == (4, 9, 30) and str(run.tzinfo) == "America/New_York"


def test_the_collection_job_runs_the_cycle_then_the_delivery_retry(store):
    calls = Calls(DigestConfig(), interval=0.1)
    scheduler = start(store, calls)
    try:
        deadline = time.monotonic() + 10
        while calls.retries < 3:
            assert time.monotonic() < deadline, "the collection job did not run"
            time.sleep(0.05)
    finally:
        stop_scheduler(scheduler)
    assert calls.cycles >= 3


def test_a_disabled_digest_has_no_weekly_job(store):
    calls = Calls(DigestConfig(enabled=False))
    scheduler = start(store, calls)
    try:
        assert scheduler.get_job(DIGEST_JOB_ID) is None
    finally:
        stop_scheduler(scheduler)
