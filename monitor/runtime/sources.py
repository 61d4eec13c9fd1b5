"""Building the configured sources: names resolved through the plugin group, sections validated
once at start (each source's pydantic `config_model`); an unknown name or a bad section fails
loudly. The contract a source implements is in signals.source."""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from signals.validation import first_error
from signals import plugins
from signals.source import Source, SourceConfigError, SourceContext


def validate_source_sections(sections: dict[str, dict | None]) -> list[tuple[Any, Any]]:
    """[(factory, validated config)] per configured source; unknown names and bad sections fail loudly."""
    validated = []
    for name, section in sections.items():
        try:
            factory = plugins.load(plugins.SOURCES, name, f"sources.{name}", kind="source")
        except plugins.PluginError as exc:
            raise SourceConfigError(str(exc)) from None
        try:
            validated.append((factory, factory.config_model.model_validate(section or {})))
        except ValidationError as exc:
            raise SourceConfigError(first_error(exc, prefix=f"sources.{name}")) from None
    return validated


def build_sources(sections: dict[str, dict], context: SourceContext) -> list[Source]:
    """The configured sources, sharing one context, with the ports they offer wired into it."""
    return wire_ports([factory(config, context) for factory, config in validate_source_sections(sections)], context)


def wire_ports(sources: list[Source], context: SourceContext) -> list[Source]:
    """Put the ports some sources offer (the incidents source's `incident_log`) on the context the
    sources share; the others read them at collect time."""
    for source in sources:
        if getattr(source, "incident_log", None) is not None:
            context.incidents = source.incident_log
    return sources
