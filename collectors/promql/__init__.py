"""PromQL over the Prometheus HTTP API: user-defined signals (source `prometheus`) and a client other
collectors reuse (the incident backfill reads `ALERTS` through it)."""
from collectors.promql.client import PrometheusClient, PrometheusUnavailable, QueryError

__all__ = ["PrometheusClient", "PrometheusUnavailable", "QueryError"]
