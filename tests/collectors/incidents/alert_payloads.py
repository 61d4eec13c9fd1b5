"""Builders of Alertmanager v4 webhook bodies, as Alertmanager 0.25 writes them."""
from __future__ import annotations

from datetime import datetime, timezone

from collectors.incidents.webhook import fingerprint

T0 = 1_800_000_000.0
ZERO = "0001-01-01T00:00:00Z"


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def alert(name: str, starts: float, ends: float | None = None, **labels) -> dict:
    labels = {"alertname": name, **labels}
    annotations = {}
    return {"status": "resolved" if ends is not None else "firing", "labels": labels, "annotations": annotations,
            "startsAt": rfc3339(starts), "endsAt": rfc3339(ends) if ends is not None else ZERO,
            "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint(labels)}


def notification(*alerts: dict, group: str | None = None) -> dict:
    group = group or f'{{}}:{{alertname="{alerts[0]["labels"]["alertname"]}"}}'
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    common = dict(alerts[0]["labels"])
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a["labels"].get(k) == v}
    return {"receiver": "aiops", "status": status, "alerts": list(alerts), "groupLabels": {},
            "commonLabels": common, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "version": "4", "groupKey": group, "truncatedAlerts": 0}
