import pytest

from metrics.catalog import CatalogError, load_catalog, parse_catalog
from tests.metrics.test_engine import CATALOG

DESIGN_KPIS = {"api_error_rate", "provider_availability", "cache_hit_rate", "monthly_spend_usd", "request_volume",
               "cost_attribution_coverage", "gateway_latency_p50_seconds", "latency_p95_seconds", "trace_coverage",
               "evaluation_coverage", "mttr_seconds"}


def test_aiops_catalog_has_every_level_kpi_of_the_model():
    catalog = load_catalog("aiops")
    ids = {k.id for k in catalog.kpis}
    assert DESIGN_KPIS <= ids
    per_level = {lvl: {k.id for k in catalog.kpis for t in k.targets if t.level == lvl} for lvl in range(1, 6)}
    assert per_level[1] == {"monthly_spend_usd", "api_error_rate"}
    assert {"quality_score_avg", "cost_per_quality_point", "cache_hit_rate", "evaluation_coverage",
            "rag_relevance_score", "latency_p95_seconds"} <= per_level[3]
    assert {"csat", "memory_utilization_rate", "agent_success_rate", "personalization_accuracy",
            "cost_prediction_accuracy", "human_escalation_rate"} <= per_level[4]
    assert {"autonomous_resolution_rate", "self_improvement_rate", "human_intervention_rate",
            "emergent_capability_detection", "system_health_score"} <= per_level[5]
    mttr = catalog.kpi("mttr_seconds")
    assert [(t.level, t.value) for t in mttr.targets] == [(3, 86400), (4, 3600)]
    for kpi in catalog.kpis:
        assert kpi.definition and kpi.remediation and kpi.min_samples >= 1


@pytest.mark.parametrize("old,new,message", [
    ("signal: x,", "signal: nope,", "unknown signal 'nope'"),
    ("dimension: b", "dimension: q", "unknown dimension 'q'"),
    ("comparator: gt", "comparator: above", "comparator"),
    ("id: k2", "id: k1", "unique"),
    ("level: 2, comparator: gt", "level: 7, comparator: gt", "level"),
    ("min_samples: 5,\n     targets: [{level: 2", "min_samples: 0,\n     targets: [{level: 2", "min_samples"),
])
def test_invalid_catalogs_fail_loudly(old, new, message):
    assert old in CATALOG
    with pytest.raises(CatalogError, match=message):
        parse_catalog(CATALOG.replace(old, new, 1))


def test_unknown_model_fails():
    with pytest.raises(CatalogError, match="unknown model"):
        load_catalog("nope")
