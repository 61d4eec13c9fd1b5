"""The repository stands on its own: nothing in it reads or cites a path outside it.

A user clones the repository alone, so a test, fixture path, benchmark or doc that points beside
the clone (a sibling folder, an absolute path on a build machine, a contract file that is not
committed) works on the author's machine and nowhere else.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.recorded import FIXTURES, LANGFUSE_SPECS, LITELLM_SAMPLES

REPO = Path(__file__).resolve().parents[1]

# What a reference outside the repository looks like in our files: a parent-folder path into a
# sibling checkout, a pathlib walk above the repo root into one, or a document that is not here.
OUTSIDE = [
    re.compile(r"\.\./(shared|seeds|contracts|samples)\b"),
    re.compile(r"""parents?\s*(\[\s*\d+\s*\])?\s*/\s*["'](shared|seeds|contracts|samples)["']"""),
    re.compile(r"\bDESIGN\.md\b"),
    re.compile(r"/work/(main|shared)\b"),
]
# Recorded fixtures are data from elsewhere, copied in; their README says where they came from.
EXEMPT = ("tests/fixtures/",)


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if out.returncode != 0:  # an exported tree without .git: walk it instead
        return [p for p in REPO.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]
    return [REPO / name for name in out.stdout.decode().split("\0") if name]


def test_no_file_refers_to_a_path_outside_the_repository():
    offenders = []
    for path in tracked_files():
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(EXEMPT) or rel == "tests/test_self_contained.py" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (images)
        for number, line in enumerate(text.splitlines(), 1):
            if any(pattern.search(line) for pattern in OUTSIDE):
                offenders.append(f"{rel}:{number}: {line.strip()[:120]}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_the_pattern_catches_what_it_should():
    # The check above is only worth something if it recognises the forms it forbids.
    for line in ['SAMPLES = ROOT.parent / "shared" / "samples"', "see ../shared/samples/README.md",
                 "Path(__file__).parents[3] / 'contracts'", "as DESIGN.md says"]:
        assert any(p.search(line) for p in OUTSIDE), line
    assert not any(p.search(line) for p in OUTSIDE for line in ["shared by every route", "tests/fixtures/litellm"])


@pytest.mark.parametrize("path", [LITELLM_SAMPLES / "callback_run_payloads.jsonl", LITELLM_SAMPLES / "payload_success.json",
                                  *LANGFUSE_SPECS.values()], ids=lambda p: p.name)
def test_recorded_fixtures_are_committed(path: Path):
    assert path.is_file() and path.is_relative_to(FIXTURES)
    listed = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=REPO, capture_output=True)
    assert listed.returncode == 0, f"{path.relative_to(REPO)} is not committed: a clone would not have it"


def test_relative_links_in_docs_resolve_inside_the_repository():
    broken = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            resolved = (doc.parent / target).resolve()
            if not resolved.is_relative_to(REPO) or not resolved.exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert not broken, "links that leave the repository or lead nowhere:\n" + "\n".join(broken)
