"""`replay`: KPIs and level from recorded LiteLLM payload files; the window is the span of the data."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from collectors.litellm.files import ReadStats
from collectors.litellm.ingest import IngestOutcome
from collectors.litellm.processes import default_workers
from collectors.litellm.requests import gateway_result, org_total
from collectors.litellm.shards import reduce_files
from metrics.catalog import Catalog
from metrics.report import Report, build_report
from monitor.runtime.config import TeamsConfig
from monitor.runtime.windows import windows_by_team


@dataclass
class ReplayResult:
    report: Report
    files: ReadStats
    items: IngestOutcome


def replay(paths: Iterable[str], catalog: Catalog, teams: TeamsConfig | None = None,
           clock: Callable[[], float] = time.time, workers: int | None = None) -> ReplayResult:
    """`workers` processes read the files (default: one per core; 1 reads them in this process);
    the numbers are the same whatever their count."""
    teams = teams or TeamsConfig()
    reduced = reduce_files(paths, teams.tag_prefix, workers or default_workers())
    files, items, per_team = reduced.files, reduced.items, reduced.per_team
    items.accepted = sum(aggregate.attempts for aggregate in per_team.values())
    items.duplicates = reduced.attempts - items.accepted
    org = org_total(per_team)
    start = org.first_start if org.first_start is not None else 0.0
    end = org.last_end if org.last_end is not None else start
    # In replay every window (the evaluation window and the trailing 30 days) is the whole data.
    spans = {name: (start, end) for name in ("evaluation", "30d")}
    windows = windows_by_team(spans, [gateway_result({name: per_team for name in spans})], teams.allow, teams.top_n)
    notes = {"window": {"start": start, "end": end, "seconds": end - start},
             "input": {"files": files.files, "items": files.items, "rejected": files.rejected + items.rejected,
                       "duplicates": items.duplicates, "health_checks": items.health_checks}}
    return ReplayResult(build_report(catalog, windows, clock(), notes), files, items)
