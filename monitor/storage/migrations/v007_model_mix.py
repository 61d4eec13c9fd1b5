"""Version 7: the model group that answered each request (requests.model_group, NULL for older
rows) and the hourly totals per team and model group (model_hours) behind the KPI dashboard's
model mix and cache savings, filled from the request rows already stored (group `unknown`).
A frozen copy: a later change is a new step."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, inspect
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table("model_hours", metadata,
          Column("hour", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("model_group", String, primary_key=True),
          Column("requests", Integer, nullable=False),
          Column("cost_usd", Float, nullable=False),
          Column("cache_hit_requests", Integer, nullable=False),
          Column("uncached_requests", Integer, nullable=False),
          Column("uncached_cost_usd", Float, nullable=False))
    return metadata


def upgrade(conn: Connection) -> None:
    if "model_group" not in {c["name"] for c in inspect(conn).get_columns("requests")}:
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f"ALTER TABLE {quote('requests')} ADD COLUMN {quote('model_group')} VARCHAR")
    _tables().create_all(conn, checkfirst=False)
    # The hours the stored request rows still cover, so the model mix and cache savings of a
    # store upgraded from version 6 are whole from the start; their group was not kept: `unknown`.
    conn.exec_driver_sql("""
        INSERT INTO model_hours (hour, team, model_group, requests, cost_usd, cache_hit_requests,
                                 uncached_requests, uncached_cost_usd)
        SELECT (minute / 3600) * 3600, COALESCE(team, 'unattributed'), 'unknown', count(*), sum(cost),
               sum(CASE WHEN cache_hit = 1 THEN 1 ELSE 0 END),
               sum(CASE WHEN cache_hit = 0 AND success = 1 THEN 1 ELSE 0 END),
               sum(CASE WHEN cache_hit = 0 AND success = 1 THEN cost ELSE 0.0 END)
        FROM requests GROUP BY (minute / 3600) * 3600, COALESCE(team, 'unattributed')""")
