"""Demo feed for `aiops-maturity demo`: incidents through the real webhook route, deployments through
the deployments webhook, and a forecast with synthetic spend history.

What is real and what is not (the demo lasts about 90 s, the KPIs need days of history):
- Incidents: POSTed as Alertmanager v4 notifications to the monitor's /webhooks/alertmanager, the same
  route and code a production Alertmanager uses. Twelve of them are REPLAYED WITH BACKDATED TIMES
  (started 5-50 minutes ago) so that MTTR and the resolution rates have samples; during the run a
  live incident fires and resolves every ~20 s. No Alertmanager process runs in the demo.
- Deployments: POSTed to /webhooks/deployments like a CI pipeline would, BACKDATED over the last two
  weeks (prompt versions and model changes), two of them followed by an incident within the hour
  (change failure rate); one live prompt deployment during the run.
- Spend forecast: the gateway's real spend exists only for today, so the forecast source is given
  28 days of SYNTHETIC daily spend (config `synthetic_history`) and backtests the last 14 days on it;
  cost_prediction_accuracy's evidence reports `synthetic_days`.
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import datetime, timezone

import httpx

from collectors.incidents.webhook import fingerprint

TEAMS = ("search", "support", "billing", "research")
ALERTS = ("ProviderErrorRateHigh", "LatencyP95High", "FallbackStorm", "BudgetBurnFast", "CacheHitRateLow")
AM_TOKEN_ENV, DEPLOY_TOKEN_ENV = "AIOPS_DEMO_ALERTMANAGER_TOKEN", "AIOPS_DEMO_DEPLOYMENTS_TOKEN"


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _notification(name: str, team: str, starts: float, ends: float | None, auto: bool, member: str = "0") -> dict:
    labels = {"alertname": name, "team": team, "member": member, "source": "demo"}
    if auto:
        labels["auto_resolved"] = "true"
    alert = {"status": "firing" if ends is None else "resolved", "labels": labels, "annotations": {"demo": "replayed"},
             "startsAt": _rfc3339(starts), "endsAt": _rfc3339(ends) if ends else "0001-01-01T00:00:00Z",
             "generatorURL": "http://demo/", "fingerprint": fingerprint(labels)}
    # One Alertmanager group per replayed alert (group_by: [alertname, member]) so they stay apart.
    return {"version": "4", "groupKey": f'{{}}:{{alertname="{name}", member="{member}"}}', "status": alert["status"], "receiver": "aiops-demo",
            "groupLabels": {"alertname": name}, "commonLabels": labels, "commonAnnotations": {},
            "externalURL": "http://demo", "truncatedAlerts": 0, "alerts": [alert]}


class IncidentsDemoFeed:
    def sources_config(self) -> dict:
        return {
            "alertmanager": {"token_env": AM_TOKEN_ENV},
            "deployments": {"token_env": DEPLOY_TOKEN_ENV, "failure_window": "1h"},
            "forecast": {"backtest_days": 14, "synthetic_history": {
                "days": 28, "daily_usd": {"search": 4.0, "support": 2.5, "billing": 1.5, "research": 0.8}}},
        }

    async def run(self, monitor_url: str, seconds: float, rng: random.Random) -> None:
        am_headers = {"Authorization": f"Bearer {os.environ[AM_TOKEN_ENV]}"} if os.environ.get(AM_TOKEN_ENV) else {}
        dep_headers = {"Authorization": f"Bearer {os.environ[DEPLOY_TOKEN_ENV]}"} if os.environ.get(DEPLOY_TOKEN_ENV) else {}
        async with httpx.AsyncClient(base_url=monitor_url, timeout=10, trust_env=False) as client:
            async def alert(body: dict) -> None:
                (await client.post("/webhooks/alertmanager", json=body, headers=am_headers)).raise_for_status()

            async def deploy(events: list[dict]) -> None:
                (await client.post("/webhooks/deployments", json=events, headers=dep_headers)).raise_for_status()

            now = time.time()
            replayed = await self._replay_incidents(alert, now, rng)
            deployments = await self._replay_deployments(alert, deploy, now, rng)
            print(f"[demo feed] replayed {replayed} BACKDATED incidents and {deployments} BACKDATED deployments; "
                  "the forecast uses 28 days of SYNTHETIC spend history", flush=True)
            await self._live(alert, deploy, seconds, rng)

    async def _replay_incidents(self, alert, now: float, rng: random.Random) -> int:
        count = 0
        for i in range(12):
            starts = now - rng.uniform(5, 50) * 60
            ends = starts + rng.uniform(60, 480)
            name, team, auto = ALERTS[i % len(ALERTS)], TEAMS[i % len(TEAMS)], i % 6 != 0
            await alert(_notification(name, team, starts, None, auto, member=str(i)))
            await alert(_notification(name, team, starts, min(ends, now - 1), auto, member=str(i)))
            count += 1
        return count

    async def _replay_deployments(self, alert, deploy, now: float, rng: random.Random) -> int:
        events = []
        for i in range(12):
            deployed = now - (14 - i) * 86400 + rng.uniform(0, 6 * 3600)
            kind = "prompt" if i % 3 else "model"
            events.append({"kind": kind, "name": f"{TEAMS[i % 4]}-{'answer' if kind == 'prompt' else 'gpt-4o-mini'}",
                           "version": f"demo-{i}", "team": TEAMS[i % 4], "deployed_at": deployed,
                           "created_at": deployed - rng.uniform(2, 30) * 3600})
        await deploy(events)
        for i in (4, 9):  # these two changes broke something within the hour: the change failure rate
            starts = events[i]["deployed_at"] + rng.uniform(5, 40) * 60
            await alert(_notification("RegressionAfterDeploy", events[i]["team"], starts, starts + 900, False, f"d{i}"))
        return len(events)

    async def _live(self, alert, deploy, seconds: float, rng: random.Random) -> None:
        deadline = time.monotonic() + seconds
        deployed = False
        n = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(min(20.0, max(deadline - time.monotonic(), 0)))
            n += 1
            starts, team = time.time(), rng.choice(TEAMS)
            await alert(_notification("LiveDemoAlert", team, starts, None, True, f"live{n}"))
            if not deployed:
                await deploy([{"kind": "prompt", "name": f"{team}-answer", "version": f"live-{int(starts)}", "team": team,
                               "created_at": starts - 3 * 3600}])
                deployed = True
            await asyncio.sleep(min(8.0, max(deadline - time.monotonic(), 0.5)))
            await alert(_notification("LiveDemoAlert", team, starts, time.time(), True, f"live{n}"))


feed = IncidentsDemoFeed()
