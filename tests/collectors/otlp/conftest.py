"""Fixtures for the OTLP receiver tests (helpers live in otlp_support.py: conftest names clash)."""
from tests.collectors.otlp.otlp_support import running_monitor  # noqa: F401
