"""The `litellm_db` source against a real PostgreSQL holding LiteLLM's own schema (its shipped
migrations) and rows LiteLLM's own code wrote from real Router calls (tests/collectors/litellm/
proxy_database.py). The same calls' payloads go to the push route of a second monitor: the gateway
KPIs of the two routes must agree."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import psycopg
import pytest

from collectors.litellm.requests import COUNT_FIELDS
from monitor.runtime.config import build_config
from monitor.runtime.service import Monitor
from tests.collectors.litellm import proxy_database as proxy

pytestmark = pytest.mark.integration

PINNED = 1_800_000_000.0  # the recorded traffic is moved to start here
ENV = "AIOPS_LITELLM_DATABASE_URL"
# Gateway KPIs computed from the store's additive signals; latency differs by design (see below).
GATEWAY_KPIS = ("api_error_rate", "cache_hit_rate", "provider_availability", "monthly_spend_usd",
                "cost_attribution_coverage")


@pytest.fixture(scope="module")
def recorded():
    """One run of real Router calls: (push payloads, spend-log rows), moved to start at PINNED."""
    recorder = proxy.Recorder()
    asyncio.run(recorder.run(160))
    first = min(p["startTime"] for p in recorder.payloads)
    shift = PINNED - first
    payloads = [{**p, "startTime": p["startTime"] + shift, "endTime": p["endTime"] + shift} for p in recorder.payloads]
    return payloads, recorder.spend_rows, shift


@pytest.fixture()
def proxy_db(postgres_server):
    name = postgres_server.create_database()
    dsn = postgres_server.dsn(name)
    assert proxy.apply_schema(dsn) > 150
    yield dsn, postgres_server.url(name)
    postgres_server.drop_database(name)


def _monitor(tmp_path, name: str, now: float, sources: dict, environ: dict) -> Monitor:
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / name}.db"}, "evaluation_window": "1h",
                           "sources": sources}, environ=environ)
    return Monitor(config, clock=lambda: now, environ=environ)


def _kpis(report, team: str = "all") -> dict:
    assessment = report.org if team == "all" else report.teams[team]
    values = {k: assessment.kpis[k].value for k in GATEWAY_KPIS}
    return values | {f"{k} samples": assessment.kpis[k].samples for k in GATEWAY_KPIS}


def test_kpis_from_the_database_equal_the_push_route(recorded, proxy_db, tmp_path):
    payloads, rows, shift = recorded
    dsn, url = proxy_db
    proxy.insert_spend_rows(dsn, rows, shift)
    now = max(p["endTime"] for p in payloads) + 120
    pushed = _monitor(tmp_path, "push", now, {}, {})
    database = _monitor(tmp_path, "db", now, {"litellm_db": {}}, {ENV: url})
    try:
        outcome = pushed.push.ingest(payloads)
        assert outcome.accepted == len(payloads)
        push_report, db_report = pushed.run_cycle(), database.run_cycle()
        assert database.collectors["litellm_db"].up
        requests = db_report.org.kpis["api_error_rate"].samples
        assert requests == 160 == push_report.org.kpis["api_error_rate"].samples
        assert db_report.org.level == push_report.org.level
        for team in ("all", "search", "support", "billing", "unattributed"):
            assert _kpis(db_report, team) == pytest.approx(_kpis(push_report, team)), team
        # Counts the two routes both know, request by request
        push_counts = pushed.store.window(now - 3600, now)
        db_counts = database.store.window(now - 3600, now)
        assert set(push_counts) == set(db_counts) == {"search", "support", "billing", "unattributed"}
        for team in push_counts:
            for name in COUNT_FIELDS:
                assert getattr(db_counts[team], name) == getattr(push_counts[team], name), (team, name)
    finally:
        pushed.close()
        database.close()


def _requests(monitor: Monitor, start: float, end: float) -> dict[str, int]:
    return {team: a.requests for team, a in monitor.store.window(start, end, with_latency=False).items()}


def _teams(rows: list[dict]) -> dict[str, int]:
    """Requests per team of recorded spend-log rows, as the push route names teams."""
    counts: dict[str, int] = {}
    for row in rows:
        meta = json.loads(row["metadata"])
        tags = json.loads(row["request_tags"]) if isinstance(row["request_tags"], str) else row["request_tags"]
        team = meta.get("user_api_key_team_alias") or meta.get("user_api_key_team_id") or row["team_id"] or next(
            (t[5:] for t in tags if t.startswith("team:")), None) or "unattributed"
        counts[team] = counts.get(team, 0) + 1
    return counts


def test_restarts_neither_skip_nor_double_count_and_late_commits_are_found(recorded, proxy_db, tmp_path):
    payloads, rows, shift = recorded
    dsn, url = proxy_db
    now = PINNED + 3600
    proxy.insert_spend_rows(dsn, proxy.copy_rows(rows, "a"), shift + 1800)          # 30 min ago
    first = _monitor(tmp_path, "db", now, {"litellm_db": {}}, {ENV: url})
    first.run_cycle()
    assert sum(_requests(first, now - 3600, now).values()) == 160
    first.close()
    proxy.insert_spend_rows(dsn, proxy.copy_rows(rows, "b"), shift + 2400)          # after the watermark
    proxy.insert_spend_rows(dsn, proxy.copy_rows(rows, "late"), shift + 1800 - 300)  # behind it, within late_commits
    proxy.insert_spend_rows(dsn, proxy.copy_rows(rows, "too-late"), shift + 600)     # behind it by more: missed
    second = _monitor(tmp_path, "db", now + 60, {"litellm_db": {}}, {ENV: url})
    try:
        second.run_cycle()
        assert sum(_requests(second, now - 3600, now + 60).values()) == 480
        second.run_cycle()  # nothing new: nothing counted again
        assert sum(_requests(second, now - 3600, now + 60).values()) == 480
        assert second.store.counts()["requests"] == 480
    finally:
        second.close()


def test_rows_per_cycle_are_bounded_once_the_backfill_is_done(recorded, proxy_db, tmp_path):
    payloads, rows, shift = recorded
    dsn, url = proxy_db
    now = PINNED + 3600
    proxy.insert_spend_rows(dsn, proxy.copy_rows(rows, "a"), shift + 600)
    monitor = _monitor(tmp_path, "db", now, {"litellm_db": {"max_rows_per_cycle": 100, "batch_rows": 100}}, {ENV: url})
    try:
        monitor.run_cycle()  # the backfill reads everything, in batches of 100
        assert sum(_requests(monitor, now - 3600, now).values()) == 160
        proxy.insert_spend_rows(dsn, proxy.copy_rows(rows, "b"), shift + 1200)
        monitor.run_cycle()
        assert sum(_requests(monitor, now - 3600, now).values()) == 260
        monitor.run_cycle()
        assert sum(_requests(monitor, now - 3600, now).values()) == 320
    finally:
        monitor.close()


@pytest.mark.parametrize("order", ["push first", "database first"])
def test_a_request_seen_on_both_routes_counts_once(recorded, proxy_db, tmp_path, order):
    payloads, rows, shift = recorded
    dsn, url = proxy_db
    now = max(p["endTime"] for p in payloads) + 120
    proxy.insert_spend_rows(dsn, rows, shift)
    both = _monitor(tmp_path, "both", now, {"litellm_db": {}}, {ENV: url})
    alone = _monitor(tmp_path, "push", now, {}, {})
    try:
        alone.push.ingest(payloads)
        alone.run_cycle()
        if order == "push first":
            both.push.ingest(payloads)
            both.run_cycle()
        else:
            both.run_cycle()
            assert sum(_requests(both, now - 3600, now).values()) == 160  # imported
            both.push.ingest(payloads)  # the push route's versions replace the imported rows
            both.run_cycle()
        assert both.store.counts()["requests"] == 160
        expected, got = alone.store.window(now - 3600, now), both.store.window(now - 3600, now)
        for team in expected:
            for name in COUNT_FIELDS:
                assert getattr(got[team], name) == getattr(expected[team], name), (team, name)
    finally:
        both.close()
        alone.close()


def test_backfill_of_a_month_uses_daily_totals_where_the_rows_are_gone(recorded, proxy_db, tmp_path, caplog):
    payloads, rows, shift = recorded
    dsn, url = proxy_db
    now = PINNED + 40 * 86400
    days_ago = (25, 12, 3, 0)  # the last copy lies in the evaluation window
    for ago in days_ago:
        proxy.insert_spend_rows(dsn, proxy.copy_rows(rows, f"d{ago}"), shift + 40 * 86400 - ago * 86400 - 1800)
    with psycopg.connect(dsn) as conn:
        conn.execute('''INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, updated_at) VALUES ('id-search', 'search', now())''')
    proxy.roll_up_days(dsn)
    retention = dt.datetime.fromtimestamp(now - 7 * 86400, dt.timezone.utc).replace(tzinfo=None)
    assert proxy.delete_rows_before(dsn, retention) == 2 * len(rows)  # the -25 and -12 day copies
    monitor = _monitor(tmp_path, "db", now, {"litellm_db": {}}, {ENV: url})
    caplog.set_level(logging.INFO, logger="aiops_maturity")
    try:
        report = monitor.run_cycle()
        per_copy = _teams(rows)
        spend = sum(r["spend"] for r in rows)
        month = _requests(monitor, now - 30 * 86400, now)
        # Days from the daily table know teams by team id only: the tag-identified team is unattributed there.
        expected = {team: 4 * n for team, n in per_copy.items()}
        expected["billing"] = 2 * per_copy["billing"]
        expected["unattributed"] = 4 * per_copy["unattributed"] + 2 * per_copy["billing"]
        assert month == expected
        assert report.org.kpis["monthly_spend_usd"].value == pytest.approx(4 * spend)
        assert report.org.kpis["monthly_spend_usd"].samples == 4 * 160
        assert report.org.kpis["api_error_rate"].samples == 160  # the evaluation window: the last copy only
        assert "backfill" in caplog.text and "rows to read" in caplog.text
    finally:
        monitor.close()


def test_the_connection_string_never_appears_and_a_database_that_is_down_stops_only_this_source(
        recorded, proxy_db, tmp_path, caplog):
    payloads, rows, shift = recorded
    _, url = proxy_db
    secret_url = url.replace("aiops@", "aiops:pw-Zq81-secret@")
    now = max(p["endTime"] for p in payloads) + 120
    caplog.set_level(logging.DEBUG)
    monitor = _monitor(tmp_path, "db", now, {"litellm_db": {}}, {ENV: secret_url})
    try:
        monitor.push.ingest(payloads)
        monitor.run_cycle()
        assert monitor.collectors["litellm_db"].up
        down = _monitor(tmp_path, "down", now, {"litellm_db": {"timeout": "2s"}},
                        {ENV: "postgresql+psycopg://aiops:pw-Zq81-secret@127.0.0.1:9/litellm"})
        try:
            down.push.ingest(payloads)
            report = down.run_cycle()
            status = down.collectors["litellm_db"]
            assert not status.up and status.last_error.startswith("ProxyDatabaseError: 127.0.0.1:9/litellm: connection")
            assert "\n" not in status.last_error
            assert report.org.kpis["api_error_rate"].samples == 160  # the push route keeps flowing
            assert "pw-Zq81-secret" not in status.last_error
        finally:
            down.close()
        assert "pw-Zq81-secret" not in caplog.text
    finally:
        monitor.close()


def test_the_connection_string_must_come_from_the_environment(tmp_path):
    from signals.source import SourceConfigError

    with pytest.raises(SourceConfigError, match=f"set {ENV}"):
        _monitor(tmp_path, "db", PINNED, {"litellm_db": {}}, {})
    with pytest.raises(SourceConfigError, match="PostgreSQL"):
        _monitor(tmp_path, "db", PINNED, {"litellm_db": {}}, {ENV: "sqlite:///x.db"})


def test_a_database_without_litellm_tables_is_named_in_one_line(postgres_server, tmp_path):
    name = postgres_server.create_database()
    try:
        monitor = _monitor(tmp_path, "db", PINNED, {"litellm_db": {}}, {ENV: postgres_server.url(name)})
        try:
            monitor.run_cycle()
            error = monitor.collectors["litellm_db"].last_error
            assert "LiteLLM_SpendLogs" in error and "is this the LiteLLM proxy's database?" in error
            assert "\n" not in error
        finally:
            monitor.close()
    finally:
        postgres_server.drop_database(name)
