"""A Langfuse server double on 127.0.0.1 for the collector's tests and benchmark.

It serves the endpoints the collector uses, for one server generation at a time:
  v3 (self-hosted v3.225): /api/public/traces, /api/public/metrics (v1); the v4 endpoints 404
                           (its spec lists v2 metrics, but Langfuse serves them from v4 on).
  v4 (v4 / Cloud):         /api/public/v2/observations, /api/public/v3/scores, /api/public/v2/metrics;
                           /traces and the deprecated v1 metrics 404, gone on upgrade as its spec says.
v2 metrics answer 400 where the v4 spec says so (the `traces` view, a high-cardinality dimension).
`generation` may change while the double runs (a server upgraded under the collector).
EVERY response it sends is validated against the generation's OpenAPI contract with openapi-core
(`validator`); problems are collected in `violations`. Statuses a contract does not declare for an
operation (the injected 429 and 5xx: Langfuse sends them, its spec does not list them) are
collected apart in `undeclared`, so a test can check that they are exactly the injected faults.

Faults are queued per path prefix: "429" (with Retry-After), "500", "503", "slow" (answers after
`slow_seconds`), "invalid" (200 with a body that breaks the schema), "not_json".
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlparse

from tests.recorded import LANGFUSE_SPECS

SPECS = LANGFUSE_SPECS
_openapi_cache: dict = {}


def openapi(generation: str):
    from openapi_core import OpenAPI

    if generation not in _openapi_cache:
        _openapi_cache[generation] = OpenAPI.from_file_path(str(SPECS[generation]))
    return _openapi_cache[generation]


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(value: str | None, default: float) -> float:
    if not value:
        return default
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class Trace:
    id: str
    ts: float
    tags: list[str] = field(default_factory=list)
    cost: float = 0.0
    name: str = "litellm-acompletion"


@dataclass
class Score:
    id: str
    trace_id: str
    name: str
    value: float
    ts: float


# v2 metrics (the v4 spec's "V2 Differences" and "High Cardinality Dimensions")
V2_VIEWS = ("observations", "scores-numeric", "scores-boolean", "scores-categorical")
HIGH_CARDINALITY = {"id", "traceId", "userId", "sessionId", "parentObservationId", "observationId"}


class BadQuery(ValueError):  # answered 400
    pass


@dataclass
class Fault:
    prefix: str
    kind: str
    retry_after: int = 1


class LangfuseDouble:
    def __init__(self, generation: str, public_key: str = "pk-lf-test", secret_key: str = "sk-lf-test",
                 page_cap: int | None = None, slow_seconds: float = 3.0, validate: bool = True) -> None:
        self.generation, self.page_cap, self.slow_seconds, self.validate = generation, page_cap, slow_seconds, validate
        self.auth = "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self.traces: list[Trace] = []
        self.scores: list[Score] = []
        self.faults: deque[Fault] = deque()
        self.requests: Counter = Counter()
        self.violations: list[str] = []
        self.undeclared: list[tuple[str, int]] = []
        self.validated = 0
        self.on_request: Callable[[str, dict], None] | None = None
        self.lock = threading.RLock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "LangfuseDouble":
        if self.validate:
            openapi(self.generation)  # load the spec before the first request
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_trace(self, trace: Trace, scores: list[tuple[str, float]] = ()) -> None:
        with self.lock:
            self.traces.append(trace)
            for i, (name, value) in enumerate(scores):
                self.scores.append(Score(f"{trace.id}-s{i}", trace.id, name, value, trace.ts + 1))

    def fail(self, prefix: str, kind: str, times: int = 1, retry_after: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(prefix, kind, retry_after))

    def total_requests(self) -> int:
        return sum(self.requests.values())

    # ------------------------------------------------------------------ answers
    def answer(self, path: str, query: dict) -> tuple[int, dict]:
        routes = {"/api/public/metrics": self._metrics, "/api/public/v2/metrics": self._metrics,
                  "/api/public/traces": self._traces, "/api/public/v2/observations": self._observations,
                  "/api/public/v3/scores": self._scores_v3}
        v4_only = ("/api/public/v2/metrics", "/api/public/v2/observations", "/api/public/v3/scores")
        v3_only = ("/api/public/traces", "/api/public/metrics")
        if path not in routes or (self.generation == "v3" and path in v4_only) or \
                (self.generation == "v4" and path in v3_only):
            return 404, {"message": "Not Found"}
        with self.lock:
            try:
                return 200, routes[path](path, query)
            except BadQuery as exc:
                return 400, {"message": str(exc)}

    def _window(self, q: dict, lo: str, hi: str) -> tuple[float, float]:
        return parse_ts(q.get(lo), 0.0), parse_ts(q.get(hi), 1e12)

    def _metrics(self, path: str, query: dict) -> dict:
        spec = json.loads(query["query"])
        start, end = self._window(spec, "fromTimestamp", "toTimestamp")
        view, dims = spec["view"], [d["field"] for d in spec.get("dimensions", [])]
        if path == "/api/public/v2/metrics":
            if view not in V2_VIEWS:
                raise BadQuery(f"view {view!r} is not supported by the v2 metrics API")
            if set(dims) & HIGH_CARDINALITY:
                raise BadQuery(f"high cardinality dimension(s) {sorted(set(dims) & HIGH_CARDINALITY)}: use filters")
        filters = spec.get("filters", [])
        names = next((f["value"] for f in filters if f["column"] == "name"), None)
        groups: dict[tuple, dict] = {}
        if view in ("traces", "observations"):
            rows = [(t, {"tags": t.tags}) for t in self.traces if start <= t.ts < end]
        elif view == "scores-numeric":
            by_id = {t.id: t for t in self.traces}
            rows = [(s, {"name": s.name, "tags": by_id[s.trace_id].tags if s.trace_id in by_id else []})
                    for s in self.scores if start <= s.ts < end and (names is None or s.name in names)]
        else:
            return {"data": []}
        for item, dim_values in rows:
            key = tuple(json.dumps(dim_values[d]) for d in dims)
            group = groups.setdefault(key, {d: dim_values[d] for d in dims})
            for m in spec["metrics"]:
                alias = f"{m['aggregation']}_{m['measure']}"
                value = {"count": 1, "value": getattr(item, "value", 0.0), "totalCost": getattr(item, "cost", 0.0)}[m["measure"]]
                group[alias] = group.get(alias, 0) + (1 if m["aggregation"] == "count" else value)
        limit = (spec.get("config") or {}).get("row_limit", 100)
        return {"data": list(groups.values())[:limit]}

    def _trace_json(self, t: Trace, fields: str) -> dict:
        scores = [s.id for s in self.scores if s.trace_id == t.id] if "scores" in fields else []
        return {"id": t.id, "timestamp": iso(t.ts), "name": t.name, "sessionId": None, "release": None, "version": None,
                "userId": None, "tags": t.tags, "public": False, "environment": "default", "metadata": None,
                "htmlPath": f"/project/p/traces/{t.id}", "latency": 0.5, "totalCost": t.cost, "observations": [],
                "scores": scores}

    def _traces(self, path: str, q: dict) -> dict:
        start, end = self._window(q, "fromTimestamp", "toTimestamp")
        wanted = None
        for f in json.loads(q.get("filter") or "[]"):
            if f["column"] == "id":
                wanted = set(f["value"])
        items = [t for t in self.traces if start <= t.ts < end and (wanted is None or t.id in wanted)]
        items.sort(key=lambda t: t.ts, reverse=q.get("orderBy", "timestamp.desc").endswith("desc"))
        limit = min(int(q.get("limit", 50)), self.page_cap or 10**9)
        page = int(q.get("page", 1))
        chunk = items[(page - 1) * limit: page * limit]
        fields = q.get("fields") or "core,io,scores,observations,metrics"
        return {"data": [self._trace_json(t, fields) for t in chunk],
                "meta": {"page": page, "limit": limit, "totalItems": len(items), "totalPages": -(-len(items) // limit)}}

    def _observations(self, path: str, q: dict) -> dict:
        start, end = self._window(q, "fromStartTime", "toStartTime")
        wanted = None
        for f in json.loads(q.get("filter") or "[]"):
            if f["column"] == "traceId":
                wanted = set(f["value"])
        items = sorted((t for t in self.traces if start <= t.ts < end and (wanted is None or t.id in wanted)),
                       key=lambda t: (t.ts, t.id))
        offset = int(base64.b64decode(q["cursor"]).decode()) if q.get("cursor") else 0
        limit = min(int(q.get("limit", 50)), self.page_cap or 10**9)
        chunk = items[offset: offset + limit]
        meta = {"cursor": base64.b64encode(str(offset + limit).encode()).decode()} if offset + limit < len(items) else {}
        data = [{"id": f"obs-{t.id}", "traceId": t.id, "startTime": iso(t.ts), "endTime": iso(t.ts + 0.5),
                 "projectId": "p", "parentObservationId": None, "type": "SPAN", "isRootObservation": True,
                 "name": t.name, "level": "DEFAULT", "environment": "default", "tags": t.tags, "traceName": t.name,
                 "modelId": None, "inputPrice": None, "outputPrice": None, "totalPrice": None}
                for t in chunk]
        return {"data": data, "meta": meta}

    def _scores_v3(self, path: str, q: dict) -> dict:
        start, end = self._window(q, "fromTimestamp", "toTimestamp")
        items = sorted((s for s in self.scores if start <= s.ts < end and q.get("traceId") in (None, s.trace_id)),
                       key=lambda s: (s.ts, s.id))
        offset = int(base64.urlsafe_b64decode(q["cursor"]).decode()) if q.get("cursor") else 0
        limit = min(int(q.get("limit", 50)), self.page_cap or 100)
        chunk = items[offset: offset + limit]
        with_subject = "subject" in (q.get("fields") or "")
        data = [{"id": s.id, "projectId": "p", "name": s.name, "source": "API", "timestamp": iso(s.ts),
                 "environment": "default", "createdAt": iso(s.ts), "updatedAt": iso(s.ts), "dataType": "NUMERIC",
                 "value": s.value, **({"subject": {"kind": "trace", "id": s.trace_id}} if with_subject else {})}
                for s in chunk]
        meta = {"limit": limit}
        if offset + limit < len(items):
            meta["cursor"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
        return {"data": data, "meta": meta}

    # ------------------------------------------------------------------ validation
    def check(self, method: str, raw_path: str, headers: dict, status: int, body: bytes, content_type: str) -> None:
        if not self.validate:
            return
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
        from openapi_core.templating.responses.exceptions import ResponseNotFound
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request, Response

        parsed = urlparse(raw_path)
        environ = EnvironBuilder(path=parsed.path, query_string=parsed.query, method=method, headers=headers,
                                 base_url="http://127.0.0.1/").get_environ()
        request = WerkzeugOpenAPIRequest(Request(environ))
        response = WerkzeugOpenAPIResponse(Response(body, status=status, content_type=content_type))
        with self.lock:
            self.validated += 1
        try:
            openapi(self.generation).validate_response(request, response)
        except ResponseNotFound:
            with self.lock:
                self.undeclared.append((parsed.path, status))
        except Exception as exc:  # noqa: BLE001 - every kind of contract violation is recorded
            with self.lock:
                self.violations.append(f"{status} {parsed.path}: {type(exc).__name__}: {exc}"[:500])


def _handler(double: LangfuseDouble):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            parsed = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
            with double.lock:
                double.requests[parsed.path] += 1
                fault = next((f for f in double.faults if parsed.path.startswith(f.prefix)), None)
                if fault:
                    double.faults.remove(fault)
            if double.on_request:
                double.on_request(parsed.path, query)
            headers = {}
            if self.headers.get("authorization") != double.auth:
                status, payload = 401, {"message": "Invalid credentials"}
            elif fault and fault.kind in ("429", "500", "503"):
                status, payload = int(fault.kind), {"message": "injected failure"}
                if fault.kind == "429":
                    headers["Retry-After"] = str(fault.retry_after)
            else:
                if fault and fault.kind == "slow":
                    time.sleep(double.slow_seconds)
                status, payload = double.answer(parsed.path, query)
                if fault and fault.kind == "invalid" and status == 200:
                    payload = {"data": "not-a-list"}
            body = b"<html>oops</html>" if fault and fault.kind == "not_json" else json.dumps(payload).encode()
            content_type = "text/html" if fault and fault.kind == "not_json" else "application/json"
            try:
                self.send_response(status)
                for k, v in {**headers, "Content-Type": content_type, "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)
            double.check("GET", self.path, dict(self.headers), status, body, content_type)

    return Handler
