"""One parser of LiteLLM's StandardLoggingPayload, shared by every route (push, callback, files).

Payloads are decoded with msgspec into typed structs that name only the fields the KPIs need:
the decoder skips everything else (messages, responses, headers, keys) without building it, which
is both what makes ingest and replay fast and why content is never held, let alone stored. The
contract (docs/contract.md, "Gateway KPI definitions") is applied here at the attempt level:
health probes are marked, and each failed attempt is classified as the provider's fault or not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

from collectors.limits import MAX_ATTEMPT_SECONDS, MAX_COST_USD, MAX_ID_CHARS, MAX_NAME_CHARS, MAX_TIME, MIN_TIME
from signals.errors import AiopsError

HEALTH_CHECK_TAG = "litellm-internal-health-check"

_HTTP_CODE = re.compile(r"[0-9]{1,3}")
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


class PayloadError(AiopsError, ValueError):
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


def client_error(code: str | int | None, error_class: str | None) -> bool:
    """The caller's fault (HTTP 4xx other than 408/429, or a client error class when no code):
    the rule every route applies to a failure (payloads, spend-log rows)."""
    if isinstance(code, str):  # ASCII digits only: "²".isdigit() is true and int() refuses it
        code = int(code) if _HTTP_CODE.fullmatch(code.strip()) else None
    if code is not None:
        return 400 <= code < 500 and code not in _PROVIDER_4XX
    return error_class in _CLIENT_ERROR_CLASSES


def _is_client_error(error: _ErrorInformation | None) -> bool:
    return error is not None and client_error(error.error_code, error.error_class)


def _reached_provider(p: LoggingPayload) -> bool:
    """A failure the proxy raised before routing (bad key in custom auth, unknown model) names no
    deployment, provider or endpoint: it never reached a provider, whatever its status code."""
    return bool(p.model_group or p.model_id or p.api_base or p.custom_llm_provider)


def team_of(metadata: _Metadata | None, tags: list | None, tag_prefix: str | None) -> str | None:
    """Team identity: team alias, else team id, else the first request tag with the prefix."""
    return team_from(metadata.user_api_key_team_alias or metadata.user_api_key_team_id if metadata else None,
                     tags, tag_prefix)


def team_from(identity: str | int | None, tags: list | None, tag_prefix: str | None) -> str | None:
    """`identity` (a team alias or id) when set, else the first request tag with the prefix."""
    if identity:
        return str(identity)
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
    start, end = p.startTime, p.endTime
    if start is None or end is None:
        raise PayloadError(f"field '{'startTime' if start is None else 'endTime'}' is missing")
    # Checked pairwise before naming the field: this runs for every payload ingested.
    if not (MIN_TIME <= start <= MAX_TIME and MIN_TIME <= end <= MAX_TIME):  # also NaN and inf
        name, value = ("startTime", start) if not MIN_TIME <= start <= MAX_TIME else ("endTime", end)
        raise PayloadError(f"field '{name}' is not a unix time in seconds between 2000 and 2100: {value!r}")
    if end < start:
        raise PayloadError("field 'endTime' is before 'startTime'")
    if end - start > MAX_ATTEMPT_SECONDS:
        raise PayloadError(f"the attempt lasts {end - start:.0f} s, more than a day")
    cost = p.response_cost or 0.0
    if not 0.0 <= cost <= MAX_COST_USD:
        raise PayloadError(f"field 'response_cost' must be 0-{MAX_COST_USD:.0f} USD, got {cost!r}")
    for name, value in (("id", p.id), ("litellm_call_id", p.litellm_call_id), ("trace_id", p.trace_id)):
        if value is not None and (len(value) > MAX_ID_CHARS or "\x00" in value):
            raise PayloadError(f"field '{name}' is longer than {MAX_ID_CHARS} characters or holds a NUL character")
    success = p.status == "success"
    cache_hit = p.cache_hit is True
    tags = p.request_tags or ()
    error = p.error_information
    team = team_of(p.metadata, tags, tag_prefix)
    # NUL: PostgreSQL text cannot hold it, so it would fail the whole batch's write instead of this item
    if team is not None and (len(team) > MAX_NAME_CHARS or "\x00" in team):
        raise PayloadError(f"the team identity is longer than {MAX_NAME_CHARS} characters or holds a NUL character")
    if p.model_group is not None and (len(p.model_group) > MAX_NAME_CHARS or "\x00" in p.model_group):
        raise PayloadError(f"field 'model_group' is longer than {MAX_NAME_CHARS} characters or holds a NUL character")
    return Attempt(
        id=p.id,
        key=f"{p.id}@{start:.6f}",
        call_id=p.litellm_call_id or p.id,
        trace_id=p.trace_id,
        start=start,
        end=end,
        success=success,
        cache_hit=cache_hit,
        cost=cost,
        team=team,
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


# What the decoder may raise on hostile input besides its own errors: invalid UTF-8 inside a string,
# and nesting deeper than the interpreter's recursion limit (msgspec recurses per level, even through
# fields it skips; about 1,000 levels, where LiteLLM's payloads use under 10).
_HOSTILE = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def decode_item(raw: bytes | msgspec.Raw) -> LoggingPayload:
    try:
        return _single.decode(raw)
    except msgspec.ValidationError as exc:
        raise PayloadError(_validation_message(exc)) from None
    except msgspec.DecodeError as exc:
        raise PayloadError(f"not JSON ({exc})") from None
    except UnicodeDecodeError:
        raise PayloadError("not valid UTF-8") from None
    except RecursionError:
        raise PayloadError("nested too deeply (JSON nesting beyond the decoder's limit)") from None


def decode_document(data: bytes) -> tuple[list[LoggingPayload], list[tuple[int, str]]]:
    """A JSON array of payloads, one payload, or JSON lines -> (payloads, [(position, error)]).

    The whole array is decoded in one call when every item is well formed (the common case); a
    bad item sends the document down the per-item path, so it is rejected alone."""
    try:
        return _batch.decode(data), []
    except _HOSTILE:
        pass
    lines = [line for line in data.splitlines() if line.strip()]
    if data.lstrip()[:1] == b"[":
        try:
            raws = _raw_items.decode(data)
        except RecursionError:
            raws = split_array(data)  # an item too deep even to skip: split without recursing
        except msgspec.DecodeError:  # JSON lines whose first line is an array, or a broken array
            # JSON lines when the lines stand alone (a pretty-printed array's lines never do)
            raws = lines if len(lines) > 1 and (_is_json(lines[0]) or _is_json(lines[1])) else split_array(data)
    else:
        try:
            _raw_whole.decode(data)
            raws = [msgspec.Raw(data)]
        except (msgspec.DecodeError, RecursionError):  # not one JSON value: JSON lines
            raws = lines
    payloads, errors = [], []
    for position, raw in enumerate(raws):
        try:
            payloads.append(decode_item(raw))
        except PayloadError as exc:
            errors.append((position, str(exc)))
    return payloads, errors


# Strings as one token (so brackets inside them are skipped), and the structural characters.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _is_json(line: bytes) -> bool:
    try:
        _raw_whole.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def split_array(data: bytes) -> list[bytes]:
    """The items of a top-level JSON array as byte slices, found by scanning (no recursion, no
    decoding), so that one item nested too deeply to decode, or malformed, is rejected alone. Only
    reached when the decoder refused the array; each slice is then decoded (and judged) on its own.
    Brackets are matched by kind: a mismatched closer makes the rest of the body one bad item, and
    an array that never closes gives its unfinished tail as one (bad) item, so nothing vanishes
    uncounted."""
    items, stack, begin = [], [], None
    pairs = {b"]": b"[", b"}": b"{"}
    for match in _TOKENS.finditer(data):
        char = match.group()[:1]
        if char == b'"':
            continue
        if char in b"[{":
            stack.append(char)
            if len(stack) == 1:
                begin = match.end()
        elif char in b"]}":
            if not stack or stack[-1] != pairs[char]:
                break  # unbalanced: no reliable boundary from here on
            stack.pop()
            if not stack and begin is not None:
                items.append(data[begin:match.start()])
                return [item for item in items if item.strip()]
        elif len(stack) == 1 and begin is not None:  # a comma between two items
            items.append(data[begin:match.start()])
            begin = match.end()
    if begin is not None:
        items.append(data[begin:])  # the unfinished rest: decoded alone, and rejected
    return [item for item in items if item.strip()]
