"""The demo's yesterday: a demo lasts minutes, so the KPI dashboard's changes (the last 24 hours
against the 24 before) would have nothing to compare with. Once the demo has served some traffic,
its gateway requests so far are copied a day and an hour back, a little worse (a few more failures, fewer
cache hits), through the gateway store's import port: the same path the proxy-database source uses,
so they count once and age like any request. The demo says so when it does it; docs/demo.md too.
"""
from __future__ import annotations

import random
from dataclasses import replace

from collectors.litellm.imports import StoreImports
from monitor.demo.digest import recorded_requests

DAY = 86400
BACK = DAY + 3600  # a day and an hour: well inside the day before the dashboard's last 24 hours
KEY = "demo:yesterday"


def copy_to_yesterday(monitor, seed: int = 3) -> int:
    """Copy the requests the demo has stored so far to the same times yesterday. Returns how many."""
    imports = StoreImports(monitor.store)
    if imports.import_state(KEY) is not None:
        return 0
    recorded = recorded_requests(monitor)
    rng = random.Random(seed)
    copies = []
    for r in recorded:
        copy = replace(r, call_id=f"{r.call_id}-yesterday", start=r.start - BACK, end=r.end - BACK, trace_id=None)
        if copy.cache_hit and rng.random() < 0.3:
            copy.cache_hit = False
        if copy.success and rng.random() < 0.02:
            copy.success = False
            copy.provider_successes = 0
        copies.append(copy)
    imports.import_batch(KEY, {"copied": len(copies), "since": 0.0}, copies, now=monitor.clock())
    return len(copies)
