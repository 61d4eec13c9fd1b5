"""The cycle's bucket rebuild holds ingest back for no longer than its short write step, and stays
exact when ingest (in this process or another replica's) or another rebuild writes meanwhile."""
from __future__ import annotations

import threading

import pytest

from collectors.litellm.ingest import ingest
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.collectors.litellm.test_store import T0, assert_same, exact_by_team, spread

NOW = T0 + 4 * 3600


class PausedRebuild:
    """A rebuild in a thread, stopped after it has read everything and before it writes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.read_done, self.resume = threading.Event(), threading.Event()
        self.result: object = None
        store.rebuild.before_write = self._pause
        self.thread = threading.Thread(target=self._run)

    def _pause(self) -> None:
        self.read_done.set()
        assert self.resume.wait(30)

    def _run(self) -> None:
        try:
            self.result = self.store.rebuild_dirty()
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            self.result = exc

    def __enter__(self) -> "PausedRebuild":
        self.thread.start()
        assert self.read_done.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        self.resume.set()
        self.thread.join(30)
        self.store.rebuild.before_write = lambda: None


@pytest.fixture()
def stores(store_url):
    """Two stores on one database: the leader's (it runs the cycles) and another replica's."""
    pair = Store(open_database(store_url)), Store(open_database(store_url))
    yield pair
    for s in pair:
        s.close()


def ingest_in_thread(items, store) -> object:
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(ingest(items, store, now=NOW)))
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "ingest waited for the rebuild"
    return outcome[0]


def test_ingest_commits_while_a_rebuild_is_in_progress_and_nothing_is_lost(stores):
    leader, replica = stores
    items = spread(rounds=40)
    first, later = items[::2], items[1::2]  # later attempts of the same requests and minutes
    ingest(first, leader, now=NOW)
    with PausedRebuild(leader) as rebuild:
        # Both the leader's own ingest and a replica's commit while the rebuild holds its reads.
        assert ingest_in_thread(later[:len(later) // 2], leader).accepted > 0
        assert ingest_in_thread(later[len(later) // 2:], replica).accepted > 0
    assert rebuild.result > 0
    # Marks bumped by that ingest were kept: the next rebuild brings the buckets up to date.
    assert leader.counts()["dirty_minutes"] > 0
    leader.rebuild_dirty()
    assert leader.counts()["dirty_minutes"] == 0
    assert_same(leader.window(T0, NOW), exact_by_team(items))


def test_a_rebuild_that_read_before_another_one_wrote_leaves_those_hours_alone(stores):
    slow, fast = stores
    items = spread(rounds=40)
    first, later = items[::2], items[1::2]
    ingest(first, slow, now=NOW)
    with PausedRebuild(slow) as rebuild:
        ingest(later, fast, now=NOW)
        fast.rebuild_dirty()  # read after the slow one, so its buckets are newer; it deletes the marks
        assert fast.counts()["dirty_minutes"] == 0
    assert isinstance(rebuild.result, int)
    assert_same(slow.window(T0, NOW), exact_by_team(items))  # the slow rebuild did not write stale buckets


def test_minute_sums_from_the_database_follow_the_per_request_rules(store_url):
    """The rebuild adds minutes up in SQL (rebuild.MINUTE_SUMS): every count, sum and bound must be
    what GatewayAggregate.add gives request by request."""
    from collectors.litellm.requests import COUNT_FIELDS

    store = Store(open_database(store_url))
    try:
        items = spread(rounds=40)
        for i, item in enumerate(items):  # every flag on some requests and not on others
            item["metadata"] = dict(item.get("metadata") or {}, user_api_key_hash="h" if i % 3 else None)
            item["status_fields"] = {"guardrail_status": "success" if i % 5 == 0 else "not_run"}
        ingest(items, store, now=NOW)
        store.rebuild_dirty()
        window, exact = store.window(T0, NOW), exact_by_team(items)
        assert set(window) == set(exact)
        for team, want in exact.items():
            got = window[team]
            assert {n: getattr(got, n) for n in COUNT_FIELDS} == {n: getattr(want, n) for n in COUNT_FIELDS}
            assert (got.first_start, got.last_end) == (want.first_start, want.last_end)
            assert got.cost_usd == pytest.approx(want.cost_usd, abs=1e-12)
            assert got.attributed_cost_usd == pytest.approx(want.attributed_cost_usd, abs=1e-12)
        assert sum(a.authenticated_requests for a in exact.values()) > 0
        assert sum(a.guardrail_requests for a in exact.values()) > 0
    finally:
        store.close()
