"""Plugins by entry-point name: one mechanism for sources, demo feeds and incident providers.

A plugin is declared in a package's metadata (pyproject `[project.entry-points."<group>"]`) and
named in config; an unknown name fails loudly with the names that are known."""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from signals.errors import AiopsError

SOURCES = "aiops_maturity.sources"
DEMO_FEEDS = "aiops_maturity.demo_feeds"
INCIDENT_PROVIDERS = "aiops_maturity.incident_providers"


class PluginError(AiopsError, ValueError):
    """A plugin name that no installed package declares (or that fails to load)."""


def available(group: str) -> dict[str, Any]:
    """Entry points of a group by name, sorted by name (a stable order for feeds and docs)."""
    return {ep.name: ep for ep in sorted(entry_points(group=group), key=lambda ep: ep.name)}


def load(group: str, name: str, where: str, kind: str = "name") -> Any:
    """The object entry point `name` of `group` names; `where` prefixes the error (a config path),
    `kind` names what is unknown in it ("source", "incident provider")."""
    known = available(group)
    if name not in known:
        raise PluginError(f"{where}: unknown {kind} '{name}' (known: {', '.join(known) or 'none'})")
    try:
        return known[name].load()
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"{where}: '{name}' does not load ({known[name].value}): {exc}") from None


def load_all(group: str) -> dict[str, Any]:
    return {name: load(group, name, group) for name in available(group)}
