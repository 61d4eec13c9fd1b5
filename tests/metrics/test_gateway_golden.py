"""Golden tests: recorded and hand-built payloads -> the contract's KPI values, exactly."""
import numpy as np
import pytest

from metrics.catalog import load_catalog
from monitor.commands.replay import replay
from tests.scenario import expected, scenario_payloads


@pytest.fixture()
def scenario_file(tmp_path):
    import json
    path = tmp_path / "payloads.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in scenario_payloads()))
    return path


def kpis_of(paths):
    return replay([str(p) for p in paths], load_catalog("aiops")).report.as_dict()


def test_scenario_kpis_match_hand_computed_values(scenario_file):
    out, want = kpis_of([scenario_file]), expected()
    k = out["kpis"]
    assert k["api_error_rate"]["value"] == pytest.approx(want["api_error_rate"], abs=1e-12)
    assert k["api_error_rate"]["samples"] == want["requests"]
    assert k["provider_availability"]["value"] == pytest.approx(want["provider_availability"], abs=1e-12)
    assert k["cache_hit_rate"]["value"] == pytest.approx(want["cache_hit_rate"], abs=1e-12)
    assert k["monthly_spend_usd"]["value"] == pytest.approx(want["monthly_spend_usd"], abs=1e-12)
    assert k["cost_attribution_coverage"]["value"] == pytest.approx(want["cost_attribution_coverage"], abs=1e-12)
    assert k["request_volume"]["value"] == pytest.approx(want["request_volume"], rel=1e-9)
    lat = np.array(want["latencies"])
    assert k["gateway_latency_p50_seconds"]["value"] == pytest.approx(np.percentile(lat, 50), abs=1e-6)  # epoch floats: ~0.2 us resolution
    assert k["latency_p95_seconds"]["value"] == pytest.approx(np.percentile(lat, 95), abs=1e-6)
    assert out["window"]["seconds"] == pytest.approx(want["span"], rel=1e-9)


def test_scenario_grades_and_level(scenario_file):
    out = kpis_of([scenario_file])
    k = out["kpis"]
    assert k["api_error_rate"]["status"] == "unmet"  # 33 % >= 10 %
    assert k["monthly_spend_usd"]["status"] == "met"
    assert k["trace_coverage"]["status"] == "no_data"
    assert out["level"] == 0 and out["score"] == 0.5
    assert out["blocking"][0]["kpi"] == "api_error_rate"
    assert out["blocking"][0]["gap"] == pytest.approx(2 / 6 - 0.10)


def test_per_team_rows(scenario_file):
    teams = kpis_of([scenario_file])["teams"]
    assert set(teams) == {"search", "unattributed"}
    assert teams["search"]["kpis"]["api_error_rate"]["samples"] == 25
    assert teams["search"]["kpis"]["api_error_rate"]["value"] == pytest.approx(2 / 5)
    assert teams["unattributed"]["kpis"]["cost_attribution_coverage"]["value"] == 0.0
    # 5 requests per team is below the minimum sample: no_data, not a grade
    assert teams["unattributed"]["kpis"]["api_error_rate"]["status"] == "no_data"


def test_too_few_requests_is_no_data(tmp_path):
    import json
    path = tmp_path / "few.json"
    path.write_text(json.dumps(scenario_payloads(rounds=3)))  # 18 requests < 20
    k = kpis_of([path])["kpis"]
    assert {k[i]["status"] for i in ("api_error_rate", "cache_hit_rate", "latency_p95_seconds")} == {"no_data"}
    assert k["api_error_rate"]["value"] == pytest.approx(2 / 6)  # the value is still shown


def test_recorded_proxy_run(samples_dir):
    """77 payloads from a real proxy run, counted by hand from the file: 10 health probes, 63 call ids
    of which 10 are probes; 14 call ids with a failed attempt plus a fallback."""
    k = kpis_of([samples_dir / "callback_run_payloads.jsonl"])["kpis"]
    assert k["api_error_rate"]["samples"] == 53
    assert k["api_error_rate"]["value"] == pytest.approx(8 / 53)       # 5 dead-no-fallback + 3 bad requests
    assert k["provider_availability"]["evidence"]["provider_attempts"] == 55  # 67 attempts - 9 cache hits - 3 x 400
    assert k["provider_availability"]["samples"] == 53                 # the minimum sample counts requests
    assert k["provider_availability"]["value"] == pytest.approx(36 / 55)
    assert k["cache_hit_rate"]["value"] == pytest.approx(9 / 53)
    assert k["cost_attribution_coverage"]["value"] == 0.0              # no team identity in that run


def test_file_layouts_give_the_same_answer(tmp_path, scenario_file):
    """One object per file, JSON arrays, JSONL and gzip, walked from a directory."""
    import gzip
    import json
    items = scenario_payloads()
    d = tmp_path / "bucket"
    (d / "a" / "b").mkdir(parents=True)
    for i, p in enumerate(items[:10]):
        (d / "a" / f"single-{i}.json").write_text(json.dumps(p))
    (d / "a" / "b" / "array.json.gz").write_bytes(gzip.compress(json.dumps(items[10:25]).encode()))
    (d / "lines.jsonl").write_text("\n".join(json.dumps(p) for p in items[25:]) + "\n")
    (d / "README.txt").write_text("not a payload file")
    assert kpis_of([d])["kpis"] == kpis_of([scenario_file])["kpis"]


def test_duplicates_and_garbage_are_counted_not_fatal(tmp_path):
    import json
    items = scenario_payloads()
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(p) for p in items] + [json.dumps(items[0]), "{not json", json.dumps({"id": 3})]
    path.write_text("\n".join(lines))
    result = replay([str(path)], load_catalog("aiops"))
    assert result.report.as_dict()["kpis"]["api_error_rate"]["samples"] == 30
    assert result.files.rejected + result.items.rejected == 2 and result.items.duplicates == 1
    assert any("$.id" in e for e in result.files.errors + result.items.errors)  # names the field


def test_two_failed_attempts_sharing_an_id_are_two_attempts(tmp_path):
    """LiteLLM sets a failed attempt's id to the request's litellm_call_id: a fallback that fails too
    gives two failures with one id. They differ by start time; a re-post of either is a duplicate."""
    import json
    from tests.payloads import payload
    first = payload("c", status="failure", start=1_800_000_000.0, latency=0.1, cost=0.0, error_code="429")
    second = payload("c", status="failure", start=1_800_000_000.2, latency=0.1, cost=0.0, error_code="500")
    first["id"] = second["id"] = "c"
    path = tmp_path / "p.json"
    path.write_text(json.dumps([first, second, first]))
    result = replay([str(path)], load_catalog("aiops"))
    k = result.report.as_dict()["kpis"]
    assert k["provider_availability"]["evidence"]["provider_attempts"] == 2 and k["api_error_rate"]["samples"] == 1
    assert result.items.duplicates == 1
