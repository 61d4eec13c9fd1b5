"""The service's scheduler (APScheduler 3): collection on an interval, the digest weekly.

- `collect` (in memory): every `scheduler.interval_seconds`, one cycle (which records a snapshot
  at the history cadence) and then the retry of failed digest deliveries (at most every
  `digest.delivery.retry_interval`). On a replica that does not hold the cycle lock
  (monitor/runtime/leadership.py), the collect job tries to take it and otherwise reads the
  leader's snapshot; `follow` reads it six times an interval.
- `aiops-weekly-digest` (persistent, in the history database through SQLAlchemyJobStore, table
  `aiops_scheduler_jobs`): cron-like, default Monday 08:00 in `digest.timezone`. Its next run time
  survives restarts, so a run missed while the service was down runs once at start-up
  (`coalesce`, `misfire_grace_time` = `digest.misfire_grace`). The job is never replaced on start
  (that would drop a missed run); it is rescheduled only when its schedule in the config changed.

Replicas sharing one PostgreSQL share the job store; APScheduler 3 does not lock jobs across
processes, so two replicas may both run the weekly job — the delivery ledger (one claim per week
and channel) makes exactly one of them send each channel.
"""
from __future__ import annotations

import logging
from typing import Any

from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger

from monitor.digest.config import DigestConfig
from monitor.digest.runner import DigestRunner, section

log = logging.getLogger("aiops_maturity")

DIGEST_JOB_ID = "aiops-weekly-digest"
COLLECT_JOB_ID = "collect"
FOLLOW_JOB_ID = "follow"
FOLLOW_PER_INTERVAL = 6
JOBS_TABLE = "aiops_scheduler_jobs"
SHARED = "shared"

# The persistent job refers to this module-level function by name (job stores pickle references,
# not objects); it finds this process's runner here.
_RUNNERS: dict[str, DigestRunner] = {}


def weekly_digest_job(key: str = "default") -> None:
    runner = _RUNNERS.get(key)
    if runner is None:
        log.warning("weekly digest due but no digest runner is registered in this process")
        return
    try:
        runner.run_scheduled()
    except Exception:  # noqa: BLE001 - logged; the ledger keeps failed channels for the retry
        log.exception("weekly digest failed")


def digest_trigger(config: DigestConfig) -> CronTrigger:
    hour, minute = config.hour_minute
    return CronTrigger(day_of_week=config.day_of_week, hour=hour, minute=minute, timezone=config.timezone)


def build_scheduler(engine, config: Any) -> BackgroundScheduler:
    digest = section(config, "digest", DigestConfig)
    return BackgroundScheduler(
        jobstores={"default": MemoryJobStore(), SHARED: SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=digest.timezone,
    )


def ensure_digest_job(scheduler: BackgroundScheduler, config: DigestConfig) -> None:
    """Add the weekly job to the shared store unless it is there (keeping its pending run), or
    reschedule it when the configured schedule changed."""
    trigger = digest_trigger(config)
    grace = int(config.misfire_grace)
    job = scheduler.get_job(DIGEST_JOB_ID, jobstore=SHARED)
    if job is None:
        try:
            scheduler.add_job(weekly_digest_job, trigger, id=DIGEST_JOB_ID, jobstore=SHARED,
                              name="weekly digest", misfire_grace_time=grace, coalesce=True, max_instances=1)
        except ConflictingIdError:  # a replica added it just now
            pass
        return
    if repr(job.trigger) != repr(trigger) or job.misfire_grace_time != grace:
        log.info("digest schedule changed to %r; rescheduling", trigger)
        scheduler.modify_job(DIGEST_JOB_ID, jobstore=SHARED, misfire_grace_time=grace)
        scheduler.reschedule_job(DIGEST_JOB_ID, jobstore=SHARED, trigger=trigger)


def collect_job(monitor, runner: DigestRunner | None) -> None:
    monitor.safe_cycle()
    if runner is not None:
        try:
            runner.retry_pending()
        except Exception:  # noqa: BLE001
            log.exception("retrying digest deliveries failed")


def start_scheduler(scheduler: BackgroundScheduler, monitor, runner: DigestRunner | None,
                    key: str = "default") -> BackgroundScheduler:
    """Register the jobs and start. The scheduler starts paused so the persistent job is checked
    before anything runs; on resume a missed weekly run fires once."""
    config = monitor.config
    digest = section(config, "digest", DigestConfig)
    scheduler.start(paused=True)
    interval = config.scheduler.interval_seconds
    scheduler.add_job(collect_job, "interval", args=[monitor, runner], seconds=interval,
                      id=COLLECT_JOB_ID, jobstore="default", replace_existing=True, max_instances=1, coalesce=True)
    # A replica that does not run the cycles looks for the leader's snapshot more often than it is
    # made, so replicas serve the same one within a fraction of an interval.
    scheduler.add_job(monitor.follow, "interval", seconds=max(interval / FOLLOW_PER_INTERVAL, 0.5),
                      id=FOLLOW_JOB_ID, jobstore="default", replace_existing=True, max_instances=1, coalesce=True)
    if runner is not None and digest.enabled:
        _RUNNERS[key] = runner
        scheduler.aiops_runner = (key, runner)  # type: ignore[attr-defined] - for stop_scheduler
        ensure_digest_job(scheduler, digest)
    scheduler.resume()
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Stop without consuming a due weekly run: APScheduler's shutdown wakes its thread for one last
    pass over due jobs whose submission then fails, yet their next run time is still advanced.
    Detaching the persistent store first (its jobs stay in the database) leaves that run to the
    next start."""
    if scheduler.state != STATE_STOPPED:
        scheduler.pause()
        if SHARED in scheduler._jobstores:  # noqa: SLF001 - no public "has jobstore"
            scheduler.remove_jobstore(SHARED, shutdown=False)
        scheduler.shutdown(wait=True)
    key, runner = getattr(scheduler, "aiops_runner", (None, None))
    if key is not None and _RUNNERS.get(key) is runner:  # another monitor in this process may have replaced it
        del _RUNNERS[key]
