"""One parser of LiteLLM's StandardLoggingPayload, shared by every route (push, callback, files).

Only the fields the KPIs need are kept: never messages, responses, headers or keys. The contract
(../shared/DESIGN.md, "KPI definitions for gateway data") is applied here at the attempt level:
health probes are marked, and each failed attempt is classified as the provider's fault or the
client's.
"""
from __future__ import annotations

from dataclasses import dataclass

HEALTH_CHECK_TAG = "litellm-internal-health-check"

# HTTP 4xx are the caller's fault and do not count against the provider, except these two.
_PROVIDER_4XX = {408, 429}
# When error_code is missing, LiteLLM's exception class still tells a client error apart.
_CLIENT_ERROR_CLASSES = {
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "UnprocessableEntityError",
    "ContentPolicyViolationError",
    "ContextWindowExceededError",
    "UnsupportedParamsError",
    "BudgetExceededError",
    "InvalidRequestError",
}


class PayloadError(ValueError):
    """A payload that cannot be read as a StandardLoggingPayload; the message names the field."""


@dataclass(slots=True, frozen=True)
class Attempt:
    """One call to a deployment (or the cache) as LiteLLM logged it."""

    id: str
    # Dedup key. LiteLLM gives a failed attempt the request's litellm_call_id as its `id`, so two
    # failed attempts of one request (a fallback that fails too) share an id; the start time
    # tells them apart, while a re-posted payload (same id, same start) is still counted once.
    key: str
    call_id: str
    trace_id: str | None
    start: float
    end: float
    success: bool
    cache_hit: bool
    cost: float
    team: str | None
    health_check: bool
    # True when this attempt reached a provider and its outcome is the provider's doing:
    # not a cache hit and not a client error (4xx other than 408/429).
    provider_attempt: bool
    model_group: str
    # Evidence for the self-assessment (gateway auth, guardrails, budgets):
    authenticated: bool = False  # the proxy resolved an API key for the call
    guardrail_run: bool = False  # a guardrail ran on the call
    budget_exceeded: bool = False  # the gateway refused the call for budget


def _error_code(payload: dict) -> int | None:
    info = payload.get("error_information") or {}
    code = info.get("error_code") if isinstance(info, dict) else None
    if code in (None, ""):
        return None
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def _is_client_error(payload: dict) -> bool:
    code = _error_code(payload)
    if code is not None:
        return 400 <= code < 500 and code not in _PROVIDER_4XX
    info = payload.get("error_information") or {}
    return isinstance(info, dict) and info.get("error_class") in _CLIENT_ERROR_CLASSES


def _reached_provider(payload: dict) -> bool:
    """A failure the proxy raised before routing (bad key in custom auth, unknown model) names no
    deployment, provider or endpoint: it never reached a provider, whatever its status code."""
    return any(payload.get(key) for key in ("model_group", "model_id", "api_base", "custom_llm_provider"))


def team_of(metadata: dict, tags: list, tag_prefix: str | None) -> str | None:
    """Team identity: team alias, else team id, else the first request tag with the prefix."""
    team = metadata.get("user_api_key_team_alias") or metadata.get("user_api_key_team_id")
    if team:
        return str(team)
    if tag_prefix:
        for tag in tags:
            if isinstance(tag, str) and tag.startswith(tag_prefix) and len(tag) > len(tag_prefix):
                return tag[len(tag_prefix):]
    return None


def _number(payload: dict, key: str, default: float | None = None) -> float:
    value = payload.get(key, default)
    if value is None:
        if default is None:
            raise PayloadError(f"field '{key}' is missing")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PayloadError(f"field '{key}' must be a number, got {type(value).__name__}")
    return float(value)


def parse_attempt(obj: object, tag_prefix: str | None = "team:") -> Attempt:
    """Read one payload: a StandardLoggingPayload, or a callback's kwargs holding one."""
    if not isinstance(obj, dict):
        raise PayloadError(f"payload must be a JSON object, got {type(obj).__name__}")
    payload = obj.get("standard_logging_object", obj)
    if not isinstance(payload, dict):
        raise PayloadError("field 'standard_logging_object' must be an object")
    attempt_id = payload.get("id")
    call_id = payload.get("litellm_call_id") or attempt_id
    if not isinstance(attempt_id, str) or not attempt_id:
        raise PayloadError("field 'id' is missing or not a string")
    if not isinstance(call_id, str):
        raise PayloadError("field 'litellm_call_id' is not a string")
    status = payload.get("status")
    if status not in ("success", "failure"):
        raise PayloadError(f"field 'status' must be 'success' or 'failure', got {status!r}")
    start = _number(payload, "startTime")
    end = _number(payload, "endTime")
    if end < start:
        raise PayloadError("field 'endTime' is before 'startTime'")
    cost = _number(payload, "response_cost", 0.0)
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise PayloadError("field 'metadata' must be an object")
    tags = payload.get("request_tags") or []
    if not isinstance(tags, list):
        raise PayloadError("field 'request_tags' must be a list")
    success = status == "success"
    status_fields = payload.get("status_fields") or {}
    guardrail_status = status_fields.get("guardrail_status") if isinstance(status_fields, dict) else None
    error_info = payload.get("error_information") or {}
    error_class = error_info.get("error_class") if isinstance(error_info, dict) else None
    cache_hit = payload.get("cache_hit") is True
    trace_id = payload.get("trace_id")
    return Attempt(
        id=attempt_id,
        key=f"{attempt_id}@{start:.6f}",
        call_id=call_id,
        trace_id=trace_id if isinstance(trace_id, str) else None,
        start=start,
        end=end,
        success=success,
        cache_hit=cache_hit,
        cost=cost,
        team=team_of(metadata, tags, tag_prefix),
        health_check=HEALTH_CHECK_TAG in tags,
        provider_attempt=not cache_hit and (success or (_reached_provider(payload) and not _is_client_error(payload))),
        model_group=str(payload.get("model_group") or ""),
        authenticated=bool(metadata.get("user_api_key_hash")),
        guardrail_run=guardrail_status not in (None, "", "not_run"),
        budget_exceeded=error_class == "BudgetExceededError",
    )
