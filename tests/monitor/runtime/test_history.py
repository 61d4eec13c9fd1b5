"""Snapshot history on SQLite and PostgreSQL: every KPI's value, status and evidence per team, one
snapshot per cadence slot (also across replicas), retention and daily thinning."""
from __future__ import annotations

import threading

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from signals.teams import ALL
from monitor.storage.history import History, HistoryConfig, snapshot_kpis, snapshots
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.monitor.digest.digest_support import DAY, W02, fake_report


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_snapshot_keeps_every_kpi_of_the_organisation_and_each_team(store):
    history = History(store.engine)
    report = fake_report(W02 + 3600, error_rate=0.15, cache_rate=0.1, attributed=0.5)
    assert history.record(report) == 1 + len(report.teams)
    latest = history.latest_before(W02 + 7200)
    assert set(latest) == {("aiops", ALL), ("aiops", "search"), ("aiops", "support"), ("aiops", "unattributed")}
    want = report.as_dict()
    got = latest[("aiops", ALL)]
    assert (got["level"], got["score"], got["source"]) == (want["level"], want["score"], "live")
    assert got["window_start"] == W02 and got["window_end"] == W02 + 3600
    assert got["dimensions"] == want["dimensions"]
    assert set(got["kpis"]) == set(want["kpis"])
    for kpi_id, expected in want["kpis"].items():
        row = got["kpis"][kpi_id]
        assert row["status"] == expected["status"], kpi_id
        assert row["samples"] == expected["samples"]
        assert row["value"] == (pytest.approx(expected["value"]) if expected["value"] is not None else None)
        assert row["targets"] == [{k: t[k] for k in ("level", "comparator", "target", "status", "gap")}
                                  for t in expected["targets"]]
        assert row["evidence"] == pytest.approx(expected["evidence"])
    assert got["kpis"]["api_error_rate"]["evidence"]["failed_requests"] == 30
    for team, assessment in report.teams.items():
        assert latest[("aiops", team)]["score"] == assessment.score


def test_one_snapshot_per_cadence_slot(store):
    history = History(store.engine, HistoryConfig(cadence="1h"))
    t = W02 + 10 * 3600
    assert history.maybe_record(fake_report(t), t)
    assert not history.maybe_record(fake_report(t + 60), t + 60)  # same hour
    replica = History(store.engine, HistoryConfig(cadence="1h"))  # a second process, same database
    assert replica.record(fake_report(t + 120), t + 120) is None
    assert history.maybe_record(fake_report(t + 3600), t + 3600)
    assert len(history.snapshots_between(0, t + 7200, teams=[ALL])) == 2


def test_replicas_racing_for_one_slot_write_it_once(store_url):
    stores = [Store(open_database(store_url)) for _ in range(4)]
    t = W02 + 5 * 3600
    barrier = threading.Barrier(len(stores))
    results = []

    def record(s):
        report = fake_report(t)
        barrier.wait()
        results.append(History(s.engine).record(report, t))

    threads = [threading.Thread(target=record, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    per_slot = 1 + len(fake_report(t).teams)  # all, search, support
    assert sorted(results, key=lambda r: r is None) == [per_slot, None, None, None]
    assert count(stores[0].engine, snapshots) == per_slot
    assert count(stores[0].engine, snapshot_kpis) == per_slot * len(fake_report(t).org.kpis)
    for s in stores:
        s.close()


def test_retention_thins_to_one_per_day_then_deletes(store):
    config = HistoryConfig(cadence="6h", daily_after="3d", retention="10d")
    history = History(store.engine, config)
    now = W02 + 20 * DAY
    for k in range(4 * 14):  # 14 days, every 6 hours
        t = now - 14 * DAY + k * 6 * 3600
        history.record(fake_report(t, teams=("search",)), t)
    per_snapshot = len(fake_report(now).org.kpis)
    deleted = history.prune(now)
    kept = history.snapshots_between(0, now + 1, teams=[ALL])
    times = [s["taken_at"] for s in kept]
    assert min(times) >= now - 10 * DAY
    recent = [t for t in times if t >= now - 3 * DAY]
    assert len(recent) == 12  # untouched: 3 days x 4
    older_days = [int(t // DAY) for t in times if t < now - 3 * DAY]
    assert len(older_days) == len(set(older_days))  # one per UTC day
    assert all(t % DAY == 18 * 3600 for t in times if t < now - 3 * DAY)  # the day's last snapshot
    assert count(store.engine, snapshots) == 2 * len(times)  # all + search
    assert count(store.engine, snapshot_kpis) == 2 * len(times) * per_snapshot  # no orphans
    assert deleted == 2 * (56 - len(times))
    assert history.prune(now) == 0


def test_disabled_history_records_nothing(store):
    history = History(store.engine, HistoryConfig(enabled=False))
    assert not history.maybe_record(fake_report(W02), W02)
    assert count(store.engine, snapshots) == 0


@pytest.mark.parametrize("data, message", [
    ({"cadence": "0s"}, "must be positive"),
    ({"cadence": "soon"}, "not a duration"),
    ({"daily_after": "30d", "retention": "7d"}, "daily_after must not exceed retention"),
    ({"keep": 3}, "Extra inputs"),
])
def test_history_config_is_validated(data, message):
    with pytest.raises(ValidationError, match=message):
        HistoryConfig.model_validate(data)


def test_history_config_durations():
    config = HistoryConfig.model_validate({"cadence": "15m", "daily_after": "35d", "retention": "400d"})
    assert (config.cadence, config.daily_after, config.retention) == (900, 35 * DAY, 400 * DAY)


def test_the_self_assessment_models_are_kept_beside_the_telemetry(store):
    from metrics.assessment import assess_all, evidence_from_report

    history = History(store.engine)
    report = fake_report(W02 + 3600, attributed=0.5)
    models = assess_all({"model": "aiops", "answers": {f"q{i}": 3 for i in range(1, 13)}},
                        evidence_from_report(report.as_dict()))
    assert history.record(report, models=models) == 1 + len(report.teams) + 5
    latest = history.latest_before(W02 + 7200)
    for name, result in models.items():
        row = latest[(f"assessment:{name}", ALL)]
        assert (row["level"], row["score"], row["source"], row["kpis"]) == (result.level, result.score, "assessment", {})
        assert row["dimensions"] == pytest.approx(dict(result.dimensions))
