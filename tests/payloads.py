"""Build StandardLoggingPayloads for tests from a recorded one, changing only what a test needs."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from tests.recorded import LITELLM_SAMPLES

SAMPLES = LITELLM_SAMPLES


@lru_cache(maxsize=None)
def _template(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())["standard_logging_object"]


def payload(call_id: str, attempt: int = 0, *, status: str = "success", start: float = 1_800_000_000.0,
            latency: float = 0.1, cost: float = 0.001, cache_hit: bool = False, team_alias: str | None = None,
            team_id: str | None = None, tags: list[str] | None = None, error_code: str | None = None,
            error_class: str | None = None) -> dict:
    template = _template("payload_success.json" if status == "success" else "payload_failure.json")
    p = copy.deepcopy(template)
    p["id"] = f"{call_id}-{attempt}"
    p["litellm_call_id"] = call_id
    p["trace_id"] = f"trace-{call_id}"
    p["status"] = status
    p["startTime"] = start
    p["endTime"] = start + latency
    p["response_cost"] = 0.0 if cache_hit else cost
    p["cache_hit"] = cache_hit
    p["metadata"]["user_api_key_team_alias"] = team_alias
    p["metadata"]["user_api_key_team_id"] = team_id
    p["request_tags"] = list(tags or [])
    if status == "failure":
        p["error_information"]["error_code"] = error_code or "500"
        p["error_information"]["error_class"] = error_class or "InternalServerError"
    return p
