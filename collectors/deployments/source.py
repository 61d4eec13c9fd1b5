"""Source `deployments`: DORA metrics for prompts and models (seed 001).

Config: every key of `sources.deployments` is in docs/config-reference.md, generated from
`DeploymentsConfig`; the pollers (LiteLLM model list, Langfuse prompt labels) and the webhook:
docs/sources/deployments.md.
Webhook event: {"kind": "prompt"|"model"|..., "name": str, "version": str, "team"?: str,
                "deployed_at"?: RFC 3339 or unix seconds (default: now), "created_at"?: same}.
KPIs over the trailing 30 days (CycleWindow.spend_start .. now): deployment_frequency,
lead_time_for_changes, change_failure_rate. Time to restore is the incidents' mttr_seconds.
"""
from __future__ import annotations

import logging

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from collectors.deployments.events import Deployment, DeploymentStore, dora_signals
from collectors.deployments.pollers import _when, langfuse_client, poll_langfuse, poll_litellm
from signals.validation import first_error
from collectors.http_guard import BodyTooLarge, STORE_ERRORS, authorized, read_limited, route_token, store_unavailable
from signals.source import CycleWindow, SourceContext, SourceResult
from signals.durations import Duration

log = logging.getLogger("aiops_maturity")


class LiteLLMSide(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description=(
        "Base URL of the LiteLLM proxy whose `/model/info` is read every cycle for new or changed deployments."))
    master_key_env: str = Field(default="LITELLM_MASTER_KEY", description=(
        "Environment variable holding the proxy's master key, sent as a bearer token."))
    team_field: str | None = Field(default=None, description=(
        "Field of a deployment's `model_info` that names its owning team; null leaves model deployments "
        "without a team."))
    timeout: float = Field(default=10.0, description="Timeout of each request to the proxy, in seconds.")


class LangfuseSide(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(description="Base URL of the Langfuse server whose prompt versions are watched.")
    public_key_env: str = Field(default="LANGFUSE_PUBLIC_KEY", description=(
        "Environment variable holding the Langfuse public key."))
    secret_key_env: str = Field(default="LANGFUSE_SECRET_KEY", description=(
        "Environment variable holding the Langfuse secret key."))
    label: str = Field(default="production", description=(
        "Prompt label of the deployed version; a deployment is recorded when it moves to another version."))
    poll_interval: Duration = Field(default=300.0, description="How often the prompts are read.")
    timeout: float = Field(default=20.0, description="Timeout of each request to Langfuse, in seconds.")


class DeploymentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    litellm: LiteLLMSide | None = Field(default=None, description=(
        "Records the model deployments of a LiteLLM proxy; null: off."))
    langfuse: LangfuseSide | None = Field(default=None, description=(
        "Records the prompt versions deployed in Langfuse; null: off."))
    path: str = Field(default="/webhooks/deployments", pattern=r"^/[A-Za-z0-9_\-/]*$", description=(
        "URL path of the webhook route pipelines post deployment events to (a JSON object or array)."))
    token_env: str = Field(default="AIOPS_DEPLOYMENTS_TOKEN", description=(
        "Environment variable holding this route's bearer token; when it is unset the route takes "
        "AIOPS_INGEST_TOKEN."))
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description=(
        "Largest webhook body accepted, in bytes; a larger one is answered 413."))
    failure_window: Duration = Field(default=3600.0, description=(
        "A deployment counts as failed when an incident opens within this long after it."))
    incident_team_label: str | None = Field(default="team", description=(
        "Incident label naming its team: a team's deployment is failed only by incidents of that team or of no "
        "team, and null lets every incident fail every deployment."))
    stale_after: Duration = Field(default=900.0, description=(
        "How long the last collected signals stay in use while collection fails; after that this source's KPIs "
        "show `no_data`."))


class DeploymentEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: str = Field(default="other", min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=512)
    version: str = Field(min_length=1, max_length=256)
    team: str | None = Field(default=None, max_length=256)
    deployed_at: float | str | None = None
    created_at: float | str | None = None


class DeploymentsSource:
    name = "deployments"
    config_model = DeploymentsConfig

    def __init__(self, config: DeploymentsConfig, context: SourceContext) -> None:
        self.config, self.context = config, context
        self.stale_after = config.stale_after
        self.store = DeploymentStore(context.engine)
        self.token = route_token(context.environ, config.token_env, context.route_token)
        self.http = None
        if config.litellm is not None:
            key = context.environ.get(config.litellm.master_key_env)
            self.http = httpx.Client(timeout=config.litellm.timeout, trust_env=False,
                                     headers={"Authorization": f"Bearer {key}"} if key else {})
        self.langfuse = None
        if config.langfuse is not None:
            side = config.langfuse
            self.langfuse = langfuse_client(side.host, context.environ.get(side.public_key_env, ""),
                                            context.environ.get(side.secret_key_env, ""), side.timeout)
        self._last_langfuse = float("-inf")
        self._observed_since = self.store.get_state("observed_since")
        self.rejected = 0

    async def receive(self, request: Request) -> JSONResponse:
        if not authorized(request, self.token):
            self.rejected += 1
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        try:
            body = await read_limited(request, self.config.max_body_bytes)
            data = orjson.loads(body)
            items = [DeploymentEvent.model_validate(d) for d in (data if isinstance(data, list) else [data])]
        except BodyTooLarge:
            self.rejected += 1
            return JSONResponse({"error": f"body larger than {self.config.max_body_bytes} bytes"}, status_code=413)
        except orjson.JSONDecodeError:
            self.rejected += 1
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        except ValidationError as exc:
            self.rejected += 1
            return JSONResponse({"error": first_error(exc)}, status_code=422)
        now = self.context.clock()
        deployments = []
        for item in items:
            deployed, created = _when(item.deployed_at), _when(item.created_at)
            if item.deployed_at is not None and deployed is None or item.created_at is not None and created is None:
                self.rejected += 1
                return JSONResponse({"error": "deployed_at/created_at: RFC 3339 or unix seconds"}, status_code=422)
            deployments.append(Deployment(item.kind, item.name, item.version, deployed if deployed is not None else now,
                                          created, item.team, "webhook"))
        try:
            added = await run_in_threadpool(self.store.add, deployments)
        except STORE_ERRORS:
            return store_unavailable("deployment events")
        return JSONResponse({"received": len(deployments), "added": added})

    def routes(self) -> list:
        return [Route(self.config.path, self.receive, methods=["POST"])]

    def collect(self, window: CycleWindow) -> SourceResult:
        now = window.now
        info: dict = {}
        if self._observed_since is None:
            self._observed_since = now
            self.store.set_state("observed_since", now)
        if self.http is not None:
            info["litellm"] = poll_litellm(self.http, self.config.litellm.url, self.store, now, self.config.litellm.team_field)
        if self.langfuse is not None and now - self._last_langfuse >= self.config.langfuse.poll_interval:
            info["langfuse"] = poll_langfuse(self.langfuse, self.store, now, self.config.langfuse.label,
                                             self.context.team_tag_prefix)
            self._last_langfuse = now
        deployments = self.store.since(window.spend_start)
        # Incidents as the incidents source assembled them (the context's read-only port), if it runs.
        log = self.context.incidents
        incidents = log.incidents(window.spend_start) if log is not None else []
        label = self.config.incident_team_label
        teams = {n: (i.labels.get(label) if label else None) for n, i in enumerate(incidents)}
        # Events posted with past times (a pipeline's history) extend what has been observed.
        first = self.store.first_deployment()
        observed = min(self._observed_since, first) if first is not None else self._observed_since
        signals = dora_signals(deployments, incidents, now, window.spend_start, observed,
                               self.config.failure_window, teams)
        info.update(deployments=len(deployments), incidents=len(incidents), webhook_rejected=self.rejected)
        return SourceResult(signals, info)

    def families(self) -> list:
        return []

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
