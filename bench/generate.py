"""Synthetic LiteLLM traffic shaped like the recorded StandardLoggingPayloads.

The recorded payloads (tests/fixtures/litellm/callback_run_payloads.jsonl) are the templates:
every generated payload is a shallow copy of one of them with the fields that matter to the KPIs
(and the ids that make it unique) replaced, so it keeps the recorded size (~11 KB) and the
nested, mostly irrelevant bulk (model map, traceback, response) that a parser must wade through.

The traffic mix is that of a real gateway: plain successes, cache hits, fallbacks (a failed
attempt and a successful one sharing `litellm_call_id` and `trace_id`), provider failures without
fallback (429/408/5xx/connection errors), client errors (4xx), failures the proxy raised before
routing (no deployment named), health probes, team identities
from the key's team alias or id, a `team:` tag or none, and a few at-least-once redeliveries.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import orjson

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "fixtures" / "litellm" / "callback_run_payloads.jsonl"
OUT = Path(__file__).resolve().parent / "out"
HEALTH_CHECK_TAG = "litellm-internal-health-check"
GENERATOR_VERSION = 6  # bump when the traffic model changes, so cached data sets are rebuilt

TEAMS = ["search", "support-bot", "billing", "ml-platform", "growth", "risk", "data-eng", "mobile",
         "checkout", "legal-ai", "sales-assist", "hr-chat"]
TEAM_WEIGHTS = [1.0 / (rank + 1) ** 0.8 for rank in range(len(TEAMS))]  # Zipf-like volumes
MODEL_PRICES = {  # (model_group, USD per 1k prompt tokens, USD per 1k completion tokens)
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4o": (0.0025, 0.01),
    "claude-fast": (0.0008, 0.004),
    "claude-sonnet": (0.003, 0.015),
}
PROVIDER_ERRORS = [  # (weight, error_code, error_class, latency range s): count against the provider
    (40, "429", "RateLimitError", (0.02, 0.3)),
    (25, "500", "InternalServerError", (0.2, 2.0)),
    (15, "503", "ServiceUnavailableError", (0.05, 1.0)),
    (10, "408", "Timeout", (30.0, 60.0)),
    (10, "", "APIConnectionError", (0.005, 1.5)),
]
PRE_ROUTING_ERRORS = [  # raised by the proxy before routing (no deployment named): never reached a provider
    (50, "401", "AuthenticationError", (0.001, 0.01)),
    (30, "400", "ProxyModelNotFoundError", (0.001, 0.01)),
    (20, "500", "InternalServerError", (0.001, 0.05)),  # e.g. a custom auth hook that crashed
]
CLIENT_ERRORS = [  # the caller's fault: left out of provider availability
    (40, "400", "BadRequestError", (0.01, 0.3)),
    (20, "401", "AuthenticationError", (0.002, 0.02)),
    (20, "404", "NotFoundError", (0.002, 0.05)),
    (10, "422", "UnprocessableEntityError", (0.01, 0.2)),
    (10, "", "ContextWindowExceededError", (0.01, 0.1)),  # no code: classified by error class
]


@dataclass(frozen=True)
class Mix:
    """Share of requests by outcome; the rest are plain successes."""

    cache_hit: float = 0.16
    fallback: float = 0.07  # failed attempt, then a successful one on another deployment
    failed_fallback: float = 0.01  # both attempts fail (both carry the call id as their id)
    provider_failure: float = 0.03
    client_error: float = 0.04
    pre_routing_failure: float = 0.005
    health_probe: float = 0.03  # probes per request
    redelivery: float = 0.003  # payloads logged twice (at-least-once delivery)


class Templates:
    """The recorded payloads, sorted by what they can stand for."""

    def __init__(self, path: Path = SAMPLES) -> None:
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        self.health = [r for r in rows if HEALTH_CHECK_TAG in (r.get("request_tags") or [])]
        health_ids = {r["id"] for r in self.health}
        rest = [r for r in rows if r["id"] not in health_ids]
        self.cache_hit = [r for r in rest if r.get("cache_hit") is True]
        self.success = [r for r in rest if r["status"] == "success" and r.get("cache_hit") is not True
                        and r.get("model_group")]
        failures = [r for r in rest if r["status"] == "failure"]
        self.failure = [r for r in failures if _names_deployment(r)]
        self.pre_routing_failure = [r for r in failures if not _names_deployment(r)]
        for name in ("health", "cache_hit", "success", "failure", "pre_routing_failure"):
            if not getattr(self, name):
                raise ValueError(f"{path}: no recorded payload of kind {name}")


def _names_deployment(payload: dict) -> bool:
    """A failure that names no deployment was raised by the proxy before routing."""
    return any(payload.get(key) for key in ("model_group", "model_id", "api_base", "custom_llm_provider"))


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _pick(rng: random.Random, table: list[tuple]) -> tuple:
    return rng.choices(table, weights=[row[0] for row in table])[0]


class TrafficGenerator:
    """Yields payload dicts request by request, in start-time order (roughly, as loggers write)."""

    def __init__(self, templates: Templates, seed: int, mix: Mix = Mix()) -> None:
        self.t = templates
        self.rng = random.Random(seed)
        self.mix = mix

    # ---------------------------------------------------------------- identities
    def _identity(self) -> tuple[dict, list[str]]:
        """Team fields for metadata and extra request tags: key team alias, team id, tag, or none."""
        rng = self.rng
        team = rng.choices(TEAMS, weights=TEAM_WEIGHTS)[0]
        roll = rng.random()
        if roll < 0.65:
            return {"user_api_key_team_alias": team, "user_api_key_team_id": f"team-{team}"}, []
        if roll < 0.75:
            return {"user_api_key_team_alias": None, "user_api_key_team_id": f"team-{team}"}, []
        if roll < 0.87:
            return {"user_api_key_team_alias": None, "user_api_key_team_id": None}, [f"team:{team}"]
        return {"user_api_key_team_alias": None, "user_api_key_team_id": None}, []

    # ---------------------------------------------------------------- one attempt
    def _attempt(self, template: dict, *, attempt_id: str, call_id: str, trace_id: str, start: float,
                 latency: float, team: dict, tags: list[str], model_group: str | None = None,
                 cost: float = 0.0, tokens: tuple[int, int] = (0, 0), cache_hit: bool | None = None,
                 error: tuple[str, str] | None = None) -> dict:
        p = dict(template)  # shallow: the bulky nested parts are shared, only replaced keys change
        end = start + latency
        p.update(id=attempt_id, litellm_call_id=call_id, trace_id=trace_id, startTime=start, endTime=end,
                 completionStartTime=end, response_time=latency, response_cost=cost, cache_hit=cache_hit,
                 prompt_tokens=tokens[0], completion_tokens=tokens[1], total_tokens=tokens[0] + tokens[1])
        if model_group:
            p["model_group"] = model_group
        metadata = dict(template.get("metadata") or {})
        metadata.update(team)
        p["metadata"] = metadata
        base_tags = [t for t in template.get("request_tags") or [] if t.startswith("User-Agent")]
        p["request_tags"] = base_tags + tags
        if isinstance(p.get("hidden_params"), dict):
            p["hidden_params"] = {**p["hidden_params"], "response_cost": cost}
        if isinstance(p.get("response"), dict) and p["response"]:
            p["response"] = {**p["response"], "id": attempt_id}
        if error is not None:
            info = dict(template.get("error_information") or {})
            info["error_code"], info["error_class"] = error
            p["error_information"] = info
            p["status"] = "failure"
        return p

    def _success(self, call_id: str, trace_id: str, start: float, team: dict, tags: list[str]) -> dict:
        rng = self.rng
        model_group = rng.choice(list(MODEL_PRICES))
        prompt_price, completion_price = MODEL_PRICES[model_group]
        tokens = (int(rng.lognormvariate(6.0, 1.0)) + 1, int(rng.lognormvariate(5.0, 0.9)) + 1)
        cost = round(tokens[0] / 1000 * prompt_price + tokens[1] / 1000 * completion_price, 10)
        latency = min(rng.lognormvariate(math.log(0.9), 0.6), 45.0)
        return self._attempt(rng.choice(self.t.success), attempt_id=f"chatcmpl-{_uuid(rng)}", call_id=call_id,
                             trace_id=trace_id, start=start, latency=latency, team=team, tags=tags,
                             model_group=model_group, cost=cost, tokens=tokens,
                             cache_hit=rng.choice((None, False)))

    def _failure(self, table: list[tuple], call_id: str, trace_id: str, start: float, team: dict,
                 tags: list[str]) -> dict:
        _weight, code, cls, (low, high) = _pick(self.rng, table)
        templates = self.t.pre_routing_failure if table is PRE_ROUTING_ERRORS else self.t.failure
        # A failed attempt's id is its call id in LiteLLM's logs (no provider response id).
        return self._attempt(self.rng.choice(templates), attempt_id=call_id, call_id=call_id,
                             trace_id=trace_id, start=start, latency=self.rng.uniform(low, high), team=team,
                             tags=tags, cache_hit=False, error=(code, cls))

    # ---------------------------------------------------------------- one request
    def request(self, start: float) -> list[dict]:
        """The attempts (payloads) of one request, plus now and then a health probe."""
        rng, mix = self.rng, self.mix
        call_id, trace_id = _uuid(rng), f"{rng.getrandbits(128):032x}"
        team, tags = self._identity()
        kind = rng.random()
        ids = (call_id, trace_id)
        for outcome, share in (("cache_hit", mix.cache_hit), ("fallback", mix.fallback),
                               ("failed_fallback", mix.failed_fallback), ("provider_failure", mix.provider_failure),
                               ("client_error", mix.client_error),
                               ("pre_routing_failure", mix.pre_routing_failure)):
            if kind < share:
                break
            kind -= share
        else:
            outcome = "success"
        if outcome == "cache_hit":
            attempts = [self._attempt(rng.choice(self.t.cache_hit), attempt_id=f"chatcmpl-{_uuid(rng)}",
                                      call_id=call_id, trace_id=trace_id, start=start,
                                      latency=rng.uniform(0.001, 0.012), team=team, tags=tags, cache_hit=True)]
        elif outcome in ("fallback", "failed_fallback"):
            failed = self._failure(PROVIDER_ERRORS, *ids, start, team, tags)
            retry_at = failed["endTime"] + rng.uniform(0.002, 0.05)
            second = (self._success(*ids, retry_at, team, tags) if outcome == "fallback"
                      else self._failure(PROVIDER_ERRORS, *ids, retry_at, team, tags))
            attempts = [failed, second]
        elif outcome == "provider_failure":
            attempts = [self._failure(PROVIDER_ERRORS, *ids, start, team, tags)]
        elif outcome == "client_error":
            attempts = [self._failure(CLIENT_ERRORS, *ids, start, team, tags)]
        elif outcome == "pre_routing_failure":
            attempts = [self._failure(PRE_ROUTING_ERRORS, *ids, start, team, tags)]
        else:
            attempts = [self._success(*ids, start, team, tags)]
        if rng.random() < mix.health_probe:
            attempts.append(self._health_probe(start))
        if rng.random() < mix.redelivery * len(attempts):
            attempts.append(attempts[0])  # the logger retried a delivery: same payload again
        return attempts

    def _health_probe(self, start: float) -> dict:
        rng = self.rng
        template = rng.choice(self.t.health)
        p = dict(template)
        probe_id = _uuid(rng)
        p.update(id=probe_id, litellm_call_id=probe_id, trace_id=f"{rng.getrandbits(128):032x}",
                 startTime=start, endTime=start + 0.01, completionStartTime=start + 0.01)
        return p

    def payloads(self, count: int, start: float, rate_per_s: float) -> Iterator[dict]:
        """`count` payloads of requests arriving as a Poisson process from `start`."""
        produced, now = 0, start
        while produced < count:
            now += self.rng.expovariate(rate_per_s)
            for payload in self.request(now):
                if produced == count:
                    return
                produced += 1
                yield payload


# -------------------------------------------------------------------- data set on disk
@dataclass(frozen=True)
class DatasetSpec:
    payloads: int
    seed: int = 20240601
    start: float = 1_790_000_000.0  # fixed epoch: runs are reproducible and comparable
    rate_per_s: float = 2.0  # ~170k requests a day, so 50k payloads span several hours
    single_share: float = 0.10  # payloads written one object per file (s3/GCS logger style)
    array_share: float = 0.45  # payloads in JSON arrays (generic_api batches), the rest in JSONL
    array_batch: int = 200
    jsonl_lines: int = 1000
    gzip_every: int = 3  # every third file of each layout is .gz

    def key(self, templates: Templates) -> str:
        text = f"v{GENERATOR_VERSION}-{templates.digest}-{self!r}"
        return f"dataset-{self.payloads}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _write(path: Path, data: bytes, compress: bool) -> int:
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
    return len(data)


def _layout_plan(spec: DatasetSpec) -> Iterator[tuple[str, int]]:
    """(layout, payloads in the file), interleaved so each layout covers the whole time span."""
    quotas = {"single": spec.single_share, "array": spec.array_share,
              "jsonl": 1.0 - spec.single_share - spec.array_share}
    sizes = {"single": 1, "array": spec.array_batch, "jsonl": spec.jsonl_lines}
    written = {name: 0 for name in quotas}
    total = 0
    while total < spec.payloads:
        # Next file goes to the layout furthest behind its share.
        layout = min(quotas, key=lambda n: written[n] - quotas[n] * (total + 1) if quotas[n] > 0 else math.inf)
        size = min(sizes[layout], spec.payloads - total)
        written[layout] += size
        total += size
        yield layout, size


def write_dataset(spec: DatasetSpec, templates: Templates, target: Path) -> dict:
    generator = TrafficGenerator(templates, spec.seed)
    stream = generator.payloads(spec.payloads, spec.start, spec.rate_per_s)
    counters = {name: {"files": 0, "gz_files": 0, "payloads": 0, "bytes_on_disk": 0}
                for name in ("single", "array", "jsonl")}
    json_bytes = 0
    for index, (layout, size) in enumerate(_layout_plan(spec)):
        items = [next(stream) for _ in range(size)]
        c = counters[layout]
        compress = c["files"] % spec.gzip_every == spec.gzip_every - 1
        folder = target / layout / f"part-{c['files'] // 1000:03d}"  # bucket-like prefixes, <=1000 per folder
        folder.mkdir(parents=True, exist_ok=True)
        if layout == "single":
            # Index first: a redelivered payload has the same id and must not overwrite the first copy.
            data, name = orjson.dumps(items[0]), f"{index:06d}-{items[0]['id']}.json"
        elif layout == "array":
            data, name = orjson.dumps(items), f"batch-{index:06d}.json"
        else:
            data, name = b"\n".join(orjson.dumps(item) for item in items) + b"\n", f"log-{index:06d}.jsonl"
        json_bytes += len(data)
        c["bytes_on_disk"] += _write(folder / name, data, compress)
        c["files"] += 1
        c["gz_files"] += int(compress)
        c["payloads"] += size
    return {"payloads": spec.payloads, "json_bytes": json_bytes, "mean_payload_bytes": json_bytes / spec.payloads,
            "layouts": counters}


def ensure_dataset(spec: DatasetSpec, templates: Templates, log=print) -> tuple[Path, dict]:
    """The data set's folder and manifest, generated once per parameters and cached under out/."""
    home = OUT / spec.key(templates)
    manifest_path = home / "manifest.json"
    if manifest_path.exists():
        log(f"data set cached at {home}")
        return home / "data", orjson.loads(manifest_path.read_bytes())
    log(f"generating {spec.payloads} payloads into {home} ...")
    partial = OUT / f".partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "data").mkdir(parents=True)
    manifest = write_dataset(spec, templates, partial / "data")
    (partial / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    shutil.rmtree(home, ignore_errors=True)
    partial.rename(home)  # atomic: an interrupted run never leaves a half data set behind a manifest
    return home / "data", manifest
