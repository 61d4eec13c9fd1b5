"""`replay`: KPIs and level from recorded LiteLLM payload files; the window is the span of the data."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from collectors.litellm.files import ReadStats, iter_documents
from collectors.litellm.ingest import IngestOutcome, parse_items
from metrics.catalog import Catalog
from collectors.litellm.requests import aggregate_by_team, gateway_result, group_requests, org_total
from metrics.report import Report, build_report
from monitor.runtime.config import TeamsConfig
from monitor.runtime.windows import windows_by_team


@dataclass
class ReplayResult:
    report: Report
    files: ReadStats
    items: IngestOutcome


def replay(paths: Iterable[str], catalog: Catalog, teams: TeamsConfig | None = None,
           clock: Callable[[], float] = time.time) -> ReplayResult:
    teams = teams or TeamsConfig()
    files, items = ReadStats(), IngestOutcome()
    attempts = [attempt for origin, payloads in iter_documents(paths, files)
                for attempt in parse_items(payloads, teams.tag_prefix, items, origin)]
    requests = group_requests(attempts)
    items.accepted = sum(r.attempts for r in requests.values())
    items.duplicates = len(attempts) - items.accepted
    per_team = aggregate_by_team(requests.values())
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
