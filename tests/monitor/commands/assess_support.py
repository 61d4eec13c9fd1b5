"""Evidence for `assess --evidence`: a real report of the engine (a replay of payload files), as
`replay --format json` writes it, shared by the report tests and the report's Chromium test."""
from __future__ import annotations

import json
from pathlib import Path

from metrics.catalog import load_catalog
from monitor.commands.replay import replay
from tests.payloads import payload


def report_json(tmp_path: Path, now: float) -> Path:
    """Two teams' requests in the hour before `now`, eight of them failing over once (429)."""
    items = [payload(f"c{i}", start=now - 3000 + i, team_alias="search" if i % 2 else "billing") for i in range(60)]
    items += [payload(f"f{i}", 0, start=now - 1000 + i, team_alias="search", status="failure", error_code="429",
                      cost=0.0) for i in range(8)]
    items += [payload(f"f{i}", 1, start=now - 999.5 + i, team_alias="search") for i in range(8)]
    source = tmp_path / "payloads.jsonl"
    source.write_text("\n".join(json.dumps(p) for p in items))
    path = tmp_path / "report.json"
    path.write_text(json.dumps(replay([str(source)], load_catalog()).report.as_dict()))
    return path
