"""Turn per-team gateway aggregates into the engine's windows, with bounded team labels."""
from __future__ import annotations

from typing import Iterable, Mapping

from metrics.distribution import ExactDistribution, SketchDistribution
from metrics.engine import WindowSignals
from metrics.gateway import GatewayAggregate
from metrics.teams import ALL, fold, team_labels


def _empty_like(aggregates: Iterable[GatewayAggregate]) -> GatewayAggregate:
    sample = next(iter(aggregates), None)
    exact = sample is not None and isinstance(sample.latency, ExactDistribution)
    return GatewayAggregate(latency=ExactDistribution() if exact else SketchDistribution())


def org_total(per_team: Mapping[str, GatewayAggregate]) -> GatewayAggregate:
    total = _empty_like(per_team.values())
    for aggregate in per_team.values():
        total.merge(aggregate)
    return total


def windows_by_team(
    spans: Mapping[str, tuple[float, float, Mapping[str, GatewayAggregate]]],
    allow: Iterable[str] | None,
    top_n: int,
    extra_signals: Mapping[str, Mapping[str, object]] | None = None,
) -> dict[str, dict[str, WindowSignals]]:
    """`spans` maps a catalog window name to (start, end, per-team aggregates). Team labels are
    chosen once from the volumes of all windows so a team keeps one label across windows.
    `extra_signals` adds measurements from other collectors, keyed by team label (`all` too)."""
    volumes: dict[str, float] = {}
    for _start, _end, per_team in spans.values():
        for team, aggregate in per_team.items():
            volumes[team] = max(volumes.get(team, 0), aggregate.requests)
    labels = team_labels(volumes, allow, top_n)
    result: dict[str, dict[str, WindowSignals]] = {ALL: {}}
    for window_name, (start, end, per_team) in spans.items():
        folded = fold(per_team, labels, lambda: _empty_like(per_team.values()))
        result[ALL][window_name] = WindowSignals(start, end, org_total(per_team).signals())
        for label in set(labels.values()):
            aggregate = folded.get(label) or _empty_like(per_team.values())
            result.setdefault(label, {})[window_name] = WindowSignals(start, end, aggregate.signals())
    for team, signals in (extra_signals or {}).items():
        for window in result.get(team, {}).values():
            window.signals.update(signals)
    return result
