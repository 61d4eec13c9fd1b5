from pathlib import Path

from metrics.catalog import load_catalog
from metrics.docs import kpi_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_kpi_table_matches_the_catalog():
    text = README.read_text()
    start, end = text.index("<!-- kpi-table:start -->\n"), text.index("<!-- kpi-table:end -->")
    in_readme = text[start + len("<!-- kpi-table:start -->\n"):end].strip()
    assert in_readme == kpi_table(load_catalog("aiops")), "regenerate with: python -m metrics.docs"


def test_readme_names_the_test_command_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "bash scripts/test.sh" in README.read_text()


def test_readme_assessment_mapping_matches_mapping_md():
    text = README.read_text()
    start = text.index("<!-- assessment-mapping:start -->\n") + len("<!-- assessment-mapping:start -->\n")
    in_readme = text[start:text.index("<!-- assessment-mapping:end -->")].strip()
    mapping = (README.parent / "metrics" / "assessment" / "MAPPING.md").read_text().split("\n", 1)[1].strip()
    assert in_readme == mapping.replace("\n## ", "\n### ")
