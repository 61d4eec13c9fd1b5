from pathlib import Path

from metrics.catalog import load_catalog
from metrics.docs import kpi_table

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
KPIS_PAGE = REPO / "docs" / "kpis.md"
ASSESSMENT_PAGE = REPO / "docs" / "assessment.md"


def between(text: str, name: str) -> str:
    start = text.index(f"<!-- {name}:start -->\n") + len(f"<!-- {name}:start -->\n")
    return text[start:text.index(f"<!-- {name}:end -->")].strip()


def test_docs_kpi_table_matches_the_catalog():
    in_docs = between(KPIS_PAGE.read_text(), "kpi-table")
    assert in_docs == kpi_table(load_catalog("aiops")), \
        "docs/kpis.md is out of step with the catalog; regenerate the table with: python -m metrics.docs"


def test_readme_names_the_test_command_ci_runs():
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "bash scripts/test.sh" in README.read_text()


def test_docs_assessment_mapping_matches_mapping_md():
    in_docs = between(ASSESSMENT_PAGE.read_text(), "assessment-mapping")
    mapping = (REPO / "metrics" / "assessment" / "MAPPING.md").read_text().split("\n", 1)[1].strip()
    assert in_docs == mapping, \
        "docs/assessment.md is out of step with metrics/assessment/MAPPING.md; copy the file below its title " \
        "between the assessment-mapping markers"
