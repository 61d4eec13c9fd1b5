"""Bounded team labels: an allow-list or the top N by request volume; the rest fold into `other`."""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, TypeVar

from signals.teams import ALL, OTHER, UNATTRIBUTED

T = TypeVar("T")


def team_labels(volumes: Mapping[str, float], allow: Iterable[str] | None, top_n: int) -> dict[str, str]:
    """Map each raw team to its exported label. `unattributed` always keeps its own label: it is
    what cost attribution is about."""
    allowed = set(allow or ())
    if allowed:
        keep = allowed
    else:
        ranked = sorted((t for t in volumes if t != UNATTRIBUTED), key=lambda t: (-volumes[t], t))
        keep = set(ranked[:top_n])
    keep.add(UNATTRIBUTED)
    return {team: (team if team in keep else OTHER) for team in volumes}


def fold(per_team: Mapping[str, T], labels: Mapping[str, str], empty: Callable[[], T]) -> dict[str, T]:
    """Merge the values of raw teams that share a label into fresh values (`empty()` then
    `.merge`): the inputs are never modified, so they can be folded again or summed for `all`."""
    folded: dict[str, T] = {}
    for team, value in per_team.items():
        label = labels.get(team, OTHER)
        if label not in folded:
            folded[label] = empty()
        folded[label].merge(value)  # type: ignore[attr-defined]
    return folded
