"""`aiops-maturity demo`: the monitor on embedded defaults, fed by a real in-process LiteLLM Router.

The Router has mock deployments only (no provider is called): several teams, a response cache,
a flaky deployment whose failures fall back to a healthy one, and a dead endpoint (a closed
loopback port) with and without fallback. Every attempt goes through `MaturityLogger`, which posts
to the monitor's own ingest endpoint: the same path a production proxy uses.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price map

from rich.console import Console  # noqa: E402
from rich.live import Live  # noqa: E402

from monitor.runtime.config import build_config  # noqa: E402
from signals import plugins  # noqa: E402
from monitor.render import render  # noqa: E402
from monitor.runtime.server import RunningMonitor  # noqa: E402
from monitor.runtime.service import Monitor  # noqa: E402
from monitor.demo.yesterday import copy_to_yesterday  # noqa: E402

# Other sources join the demo through feeds, plugins of the entry-point group
# `aiops_maturity.demo_feeds` (signals/plugins.py), each an object with
#   sources_config() -> dict   the demo config's `sources` sections this feed needs
#   async run(monitor_url: str, seconds: float, rng: random.Random) -> None   its traffic


YESTERDAY_AFTER = 60  # requests served before the demo copies them to yesterday (monitor/demo/yesterday.py)


def load_feeds() -> list:
    return list(plugins.load_all(plugins.DEMO_FEEDS).values())


MODEL_LIST = [
    {"model_name": "gpt-4o-mini", "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "hi", "api_key": "fake"}},
    {"model_name": "claude-fast", "litellm_params": {"model": "anthropic/claude-3-5-haiku-20241022",
                                                     "mock_response": "hello from claude mock", "api_key": "fake"}},
    # "flaky": two deployments in one group, one of which is always rate limited.
    {"model_name": "flaky", "litellm_params": {"model": "openai/gpt-4o", "mock_response": "ok", "api_key": "fake"}},
    {"model_name": "flaky", "litellm_params": {"model": "openai/gpt-4o", "mock_response": "litellm.RateLimitError",
                                               "api_key": "fake"}},
    # A dead endpoint: connection refused on a closed loopback port.
    {"model_name": "dead-endpoint", "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1",
                                                       "api_key": "fake"}},
    {"model_name": "dead-no-fallback", "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1",
                                                          "api_key": "fake"}},
]
FALLBACKS = [{"flaky": ["gpt-4o-mini"]}, {"dead-endpoint": ["claude-fast"]}]


@dataclass(frozen=True)
class TeamProfile:
    name: str
    identity: str  # how the team is identified: alias, id, tag or none
    models: tuple[tuple[str, float], ...]
    repeat_share: float  # share of prompts drawn from a small set, so the cache hits
    weight: float


TEAMS = (
    TeamProfile("search", "alias", (("gpt-4o-mini", 0.6), ("flaky", 0.3), ("claude-fast", 0.1)), 0.5, 0.35),
    TeamProfile("support", "alias", (("claude-fast", 0.6), ("dead-endpoint", 0.2), ("gpt-4o-mini", 0.2)), 0.3, 0.25),
    TeamProfile("billing", "tag", (("gpt-4o-mini", 0.8), ("dead-no-fallback", 0.05), ("claude-fast", 0.15)), 0.2, 0.2),
    TeamProfile("research", "id", (("claude-fast", 0.7), ("flaky", 0.3)), 0.1, 0.1),
    TeamProfile("unattributed", "none", (("gpt-4o-mini", 1.0),), 0.0, 0.1),
)


def _metadata(team: TeamProfile) -> dict:
    if team.identity == "alias":
        return {"user_api_key_team_alias": team.name}
    if team.identity == "id":
        return {"user_api_key_team_id": f"team-{team.name}"}
    if team.identity == "tag":
        return {"tags": [f"team:{team.name}"]}
    return {}


def make_router():
    import litellm
    from litellm import Router
    from litellm.caching.caching import Cache

    litellm.cache = Cache(type="local")
    litellm.suppress_debug_info = True
    # The dead deployments fail on purpose; LiteLLM would print a traceback-sized error for each.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return Router(model_list=MODEL_LIST, fallbacks=FALLBACKS, num_retries=0, disable_cooldowns=True, timeout=5)


async def one_request(router, rng: random.Random, listeners=()) -> None:
    team = rng.choices(TEAMS, weights=[t.weight for t in TEAMS])[0]
    model = rng.choices([m for m, _ in team.models], weights=[w for _, w in team.models])[0]
    repeated = rng.random() < team.repeat_share
    prompt = f"faq #{rng.randrange(5)}" if repeated else f"question {rng.getrandbits(48):x}"
    call_id = str(uuid.uuid4())
    try:
        await router.acompletion(
            # One id per logical request, as the proxy sets it, so fallbacks stay one request.
            litellm_call_id=call_id, model=model, messages=[{"role": "user", "content": prompt}],
            metadata=_metadata(team), caching=repeated, mock_delay=min(rng.lognormvariate(-1.6, 0.6), 3.0),
        )
    except Exception:  # noqa: BLE001 - failures are the point: the logger records them
        pass
    for listener in listeners:  # feeds that trace requests (monitor/demo/otlp_feed.py) get the same ids
        listener(call_id, team.name, model)


async def generate(router, seconds: float, rate: float, seed: int = 7, listeners=()) -> None:
    """Open-loop traffic at about `rate` requests per second for `seconds`."""
    rng = random.Random(seed)
    tasks: set[asyncio.Task] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        task = asyncio.create_task(one_request(router, rng, listeners))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(rng.expovariate(rate))
    if tasks:
        await asyncio.wait(tasks, timeout=10)


def demo_config(port: int, data_dir: Path, feeds: list):
    sources: dict = {}
    for feed in feeds:
        sources.update(feed.sources_config())
    return build_config({
        "evaluation_window": "1h",
        "server": {"host": "127.0.0.1", "port": port},
        "store": {"url": f"sqlite:///{data_dir / 'demo-history.db'}"},
        "scheduler": {"interval_seconds": 5},
        "history": {"cadence": "10s"},  # a demo lasts minutes: snapshots often enough to show a week in progress
        # Demo budgets (USD a month), small like its spend, so the KPI dashboard shows a share of budget.
        "budgets": {"all": 0.5, "search": 0.2, "support": 0.15, "billing": 0.1},
        "sources": sources,
    }, environ={}, origin="demo")


def run_demo(port: int, duration: float | None, data_dir: Path, rate: float, keep_history: bool,
             digest_out: Path | None = None) -> int:
    from collectors.litellm.logger import MaturityLogger
    import litellm

    # SIGTERM ends the demo like Ctrl-C (final report, clean exit), but through a flag the traffic
    # loop reads: an exception raised inside the event loop from a signal handler can land in any
    # task and print its traceback.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if not keep_history and data_dir.exists():
        shutil.rmtree(data_dir)
    console = Console()
    feeds = load_feeds()
    monitor = Monitor(demo_config(port, data_dir, feeds))
    with RunningMonitor(monitor, port_setting="--port N") as running:
        # First line, plain print: rich would wrap a long URL and the page is what to open first.
        print(f"Status page: {running.url}/", flush=True)
        console.print(f"[bold]aiops-maturity demo[/]: /metrics on {running.url}/metrics, history in {data_dir}/")
        logger = MaturityLogger(endpoint=f"{running.url}/ingest/litellm", flush_interval=0.5)
        litellm.callbacks = [logger]
        router = make_router()
        total = duration if duration is not None else float("inf")
        started = time.monotonic()
        live = Live(console=console, refresh_per_second=1, transient=False) if console.is_terminal else None

        async def drive() -> None:
            listeners = [feed.on_request for feed in feeds if hasattr(feed, "on_request")]
            traffic = asyncio.create_task(generate(router, total, rate, listeners=listeners))
            side = [asyncio.create_task(feed.run(running.url, total, random.Random(11))) for feed in feeds]
            last = 0.0
            yesterday_done = False
            while not traffic.done():
                await asyncio.sleep(1)
                if stopping.is_set():
                    traffic.cancel()
                    break
                report = monitor.snapshot.report
                if report is None:
                    continue
                if not yesterday_done and report.org.kpis["api_error_rate"].samples >= YESTERDAY_AFTER:
                    yesterday_done = True
                    copied = copy_to_yesterday(monitor)
                    if copied:
                        console.print(f"[dim]demo: {copied} requests copied 25 h back as the demo's yesterday "
                                      "(synthetic, for the KPI dashboard's changes)[/]")
                if live is not None:
                    live.update(render(report, monitor.catalog, show_no_data=False))
                elif time.monotonic() - last >= 10:
                    last = time.monotonic()
                    kpis = report.org.kpis
                    print(f"[{time.monotonic() - started:5.0f}s] level {report.org.level} score {report.org.score:.2f} "
                          f"requests {kpis['api_error_rate'].samples} error rate "
                          f"{(kpis['api_error_rate'].value or 0) * 100:.1f} % teams {len(report.teams)}", flush=True)
            await asyncio.gather(traffic, return_exceptions=True)
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)

        try:
            if live is not None:
                with live:
                    asyncio.run(drive())
            else:
                asyncio.run(drive())
        except KeyboardInterrupt:
            pass
        logger.flush()
        report = monitor.run_cycle()
        console.print(render(report, monitor.catalog, show_no_data=True))
        console.print(f"sent {logger.sent} payloads to the monitor, dropped {logger.dropped}")
        if digest_out is not None:
            from monitor.demo.digest import write_demo_digest

            console.print(f"digest: {write_demo_digest(monitor, digest_out)}")
    return 0
