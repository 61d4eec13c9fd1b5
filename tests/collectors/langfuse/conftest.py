"""Fixtures for the Langfuse collector tests (helpers live in langfuse_support.py: conftest names clash)."""
from tests.collectors.langfuse.langfuse_support import generation, make_setup  # noqa: F401
