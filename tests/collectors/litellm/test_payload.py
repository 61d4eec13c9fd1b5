import pytest

from collectors.litellm.payload import PayloadError, parse_attempt
from tests.payloads import payload


def test_success_attempt_fields():
    a = parse_attempt(payload("c1", start=1_800_000_100.0, latency=0.25, cost=0.002, team_alias="search"))
    assert (a.id, a.call_id, a.success, a.cache_hit, a.team) == ("c1-0", "c1", True, False, "search")
    assert a.end - a.start == pytest.approx(0.25)
    assert a.cost == 0.002 and a.provider_attempt and not a.health_check


def test_callback_kwargs_wrapper_is_unwrapped(samples_dir):
    import json
    kwargs = json.loads((samples_dir / "payload_failure_ratelimit.json").read_text())
    a = parse_attempt(kwargs)
    assert not a.success and a.provider_attempt  # 429 counts against the provider


@pytest.mark.parametrize("code,cls,against_provider", [
    ("429", "RateLimitError", True),
    ("408", "Timeout", True),
    ("500", "InternalServerError", True),
    ("503", "ServiceUnavailableError", True),
    ("400", "BadRequestError", False),
    ("401", "AuthenticationError", False),
    ("404", "NotFoundError", False),
    ("", "BadRequestError", False),  # no code: the class decides
    ("", "APIConnectionError", True),
    ("", "", True),  # nothing known: a failure that reached a provider
])
def test_failure_classification(code, cls, against_provider):
    p = payload("c", status="failure", error_code=code or "x", error_class=cls)
    p["error_information"]["error_code"] = code
    assert parse_attempt(p).provider_attempt is against_provider


def test_cache_hit_is_not_a_provider_attempt():
    a = parse_attempt(payload("c", cache_hit=True))
    assert a.cache_hit and not a.provider_attempt and a.cost == 0.0


def test_team_identity_precedence():
    assert parse_attempt(payload("c", team_alias="a", team_id="id-a", tags=["team:t"])).team == "a"
    assert parse_attempt(payload("c", team_id="id-a", tags=["team:t"])).team == "id-a"
    assert parse_attempt(payload("c", tags=["User-Agent: x", "team:t"])).team == "t"
    assert parse_attempt(payload("c", tags=["team:t"]), tag_prefix=None).team is None
    assert parse_attempt(payload("c", tags=["team:"])).team is None


def test_health_probe_is_marked():
    assert parse_attempt(payload("c", tags=["litellm-internal-health-check"])).health_check


@pytest.mark.parametrize("mutate,field", [
    (lambda p: p.pop("id"), "id"),
    (lambda p: p.update(status="weird"), "status"),
    (lambda p: p.update(startTime="yesterday"), "startTime"),
    (lambda p: p.update(endTime=None), "endTime"),
    (lambda p: p.update(endTime=p["startTime"] - 1), "endTime"),
    (lambda p: p.update(response_cost="free"), "response_cost"),
    (lambda p: p.update(metadata=[1]), "metadata"),
    (lambda p: p.update(request_tags="team:x"), "request_tags"),
])
def test_malformed_payloads_name_the_field(mutate, field):
    p = payload("c")
    mutate(p)
    with pytest.raises(PayloadError, match=field):
        parse_attempt(p)


@pytest.mark.parametrize("bad", [None, 3, "text", [1, 2]])
def test_non_objects_are_rejected(bad):
    with pytest.raises(PayloadError):
        parse_attempt(bad)


def test_failure_raised_before_routing_never_reached_a_provider():
    """e.g. custom auth rejecting a key: HTTP 500, but no deployment, endpoint or provider named."""
    p = payload("c", status="failure", error_code="500", error_class="Exception")
    p.update(model_group="", model_id="", api_base="", custom_llm_provider=None)
    assert not parse_attempt(p).provider_attempt
    p["custom_llm_provider"] = "openai"  # a health probe of a deployment names its provider
    assert parse_attempt(p).provider_attempt
