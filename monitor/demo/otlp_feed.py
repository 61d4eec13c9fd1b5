"""The demo's OTel feed: GenAI spans and evaluation results through the real OTel SDK exporter.

`feed.on_request(call_id, team, model)` is handed each request the demo's Router made; the feed
emits a `litellm_request`-like span for most of them (trace id = the call id's 128 bits, plus the
`litellm.call_id` attribute, as LiteLLM's own otel callback does), and an OTel GenAI evaluation
event (`gen_ai.evaluation.result`) for most spans, so trace_coverage, evaluation_coverage and
quality_score_avg show values. Without the hook (a demo.py that does not hand requests over), it
emits traces of its own: evaluation KPIs still show, trace coverage is then 0.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
import uuid

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

log = logging.getLogger("aiops_maturity.demo")

TRACED_SHARE = 0.97       # requests that get a span: coverage just above the 0.95 target
# The demo's yesterday (monitor/demo/yesterday.py copies its first requests 25 h back): the spans of
# the first requests get a copy a day and an hour back too, scored a little lower, so the KPI dashboard can
# compare quality and evaluation coverage with the day before. Synthetic, and the demo says so.
YESTERDAY_SPANS = 150
DAY = 86400 + 3600  # a day and an hour back, as monitor/demo/yesterday.py copies the requests
EVALUATED_SHARE = 0.85    # spans that get an evaluation result
OWN_TRACES_PER_SECOND = 3.0


class _PresetIds(RandomIdGenerator):
    """An id generator whose next trace id is chosen by the feed (falls back to random)."""

    def __init__(self) -> None:
        self.next: int | None = None

    def generate_trace_id(self) -> int:
        value, self.next = self.next, None
        return value if value is not None else super().generate_trace_id()


class OtlpDemoFeed:
    def __init__(self) -> None:
        self.handed: collections.deque = collections.deque(maxlen=10_000)
        self.emitted = 0
        self.yesterday = 0

    def sources_config(self) -> dict:
        return {"otlp": {}}

    def on_request(self, call_id: str, team: str, model: str) -> None:
        """Called by the demo for every request its Router made (thread-safe: deque appends)."""
        self.handed.append((call_id, team, model, time.time()))

    async def run(self, monitor_url: str, seconds: float, rng: random.Random) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        ids = _PresetIds()
        provider = TracerProvider(resource=Resource.create({"service.name": "demo-app"}), id_generator=ids)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{monitor_url}/v1/traces", timeout=5),
                                                       schedule_delay_millis=1000))
        tracer = provider.get_tracer("aiops-maturity-demo")
        deadline, started = time.monotonic() + seconds, time.monotonic()
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                while self.handed:
                    call_id, team, model, ended = self.handed.popleft()
                    if rng.random() < TRACED_SHARE:
                        try:
                            self._span(tracer, ids, rng, call_id, team, model, ended)
                            if self.yesterday < YESTERDAY_SPANS:
                                self.yesterday += 1
                                self._span(tracer, ids, rng, f"{call_id}-yesterday", team, model, ended - DAY,
                                           quality_shift=-0.04, today=False)
                        except Exception:  # noqa: BLE001 - the demo's traffic must go on
                            log.exception("demo span could not be emitted")
                if self.emitted == 0 and time.monotonic() - started > 10:  # no requests handed over
                    for _ in range(int(OWN_TRACES_PER_SECOND * 0.5) or 1):
                        self._span(tracer, ids, rng, str(uuid.uuid4()), rng.choice(["search", "support"]),
                                   "gpt-4o-mini", time.time())
        finally:
            await asyncio.to_thread(provider.shutdown)  # flush what is queued

    def _span(self, tracer, ids: _PresetIds, rng: random.Random, call_id: str, team: str, model: str,
              ended: float, quality_shift: float = 0.0, today: bool = True) -> None:
        try:
            ids.next = uuid.UUID(call_id).int
        except ValueError:  # a synthetic copy's id: its span joins by litellm.call_id only
            ids.next = None
        latency = min(rng.lognormvariate(-1.6, 0.6), 3.0)
        attributes = {"gen_ai.system": "litellm", "gen_ai.request.model": model, "litellm.call_id": call_id,
                      "gen_ai.cost.total_cost": round(rng.uniform(0.0001, 0.003), 6)}
        if team != "unattributed":
            attributes["metadata.user_api_key_team_alias"] = team
        tags = ["escalated"] if rng.random() < 0.05 else []
        if team == "support":  # the support bot is the memory-enabled application
            tags.append("memory:used" if rng.random() < 0.6 else "memory")
        if tags:
            attributes["tags"] = tags
        span = tracer.start_span("litellm_request", start_time=int((ended - latency) * 1e9), attributes=attributes)
        # Evaluation results carry the request's time (a copy's is yesterday), not the emission time.
        def event(name: str, attributes: dict) -> None:
            span.add_event(name, attributes, timestamp=int(ended * 1e9))

        if rng.random() < EVALUATED_SHARE:
            quality = min(max(rng.gauss(0.84 + quality_shift, 0.08), 0.0), 1.0)
            event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "quality",
                                                       "gen_ai.evaluation.score.value": round(quality, 3)})
            if team == "search":
                event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "context_relevance",
                                                           "gen_ai.evaluation.score.value": round(rng.uniform(0.6, 1), 3)})
            if rng.random() < 0.3:
                event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "csat",
                                                           "gen_ai.evaluation.score.value": rng.choice([3, 4, 5, 5])})
            if team == "research":  # an agent: runs scored successful or not
                event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "agent_success",
                                                           "gen_ai.evaluation.score.label": rng.choices(
                                                               ["pass", "fail"], [0.92, 0.08])[0]})
            if team == "support":
                event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "personalization",
                                                           "gen_ai.evaluation.score.value": round(rng.uniform(0.75, 1), 3)})
        span.end(end_time=int(ended * 1e9))
        self.emitted += int(today)  # spans of today's requests (yesterday's copies are counted apart)


feed = OtlpDemoFeed()
