"""Week-over-week analysis of the snapshot history with pandas: biggest movers, KPI alerts raised or
resolved during the week, and the daily trend series behind the charts."""
from __future__ import annotations

from datetime import tzinfo
from typing import Any

import pandas as pd

from signals.teams import ALL

# Which direction is better, by comparator of the KPI's target; "ge 0" targets ("tracked") have none.
_BETTER = {"lt": -1, "le": -1, "gt": 1, "ge": 1}


def direction(comparator: str | None, target: float | None, delta: float) -> str:
    sign = _BETTER.get(comparator or "", 0)
    if delta == 0:
        return "unchanged"
    if sign == 0 or (comparator == "ge" and target == 0):
        return "changed"
    return "improved" if sign * delta > 0 else "worsened"


def movers(current: dict[str, dict[str, dict]], previous: dict[str, dict[str, dict]], top: int) -> list[dict[str, Any]]:
    """`current`/`previous`: team -> kpi -> KPI row of the week's last snapshot. The KPIs whose value
    moved most, relative to max(|target|, |last week's value|), organisation and teams alike."""
    def frame(rows: dict[str, dict[str, dict]]) -> pd.DataFrame:
        records = [{"team": team, "kpi": kpi, "value": row.get("value"), "status": row.get("status"),
                    "target": row.get("target"), "comparator": row.get("comparator")}
                   for team, kpis in rows.items() for kpi, row in kpis.items()]
        return pd.DataFrame(records, columns=["team", "kpi", "value", "status", "target", "comparator"])

    now, before = frame(current), frame(previous)
    if now.empty or before.empty:
        return []
    both = now.merge(before[["team", "kpi", "value", "status"]], on=["team", "kpi"], suffixes=("", "_before"))
    both = both.dropna(subset=["value", "value_before"])
    both["delta"] = both["value"] - both["value_before"]
    both = both[both["delta"] != 0]
    if both.empty:
        return []
    scale = pd.concat([both["target"].abs().fillna(0), both["value_before"].abs()], axis=1).max(axis=1)
    both["movement"] = both["delta"].abs() / scale.where(scale > 1e-12, 1.0)
    both["relative"] = both["delta"] / both["value_before"].abs().where(both["value_before"].abs() > 1e-12)
    both = both.sort_values(["movement", "team", "kpi"], ascending=[False, True, True]).head(top)
    out = []
    for row in both.itertuples(index=False):
        out.append({
            "team": row.team, "kpi": row.kpi, "before": float(row.value_before), "after": float(row.value),
            "delta": float(row.delta), "relative": None if pd.isna(row.relative) else float(row.relative),
            "status": row.status, "status_before": row.status_before,
            "direction": direction(row.comparator, row.target, float(row.delta)),
        })
    return out


def alerts(rows: list[dict[str, Any]], baseline: dict[str, dict[str, dict]], limit: int = 30) -> dict[str, Any]:
    """KPI alerts of the week from the status sequence of every (team, KPI): met -> unmet raises one,
    unmet -> met resolves one. `baseline` (the last snapshot before the week) gives the start state;
    changes to or from no_data are not alerts."""
    frame = pd.DataFrame(rows, columns=["team", "kpi", "taken_at", "status", "value"]) if rows else \
        pd.DataFrame(columns=["team", "kpi", "taken_at", "status", "value"])
    start = [{"team": team, "kpi": kpi, "taken_at": float("-inf"), "status": row.get("status"), "value": row.get("value")}
             for team, kpis in baseline.items() for kpi, row in kpis.items()]
    if start:
        frame = pd.concat([pd.DataFrame(start), frame], ignore_index=True)
    if frame.empty:
        return {"new": [], "resolved": [], "new_count": 0, "resolved_count": 0, "open": []}
    frame = frame.sort_values(["team", "kpi", "taken_at"], kind="stable")
    frame["before"] = frame.groupby(["team", "kpi"])["status"].shift()
    raised = frame[(frame["before"] == "met") & (frame["status"] == "unmet")]
    cleared = frame[(frame["before"] == "unmet") & (frame["status"] == "met")]
    last = frame.groupby(["team", "kpi"]).tail(1)
    still_open = last[(last["status"] == "unmet") & last.set_index(["team", "kpi"]).index.isin(
        raised.set_index(["team", "kpi"]).index)]

    def records(part: pd.DataFrame) -> list[dict[str, Any]]:
        part = part.sort_values(["taken_at", "team", "kpi"]).head(limit)
        return [{"team": r.team, "kpi": r.kpi, "at": float(r.taken_at),
                 "value": None if pd.isna(r.value) else float(r.value)} for r in part.itertuples(index=False)]

    return {"new": records(raised), "resolved": records(cleared), "new_count": int(len(raised)),
            "resolved_count": int(len(cleared)), "open": records(still_open)}


def daily(rows: list[dict[str, Any]], column: str, tz: tzinfo) -> list[tuple[float, float | None]]:
    """The last value of each local calendar day: [(timestamp of that snapshot, value)]."""
    if not rows:
        return []
    frame = pd.DataFrame(rows)[["taken_at", column]]
    frame["day"] = pd.to_datetime(frame["taken_at"], unit="s", utc=True).dt.tz_convert(tz).dt.date
    last = frame.sort_values("taken_at").groupby("day").tail(1)
    return [(float(t), None if pd.isna(v) else float(v)) for t, v in zip(last["taken_at"], last[column])]


def trend_series(rows: list[dict[str, Any]], kpis: list[str], tz: tzinfo) -> dict[str, list[tuple[float, float | None]]]:
    """Organisation-wide daily series per KPI from KPI rows (team `all`)."""
    by_kpi: dict[str, list[dict[str, Any]]] = {kpi: [] for kpi in kpis}
    for row in rows:
        if row["team"] == ALL and row["kpi"] in by_kpi:
            by_kpi[row["kpi"]].append(row)
    return {kpi: daily(items, "value", tz) for kpi, items in by_kpi.items()}
