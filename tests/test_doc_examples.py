"""Documentation that runs: every YAML example in the README and docs/ is either a monitor config
that validates (the config model and every source section in it) or is marked as another tool's
file by its top-level keys. A doc example that the service would refuse fails here first."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from monitor.runtime.config import Config, build_config
from monitor.runtime.sources import validate_source_sections

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]
# Top-level keys of the other tools' files the docs show beside ours.
OTHER_TOOLS = {
    "LiteLLM proxy config": {"litellm_settings", "model_list", "general_settings", "router_settings"},
    "Alertmanager config": {"route", "receivers", "inhibit_rules"},
    "Prometheus config": {"scrape_configs", "global", "rule_files", "alerting"},
    "answers file": {"model", "answers", "stages", "areas", "organisation", "assessed_by", "date"},
}


def yaml_examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
            found.append((f"{doc.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}", match.group(1)))
    return found


EXAMPLES = yaml_examples()


def test_the_docs_have_config_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("where,block", EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_every_yaml_example_is_valid(where, block):
    data = yaml.safe_load(block)
    assert isinstance(data, dict), f"{where}: an example must be a mapping"
    keys = set(data)
    if keys <= set(Config.model_fields):
        config = build_config(data, environ={}, origin=where)
        validate_source_sections(config.sources)
    else:
        tools = [tool for tool, known in OTHER_TOOLS.items() if keys <= known]
        assert tools, f"{where}: keys {sorted(keys)} are neither the monitor's config nor a known tool's file"


def test_a_bad_example_would_be_caught():
    from monitor.runtime.config import ConfigError
    from signals.source import SourceConfigError

    with pytest.raises(ConfigError):
        build_config({"teams": {"top_n": 0}}, environ={})
    with pytest.raises(SourceConfigError, match="sources.langfuse.kpis.quality"):
        validate_source_sections({"langfuse": {"kpis": {"quality": [{"name": "x", "min": 2, "max": 1}]}}})
