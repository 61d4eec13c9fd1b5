"""Where deployments are observed between cycles: LiteLLM `/model/info` and Langfuse prompt versions.

Both compare what the source says now with a snapshot kept in `deployment_state`; the first look at
a source only records the snapshot (we cannot know when what already runs was deployed).

LiteLLM: every deployment has a `model_info.id` (a hash of its parameters on a proxy without a
database), so a new or changed deployment is an id not seen before. Its time is `model_info.updated_at`
/ `created_at` when the proxy has them (database models), else the cycle that first saw it. There is
no change-creation time, so model changes give no lead time.

Langfuse (official SDK's API client, `langfuse.api.LangfuseAPI`): a prompt is deployed when its
deploy label (default `production`) moves to another version. created_at = the version's
`createdAt` (sent by Langfuse servers though not in the OpenAPI spec; read when present), else the
time the monitor first listed that version; deployed_at = the cycle that saw the label move.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import httpx
import orjson

from collectors.deployments.events import Deployment, DeploymentStore


def _when(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def poll_litellm(http: httpx.Client, url: str, store: DeploymentStore, now: float, team_field: str | None) -> dict:
    response = http.get(f"{url.rstrip('/')}/model/info")
    response.raise_for_status()
    data = response.json().get("data") or []
    current: dict[str, dict] = {}
    for item in data:
        info = item.get("model_info") or {}
        params = item.get("litellm_params") or {}
        ident = str(info.get("id") or hashlib.sha1(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest())
        current[ident] = {"name": item.get("model_name") or "?", "team": info.get(team_field) if team_field else None,
                          "at": _when(info.get("updated_at")) or _when(info.get("created_at"))}
    previous = store.get_state("litellm_model_ids")
    store.set_state("litellm_model_ids", sorted(current))
    if previous is None:
        return {"models": len(current), "baseline": True}
    seen = set(previous)
    new = [Deployment("model", c["name"], ident[:16], c["at"] if c["at"] and c["at"] <= now else now, None,
                      c["team"], "litellm") for ident, c in current.items() if ident not in seen]
    return {"models": len(current), "added": store.add(new), "removed": len(seen - set(current))}


def langfuse_client(host: str, public_key: str, secret_key: str, timeout: float):
    try:  # the official SDK's generated API client: LangfuseAPI from SDK 4, FernLangfuse before
        from langfuse.api import LangfuseAPI
    except ImportError:
        from langfuse.api.client import FernLangfuse as LangfuseAPI

    return LangfuseAPI(base_url=host.rstrip("/"), username=public_key, password=secret_key,
                       x_langfuse_public_key=public_key, timeout=timeout)


def _extra(model: Any, key: str) -> Any:
    extra = getattr(model, "model_extra", None) or {}
    return extra.get(key, getattr(model, key, None))


def poll_langfuse(api, store: DeploymentStore, now: float, label: str, team_tag_prefix: str | None) -> dict:
    metas, page = [], 1
    while True:
        response = api.prompts.list(page=page, limit=100)
        metas.extend(response.data)
        if page >= (response.meta.total_pages or 1):
            break
        page += 1
    previous = store.get_state("langfuse_prompts")
    first_seen: dict[str, dict[str, float]] = store.get_state("langfuse_first_seen", {})
    current: dict[str, int] = {}
    added = []
    for meta in metas:
        seen = first_seen.setdefault(meta.name, {})
        for version in meta.versions:
            seen.setdefault(str(version), now)
        if label not in meta.labels:
            continue
        prompt = api.prompts.get(meta.name, label=label)
        current[meta.name] = prompt.version
        if previous is None or previous.get(meta.name) == prompt.version:
            continue
        created = _when(_extra(prompt, "createdAt")) or seen.get(str(prompt.version))
        team = next((t[len(team_tag_prefix):] for t in prompt.tags if team_tag_prefix and t.startswith(team_tag_prefix)),
                    None)
        added.append(Deployment("prompt", meta.name, str(prompt.version), now, created if created and created <= now else None,
                                team, "langfuse"))
    store.set_state("langfuse_prompts", current)
    store.set_state("langfuse_first_seen", first_seen)
    return {"prompts": len(metas), "deployed": len(current), "added": store.add(added), "baseline": previous is None}
