"""`--workers` on replay and backfill: the same output whatever the count, and a clear refusal of 0."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.commands import cli
from tests.collectors.litellm.workers_support import count_workers
from tests.scenario import scenario_payloads

SCRIPT = Path(sys.executable).parent / "aiops-maturity"


@pytest.fixture()
def small_chunks(monkeypatch):
    """Chunks of a file or two, so that small test inputs go to worker processes; returns how many
    workers were started, the proof that they did."""
    return count_workers(monkeypatch, 1)


def bucket(root: Path, t0: float) -> Path:
    """The scenario's payloads, three per file, so requests and their fallbacks straddle files."""
    folder = root / "bucket"
    folder.mkdir()
    items = scenario_payloads(t0=t0)
    for index in range(0, len(items), 3):
        (folder / f"{index:03d}.jsonl").write_text("\n".join(json.dumps(p) for p in items[index:index + 3]))
    return folder


def test_workers_must_be_at_least_one():
    r = subprocess.run([str(SCRIPT), "replay", "nowhere", "--workers", "0"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert "workers must be 1 or more" in r.stderr.splitlines()[-1]


def test_replay_json_is_the_same_with_one_worker_or_three(tmp_path, small_chunks, capsys):
    folder = bucket(tmp_path, 1_800_000_000.0)
    outputs = []
    for workers in ("1", "3"):
        assert cli.main(["replay", str(folder), "--format", "json", "--workers", workers]) == 0
        out = json.loads(capsys.readouterr().out)
        out.pop("generated_at", None)
        outputs.append(out)
    assert small_chunks() == 3
    assert outputs[0] == outputs[1]
    assert outputs[0]["kpis"]["api_error_rate"]["samples"] == 30


def test_backfill_loads_the_same_with_one_worker_or_two(tmp_path, small_chunks, capsys):
    folder = bucket(tmp_path, time.time() - 1800)
    lines, reports = [], []
    for workers in ("1", "2"):
        config = tmp_path / f"c{workers}.yaml"
        config.write_text(f"store: {{url: 'sqlite:///{tmp_path / f'h{workers}.db'}'}}\n")
        assert cli.main(["backfill", str(folder), "--config", str(config), "--workers", workers]) == 0
        lines.append(capsys.readouterr().out.strip().splitlines()[-1])
        assert cli.main(["collect", "--config", str(config), "--once", "--format", "json"]) == 0
        reports.append(json.loads(capsys.readouterr().out)["kpis"])
    assert small_chunks() == 2
    assert lines[0] == lines[1] and "accepted 35" in lines[0]
    assert {k: v["value"] for k, v in reports[0].items()} == {k: v["value"] for k, v in reports[1].items()}
    assert reports[0]["api_error_rate"]["samples"] == 30
