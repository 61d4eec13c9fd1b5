"""The documentation site (mkdocs.yml, docs/) builds, its generated pages match the code, and the
README stays a short entry point that links to every page."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.generate.config_reference import COMMAND, render_config_reference

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 200


def nav_pages(nav) -> list[str]:
    """Every page path in mkdocs.yml's nav, nested sections included."""
    pages = []
    for item in nav if isinstance(nav, list) else [nav]:
        if isinstance(item, str):
            pages.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return [page for page in pages if "://" not in page]


def mkdocs_config() -> dict:
    return yaml.safe_load((REPO / "mkdocs.yml").read_text())


def test_mkdocs_build_strict_succeeds(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"mkdocs build --strict failed:\n{out.stderr}\n{out.stdout}"
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_nav_lists_every_page_in_docs():
    # mkdocs.yml's `validation.omitted_files: warn` makes the strict build fail on this too; this
    # test says which page is missing without a build.
    listed = set(nav_pages(mkdocs_config()["nav"]))
    present = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert present == listed, f"in docs/ but not in the nav: {sorted(present - listed)}; " \
                              f"in the nav but not in docs/: {sorted(listed - present)}"


def test_config_reference_is_generated_from_the_models():
    committed = (DOCS / "config-reference.md").read_text()
    assert committed == render_config_reference(), \
        f"docs/config-reference.md is out of date with the configuration models; regenerate it with: {COMMAND}"


def test_config_reference_covers_every_section_and_source():
    from importlib.metadata import entry_points

    from monitor.runtime.config import Config

    text = render_config_reference()
    for name in Config.model_fields:
        assert f"| `{name}" in text, name
    for ep in entry_points(group="aiops_maturity.sources"):
        assert f"### `sources.{ep.name}`" in text, ep.name
    assert "0x" not in text and " object at " not in text, "a default rendered as a memory address"
    assert "| `server.port` | integer" in text and "| `store.raw_retention` | duration | `2d` |" in text


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, \
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move details into docs/"


@pytest.mark.parametrize("page", nav_pages(mkdocs_config()["nav"]))
def test_readme_links_to_every_page_in_the_nav(page):
    targets = {target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", README.read_text())}
    assert f"docs/{page}" in targets, f"README.md does not link to docs/{page}"


REPO_PATH = re.compile(r"`((?:signals|collectors|metrics|monitor|tests|dashboards|scripts|bench|docs)/[\w./*-]*)`")


def test_repository_paths_named_in_the_docs_exist():
    # The layout changes (modules move between packages); a path the docs name must still be there.
    missing = []
    for doc in [README, *sorted(DOCS.rglob("*.md"))]:
        for path in sorted(set(REPO_PATH.findall(doc.read_text()))):
            if not any(REPO.glob(path.rstrip("/"))):
                missing.append(f"{doc.relative_to(REPO)}: {path}")
    assert not missing, "paths named in the docs that do not exist:\n" + "\n".join(missing)
