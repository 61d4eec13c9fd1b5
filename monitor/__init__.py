"""Orchestration: the running service (runtime/), the history database (storage/), the weekly digest
(digest/), offline generators (generate/), the CLI (commands/) and the demo (demo/)."""
