"""A LiteLLM proxy database for the tests: LiteLLM's own schema in a real PostgreSQL, and rows
written by LiteLLM's own code from real `litellm.Router` calls.

- Schema: the `migration.sql` files that ship in `litellm-proxy-extras` (pinned in pyproject.toml),
  applied in name order, which is the order `prisma migrate deploy` applies them in.
- Traffic: a Router with mock deployments (successes, a rate-limited deployment whose failures
  fall back, a dead endpoint with and without fallback, cache hits), three teams identified as
  the proxy identifies them (team alias, team id, a `team:` tag) and unattributed calls.
- Rows: on success, `get_logging_payload` (litellm/proxy/spend_tracking) builds the spend-log row
  from the callback's kwargs, as the proxy's `_ProxyDBLogger` does; when the request fails, the
  proxy's own failure hook (`_ProxyDBLogger.async_post_call_failure_hook`) builds it, with a spend
  writer that keeps the row instead of queueing it for Prisma. The push payloads (the callback's
  `standard_logging_object`) of the same calls are kept too, so both routes see the same traffic.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import logging
import random
import uuid
import warnings
from pathlib import Path

import litellm_proxy_extras
import psycopg

MIGRATIONS = Path(litellm_proxy_extras.__file__).parent / "migrations"

MODEL_LIST = [
    {"model_name": "gpt-4o-mini", "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "hi", "api_key": "x"}},
    {"model_name": "claude-fast", "litellm_params": {"model": "anthropic/claude-3-5-haiku-20241022",
                                                     "mock_response": "hello", "api_key": "x"}},
    {"model_name": "flaky", "litellm_params": {"model": "openai/gpt-4o", "mock_response": "litellm.RateLimitError",
                                               "api_key": "x"}},
    {"model_name": "dead-endpoint", "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1",
                                                       "api_key": "x"}},
    {"model_name": "dead-no-fallback", "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1",
                                                          "api_key": "x"}},
]
FALLBACKS = [{"flaky": ["gpt-4o-mini"]}, {"dead-endpoint": ["claude-fast"]}]
# (team, how the proxy knows it, models and weights)
TEAMS = (
    ("search", "alias", (("gpt-4o-mini", 5), ("flaky", 2), ("claude-fast", 1))),
    ("support", "id", (("claude-fast", 4), ("dead-endpoint", 2), ("gpt-4o-mini", 1))),
    ("billing", "tag", (("gpt-4o-mini", 6), ("dead-no-fallback", 1))),
    (None, "none", (("gpt-4o-mini", 1),)),
)


def _proxy_modules():
    """LiteLLM's proxy code. Importing it trips pydantic deprecation notices in LiteLLM's own models
    (`Field(example=...)`) and leaves a directory iterator open; nothing of ours, so both are
    silenced for the import alone (the iterator is collected here, inside the filter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", ResourceWarning)
        import litellm.proxy.proxy_server  # noqa: F401 - the failure hook imports it (general_settings)
        from litellm.proxy._types import UserAPIKeyAuth
        from litellm.proxy.hooks.proxy_track_cost_callback import _ProxyDBLogger
        from litellm.proxy.spend_tracking.spend_tracking_utils import get_logging_payload
        gc.collect()
    return UserAPIKeyAuth, _ProxyDBLogger, get_logging_payload


def apply_schema(dsn: str) -> int:
    """LiteLLM's migrations in the order prisma applies them; returns how many were applied."""
    files = sorted(MIGRATIONS.glob("*/migration.sql"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in files:
            conn.execute(path.read_text())
    return len(files)


def _identity(team: str | None, how: str) -> tuple[dict, dict]:
    """(Router metadata as the proxy fills it, UserAPIKeyAuth fields) for a team."""
    key = {"user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
           "user_api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"}
    if how == "alias":
        return {**key, "user_api_key_team_alias": team, "user_api_key_team_id": f"id-{team}"}, \
            {"team_id": f"id-{team}", "team_alias": team}
    if how == "id":
        return {**key, "user_api_key_team_id": team}, {"team_id": team}
    if how == "tag":
        return {**key, "tags": [f"team:{team}"]}, {}
    return {}, {}


class Recorder:
    """Runs Router calls and keeps what each route would receive."""

    def __init__(self) -> None:
        import litellm
        from litellm import Router
        from litellm.caching.caching import Cache
        from litellm.integrations.custom_logger import CustomLogger

        _, _, get_logging_payload = _proxy_modules()

        self.payloads: list[dict] = []    # push route: standard_logging_object of every attempt
        self.spend_rows: list[dict] = []  # database route: what the proxy writes to LiteLLM_SpendLogs
        recorder = self

        class Capture(CustomLogger):
            async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
                recorder.payloads.append(kwargs["standard_logging_object"])
                row = get_logging_payload(kwargs=kwargs, response_obj=response_obj, start_time=start_time,
                                          end_time=end_time)
                row["spend"] = kwargs["standard_logging_object"].get("response_cost") or 0.0  # as update_database
                recorder.spend_rows.append(row)

            async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
                recorder.payloads.append(kwargs["standard_logging_object"])

        litellm.cache = Cache(type="local")
        litellm.suppress_debug_info = True
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        # LiteLLM copies `callbacks` into its own success/failure lists on first use: start from empty
        # lists, or an earlier Recorder's logger would keep receiving this one's calls.
        litellm.logging_callback_manager._reset_all_callbacks()
        litellm.callbacks = [Capture()]
        self.router = Router(model_list=MODEL_LIST, fallbacks=FALLBACKS, num_retries=0, disable_cooldowns=True,
                             timeout=5)
        self._get_logging_payload = get_logging_payload

    async def _failure_row(self, request_data: dict, exc: Exception, auth: dict) -> None:
        UserAPIKeyAuth, _ProxyDBLogger, _ = _proxy_modules()
        recorder = self

        class KeepRow:  # the proxy's DBSpendUpdateWriter.update_database, minus the Prisma queue
            async def update_database(self, *, kwargs, completion_response, start_time, end_time, response_cost, **_):
                row = recorder._get_logging_payload(kwargs=kwargs, response_obj=completion_response,
                                                    start_time=start_time, end_time=end_time)
                row["spend"] = response_cost or 0.0
                recorder.spend_rows.append(row)

        hook = _ProxyDBLogger(spend_writer=lambda: KeepRow())
        key = UserAPIKeyAuth(api_key=request_data["metadata"].get("user_api_key_hash"),
                             request_route="/chat/completions", **auth)
        await hook.async_post_call_failure_hook(request_data, exc, key)

    async def call(self, team: str | None, how: str, model: str, repeated: bool, rng: random.Random) -> None:
        metadata, auth = _identity(team, how)
        call_id = str(uuid.uuid4())
        prompt = f"faq #{rng.randrange(3)}" if repeated else f"question {rng.getrandbits(48):x}"
        data = {"model": model, "messages": [{"role": "user", "content": prompt}], "metadata": dict(metadata),
                "litellm_call_id": call_id}
        started = dt.datetime.now()
        try:
            # The proxy hands the Router its request's metadata dict, which the Router fills (model group,
            # deployment): the failure hook then reads the same dict.
            await self.router.acompletion(litellm_call_id=call_id, model=model, messages=data["messages"],
                                          metadata=data["metadata"], caching=repeated,
                                          mock_delay=rng.uniform(0.001, 0.02))
        except Exception as exc:  # noqa: BLE001 - the proxy's failure hook writes the failed request's row
            data["start_time"] = started
            await self._failure_row(data, exc, auth)

    async def run(self, requests: int, seed: int = 5) -> None:
        rng = random.Random(seed)
        for _ in range(requests):
            team, how, models = rng.choice(TEAMS)
            model = rng.choices([m for m, _ in models], weights=[w for _, w in models])[0]
            await self.call(team, how, model, rng.random() < 0.3, rng)
        # LiteLLM runs success callbacks as background tasks: wait until every request has its row
        # (one per request, success or failure) and the payloads have stopped arriving.
        deadline = asyncio.get_running_loop().time() + 60
        seen = -1
        while len(self.spend_rows) < requests or len(self.payloads) != seen:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(self.spend_rows)} spend-log rows for {requests} requests after 60 s")
            seen = len(self.payloads)
            await asyncio.sleep(0.2)
        import litellm

        litellm.logging_callback_manager._reset_all_callbacks()  # later tests get a clean LiteLLM


def insert_spend_rows(dsn: str, rows: list[dict], shift: float = 0.0) -> None:
    """Rows into LiteLLM_SpendLogs as the proxy's writer does (JSON columns as JSON), moved by
    `shift` seconds (to place recorded traffic in the past)."""
    columns = ["request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
               "startTime", "endTime", "model", "model_id", "model_group", "custom_llm_provider", "api_base", "user",
               "metadata", "cache_hit", "cache_key", "request_tags", "team_id", "end_user", "session_id", "status"]
    json_columns = {"metadata", "request_tags"}
    values = []
    for row in rows:
        record = []
        for name in columns:
            value = row.get(name)
            if name in ("startTime", "endTime"):
                value = _as_datetime(value) + dt.timedelta(seconds=shift)
            elif name in json_columns:
                value = value if isinstance(value, str) else json.dumps(value)
            record.append(value)
        values.append(record)
    quoted = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("%s::jsonb" if c in json_columns else "%s" for c in columns)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(f'INSERT INTO "LiteLLM_SpendLogs" ({quoted}) VALUES ({marks})', values)


def _as_datetime(value) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def copy_rows(rows: list[dict], tag: str) -> list[dict]:
    """The same calls again as other requests (new request and call ids): more traffic of one shape."""
    copies = []
    for row in rows:
        metadata = json.loads(row["metadata"]) if isinstance(row["metadata"], str) else dict(row["metadata"])
        metadata["litellm_call_id"] = f"{metadata.get('litellm_call_id')}-{tag}"
        copies.append({**row, "request_id": f"{row['request_id']}-{tag}", "metadata": json.dumps(metadata)})
    return copies


def copy_payloads(payloads: list[dict], tag: str, shift: float) -> list[dict]:
    return [{**p, "id": f"{p['id']}-{tag}", "litellm_call_id": f"{p['litellm_call_id']}-{tag}",
             "startTime": p["startTime"] + shift, "endTime": p["endTime"] + shift} for p in payloads]


def roll_up_days(dsn: str) -> None:
    """LiteLLM_DailyTeamSpend from the spend logs, per team, day, key and model, as the proxy's daily
    writer keeps it (our aggregation: the proxy's needs its Prisma client)."""
    with psycopg.connect(dsn) as conn:
        conn.execute('''INSERT INTO "LiteLLM_DailyTeamSpend" (id, team_id, date, api_key, model, model_group,
                custom_llm_provider, spend, api_requests, successful_requests, failed_requests, updated_at)
            SELECT gen_random_uuid()::text, NULLIF(team_id, ''), to_char("startTime", 'YYYY-MM-DD'), api_key, model,
                model_group, custom_llm_provider, sum(spend), count(*), count(*) FILTER (WHERE status <> 'failure'),
                count(*) FILTER (WHERE status = 'failure'), now()
            FROM "LiteLLM_SpendLogs"
            GROUP BY NULLIF(team_id, ''), to_char("startTime", 'YYYY-MM-DD'), api_key, model, model_group, custom_llm_provider''')


def delete_rows_before(dsn: str, before: dt.datetime) -> int:
    """The proxy's spend-log retention: rows older than `before` are gone."""
    with psycopg.connect(dsn) as conn:
        return conn.execute('DELETE FROM "LiteLLM_SpendLogs" WHERE "startTime" < %s', (before,)).rowcount
