"""LiteLLM gateway telemetry: StandardLoggingPayload parsing, push ingest, CustomLogger, bucket files."""
from collectors.litellm.payload import Attempt, PayloadError, parse_attempt

__all__ = ["Attempt", "PayloadError", "parse_attempt"]
