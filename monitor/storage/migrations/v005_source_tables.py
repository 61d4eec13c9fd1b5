"""Version 5: the sources' own tables (OTLP, Langfuse, incidents, LiteLLM scrape, deployments,
spend forecast), which the sources created themselves before (`create_all` at start). Databases
that already hold them are adopted (`checkfirst`): their rows are untouched. A frozen copy: a later
change to one of these tables is a new step, never an edit here."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, LargeBinary, MetaData, String, Table, Text
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    # collectors.otlp.tables
    Table("otlp_dirty", metadata,
          Column("minute", Integer, primary_key=True),
          Column("version", Integer))
    Table("otlp_hourly", metadata,
          Column("hour", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("name", String, primary_key=True),
          Column("count", Integer),
          Column("total", Float))
    Table("otlp_ids", metadata,
          Column("id", String, primary_key=True),
          Column("minute", Integer))
    Table("otlp_rollup", metadata,
          Column("minute", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("traces", Integer),
          Column("scored", Integer),
          Column("escalated", Integer),
          Column("memory_enabled", Integer),
          Column("memory_used", Integer),
          Column("requests", Integer),
          Column("traced", Integer))
    Table("otlp_scores", metadata,
          Column("minute", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("name", String, primary_key=True),
          Column("count", Integer),
          Column("total", Float))
    Table("otlp_seen", metadata,
          Column("start_ns", BigInteger, primary_key=True),
          Column("span_key", LargeBinary, primary_key=True))
    Table("otlp_span_stats", metadata,
          Column("minute", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("service", String, primary_key=True),
          Column("model", String, primary_key=True),
          Column("spans", Integer),
          Column("genai_spans", Integer),
          Column("errors", Integer),
          Column("cost", Float),
          Column("latency_s", Float))
    Table("otlp_traces", metadata,
          Column("trace_id", String, primary_key=True),
          Column("minute", Integer, index=True),
          Column("team", String),
          Column("flags", Integer))
    # collectors.langfuse.progress
    Table("lf_coverage", metadata,
          Column("minute", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("checked", Integer),
          Column("traced", Integer))
    Table("lf_evaluated", metadata,
          Column("minute", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("examined", Integer),
          Column("scored", Integer))
    Table("lf_scored", metadata,
          Column("trace_id", String, primary_key=True),
          Column("minute", Integer, index=True))
    Table("lf_state", metadata,
          Column("key", String, primary_key=True),
          Column("value", String))
    # collectors.incidents.store
    Table("incident_alerts", metadata,
          Column("fingerprint", String, primary_key=True),
          Column("starts_at", Float, primary_key=True),
          Column("group_key", String, index=True, nullable=False),
          Column("labels", Text, nullable=False),
          Column("annotations", Text, nullable=False),
          Column("ends_at", Float, index=True),
          Column("auto", Integer, nullable=False),
          Column("source", String, nullable=False),
          Column("received_at", Float, nullable=False))
    # collectors.litellm.scrape
    Table("litellm_scrape_increases", metadata,
          Column("target", String, primary_key=True),
          Column("minute", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("signal", String, primary_key=True),
          Column("value", Float, nullable=False))
    Table("litellm_scrape_series", metadata,
          Column("target", String, primary_key=True),
          Column("series", String, primary_key=True),
          Column("value", Float, nullable=False),
          Column("created", Float))
    Table("litellm_scrape_targets", metadata,
          Column("target", String, primary_key=True),
          Column("process_start", Float),
          Column("last_scrape", Float, nullable=False))
    # collectors.deployments.events
    Table("deployment_events", metadata,
          Column("id", String, primary_key=True),
          Column("kind", String, nullable=False),
          Column("name", String, nullable=False),
          Column("version", String, nullable=False),
          Column("team", String),
          Column("created_at", Float),
          Column("deployed_at", Float, index=True, nullable=False),
          Column("source", String, nullable=False))
    Table("deployment_state", metadata,
          Column("key", String, primary_key=True),
          Column("value", Text, nullable=False))
    # collectors.forecast
    Table("cost_forecast_synthetic_spend", metadata,
          Column("day", Float, primary_key=True),
          Column("team", String, primary_key=True),
          Column("cost", Float, nullable=False))
    Table("cost_forecasts", metadata,
          Column("team", String, primary_key=True),
          Column("horizon", String, primary_key=True),
          Column("period_start", Float, primary_key=True),
          Column("period_end", Float, nullable=False),
          Column("made_at", Float, nullable=False),
          Column("value", Float, nullable=False),
          Column("kind", String, nullable=False))
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=True)
