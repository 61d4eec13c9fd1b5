"""The console script as users run it: contract JSON, one-line errors with exit code 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenario import expected, scenario_payloads

SCRIPT = Path(sys.executable).parent / "aiops-maturity"
CONTRACT_KPI_KEYS = {"value", "status", "level", "target", "samples"}


def run(*args, cwd=None):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture()
def payload_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(scenario_payloads()))
    return path


def test_replay_json_follows_the_contract(payload_file):
    r = run("replay", str(payload_file), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"model", "level", "score", "kpis", "teams", "dimensions"} <= set(out)
    assert out["model"] == "aiops" and isinstance(out["level"], int) and isinstance(out["score"], float)
    for kpi in out["kpis"].values():
        assert CONTRACT_KPI_KEYS <= set(kpi)
        assert kpi["status"] in ("met", "unmet", "no_data")
    for team in out["teams"].values():
        assert {"level", "score", "kpis"} <= set(team)
    assert out["kpis"]["api_error_rate"]["value"] == pytest.approx(expected()["api_error_rate"])
    assert set(out["dimensions"]) == {"gateway", "observability", "memory", "orchestration", "cost", "security"}


def test_replay_table_is_readable(payload_file):
    r = run("replay", str(payload_file))
    assert r.returncode == 0 and "API error rate" in r.stdout and "Blocking level 1" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["replay", "/no/such/path"], "no such file"),
    (["collect", "--config", "/no/such.yaml", "--once"], "no such file"),
])
def test_user_errors_are_one_line_exit_2(args, needle):
    r = run(*args)
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("content,field", [
    ("server: {port: nine}", "server.port"),
    ("evaluation_window: soon", "evaluation_window"),
    ("teams: {top_n: 0}", "teams.top_n"),
    ("surprise: 1", "surprise"),
    ("server: {ingest_token: abc}", "AIOPS_INGEST_TOKEN"),
    ("[1, 2", "not valid YAML"),
    ("model: nope", "unknown model"),
])
def test_bad_config_names_the_field(tmp_path, content, field):
    config = tmp_path / "c.yaml"
    config.write_text(content)
    r = run("collect", "--config", str(config), "--once")
    assert r.returncode == 2, r.stderr
    assert field in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "abc" not in r.stderr


def test_backfill_then_collect_once(tmp_path):
    import time
    now = time.time()
    items = scenario_payloads(t0=now - 1800)
    (tmp_path / "bucket").mkdir()
    (tmp_path / "bucket" / "p.jsonl").write_text("\n".join(json.dumps(p) for p in items))
    config = tmp_path / "c.yaml"
    config.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'h.db'}'}}\n")
    r = run("backfill", str(tmp_path / "bucket"), "--config", str(config))
    assert r.returncode == 0 and "accepted 35" in r.stdout, r.stdout + r.stderr
    r = run("collect", "--config", str(config), "--once", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["kpis"]["api_error_rate"]["samples"] == 30
    assert out["kpis"]["api_error_rate"]["value"] == pytest.approx(2 / 6)
