"""A Langfuse prompts double (GET /api/public/v2/prompts and /api/public/v2/prompts/{name}) behind an
httpx transport. Every response is validated against the Langfuse OpenAPI contracts in
tests/fixtures/langfuse with openapi-core; violations are collected for the test to assert empty. The
client side is the official SDK (`langfuse.api.LangfuseAPI`)."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import unquote

import httpx

from tests.recorded import LANGFUSE_SPECS

SPECS = LANGFUSE_SPECS
_specs: dict = {}


def spec(generation: str):
    from openapi_core import OpenAPI

    if generation not in _specs:
        _specs[generation] = OpenAPI.from_file_path(str(SPECS[generation]))
    return _specs[generation]


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PromptsDouble:
    def __init__(self, generation: str = "v3", send_created_at: bool = True) -> None:
        self.generation, self.send_created_at = generation, send_created_at
        self.versions: dict[str, list[dict]] = {}  # name -> [{version, created, labels, tags}]
        self.violations: list[str] = []
        self.validated = 0

    def add_version(self, name: str, created: float, labels=(), tags=()) -> int:
        versions = self.versions.setdefault(name, [])
        version = len(versions) + 1
        versions.append({"version": version, "created": created, "labels": list(labels), "tags": list(tags)})
        return version

    def move_label(self, name: str, label: str, version: int) -> None:
        for v in self.versions[name]:
            if label in v["labels"]:
                v["labels"].remove(label)
        self.versions[name][version - 1]["labels"].append(label)

    def _prompt(self, name: str, v: dict) -> dict:
        body = {"type": "text", "prompt": f"{name} v{v['version']}", "name": name, "version": v["version"],
                "config": {}, "labels": v["labels"] + (["latest"] if v is self.versions[name][-1] else []),
                "tags": v["tags"], "commitMessage": None}
        if self.send_created_at:  # real servers send the row's timestamps; the spec does not list them
            body.update(createdAt=iso(v["created"]), updatedAt=iso(v["created"]))
        return body

    def answer(self, request: httpx.Request) -> tuple[int, dict]:
        path, q = request.url.path, dict(request.url.params)
        if path == "/api/public/v2/prompts":
            page, limit = int(q.get("page", 1)), int(q.get("limit", 50))
            names = sorted(self.versions)
            chunk = names[(page - 1) * limit: page * limit]
            data = [{"name": n, "type": "text", "versions": [v["version"] for v in self.versions[n]],
                     "labels": sorted({l for v in self.versions[n] for l in v["labels"]} | {"latest"}),
                     "tags": self.versions[n][-1]["tags"], "lastUpdatedAt": iso(self.versions[n][-1]["created"]),
                     "lastConfig": {}} for n in chunk]
            pages = max(1, -(-len(names) // limit))
            return 200, {"data": data, "meta": {"page": page, "limit": limit, "totalItems": len(names), "totalPages": pages}}
        if path.startswith("/api/public/v2/prompts/"):
            name = unquote(path.rsplit("/", 1)[1])
            versions = self.versions.get(name, [])
            if "version" in q:
                match = [v for v in versions if v["version"] == int(q["version"])]
            else:
                label = q.get("label", "production")
                match = versions[-1:] if label == "latest" else [v for v in versions if label in v["labels"]]
            if not match:
                return 404, {"message": "Prompt not found"}
            return 200, self._prompt(name, match[0])
        return 404, {"message": "not found"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status, body = self.answer(request)
        content = json.dumps(body).encode()
        self._check(request, status, content)
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    def _check(self, request: httpx.Request, status: int, content: bytes) -> None:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request, Response

        environ = EnvironBuilder(path=request.url.path, query_string=request.url.query.decode(), method=request.method,
                                 headers=dict(request.headers), base_url="http://127.0.0.1/").get_environ()
        try:
            spec(self.generation).validate_response(WerkzeugOpenAPIRequest(Request(environ)),
                                                    WerkzeugOpenAPIResponse(Response(content, status=status,
                                                                                     content_type="application/json")))
            self.validated += 1
        except Exception as exc:  # noqa: BLE001 - every violation is recorded for the test
            self.violations.append(f"{status} {request.url.path}: {type(exc).__name__}: {exc}"[:500])

    def client(self):
        from langfuse.api import LangfuseAPI

        return LangfuseAPI(base_url="http://127.0.0.1", username="pk-lf-test", password="sk-lf-test",
                           httpx_client=httpx.Client(transport=httpx.MockTransport(self), base_url="http://127.0.0.1"))
