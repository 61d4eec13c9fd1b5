"""Slack incoming webhook: a Block Kit message with the headline, the week's key numbers, the top
next actions and a button linking to the full digest.

Limits kept (Slack's Block Kit reference): at most 50 blocks; header text plain_text ≤ 150
characters; section text ≤ 3000; at most 10 fields of ≤ 2000; button text ≤ 75, url ≤ 3000.
Responses: 200 "ok"; 429 (Retry-After) and 5xx are retried; other 4xx (invalid_payload,
no_service, channel_is_archived, …) fail at once and are retried in a later cycle.
"""
from __future__ import annotations

from typing import Any

import httpx

from monitor.digest.delivery.retry import DeliveryError
from monitor.digest.render import Rendered, STATUS_TEXT
from metrics.catalog import SYMBOL
from monitor.render import format_value


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _cut(text, limit)}


def build_payload(rendered: Rendered, link: str | None = None) -> dict[str, Any]:
    d = rendered.digest
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f"AI-ops maturity digest {d.week}", 150),
                                    "emoji": True}},
        {"type": "section", "text": _mrkdwn(f"*{_escape(rendered.headline)}*")},
    ]
    if d.has_data:
        counts = d.counts.get("all", {})
        incidents = d.incidents
        fields = [
            _mrkdwn(f"*KPIs*\n{counts.get('met', 0)} met · {counts.get('unmet', 0)} unmet · "
                    f"{counts.get('no_data', 0)} no data", 2000),
            _mrkdwn(f"*Alerts*\n{d.alerts.get('new_count', 0)} new · {d.alerts.get('resolved_count', 0)} resolved", 2000),
            _mrkdwn("*Incidents*\n" + ("none this week" if incidents.get("none") else
                                       f"{len(incidents['new'])} opened · {len(incidents['resolved'])} resolved"), 2000),
            _mrkdwn(f"*Teams*\n{sum(len(m['teams']) for m in d.models if m['source'] == 'telemetry')}", 2000),
        ]
        blocks.append({"type": "section", "fields": fields})
        if d.blocking:
            lines = []
            for b in d.blocking[:5]:
                if b["status"] == "no_data":
                    lines.append(f"• *{_escape(b['name'])}*: {STATUS_TEXT['no_data']}")
                else:
                    lines.append(f"• *{_escape(b['name'])}*: {format_value(b['value'], b['unit'])} "
                                 f"(target {_escape(SYMBOL.get(b['comparator'], ''))} {format_value(b['target'], b['unit'])})"
                                 f" — {_escape(b['remediation'])}")
            blocks.append({"type": "section", "text": _mrkdwn(f"*Blocking level {d.blocking[0]['level']}*\n" + "\n".join(lines))})
    else:
        blocks.append({"type": "section", "text": _mrkdwn("No data was recorded this week.")})
    if link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open the digest", "emoji": True},
            "url": link[:3000], "action_id": "open_digest", "style": "primary"}]})
    context = f"Week {d.week} ({d.timezone})" + (" · in progress" if d.in_progress else "")
    if d.synthetic_until:
        context += " · includes synthetic demo data"
    blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
    return {"text": _cut(rendered.headline, 3000), "blocks": blocks[:50]}


class SlackChannel:
    name = "slack"

    def __init__(self, url: str, link_template: str | None = None, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self.url = url
        self.link_template = link_template
        self.timeout = timeout
        self.client = client

    def link(self, week: str) -> str | None:
        return self.link_template.format(week=week) if self.link_template else None

    def send(self, rendered: Rendered) -> str:
        payload = build_payload(rendered, self.link(rendered.digest.week))
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            response = client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"slack: {type(exc).__name__}: {exc}") from exc
        finally:
            if self.client is None:
                client.close()
        if response.status_code == 200:
            return f"slack: HTTP 200 {response.text[:50]}"
        body = response.text[:200]
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise DeliveryError(f"slack: HTTP {response.status_code} {body}",
                                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)
        raise DeliveryError(f"slack: HTTP {response.status_code} {body}", transient=False)
