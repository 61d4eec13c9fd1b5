"""The `litellm_db` source: gateway requests read from the LiteLLM proxy's own PostgreSQL database,
so a proxy that already keeps spend logs gives a level on the monitor's first cycle, with no change
to the proxy.

- Read-only: only SELECTs, in read-only transactions, on a connection string read from the
  environment (`url_env`), never from the config and never logged (only host and database name).
- Incremental: spend-log rows are read in ("startTime", request_id) order behind a watermark that
  the gateway store saves in the same transaction as the imported requests, so a restart neither
  skips nor repeats a row. At most `max_rows_per_cycle` rows per cycle.
- Late commits: the proxy writes spend logs in batches, so a row can commit after rows that started
  later. Every cycle re-reads the keys (a range of the start-time index) of the rows that started within
  `late_commits` behind the watermark and imports those the store does not hold yet.
- Backfill: on first start the trailing `backfill` (30 days) is read in batches of `batch_rows`,
  with a progress bar on a terminal and progress lines in the log. Days before the first spend-log
  row still in the proxy's database come from `LiteLLM_DailyTeamSpend` (requests, failures, spend
  per team, model group and day), where the proxy's spend-log retention has deleted the rows.
The rows become requests of the gateway store (collectors.litellm.imports), which the push source
turns into the gateway KPIs: the definitions are the push route's, and a request seen by both
routes counts once. What a spend-log row cannot say is listed in docs/sources/litellm-database.md.
"""
from __future__ import annotations

import logging
import sys
import time

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from collectors.litellm import spend_logs as sql
from collectors.litellm.spend_logs import Mark, day_totals, from_db_time, request_from_row, to_db_time
from collectors.sql import chunks
from signals.durations import Duration
from signals.errors import AiopsError
from signals.source import CycleWindow, SourceConfigError, SourceContext, SourceResult

log = logging.getLogger("aiops_maturity.litellm_db")

NAME = "litellm_db"
DAY = 86400


class ProxyDatabaseError(AiopsError):
    """The proxy's database cannot be read: one line naming it (host, port, database) and why."""


class LiteLLMDatabaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url_env: str = Field(default="AIOPS_LITELLM_DATABASE_URL", description=(
        "Environment variable holding the proxy database's connection string (a read-only user is enough), "
        "e.g. postgresql+psycopg://reader:…@litellm-db:5432/litellm; it must be set."))
    backfill: Duration = Field(default=30 * DAY, description=(
        "How far back the first start reads (spend logs, and daily totals where the rows are gone)."))
    late_commits: Duration = Field(default=900.0, description=(
        "Rows that start this long behind the watermark are still looked for every cycle (the proxy commits its "
        "spend logs in batches); a row committed later than this after its start is missed."))
    max_rows_per_cycle: int = Field(default=100_000, ge=1, description=(
        "Spend-log rows read per cycle once the backfill is done; a larger backlog is read over several cycles."))
    batch_rows: int = Field(default=20_000, ge=100, le=1_000_000, description=(
        "Rows per read and per transaction of the store."))
    timeout: Duration = Field(default=30.0, description="Connect and statement timeout of the proxy database.")
    stale_after: Duration = Field(default=900.0, description=(
        "How long the source may fail before it is reported stale (its requests stay in the store)."))


class LiteLLMDatabaseSource:
    name = NAME
    feeds_gateway = True  # collected before the push source, which reads the imported requests
    config_model = LiteLLMDatabaseConfig
    deadline = 3600.0  # the first cycle backfills; later cycles are bounded by max_rows_per_cycle

    def __init__(self, config: LiteLLMDatabaseConfig, context: SourceContext) -> None:
        url = context.environ.get(config.url_env)
        if not url:
            raise SourceConfigError(f"sources.{NAME}: set {config.url_env} to the LiteLLM proxy's database URL "
                                    "(it is read from the environment only)")
        if context.gateway_imports is None:
            raise SourceConfigError(f"sources.{NAME}: the service gives no gateway store to import into")
        self.config, self.clock = config, context.clock
        self.imports = context.gateway_imports
        self.tag_prefix = context.team_tag_prefix
        self.stale_after = config.stale_after
        self.engine, self.shown = _engine(url, config.timeout)
        self.state_key = f"{NAME}:{self.shown}"  # one watermark per proxy database

    # ------------------------------------------------------------------ cycle
    def collect(self, window: CycleWindow) -> SourceResult:
        now = window.now
        state = self.imports.import_state(self.state_key)
        if state is None:
            state = self._start_backfill(now)
        read = self._read_late(state, now)
        budget = None if state.get("backfilling") else self.config.max_rows_per_cycle
        read += self._read_ahead(state, now, budget)
        if state.pop("backfilling", False):
            self.imports.import_batch(self.state_key, state, [], now=now)
            log.info("litellm_db: backfill done")
        mark = Mark.from_state(state["mark"])
        return SourceResult(info={"rows_read": read, "watermark": mark.time.isoformat() + "Z",
                                  "lag_seconds": round(max(now - from_db_time(mark.time), 0.0), 1),
                                  "database": self.shown})

    def _start_backfill(self, now: float) -> dict:
        """The first cycle: the hours the push route already filled are kept (imports.py), and days
        whose spend-log rows are gone come from the daily totals."""
        since = now - self.config.backfill
        state = {"mark": Mark.at(since).as_state(), "since": since, "backfilling": True,
                 "pushed_hours": self.imports.hours_with_buckets(since, now)}
        first = self._fetch(sql.FIRST_ROW, {"since": to_db_time(since)})[0][0]
        first_day = int(since // DAY) * DAY + DAY  # whole days only
        end_day = int((from_db_time(first) if first is not None else now) // DAY) * DAY
        days = []
        if end_day > first_day:
            days = day_totals(self._fetch(sql.DAY_TOTALS, {"first_day": _date(first_day), "end_day": _date(end_day)}))
        counts = self.imports.import_batch(self.state_key, state, [], days, now=now)
        log.info("litellm_db: backfill of %s from %s; %d team-days of daily totals before the first spend-log row",
                 self.shown, to_db_time(since).isoformat() + "Z", counts["days"])
        return state

    def _read_ahead(self, state: dict, now: float, budget: int | None) -> int:
        """Rows after the watermark, in batches, up to `budget` rows (None: until caught up)."""
        until = to_db_time(now)
        total = None
        read = 0
        with _Progress(enabled=budget is None) as progress:
            while budget is None or read < budget:
                mark = Mark.from_state(state["mark"])
                limit = self.config.batch_rows if budget is None else min(self.config.batch_rows, budget - read)
                if total is None and budget is None:
                    total = self._fetch(sql.COUNT_AFTER, {"mark_time": mark.time, "mark_id": mark.request_id,
                                                          "until": until})[0][0]
                    progress.start(total)
                rows = self._fetch(sql.AFTER_MARK, {"mark_time": mark.time, "mark_id": mark.request_id,
                                                    "until": until, "limit": limit})
                if not rows:
                    break
                state["mark"] = Mark(rows[-1].start_time, rows[-1].request_id).as_state()
                self._import(state, rows, now)
                read += len(rows)
                progress.advance(len(rows), rows[-1].start_time)
                if len(rows) < limit:
                    break
        return read

    def _read_late(self, state: dict, now: float) -> int:
        """Rows behind the watermark that the store does not hold: committed after later rows."""
        mark = Mark.from_state(state["mark"])
        # Not before the backfill's start (older rows were never ours) nor the store's raw horizon
        # (older rows went into hour buckets, where a row cannot be told from another).
        since = max(from_db_time(mark.time) - self.config.late_commits, state["since"], self.imports.horizon(now))
        if since >= from_db_time(mark.time):
            return 0
        keys = self._fetch(sql.BEHIND_MARK, {"since": to_db_time(since), "mark_time": mark.time,
                                             "mark_id": mark.request_id})
        if not keys:
            return 0
        known = self.imports.known_calls([k.call_id or k.request_id for k in keys])
        missing = [k.request_id for k in keys if (k.call_id or k.request_id) not in known]
        for chunk in chunks(missing, self.config.batch_rows):
            self._import(state, self._fetch(sql.BY_ID, {"ids": chunk}), now)
        if missing:
            log.info("litellm_db: %d rows committed late, imported", len(missing))
        return len(missing)

    def _import(self, state: dict, rows, now: float) -> None:
        requests = [r for r in (request_from_row(row, self.tag_prefix) for row in rows) if r is not None]
        self.imports.import_batch(self.state_key, state, requests, now=now)

    def _fetch(self, statement, params: dict) -> list:
        """Rows of one read (read-only by the connection's options); a database error becomes one
        line naming the database, never its connection string."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(statement, params).all()
        except DBAPIError as exc:
            why = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            hint = "; is this the LiteLLM proxy's database?" if "does not exist" in why else ""
            raise ProxyDatabaseError(f"{self.shown}: {why}{hint}") from None

    def routes(self) -> list:
        return []

    def families(self) -> list:
        return []

    def close(self) -> None:
        self.engine.dispose()


class _Progress:
    """A progress bar on a terminal, a log line every 10 % (the backfill only)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.done, self.total, self.logged, self.bar = enabled, 0, 0, 0, None

    def __enter__(self) -> "_Progress":
        return self

    def start(self, total: int) -> None:
        self.total = total
        if self.enabled and total and sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("litellm_db backfill", total=total)
        if self.enabled:
            log.info("litellm_db: %d spend-log rows to read", total)

    def advance(self, rows: int, at) -> None:
        self.done += rows
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, advance=rows)
        step = max(self.total // 10, 1)
        if self.done // step > self.logged:
            self.logged = self.done // step
            log.info("litellm_db: backfill %d of %d rows (up to %s)", self.done, self.total, at.isoformat() + "Z")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _date(unix: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(unix))


def _engine(url: str, timeout: float) -> tuple[Engine, str]:
    """An engine on the proxy's database and how to name it in logs (no user, no password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceConfigError(f"sources.{NAME}: the database URL is not a URL; use postgresql+psycopg://user@host/db") from None
    if parsed.get_backend_name() != "postgresql":
        raise SourceConfigError(f"sources.{NAME}: LiteLLM keeps its spend logs in PostgreSQL; got a "
                                f"{parsed.get_backend_name()!r} URL")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver the postgres extra installs
    shown = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
    try:
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=2, connect_args={
            "connect_timeout": max(int(timeout), 1),
            "options": f"-c statement_timeout={int(timeout * 1000)} -c default_transaction_read_only=on"})
    except (NoSuchModuleError, ModuleNotFoundError):
        raise SourceConfigError(f"sources.{NAME} needs the PostgreSQL driver: pip install 'aiops-maturity[postgres]'") from None
    return engine, shown
