"""Sources' per-team signals -> the engine's windows, with bounded team labels.

Team labels are chosen once per cycle from the request volume of every window (the gateway's
`requests` signal), so a team keeps one label across windows; the rest fold into `other`. Every
additive signal (numbers, distributions, intervals) of the teams that share a label is merged into
fresh values, so `other` is exact for every source. A `Measured` value cannot be folded: it stays
with its own team and `other` has none. `all` is what a source says for the organisation when it
says it (a source can see things no team owns), else the merge of all its teams.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from metrics.engine import WindowSignals
from metrics.teams import team_labels
from signals.measured import Measured
from signals.source import SourceResult
from signals.teams import ALL

VOLUME_SIGNAL = "requests"


def add_signals(into: dict[str, Any], signals: Mapping[str, Any]) -> None:
    """Add additive signals into `into` (numbers add, mergeables merge into fresh copies)."""
    for name, value in signals.items():
        if isinstance(value, Measured) or value is None:
            continue
        current = into.get(name)
        if isinstance(value, (int, float)):
            into[name] = value if current is None else current + value
            continue
        if current is None:
            current = into[name] = type(value)()
        current.merge(value)


def merged(per_team: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for signals in per_team:
        add_signals(total, signals)
    return total


def windows_by_team(spans: Mapping[str, tuple[float, float]], results: Iterable[SourceResult],
                    allow: Iterable[str] | None, top_n: int,
                    only_given: set[str] = frozenset()) -> dict[str, dict[str, WindowSignals]]:
    """`spans` maps a catalog window name to (start, end); `results` are the sources' results, in
    order (on a name two sources both give, the later wins). A window in `only_given` (the
    dashboard's periods) takes only what sources gave for it by name, never their `signals`."""
    results = list(results)

    def of(result: SourceResult, name: str) -> dict:
        return result.windows.get(name, {}) if name in only_given else result.by_window(name)

    volumes: dict[str, float] = {}
    for result in results:
        for name in spans:
            if name in only_given:  # labels come from the catalog's windows: a period never moves them
                continue
            for team, signals in of(result, name).items():
                if team != ALL and isinstance(signals.get(VOLUME_SIGNAL), (int, float)):
                    volumes[team] = max(volumes.get(team, 0), signals[VOLUME_SIGNAL])
    labels = team_labels(volumes, allow, top_n)
    rows: dict[str, dict[str, WindowSignals]] = {ALL: {}, **{label: {} for label in labels.values()}}
    for name, (start, end) in spans.items():
        for label in rows:
            rows[label][name] = WindowSignals(start, end, {})
        for result in results:
            per_team = of(result, name)
            teams = {team: signals for team, signals in per_team.items() if team != ALL}
            rows[ALL][name].signals.update(per_team[ALL] if ALL in per_team else merged(teams.values()))
            members_of: dict[str, list[str]] = {}  # label -> its raw teams, in the source's order
            for team in teams:
                if team in labels:
                    members_of.setdefault(labels[team], []).append(team)
            for label, members in members_of.items():
                folded = merged(teams[team] for team in members)
                if members == [label]:  # the team itself: its non-additive values too
                    folded.update({k: v for k, v in teams[label].items() if isinstance(v, Measured)})
                rows[label][name].signals.update(folded)
    return rows
