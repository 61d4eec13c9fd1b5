"""Where the recorded fixtures live (see tests/fixtures/README.md): the one place naming their paths."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LITELLM_SAMPLES = FIXTURES / "litellm"
LANGFUSE_SPECS = {
    "v3": FIXTURES / "langfuse" / "langfuse-openapi-v3.225.4.yml",
    "v4": FIXTURES / "langfuse" / "langfuse-openapi-v4-main.yml",
}
