"""One parser of LiteLLM's StandardLoggingPayload, shared by every route (push, callback, files).

Payloads are decoded with msgspec into typed structs that name only the fields the KPIs need:
the decoder skips everything else (messages, responses, headers, keys) without building it, which
is both what makes ingest and replay fast and why content is never held, let alone stored. The
contract (README, "Gateway KPI definitions") is applied here at the attempt level:
health probes are marked, and each failed attempt is classified as the provider's fault or not.
"""
from __future__ import annotations

from dataclasses import dataclass

import msgspec

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


# ---------------------------------------------------------------- wire shapes (fields we read)
# gc=False: these structs hold no reference cycles, and keeping them out of the garbage collector
# removes a large share of the cost of decoding tens of thousands of payloads.
class _ErrorInformation(msgspec.Struct, gc=False):
    error_code: str | int | None = None
    error_class: str | None = None


class _Metadata(msgspec.Struct, gc=False):
    user_api_key_team_alias: str | int | None = None
    user_api_key_team_id: str | int | None = None
    user_api_key_hash: str | None = None


class _StatusFields(msgspec.Struct, gc=False):
    guardrail_status: str | None = None


class LoggingPayload(msgspec.Struct, gc=False):
    id: str | None = None
    litellm_call_id: str | None = None
    trace_id: str | None = None
    status: str | None = None
    startTime: float | None = None
    endTime: float | None = None
    response_cost: float | None = None
    cache_hit: bool | None = None
    metadata: _Metadata | None = None
    request_tags: list[str | None] | None = None
    model_group: str | None = None
    model_id: str | None = None
    api_base: str | None = None
    custom_llm_provider: str | None = None
    error_information: _ErrorInformation | None = None
    status_fields: _StatusFields | None = None
    # A CustomLogger callback's kwargs carry the payload under this key.
    standard_logging_object: "LoggingPayload | None" = None


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


def _is_client_error(error: _ErrorInformation | None) -> bool:
    if error is None:
        return False
    code = error.error_code
    if isinstance(code, str):
        code = int(code) if code.strip().isdigit() else None
    if code is not None:
        return 400 <= code < 500 and code not in _PROVIDER_4XX
    return error.error_class in _CLIENT_ERROR_CLASSES


def _reached_provider(p: LoggingPayload) -> bool:
    """A failure the proxy raised before routing (bad key in custom auth, unknown model) names no
    deployment, provider or endpoint: it never reached a provider, whatever its status code."""
    return bool(p.model_group or p.model_id or p.api_base or p.custom_llm_provider)


def team_of(metadata: _Metadata | None, tags: list | None, tag_prefix: str | None) -> str | None:
    """Team identity: team alias, else team id, else the first request tag with the prefix."""
    if metadata is not None:
        team = metadata.user_api_key_team_alias or metadata.user_api_key_team_id
        if team:
            return str(team)
    if tag_prefix and tags:
        for tag in tags:
            if isinstance(tag, str) and tag.startswith(tag_prefix) and len(tag) > len(tag_prefix):
                return tag[len(tag_prefix):]
    return None


def attempt_from(p: LoggingPayload, tag_prefix: str | None = "team:") -> Attempt:
    """The semantic checks and the contract's classification, on a decoded payload."""
    if p.standard_logging_object is not None:
        p = p.standard_logging_object
    if not p.id:
        raise PayloadError("field 'id' is missing")
    if p.status not in ("success", "failure"):
        raise PayloadError(f"field 'status' must be 'success' or 'failure', got {p.status!r}")
    if p.startTime is None or p.endTime is None:
        raise PayloadError(f"field '{'startTime' if p.startTime is None else 'endTime'}' is missing")
    if p.endTime < p.startTime:
        raise PayloadError("field 'endTime' is before 'startTime'")
    success = p.status == "success"
    cache_hit = p.cache_hit is True
    tags = p.request_tags or ()
    error = p.error_information
    return Attempt(
        id=p.id,
        key=f"{p.id}@{p.startTime:.6f}",
        call_id=p.litellm_call_id or p.id,
        trace_id=p.trace_id,
        start=p.startTime,
        end=p.endTime,
        success=success,
        cache_hit=cache_hit,
        cost=p.response_cost or 0.0,
        team=team_of(p.metadata, tags, tag_prefix),
        health_check=HEALTH_CHECK_TAG in tags,
        provider_attempt=not cache_hit and (success or (_reached_provider(p) and not _is_client_error(error))),
        model_group=p.model_group or "",
        authenticated=bool(p.metadata and p.metadata.user_api_key_hash),
        guardrail_run=bool(p.status_fields and p.status_fields.guardrail_status not in (None, "", "not_run")),
        budget_exceeded=bool(error and error.error_class == "BudgetExceededError"),
    )


def _validation_message(exc: msgspec.ValidationError) -> str:
    # msgspec says e.g. "Expected `float`, got `str` - at `$.startTime`": the path names the field.
    return str(exc).replace("$.standard_logging_object.", "$.")


def parse_attempt(obj: object, tag_prefix: str | None = "team:") -> Attempt:
    """Read one payload: a decoded struct, or a dict (a StandardLoggingPayload or callback kwargs)."""
    if not isinstance(obj, LoggingPayload):
        if not isinstance(obj, dict):
            raise PayloadError(f"payload must be a JSON object, got {type(obj).__name__}")
        try:
            obj = msgspec.convert(obj, LoggingPayload)
        except msgspec.ValidationError as exc:
            raise PayloadError(_validation_message(exc)) from None
    return attempt_from(obj, tag_prefix)


# ---------------------------------------------------------------- documents
_batch = msgspec.json.Decoder(list[LoggingPayload])
_single = msgspec.json.Decoder(LoggingPayload)
_raw_items = msgspec.json.Decoder(list[msgspec.Raw])
_raw_whole = msgspec.json.Decoder(msgspec.Raw)  # checks the syntax, builds nothing


def decode_item(raw: bytes | msgspec.Raw) -> LoggingPayload:
    try:
        return _single.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise PayloadError(_validation_message(exc) if isinstance(exc, msgspec.ValidationError)
                           else f"not JSON ({exc})") from None


def decode_document(data: bytes) -> tuple[list[LoggingPayload], list[tuple[int, str]]]:
    """A JSON array of payloads, one payload, or JSON lines -> (payloads, [(position, error)]).

    The whole array is decoded in one call when every item is well formed (the common case); a
    bad item sends the document down the per-item path, so it is rejected alone."""
    try:
        return _batch.decode(data), []
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    try:
        _raw_whole.decode(data)
    except msgspec.DecodeError:  # not one JSON value: JSON lines
        raws = [msgspec.Raw(line) for line in data.splitlines() if line.strip()]
    else:
        raws = _raw_items.decode(data) if data.lstrip()[:1] == b"[" else [msgspec.Raw(data)]
    payloads, errors = [], []
    for position, raw in enumerate(raws):
        try:
            payloads.append(decode_item(raw))
        except PayloadError as exc:
            errors.append((position, str(exc)))
    return payloads, errors
