"""Backfill incidents from Prometheus's `ALERTS` history (a PromQL range query).

Useful when the webhook receiver is added to an existing setup: the alerts of the last days become
occurrences as if Alertmanager had sent them. Precision is the query step: an alert is taken to
start at its first point and end one step after its last. Only alerts that have ended are taken;
the ones still firing will reach the monitor through the webhook with their exact times. Alerts
that the webhook already recorded (same fingerprint, overlapping time) are skipped.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from collectors.incidents.store import IncidentStore
from collectors.incidents.webhook import Occurrence, fingerprint, is_marked
from collectors.promql.client import PrometheusClient, Series
from signals.durations import Duration


class BackfillConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="Base URL of the Prometheus server the alert history is read from.")
    query: str = Field(default='ALERTS{alertstate="firing"}', description=(
        "PromQL selector of the firing alerts to read."))
    lookback: Duration = Field(default=7 * 86400, description="How far back from start-up the history is read.")
    step: Duration = Field(default=60.0, description=(
        "Resolution of the range query; an alert's start and end are precise to one step."))
    timeout: Duration = Field(default=30.0, description="Timeout of each request to Prometheus.")
    # The group key is built the way Alertmanager builds it for the root route ({}:{label="value", ...}),
    # so backfilled occurrences and the webhook's merge into the same incidents.
    group_by: list[str] = Field(default_factory=lambda: ["alertname"], description=(
        "Labels of the `group_by` of the Alertmanager route these alerts take."))
    route_key: str = Field(default="{}", description=(
        "Route part of the group key, as Alertmanager writes it (`{}` is the root route)."))


def group_key(labels: dict[str, str], group_by: list[str], route_key: str = "{}") -> str:
    pairs = ", ".join(f'{k}="{labels[k]}"' for k in sorted(group_by) if k in labels)
    return f"{route_key}:{{{pairs}}}"


def runs(series: Series, step: float, query_end: float) -> list[tuple[float, float | None]]:
    """Contiguous stretches of points (a gap over 1.5 steps ends one); the last stays open (None)
    when it reaches the end of the query."""
    out: list[tuple[float, float | None]] = []
    points = sorted(t for t, _ in series.points)
    if not points:
        return out
    start = prev = points[0]
    for t in points[1:]:
        if t - prev > 1.5 * step:
            out.append((start, prev + step))
            start = t
        prev = t
    out.append((start, None if query_end - prev <= 1.5 * step else prev + step))
    return out


def backfill(store: IncidentStore, config: BackfillConfig, now: float, auto_mark: str | None,
             client: PrometheusClient | None = None) -> dict[str, int]:
    own = client is None
    client = client or PrometheusClient(config.url, timeout=config.timeout)
    try:
        series = client.range(config.query, now - config.lookback, now, config.step)
    finally:
        if own:
            client.close()
    occurrences: list[Occurrence] = []
    skipped = still_firing = 0
    for s in series:
        labels = {k: v for k, v in s.labels.items() if k not in ("alertstate", "__name__")}
        fp = fingerprint(labels)
        for start, end in runs(s, config.step, now):
            if end is None:
                still_firing += 1
                continue
            if store.overlapping(fp, start, end):
                skipped += 1
                continue
            occurrences.append(Occurrence(fp, start, group_key(labels, config.group_by, config.route_key), labels, {},
                                          end, is_marked(labels, {}, auto_mark), "backfill"))
    counts = store.record(occurrences, now) if occurrences else {"new": 0, "updated": 0, "unchanged": 0}
    return {**counts, "skipped_known": skipped, "still_firing": still_firing, "series": len(series)}
