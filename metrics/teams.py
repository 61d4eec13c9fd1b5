"""Bounded team labels: an allow-list or the top N by request volume; the rest fold into `other`
(the folding itself is monitor/runtime/windows.py)."""
from __future__ import annotations

from typing import Iterable, Mapping

from signals.teams import OTHER, UNATTRIBUTED


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
