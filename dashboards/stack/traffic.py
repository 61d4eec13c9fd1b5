"""Mock traffic for the docker-compose stack (profile `traffic`): chat requests to the LiteLLM proxy
from a few teams (request tag `team:<name>`), some repeated so the cache hits, some on the flaky
model group so fallbacks happen. Without it the mock stack has nothing to measure."""
from __future__ import annotations

import os
import random
import time

import httpx

PROXY = os.environ.get("LITELLM_URL", "http://litellm:4000")
KEY = os.environ["LITELLM_MASTER_KEY"]
RATE = float(os.environ.get("TRAFFIC_RATE", "2"))  # requests per second
TEAMS = {"search": ["gpt-4o-mini", "flaky"], "support": ["claude-fast", "gpt-4o-mini"], "billing": ["gpt-4o-mini"],
         "": ["gpt-4o-mini"]}  # "" = no team: shows up as unattributed spend


def main() -> None:
    rng = random.Random(7)
    with httpx.Client(base_url=PROXY, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        while True:
            team = rng.choice(list(TEAMS))
            prompt = f"faq #{rng.randrange(5)}" if rng.random() < 0.4 else f"question {rng.getrandbits(40):x}"
            body = {"model": rng.choice(TEAMS[team]), "messages": [{"role": "user", "content": prompt}],
                    "metadata": {"tags": [f"team:{team}"] if team else []}}
            try:
                client.post("/v1/chat/completions", json=body)
            except httpx.HTTPError as exc:  # the proxy may still be starting: keep going
                print(f"traffic: {exc}", flush=True)
                time.sleep(2)
            time.sleep(rng.expovariate(RATE))


if __name__ == "__main__":
    main()
