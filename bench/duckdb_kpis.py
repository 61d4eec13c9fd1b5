"""The gateway KPIs of the contract (README, "Gateway KPI definitions") written independently in SQL.

DuckDB reads the same files as `replay` and computes the same numbers: a second implementation of
the contract, so agreement cross-checks our definitions and disagreement points at one of them.
Only the fields the KPIs need are declared as columns; DuckDB still parses every payload whole.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

HEALTH_CHECK_TAG = "litellm-internal-health-check"
TEAM_TAG_PREFIX = "team:"
CLIENT_ERROR_CLASSES = (  # same list as collectors/litellm/payload.py, restated on purpose
    "BadRequestError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
    "UnprocessableEntityError", "ContentPolicyViolationError", "ContextWindowExceededError",
    "UnsupportedParamsError", "BudgetExceededError", "InvalidRequestError",
)
COLUMNS = {
    "id": "VARCHAR",
    "litellm_call_id": "VARCHAR",
    "status": "VARCHAR",
    "startTime": "DOUBLE",
    "endTime": "DOUBLE",
    "cache_hit": "BOOLEAN",
    "response_cost": "DOUBLE",
    "metadata": "STRUCT(user_api_key_team_alias VARCHAR, user_api_key_team_id VARCHAR)",
    "request_tags": "VARCHAR[]",
    "error_information": "STRUCT(error_code VARCHAR, error_class VARCHAR)",
    "model_group": "VARCHAR",
    "model_id": "VARCHAR",
    "api_base": "VARCHAR",
    "custom_llm_provider": "VARCHAR",
}
# The reader format per layout of generate.py: single objects, JSON arrays, JSON lines.
LAYOUTS = {"single": ("unstructured", "json"), "array": ("array", "json"), "jsonl": ("newline_delimited", "jsonl")}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader(data_dir: Path, layout: str) -> str:
    fmt, ext = LAYOUTS[layout]
    globs = [str(data_dir / layout / "**" / f"*.{ext}"), str(data_dir / layout / "**" / f"*.{ext}.gz")]
    columns = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in COLUMNS.items()) + "}"
    return (f"SELECT * FROM read_json([{', '.join(map(_quote, globs))}], format={_quote(fmt)}, "
            f"columns={columns}, compression='auto')")


def kpi_sql(data_dir: Path) -> str:
    payloads = "\n    UNION ALL ".join(_reader(data_dir, layout) for layout in LAYOUTS)
    prefix_len = len(TEAM_TAG_PREFIX)
    client_classes = ", ".join(map(_quote, CLIENT_ERROR_CLASSES))
    return f"""
WITH payloads AS (
    {payloads}
),
attempts AS (  -- health probes out; a redelivered payload (same id, same start) counted once.
    -- Not the id alone: LiteLLM gives a failed attempt its call id as id, so the two failed
    -- attempts of a fallback that fails too share an id and differ only by start time.
    SELECT DISTINCT ON (id, printf('%.6f', startTime))
        id,
        coalesce(nullif(litellm_call_id, ''), id) AS call_id,
        status = 'success' AS success,
        coalesce(cache_hit, false) AS cache_hit,
        coalesce(response_cost, 0.0) AS cost,
        startTime AS t_start,
        endTime AS t_end,
        coalesce(nullif(metadata.user_api_key_team_alias, ''), nullif(metadata.user_api_key_team_id, ''),
                 substr(list_filter(coalesce(request_tags, []),
                                    lambda t: starts_with(t, {_quote(TEAM_TAG_PREFIX)})
                                              AND length(t) > {prefix_len})[1],
                        {prefix_len + 1})) AS team,
        try_cast(nullif(error_information.error_code, '') AS INTEGER) AS code,
        error_information.error_class AS error_class,
        -- a failure naming no deployment was raised before routing: it never reached a provider
        coalesce(model_group, '') <> '' OR coalesce(model_id, '') <> '' OR coalesce(api_base, '') <> ''
            OR coalesce(custom_llm_provider, '') <> '' AS reached_provider
    FROM payloads
    WHERE NOT list_contains(coalesce(request_tags, []), {_quote(HEALTH_CHECK_TAG)})
),
classified AS (  -- provider attempt: not a cache hit; a success, or a failure that reached a
                 -- provider and was not the client's fault (4xx other than 408/429)
    SELECT *,
        NOT cache_hit AND (success OR (reached_provider AND NOT CASE
            WHEN code IS NOT NULL THEN code BETWEEN 400 AND 499 AND code NOT IN (408, 429)
            ELSE coalesce(error_class IN ({client_classes}), false) END)) AS provider_attempt
    FROM attempts
),
requests AS (  -- a request is a call id; it succeeded if any attempt did
    SELECT call_id,
        bool_or(success) AS success,
        bool_or(cache_hit) AS cache_hit,
        sum(cost) AS cost,
        bool_or(team IS NOT NULL) AS attributed,
        count(*) AS attempts,
        count(*) FILTER (WHERE provider_attempt) AS provider_attempts,
        count(*) FILTER (WHERE provider_attempt AND success) AS provider_successes,
        min(t_start) AS first_start,
        max(t_end) AS last_end,
        max(t_end) - min(t_start) AS latency
    FROM classified GROUP BY call_id
)
SELECT
    count(*) AS requests,
    count(*) FILTER (WHERE NOT success) AS failed_requests,
    count(*) FILTER (WHERE cache_hit) AS cache_hit_requests,
    sum(attempts) AS attempts,
    sum(provider_attempts) AS provider_attempts,
    sum(provider_successes) AS provider_successes,
    sum(cost) AS cost_usd,
    coalesce(sum(cost) FILTER (WHERE attributed), 0.0) AS attributed_cost_usd,
    quantile_cont(latency, 0.5) AS latency_p50,
    quantile_cont(latency, 0.95) AS latency_p95,
    min(first_start) AS first_start,
    max(last_end) AS last_end
FROM requests
"""


def duckdb_kpis(data_dir: Path) -> dict[str, float | None]:
    """KPI values (ids as in the catalog) plus the raw counts they came from."""
    con = duckdb.connect()  # in memory, default threads (all cores): DuckDB at its best
    try:
        cursor = con.execute(kpi_sql(data_dir))
        row = dict(zip([d[0] for d in cursor.description], cursor.fetchone()))
    finally:
        con.close()
    requests = row["requests"]

    def ratio(numerator: float, denominator: float) -> float | None:
        return numerator / denominator if denominator else None

    days = (row["last_end"] - row["first_start"]) / 86400.0
    kpis = {
        "api_error_rate": ratio(row["failed_requests"], requests),
        "provider_availability": ratio(row["provider_successes"], row["provider_attempts"]),
        "cache_hit_rate": ratio(row["cache_hit_requests"], requests),
        "monthly_spend_usd": row["cost_usd"],
        "cost_attribution_coverage": ratio(row["attributed_cost_usd"], row["cost_usd"]),
        "request_volume": ratio(requests, days),
        "gateway_latency_p50_seconds": row["latency_p50"],
        "latency_p95_seconds": row["latency_p95"],
    }
    return {"kpis": kpis, "counts": {k: row[k] for k in ("requests", "failed_requests", "cache_hit_requests",
                                                             "attempts", "provider_attempts", "provider_successes")}}
