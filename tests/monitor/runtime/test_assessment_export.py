"""A configured answers file is scored every cycle against live evidence and exported per model."""
from prometheus_client import CollectorRegistry

from collectors.litellm.ingest import ingest
from monitor.runtime.config import ConfigError, build_config
from monitor.runtime.exporter import MaturityCollector
from monitor.runtime.service import Monitor
from tests.scenario import scenario_payloads

import pytest

T0 = 1_800_000_000.0
ANSWERS = """model: aiops
answers: {q1: 2, q2: 2, q3: 3, q4: 1, q5: 0, q6: 3, q7: 2, q8: 2, q9: 3, q10: 2, q11: 2, q12: 1}
"""


def test_every_model_is_exported_with_evidence_caps(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "assessment": {"answers": str(answers)}},
                          environ={})
    monitor = Monitor(config, clock=lambda: T0 + 600)
    try:
        ingest(scenario_payloads(t0=T0), monitor.store, now=T0 + 600)
        monitor.run_cycle()
        registry = CollectorRegistry()
        registry.register(MaturityCollector(lambda: monitor.snapshot))
        get = registry.get_sample_value
        assert get("aiops_maturity_level", {"model": "aiops", "team": "all"}) == 0  # telemetry
        # q9 claims 3 (per-request cost attribution); evidence (50 % attributed) caps it at 1
        q9 = monitor.snapshot.models["aiops"].answers["q9"]
        assert (q9.claim, q9.scored, q9.status) == (3, 1, "capped")
        assert get("aiops_maturity_level", {"model": "aiops_questionnaire", "team": "all"}) == \
            monitor.snapshot.models["aiops"].level
        for model in ("selfhosted", "platform", "enterprise", "stages"):
            assert get("aiops_maturity_level", {"model": model, "team": "all"}) is not None, model
        assert get("aiops_dimension_level", {"model": "selfhosted", "dimension": "security"}) is not None
        assert get("aiops_model_lopsided", {"model": "platform"}) in (0.0, 1.0)
    finally:
        monitor.close()


def test_bad_answers_file_is_a_config_error(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS.replace("q12: 1", "q12: 9"))
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "assessment": {"answers": str(answers)}},
                          environ={})
    with pytest.raises(ConfigError, match="q12"):
        Monitor(config)
