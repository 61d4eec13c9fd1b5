"""One replica runs the cycle, the others serve its snapshot: the cycle lock on SQLite (flock) and
PostgreSQL (advisory lock), its release when the holder dies, and the shared snapshot row."""
from __future__ import annotations

import pickle
import subprocess
import sys
import zlib

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from monitor.runtime.config import build_config
from monitor.runtime.exporter import MaturityCollector
from monitor.runtime.leadership import AdvisoryLock, AlwaysLeader, FileLock, leadership_for
from monitor.runtime.service import Monitor
from monitor.runtime.shared_snapshot import SnapshotFormatError, decode
from monitor.storage.database import make_engine
from tests.integration.integration_support import wait_until
from tests.payloads import payload

NOW = 1_800_000_600.0


def lock_pair(store_url):
    """Two holders of one database's cycle lock, as two processes would have (separate engines)."""
    engines = [make_engine(store_url), make_engine(store_url)]
    return engines, [leadership_for(engine) for engine in engines]


def test_the_lock_kind_follows_the_database(store_url):
    engines, (first, _) = lock_pair(store_url)
    assert isinstance(first, AdvisoryLock if store_url.startswith("postgresql") else FileLock)
    assert isinstance(leadership_for(make_engine("sqlite://")), AlwaysLeader)
    for engine in engines:
        engine.dispose()


def test_one_holder_at_a_time_and_a_closed_holder_hands_over(store_url):
    engines, (first, second) = lock_pair(store_url)
    try:
        assert first.holds() and first.holds()  # holding again is still holding
        assert not second.holds()
        first.close()
        assert second.holds()
        assert not first.holds()
    finally:
        first.close()
        second.close()
        for engine in engines:
            engine.dispose()


def test_a_killed_holders_file_lock_is_free_at_once(tmp_path):
    path = tmp_path / "history.db.leader"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        waiting = FileLock(path)
        assert not waiting.holds()
        holder.kill()  # SIGKILL: no clean-up code runs
        holder.wait(timeout=10)
        assert waiting.holds()
        waiting.close()
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()


def test_a_holder_whose_session_ends_loses_the_lock_and_another_takes_it(postgres_url):
    engines = [make_engine(postgres_url), make_engine(postgres_url)]
    first, second = AdvisoryLock(engines[0]), AdvisoryLock(engines[1])
    try:
        assert first.holds()
        with engines[1].connect() as conn:  # what the server does when the holder's process dies
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                              "AND objid = :key AND granted"), {"key": first.key})
            conn.commit()
        wait_until(lambda: second.holds(), 10, "the second holder taking the freed lock")
        assert not first.holds()  # the round trip finds its session gone: no longer the leader
    finally:
        first.close()
        second.close()
        for engine in engines:
            engine.dispose()


def monitor(store_url, clock):
    config = build_config({"store": {"url": store_url}}, environ={})
    return Monitor(config, clock=clock)


def exported(m: Monitor) -> dict:
    registry = CollectorRegistry()
    registry.register(MaturityCollector(lambda: m.snapshot, m.all_sources, m.config.budgets))
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in registry.collect() for s in f.samples
            if f.type != "counter"}


def test_the_follower_serves_the_leaders_snapshot_and_takes_over_when_it_stops(store_url):
    now = [NOW]
    leader, follower = monitor(store_url, lambda: now[0]), monitor(store_url, lambda: now[0])
    try:
        outcome = follower.push.ingest([payload(f"c{i}", team_alias=f"team{i % 3}", start=NOW - 300 + i,
                                                status="success" if i % 5 else "failure") for i in range(40)])
        assert outcome.accepted == 40  # any replica receives
        assert leader.safe_cycle() and leader.leading
        assert leader.snapshot.collectors["litellm_push"].up  # received by the other replica, counted here
        assert follower.safe_cycle() and not follower.leading  # read, not computed
        assert follower.snapshot.taken_at == leader.snapshot.taken_at == NOW
        assert follower.snapshot.report.as_dict() == leader.snapshot.report.as_dict()
        assert follower.snapshot.report.org.kpis["api_error_rate"].value == pytest.approx(8 / 40)
        assert exported(follower) == exported(leader)  # the same series, values and all
        assert not follower.follow()  # nothing newer
        now[0] += 30
        leader.push.ingest([payload("late", team_alias="team0", start=now[0] - 10)])
        leader.safe_cycle()
        assert follower.follow() and follower.snapshot.taken_at == now[0]
        assert follower.snapshot.report.org.kpis["api_error_rate"].samples == 41
        leader.close()  # a stopping leader releases the lock: the next collect job takes over
        now[0] += 30
        assert follower.safe_cycle() and follower.leading
        assert follower.snapshot.taken_at == now[0] and follower.snapshot.report.org.kpis["api_error_rate"].samples == 41
    finally:
        leader.close()
        follower.close()


def test_a_payload_that_is_not_a_snapshot_is_refused_without_running_it():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(SnapshotFormatError, match="refused class builtins.print"):
        decode(zlib.compress(pickle.dumps({"report": Evil()})))
    with pytest.raises(SnapshotFormatError, match="unreadable"):
        decode(b"not a snapshot")
