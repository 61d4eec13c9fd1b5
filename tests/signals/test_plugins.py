"""One plugin mechanism (entry points) for sources, demo feeds and incident providers."""
from __future__ import annotations

import pytest

from signals import plugins
from signals.errors import AiopsError


@pytest.mark.parametrize("group, names", [
    (plugins.SOURCES, {"otlp", "langfuse", "alertmanager", "prometheus", "litellm_metrics", "deployments", "forecast",
                       "litellm_db"}),
    (plugins.DEMO_FEEDS, {"otlp", "incidents"}),
    (plugins.INCIDENT_PROVIDERS, {"alertmanager"}),
])
def test_every_group_is_declared_and_loads(group, names):
    assert set(plugins.available(group)) == names
    assert all(callable(p) or hasattr(p, "run") for p in plugins.load_all(group).values())


def test_an_unknown_name_fails_loudly_with_the_known_ones():
    with pytest.raises(plugins.PluginError) as caught:
        plugins.load(plugins.INCIDENT_PROVIDERS, "pagerduty", "digest.incidents_provider")
    assert str(caught.value) == "digest.incidents_provider: unknown name 'pagerduty' (known: alertmanager)"
    assert isinstance(caught.value, AiopsError)


def test_the_demo_loads_its_feeds_through_the_plugin_group():
    from monitor.demo.run import load_feeds

    feeds = load_feeds()
    assert [type(f).__name__ for f in feeds] == [type(p).__name__ for p in plugins.load_all(plugins.DEMO_FEEDS).values()]
    assert {name for feed in feeds for name in feed.sources_config()} >= {"otlp", "alertmanager", "deployments"}
