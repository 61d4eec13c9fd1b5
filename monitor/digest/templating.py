"""The digest's Jinja environment, shared by the digest (render.py) and the assessment report
(assessment_report.py): templates from `templates/`, HTML autoescaped by its full suffix."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")

# Escape HTML templates by their full suffix ("digest.html.j2" ends in ".j2", so a plain ["html"]
# would not match it); Markdown and text templates ("digest.md.j2") are never escaped.
AUTOESCAPE = select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2"),
                               disabled_extensions=("md", "md.j2", "txt", "txt.j2"),
                               default_for_string=True, default=True)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, autoescape=AUTOESCAPE, keep_trailing_newline=True)
    env.filters["md"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    return env
