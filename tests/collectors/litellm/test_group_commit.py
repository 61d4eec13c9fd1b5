"""Group commit: concurrent batches share one transaction, and each answer still means committed."""
from __future__ import annotations

import threading
import time

from sqlalchemy.exc import DataError

from collectors.http_guard import StoreHealth, StoreWriteError
from collectors.litellm import store as store_module
from collectors.litellm.group_commit import GroupCommit
from collectors.litellm.ingest import ingest
from collectors.litellm.push import LiteLLMPushSource
from tests.collectors.litellm.test_store import T0, assert_same, exact_by_team, spread
from tests.payloads import payload

NOW = T0 + 4 * 3600


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


class Calls:
    """Runs callables in threads; their results or errors by name."""

    def __init__(self) -> None:
        self.results: dict[str, object] = {}
        self.threads: list[threading.Thread] = []

    def start(self, name: str, call) -> None:
        def run() -> None:
            try:
                self.results[name] = call()
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                self.results[name] = exc

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def join(self) -> dict[str, object]:
        for thread in self.threads:
            thread.join(30)
            assert not thread.is_alive()
        return self.results


def test_batches_waiting_for_a_write_are_written_together_each_with_its_own_result():
    groups: list[list[str]] = []
    first_write_started, release = threading.Event(), threading.Event()

    def write(batches: list[str]) -> list[str]:
        groups.append(batches)
        if len(groups) == 1:
            first_write_started.set()
            release.wait(10)
        return [f"stored {b}" for b in batches]

    commit: GroupCommit[str, str] = GroupCommit(write)
    calls = Calls()
    calls.start("a", lambda: commit.submit("a"))
    first_write_started.wait(10)
    for name in "bcd":
        calls.start(name, lambda name=name: commit.submit(name))
    wait_until(lambda: commit.waiting == 3)
    release.set()
    assert calls.join() == {name: f"stored {name}" for name in "abcd"}
    assert groups[0] == ["a"] and sorted(groups[1]) == ["b", "c", "d"]
    assert (commit.groups_written, commit.batches_written) == (2, 4)


def test_a_failed_write_fails_every_batch_of_its_group_and_the_next_group_starts_afresh():
    first_write_started, release = threading.Event(), threading.Event()
    writes: list[list[str]] = []

    def write(batches: list[str]) -> list[str]:
        writes.append(batches)
        if len(writes) == 1:
            first_write_started.set()
            release.wait(10)
        if len(writes) == 2:
            raise DataError("INSERT", {}, Exception("disk full"))
        return batches

    commit: GroupCommit[str, str] = GroupCommit(write)
    calls = Calls()
    calls.start("a", lambda: commit.submit("a"))
    first_write_started.wait(10)
    calls.start("b", lambda: commit.submit("b"))
    calls.start("c", lambda: commit.submit("c"))
    wait_until(lambda: commit.waiting == 2)
    release.set()
    results = calls.join()
    assert results["a"] == "a"
    assert isinstance(results["b"], DataError) and isinstance(results["c"], DataError)
    assert commit.submit("d") == "d"


def test_concurrent_batches_are_all_committed_with_exact_counts(store):
    items = spread(rounds=20)
    batches = [items[i:i + 9] for i in range(0, len(items), 9)]
    redelivered = batches[0][:4]  # a sender retrying: the same payloads again, in another batch
    calls = Calls()
    for number, batch in enumerate([*batches, redelivered]):
        calls.start(f"batch {number}", lambda batch=batch: ingest(batch, store, now=NOW))
    outcomes = calls.join().values()
    assert not [o for o in outcomes if isinstance(o, Exception)]
    expected = exact_by_team(items)
    assert sum(o.accepted for o in outcomes) == sum(a.attempts for a in expected.values())
    assert sum(o.duplicates for o in outcomes) == 4
    store.rebuild_dirty()
    assert_same(store.window(T0, NOW), expected)


def test_an_attempt_in_two_batches_of_one_group_is_accepted_once(store):
    same = payload("shared", start=T0 + 100, team_alias="search")
    first = [payload("first", start=T0 + 50, team_alias="search")]
    calls = Calls()
    with store._write_lock:  # the first batch's writer waits here; the next two queue as one group
        calls.start("first", lambda: ingest(first, store, now=NOW))
        wait_until(lambda: store.group_commit.writing)
        calls.start("one", lambda: ingest([same, payload("one", start=T0 + 110)], store, now=NOW))
        calls.start("two", lambda: ingest([same], store, now=NOW))
        wait_until(lambda: store.group_commit.waiting == 2)
    results = calls.join()
    assert store.group_commit.groups_written == 2
    assert (results["first"].accepted, results["first"].duplicates) == (1, 0)
    # Which of the two took the shared attempt depends on arrival; it was stored once either way.
    pairs = sorted([(results["one"].accepted, results["one"].duplicates),
                    (results["two"].accepted, results["two"].duplicates)])
    assert pairs in ([(0, 1), (2, 0)], [(1, 1), (1, 0)])
    assert store.counts()["requests"] == 3


def test_a_failing_commit_acknowledges_no_batch_of_its_group_and_the_next_write_works(store, monkeypatch):
    source = LiteLLMPushSource(store, clock=lambda: NOW, health=StoreHealth(str))
    real_merge = store_module.merge_group
    failing = {"on": True}

    def merge_then_fail(conn, batches):
        counts = real_merge(conn, batches)  # the rows are written, then the transaction fails
        if failing["on"]:
            raise DataError("COMMIT", {}, Exception("disk full"))
        return counts

    monkeypatch.setattr(store_module, "merge_group", merge_then_fail)
    calls = Calls()
    with store._write_lock:
        calls.start("first", lambda: source.ingest([payload("a", start=T0 + 10)]))
        wait_until(lambda: store.group_commit.writing)
        calls.start("second", lambda: source.ingest([payload("b", start=T0 + 20)]))
        calls.start("third", lambda: source.ingest([payload("c", start=T0 + 30)]))
        wait_until(lambda: store.group_commit.waiting == 2)
    results = calls.join()
    assert all(isinstance(r, StoreWriteError) for r in results.values())  # answered 503: nothing acknowledged
    assert store.counts()["requests"] == 0 and store.counts()["seen_attempts"] == 0
    assert source.health.fault is not None
    failing["on"] = False
    assert source.ingest([payload("b", start=T0 + 20)]).accepted == 1
    assert source.health.fault is None and store.counts()["requests"] == 1
