"""The `litellm_db` source over a large proxy database: backfill speed and the cost of a cycle.

A real PostgreSQL (Debian's, started here on 127.0.0.1) gets LiteLLM's schema from the migrations
in `litellm-proxy-extras`, then spend-log rows: a few hundred written by LiteLLM's own code from
real Router calls (tests/collectors/litellm/proxy_database.py), copied server-side with new
request and call ids and start times spread evenly over 30 days, to 1M rows (and 10k for the
reference).
- `litellm_db_backfill_rows_per_s`: rows / wall time of the monitor's first cycle (the backfill of
  the 30 days into a fresh SQLite store, and the cycle that reads the KPIs from it).
- `litellm_db_cycle_1m_vs_10k`: an incremental cycle (1,000 new rows in the last minute, then one
  cycle) with 1M rows in the proxy's table / the same with 10k rows; wall time, median of 5, since
  the database's own work (in another process) is part of the cost.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.cycle import FakeClock
from monitor.runtime.config import build_config
from monitor.runtime.service import Monitor
from tests.collectors.litellm import proxy_database as proxy
from tests.postgres_support import PostgresServer

DAY = 86400
END = 1_795_000_000 - 1_795_000_000 % 3600  # a fixed "now"
TEMPLATE_CALLS = 300
COLUMNS = ("call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, model, model_id, model_group, "
           "custom_llm_provider, api_base, \"user\", cache_hit, cache_key, request_tags, team_id, end_user, session_id, "
           "status")


def log(message: str) -> None:
    print(f"[bench litellm_db] {message}", file=sys.stderr, flush=True)


def _templates(dsn: str) -> int:
    recorder = proxy.Recorder()
    asyncio.run(recorder.run(TEMPLATE_CALLS))
    proxy.insert_spend_rows(dsn, recorder.spend_rows)
    with psycopg.connect(dsn) as conn:
        conn.execute('CREATE TABLE tmpl AS SELECT row_number() OVER (ORDER BY request_id) - 1 AS n, * '
                     'FROM "LiteLLM_SpendLogs"')
        conn.execute('TRUNCATE "LiteLLM_SpendLogs"')
    return len(recorder.spend_rows)


def _copy(dsn: str, first: int, count: int, templates: int, start: float, step: float, tag: str) -> None:
    """`count` copies of the template rows, the i-th starting at start + i * step (server-side)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(f'''INSERT INTO "LiteLLM_SpendLogs" (request_id, "startTime", "endTime", metadata, {COLUMNS})
            SELECT t.request_id || '-{tag}' || g,
                   to_timestamp(%(start)s::float8 + g * %(step)s::float8) AT TIME ZONE 'UTC',
                   to_timestamp(%(start)s::float8 + g * %(step)s::float8) AT TIME ZONE 'UTC' + (t."endTime" - t."startTime"),
                   jsonb_set(t.metadata, '{{litellm_call_id}}', to_jsonb((t.metadata->>'litellm_call_id') || '-{tag}' || g)),
                   {", ".join("t." + c.strip() for c in COLUMNS.split(","))}
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) g JOIN tmpl t ON t.n = g %% %(templates)s::bigint''',
                     {"start": start - first * step, "step": step, "first": first, "last": first + count - 1,
                      "templates": templates})
        conn.execute('ANALYZE "LiteLLM_SpendLogs"')


def _monitor(store: Path, url: str, clock: FakeClock) -> Monitor:
    config = build_config({"store": {"url": f"sqlite:///{store}"}, "sources": {"litellm_db": {}}},
                          environ={"AIOPS_LITELLM_DATABASE_URL": url})
    return Monitor(config, clock=clock, environ={"AIOPS_LITELLM_DATABASE_URL": url})


def _scenario(server: PostgresServer, rows: int, work: Path) -> dict:
    name = server.create_database()
    dsn, url = server.dsn(name), server.url(name)
    proxy.apply_schema(dsn)
    templates = _templates(dsn)
    started = time.perf_counter()
    _copy(dsn, 0, rows, templates, END - 30 * DAY, 30 * DAY / rows, "h")
    log(f"{rows} rows generated in {time.perf_counter() - started:.1f} s")
    clock = FakeClock(END)
    monitor = _monitor(work / f"store-{rows}.db", url, clock)
    try:
        started = time.perf_counter()
        report = monitor.run_cycle()
        backfill_s = time.perf_counter() - started
        assert monitor.collectors["litellm_db"].up, monitor.collectors["litellm_db"].last_error
        log(f"{rows} rows: first cycle (backfill) {backfill_s:.1f} s, {rows / backfill_s:,.0f} rows/s; "
            f"level {report.org.level}")
        cycles = []
        for i in range(5):
            now = END + (i + 1) * 60
            _copy(dsn, rows + i * 1000, 1000, templates, now - 60, 60 / 1000, "n")
            clock.now = now
            started = time.perf_counter()
            monitor.run_cycle()
            cycles.append(time.perf_counter() - started)
        log(f"{rows} rows: incremental cycles {', '.join(f'{c * 1000:.0f}' for c in cycles)} ms")
        return {"rows": rows, "backfill_s": backfill_s, "backfill_rows_per_s": rows / backfill_s,
                "cycle_s": statistics.median(cycles), "cycles_s": cycles}
    finally:
        monitor.close()
        server.drop_database(name)


def run(quick: bool = False) -> dict:
    big = 100_000 if quick else 1_000_000
    server = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="aiops-bench-litellm-db-") as tmp:
            small = _scenario(server, 10_000, Path(tmp))
            large = _scenario(server, big, Path(tmp))
    finally:
        server.stop()
    return {"litellm_db_backfill_rows_per_s": round(large["backfill_rows_per_s"]),
            "litellm_db_cycle_1m_vs_10k": round(large["cycle_s"] / small["cycle_s"], 3),
            "raw": {"small": small, "large": large}}
