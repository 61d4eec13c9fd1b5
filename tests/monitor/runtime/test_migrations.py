"""Versioned migrations on SQLite and PostgreSQL: an upgrade keeps every row, old unversioned
databases are adopted, the migrated schema is exactly what the code defines, upgrades are atomic
and safe to run from two processes at once."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import (Column, Float, Integer, LargeBinary, MetaData, String, Table, create_engine, func, insert,
                        inspect, select)

import monitor.storage.migrations as migrations
from signals.distribution import SketchDistribution
from collectors import forecast as forecast_source
from collectors.deployments import events as deployment_events
from collectors.incidents.store import incident_alerts, metadata as incident_metadata
from collectors.langfuse import progress as langfuse_progress
from collectors.litellm import imports as gateway_imports
from collectors.litellm import model_mix
from collectors.litellm import scrape as litellm_scrape
from collectors.litellm import store as store_module
from collectors.otlp import evaluations as otlp_evaluations
from collectors.otlp import tables as otlp_tables
from monitor.digest.delivery.ledger import Ledger, deliveries
from monitor.storage.history import History, snapshots
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from monitor.runtime import shared_snapshot
from monitor.runtime.scheduling import JOBS_TABLE
from monitor.storage.migrations import HEAD, SchemaError, database_version, upgrade
from monitor.storage.database import make_engine
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.monitor.digest.digest_support import W02, fake_report

# The sources' own tables (created by migration 5; before it, by the sources themselves), as the
# code defines them today.
SOURCE_METADATA = (otlp_tables.metadata, langfuse_progress.metadata, incident_metadata, litellm_scrape.metadata,
                   deployment_events.metadata, forecast_source.metadata)

FIRST_RELEASE_COUNTS = ("requests", "failed_requests", "cache_hit_requests", "attempts", "provider_attempts",
                        "provider_successes")


def first_release_schema() -> MetaData:
    """The tables as the first release's `metadata.create_all` made them (commit 9d66e92), written
    out here independently of monitor/storage/migrations."""
    md = MetaData()
    Table("seen_attempts", md, Column("id", String, primary_key=True),
          Column("minute", Integer, nullable=False, index=True))
    Table("requests", md, Column("call_id", String, primary_key=True), Column("team", String),
          Column("start", Float, nullable=False), Column("end", Float, nullable=False),
          Column("minute", Integer, nullable=False, index=True), Column("success", Integer, nullable=False),
          Column("cache_hit", Integer, nullable=False), Column("cost", Float, nullable=False),
          Column("attempts", Integer, nullable=False), Column("provider_attempts", Integer, nullable=False),
          Column("provider_successes", Integer, nullable=False))
    Table("dirty_minutes", md, Column("minute", Integer, primary_key=True), Column("version", Integer, nullable=False))
    Table("buckets", md, Column("resolution", Integer, primary_key=True), Column("bucket_start", Integer, primary_key=True),
          Column("team", String, primary_key=True), *(Column(n, Integer, nullable=False) for n in FIRST_RELEASE_COUNTS),
          Column("cost_usd", Float, nullable=False), Column("attributed_cost_usd", Float, nullable=False),
          Column("first_start", Float), Column("last_end", Float), Column("latency", LargeBinary))
    return md


def shape(engine) -> dict:
    """Tables -> (columns with nullability, primary key, indexes, unique constraints), comparable
    across a migrated database and metadata.create_all."""
    inspector = inspect(engine)
    out = {}
    for table in sorted(inspector.get_table_names()):
        if table == migrations.version_table.name:
            continue
        out[table] = (
            sorted((c["name"], c["nullable"]) for c in inspector.get_columns(table)),
            sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            sorted((tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
                   if not i.get("duplicates_constraint")),  # PostgreSQL lists a UNIQUE constraint's index too
            sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        )
    return out


def test_fresh_database_matches_the_code_definitions(store_url, tmp_path):
    migrated = Store(open_database(store_url))
    assert database_version(migrated.engine) == HEAD
    reference = create_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    for metadata in (store_module.metadata, snapshots.metadata, deliveries.metadata, *SOURCE_METADATA,
                     gateway_imports.metadata, model_mix.metadata, otlp_evaluations.metadata, shared_snapshot.metadata,
                     SQLAlchemyJobStore(engine=reference, tablename=JOBS_TABLE).jobs_t.metadata):
        metadata.create_all(reference)
    assert shape(migrated.engine) == shape(reference)
    migrated.close()


def test_sources_tables_made_by_the_sources_themselves_are_adopted(store_url):
    """Before version 5 each source created its tables at start (create_all): such a database,
    with rows, is migrated to HEAD with its rows as they were."""
    engine = make_engine(store_url)
    upgrade(engine, target=4)
    for metadata in SOURCE_METADATA:
        metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(incident_alerts), {"fingerprint": "fp", "starts_at": 10.0, "group_key": "g", "labels": "{}",
                                               "annotations": "{}", "ends_at": 70.0, "auto": 0, "source": "webhook",
                                               "received_at": 11.0})
        conn.execute(insert(otlp_tables.rollup), {"minute": 60, "team": "search", "traces": 3, "scored": 2, "escalated": 0,
                                                  "memory_enabled": 0, "memory_used": 0, "requests": 4, "traced": 3})
    assert upgrade(engine) == list(range(5, HEAD + 1))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(incident_alerts)).scalar_one() == 1
        assert conn.execute(select(otlp_tables.rollup.c.traced)).scalar_one() == 3
    assert upgrade(engine) == []  # once only
    engine.dispose()


def _old_rows(engine) -> None:
    sketch = SketchDistribution()
    for latency in (0.1, 0.2, 0.4):
        sketch.add(latency)
    with engine.begin() as conn:
        conn.execute(insert(Table("requests", MetaData(), autoload_with=conn)),
                     [{"call_id": "old-1", "team": "search", "start": W02, "end": W02 + 0.2, "minute": int(W02),
                       "success": 1, "cache_hit": 0, "cost": 0.5, "attempts": 1, "provider_attempts": 1,
                       "provider_successes": 1}])
        conn.execute(insert(Table("seen_attempts", MetaData(), autoload_with=conn)), [{"id": "old-1:0", "minute": int(W02)}])
        conn.execute(insert(Table("buckets", MetaData(), autoload_with=conn)), [
            {"resolution": 3600, "bucket_start": int(W02), "team": "search", "requests": 3, "failed_requests": 1,
             "cache_hit_requests": 0, "attempts": 4, "provider_attempts": 4, "provider_successes": 2, "cost_usd": 1.5,
             "attributed_cost_usd": 1.5, "first_start": W02, "last_end": W02 + 10, "latency": sketch.to_bytes()}])


def test_first_release_database_is_upgraded_without_losing_rows(store_url):
    engine = make_engine(store_url)
    first_release_schema().create_all(engine)
    _old_rows(engine)
    engine.dispose()

    store = Store(open_database(store_url))  # runs the migrations
    assert database_version(store.engine) == HEAD
    with store.engine.connect() as conn:
        request = conn.execute(select(store_module.requests)).one()
        assert (request.call_id, request.cost, request.flags, request.trace_id) == ("old-1", 0.5, 0, None)
        assert conn.execute(select(func.count()).select_from(store_module.seen_attempts)).scalar_one() == 1
    window = store.window(W02, W02 + 7200)["search"]  # the old hour bucket is read by today's code
    assert (window.requests, window.failed_requests, window.fallback_requests, window.cost_usd) == (3, 1, 0, 1.5)
    assert window.latency.count == 3
    History(store.engine).record(fake_report(W02 + 3600), W02 + 3600)  # the new tables work too
    store.close()


def test_unversioned_current_database_is_adopted_unchanged(store_url):
    engine = make_engine(store_url)
    store_module.metadata.create_all(engine)  # what the release before versioning did
    before = shape(engine)
    with engine.begin() as conn:
        conn.execute(insert(store_module.dirty_minutes), [{"minute": 60, "version": 3}])
    engine.dispose()
    store = Store(open_database(store_url))
    assert database_version(store.engine) == HEAD
    after = shape(store.engine)
    assert {t: after[t] for t in before} == before
    with store.engine.connect() as conn:
        assert conn.execute(select(store_module.dirty_minutes.c.version)).scalar_one() == 3
    store.close()


@pytest.mark.parametrize("version", range(0, HEAD))
def test_upgrade_from_every_version_keeps_history(store_url, version):
    engine = make_engine(store_url)
    upgrade(engine, target=version)
    assert database_version(engine) == version
    if version >= 3:  # snapshot history exists from version 3 on
        History(engine).record(fake_report(W02 + 3600, error_rate=0.05), W02 + 3600)
    if version >= 1:
        with engine.begin() as conn:
            conn.execute(insert(store_module.dirty_minutes), [{"minute": 120, "version": 1}])
    applied = upgrade(engine)
    assert applied == list(range(version + 1, HEAD + 1))
    with engine.connect() as conn:
        if version >= 1:
            assert conn.execute(select(store_module.dirty_minutes.c.minute)).scalars().all() == [120]
        if version >= 3:
            assert conn.execute(select(func.count()).select_from(snapshots)).scalar_one() == 3  # all + 2 teams
            kept = History(engine).latest_before(W02 + 7200)[("aiops", "all")]
            assert kept["kpis"]["api_error_rate"]["value"] == pytest.approx(0.05)
            assert kept["kpis"]["api_error_rate"]["evidence"]["requests"] == 200
    assert Ledger(engine).claim("2026-W02", "slack")
    engine.dispose()


def test_upgrade_twice_is_a_no_op(store_url):
    engine = make_engine(store_url)
    assert upgrade(engine) == list(range(1, HEAD + 1))
    assert upgrade(engine) == []
    engine.dispose()


def test_a_database_newer_than_the_program_is_refused(store_url):
    engine = make_engine(store_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(migrations.version_table).values(version=HEAD + 1, name="future", applied_at=0.0))
    with pytest.raises(SchemaError, match="newer than this program"):
        upgrade(engine)
    engine.dispose()


def test_a_failing_step_rolls_back_to_the_previous_version(store_url, monkeypatch):
    engine = make_engine(store_url)
    upgrade(engine, target=2)

    def broken(conn):
        snapshots.metadata.create_all(conn)  # creates tables, then fails: all of it must roll back
        raise RuntimeError("step failed")

    steps = [(v, n, broken if v == 3 else s) for v, n, s in migrations.STEPS]
    monkeypatch.setattr(migrations, "STEPS", steps)
    with pytest.raises(RuntimeError, match="step failed"):
        upgrade(engine)
    assert database_version(engine) == 2
    assert not inspect(engine).has_table("snapshots")
    monkeypatch.undo()
    assert upgrade(engine) == list(range(3, HEAD + 1))
    engine.dispose()


def test_concurrent_upgrades_apply_each_step_once(store_url):
    engines = [make_engine(store_url) for _ in range(3)]
    results, errors = [], []

    def run(engine):
        try:
            results.append(upgrade(engine))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(results, key=len) == [[], [], list(range(1, HEAD + 1))]
    with engines[0].connect() as conn:
        assert conn.execute(select(migrations.version_table.c.version)).scalars().all() == list(range(1, HEAD + 1))
    for engine in engines:
        engine.dispose()


def test_model_hours_are_filled_from_the_stored_requests_on_upgrade(store_url):
    """Version 7 adds the hourly model totals; a store upgraded to it has them for the requests it holds."""
    from collectors.litellm import model_mix

    engine = make_engine(store_url)
    upgrade(engine, target=6)
    rows = [{"call_id": f"c{i}", "team": "search" if i % 2 else None, "start": 7200.0 + i, "end": 7201.0 + i,
             "minute": 7200, "success": int(i != 0), "cache_hit": int(i == 1), "cost": 0.0 if i == 1 else 0.01,
             "attempts": 1, "provider_attempts": 1, "provider_successes": 1, "flags": 0} for i in range(4)]
    from sqlalchemy import column, table

    version_6_requests = table("requests", *(column(name) for name in rows[0]))  # no model_group column yet
    with engine.begin() as conn:
        conn.execute(insert(version_6_requests), rows)
    upgrade(engine)
    with engine.connect() as conn:
        got = {(r.team, r.model_group): (r.requests, r.cache_hit_requests, r.uncached_requests)
               for r in conn.execute(select(model_mix.model_hours).where(model_mix.model_hours.c.hour == 7200))}
    assert got == {("search", "unknown"): (2, 1, 1), ("unattributed", "unknown"): (2, 0, 1)}
    engine.dispose()



def test_a_job_table_the_scheduler_made_before_version_9_is_kept_with_its_jobs(store_url):
    engine = make_engine(store_url)
    upgrade(engine, target=8)
    jobs = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    jobs.start(None, "shared")  # APScheduler creates its table, as releases before version 9 let it
    with engine.begin() as conn:
        conn.execute(insert(jobs.jobs_t), [{"id": "aiops-weekly-digest", "next_run_time": 1.0, "job_state": b"x"}])
    assert upgrade(engine) == [9]
    with engine.connect() as conn:
        assert conn.execute(select(jobs.jobs_t.c.id)).scalars().all() == ["aiops-weekly-digest"]
    engine.dispose()
