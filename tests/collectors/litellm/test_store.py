"""The history store: incremental buckets must give what a replay of the same payloads gives."""
import random
import sqlite3
import threading

import pytest

from collectors.litellm.ingest import ingest
from collectors.litellm.payload import parse_attempt
from collectors.litellm.requests import aggregate_by_team, group_requests
from monitor.storage.database import _switch_to_wal, make_engine
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.payloads import payload
from tests.scenario import scenario_payloads

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600  # an hour boundary


def exact_by_team(items):
    attempts = [a for a in (parse_attempt(p) for p in items) if not a.health_check]
    return aggregate_by_team(group_requests(attempts).values())


def assert_same(window, exact):
    assert set(window) == set(exact)
    for team, want in exact.items():
        got = window[team]
        for name in ("requests", "failed_requests", "cache_hit_requests", "attempts", "provider_attempts",
                     "provider_successes", "fallback_requests", "fallback_successes"):
            assert getattr(got, name) == getattr(want, name), (team, name)
        assert got.cost_usd == pytest.approx(want.cost_usd, abs=1e-12)
        assert got.attributed_cost_usd == pytest.approx(want.attributed_cost_usd, abs=1e-12)
        for q in (0.5, 0.95):
            assert got.latency.quantile(q) == pytest.approx(want.latency.quantile(q), rel=0.01)


def spread(rounds=60):
    """The scenario spread over three hours (rounds every 3 minutes), so windows use hour buckets."""
    items = []
    for k in range(rounds):
        items += scenario_payloads(t0=T0 + 180 * k + 17, rounds=1)
    return [dict(p, id=f"{p['id']}-{i // 8}", litellm_call_id=f"{p['litellm_call_id']}-{i // 8}")
            for i, p in enumerate(items)]


def test_incremental_ingest_in_any_order_equals_replay(store):
    items = spread()
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    now = T0 + 4 * 3600
    for i in range(0, len(shuffled), 37):
        ingest(shuffled[i:i + 37], store, now=now)
        if i % 3 == 0:
            store.rebuild_dirty()  # cycles interleaved with arrivals
    store.rebuild_dirty()
    assert_same(store.window(T0, now), exact_by_team(items))


def test_window_edges_use_minutes_inside_hours(store):
    items = spread()
    ingest(items, store, now=T0 + 4 * 3600)
    store.rebuild_dirty()
    start, end = T0 + 1800, T0 + 2 * 3600 + 600  # half an hour in, through a whole hour, ten minutes after
    inside = [p for p in items if start // 60 * 60 <= min(
        q["startTime"] for q in items if q["litellm_call_id"] == p["litellm_call_id"]) < end // 60 * 60 + 60]
    assert_same(store.window(start, end), exact_by_team(inside))


def test_fallback_logged_before_its_failed_attempt_moves_the_request(store):
    late_first = payload("x", 1, start=T0 + 61, latency=0.1, team_alias="a")
    early = payload("x", 0, status="failure", start=T0 + 59, latency=1.0, cost=0.0, team_alias="a", error_code="429")
    ingest([late_first], store, now=T0 + 3600)
    store.rebuild_dirty()
    ingest([early], store, now=T0 + 3600)
    store.rebuild_dirty()
    whole = store.window(T0, T0 + 600)["a"]
    assert (whole.requests, whole.attempts, whole.failed_requests) == (1, 2, 0)
    assert store.window(T0 + 60, T0 + 600) == {}  # the request now belongs to the first minute only


def test_duplicates_are_counted_once_across_batches_and_restarts(store_url):
    url = store_url
    items = spread(rounds=5)
    first = Store(open_database(url))
    outcome = ingest(items, first, now=T0 + 3600)
    assert outcome.accepted == 35 and outcome.health_checks == 5
    first.rebuild_dirty()
    first.close()
    again = Store(open_database(url))
    outcome = ingest(items + items[:3], again, now=T0 + 3600)
    assert (outcome.accepted, outcome.duplicates) == (0, 38)
    again.rebuild_dirty()
    assert again.window(T0, T0 + 3600)["search"].requests == 25
    again.close()


def test_attempts_older_than_raw_retention_are_refused(store):
    outcome = ingest([payload("old", start=T0)], store, now=T0 + 3 * 86400)
    assert (outcome.accepted, outcome.too_old) == (0, 1)


def test_prune_keeps_hour_buckets(store):
    ingest(spread(rounds=20), store, now=T0 + 3600)
    store.rebuild_dirty()
    before = store.window(T0, T0 + 3600)["search"].requests
    store.prune(now=T0 + 10 * 86400)  # raw rows and minute buckets gone, hours stay
    counts = store.counts()
    assert counts["requests"] == 0 and counts["seen_attempts"] == 0
    assert store.window(T0, T0 + 3600)["search"].requests == before


def test_partial_batch_keeps_the_good_items(store):
    good = scenario_payloads(rounds=1)
    outcome = ingest(good[:3] + [{"id": 1}, "junk"] + good[3:], store, now=1_800_000_000.0 + 60)
    assert outcome.rejected == 2 and outcome.accepted == 7 and len(outcome.errors) == 2


def test_concurrent_ingest_and_cycles_lose_nothing(store):
    """Batches of one request's attempts arrive on several threads while cycles run."""
    import threading
    items = spread(rounds=30)
    random.Random(2).shuffle(items)
    chunks = [items[i::4] for i in range(4)]
    errors = []

    def worker(chunk):
        try:
            for i in range(0, len(chunk), 5):
                ingest(chunk[i:i + 5], store, now=T0 + 4 * 3600)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        store.rebuild_dirty()
    for t in threads:
        t.join()
    store.rebuild_dirty()
    assert not errors
    assert_same(store.window(T0, T0 + 4 * 3600), exact_by_team(items))


def test_two_writers_on_one_database_retry_instead_of_failing(store_url):
    """Two processes' stores (a replica, a backfill) merging the same requests at once."""
    import threading
    url = store_url
    stores = [Store(open_database(url)), Store(open_database(url))]
    items = spread(rounds=20)
    errors = []

    def worker(store):
        try:
            for i in range(0, len(items), 7):
                ingest(items[i:i + 7], store, now=T0 + 4 * 3600)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stores[0].rebuild_dirty()
    assert_same(stores[0].window(T0, T0 + 4 * 3600), exact_by_team(items))
    for s in stores:
        s.close()


def test_window_without_latency_sums_in_the_database(store):
    """The spend window adds bucket rows up in SQL: same counts and sums as the full window."""
    items = spread()
    ingest(items, store, now=T0 + 4 * 3600)
    store.rebuild_dirty()
    for start, end in ((T0, T0 + 4 * 3600), (T0 + 1800, T0 + 2 * 3600 + 600)):
        full, summed = store.window(start, end), store.window(start, end, with_latency=False)
        assert set(full) == set(summed)
        for team in full:
            for name in ("requests", "failed_requests", "attempts", "provider_attempts", "fallback_requests"):
                assert getattr(summed[team], name) == getattr(full[team], name)
            assert summed[team].cost_usd == pytest.approx(full[team].cost_usd, abs=1e-12)
            assert summed[team].first_start == full[team].first_start


class _LockedCursor:
    """A cursor whose WAL switch meets the opening deadlock `locked` times, then succeeds."""

    def __init__(self, locked: int, error: str = "database is locked") -> None:
        self.locked, self.error, self.switched = locked, error, False

    def execute(self, sql: str):
        if sql == "PRAGMA journal_mode":
            return self
        if self.locked:
            self.locked -= 1
            raise sqlite3.OperationalError(self.error)
        self.switched = True
        return self

    def fetchone(self):
        return ("wal",) if self.switched else ("delete",)


def test_wal_switch_waits_out_a_concurrent_opener():
    # Two connections switching a new database to WAL at once deadlock, and SQLite answers the
    # loser "database is locked" at once, whatever busy_timeout says: the switch is tried again.
    cursor = _LockedCursor(locked=3)
    _switch_to_wal(cursor)
    assert cursor.switched and cursor.locked == 0


def test_wal_switch_does_not_hide_other_errors():
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        _switch_to_wal(_LockedCursor(locked=1, error="disk I/O error"))


def test_concurrent_openers_of_a_new_database_all_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def open_and_write() -> None:
        engine = make_engine(url)
        try:
            barrier.wait(5)
            with engine.connect() as conn:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
                conn.commit()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=open_and_write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
