"""Slack delivery against an HTTP server on 127.0.0.1 standing in for the incoming webhook: the
payload follows Block Kit (a JSON-schema subset of Slack's reference), failures are retried with
backoff and in a later cycle, and each week is posted exactly once, whichever replica sends."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from monitor.digest.delivery import DeliveryConfigError, FolderChannel, build_channels
from monitor.digest.delivery.slack import SlackChannel, build_payload
from monitor.digest.config import DigestConfig
from monitor.digest.runner import DigestRunner
from monitor.storage.history import History
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.monitor.digest.digest_support import DAY, W02, FakeWebhook, seed_weeks

SCHEMA = json.loads(Path(__file__).with_name("slack_blocks.schema.json").read_text())
NOW = W02 + 9 * 7 * DAY  # Monday of 2026-W11: the last complete week is 2026-W10
LINK = "https://ops.example/digests/{week}.html"


@pytest.fixture
def webhook():
    hook = FakeWebhook()
    yield hook
    hook.close()


@pytest.fixture
def store(store_url):
    s = Store(open_database(store_url))
    seed_weeks(History(s.engine), W02, 9, [{"error_rate": 0.15 - 0.015 * k} for k in range(9)])
    yield s
    s.close()


def runner_for(store, webhook, tmp_path, retries=2, sleeps=None):
    config = SimpleNamespace(model="aiops", digest=DigestConfig.model_validate({
        "out_dir": str(tmp_path / "digests"), "link": LINK,
        "delivery": {"retries": retries, "backoff": "1s", "slack": {"enabled": True}}}))
    sleeps = [] if sleeps is None else sleeps
    return DigestRunner(store.engine, config, environ={"AIOPS_SLACK_WEBHOOK_URL": webhook.url},
                        clock=lambda: NOW, sleep=sleeps.append)


def test_payload_follows_block_kit(store, webhook, tmp_path):
    runner = runner_for(store, webhook, tmp_path)
    outcomes = runner.run_scheduled()
    assert [(o.channel, o.status) for o in outcomes] == [("folder", "sent"), ("slack", "sent")]
    (post,) = webhook.posts
    assert post["content_type"] == "application/json" and post["path"] == "/services/T000/B000/XXXX"
    payload = post["json"]
    jsonschema.validate(payload, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert payload["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                                               "text": "AI-ops maturity digest 2026-W10"}}
    assert payload["text"].startswith("AI-ops maturity 2026-W10: level ")
    (button,) = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"]
    assert button["url"] == "https://ops.example/digests/2026-W10.html"
    assert (tmp_path / "digests" / "2026-W10" / "digest.html").is_file()


def test_schema_rejects_what_slack_rejects():
    bad = {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)
    too_long = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(too_long, SCHEMA)


def test_no_data_week_and_long_texts_stay_within_limits(store, tmp_path):
    runner = DigestRunner(store.engine, SimpleNamespace(model="aiops", digest=DigestConfig()), environ={},
                          channels=[])
    rendered = runner.render_week("2027-W01")
    payload = build_payload(rendered, link=None)
    jsonschema.validate(payload, SCHEMA)
    assert "No data was recorded this week." in json.dumps(payload)
    rendered = runner.render_week("2026-W10")
    for b in rendered.digest.blocking:
        b["remediation"] = "x" * 5000
        b["name"] = "<&>" * 100
    jsonschema.validate(build_payload(rendered, link="https://x.example/" + "y" * 2990), SCHEMA)


def test_failure_then_recovery_posts_exactly_once_per_week(store, webhook, tmp_path):
    sleeps: list[float] = []
    runner = runner_for(store, webhook, tmp_path, retries=2, sleeps=sleeps)
    webhook.script = [(500, {}, "internal_error")] * 3  # the whole first run fails
    outcomes = {o.channel: o for o in runner.run_scheduled()}
    assert outcomes["slack"].status == "failed" and "HTTP 500" in outcomes["slack"].detail
    assert outcomes["folder"].status == "sent"
    assert len(webhook.posts) == 3 and sleeps == [1.0, 2.0]  # backoff doubles
    assert runner.ledger.statuses("2026-W10")["slack"]["status"] == "failed"

    retried = runner.retry_pending()  # the next collection cycle
    assert [(o.channel, o.status) for o in retried["2026-W10"]] == [("slack", "sent")]
    assert len(webhook.delivered()) == 1
    assert runner.ledger.statuses("2026-W10")["slack"]["attempts"] == 2

    assert runner.retry_pending(force=True) == {}
    assert [o.status for o in runner.run_scheduled()] == ["skipped", "skipped"]  # the job firing again
    assert len(webhook.delivered()) == 1 and len(webhook.posts) == 4


def test_rate_limit_honours_retry_after(store, webhook, tmp_path):
    sleeps: list[float] = []
    runner = runner_for(store, webhook, tmp_path, retries=3, sleeps=sleeps)
    webhook.script = [(429, {"Retry-After": "7"}, "rate_limited")]
    assert [o.status for o in runner.run_scheduled()] == ["sent", "sent"]
    assert sleeps == [7.0] and len(webhook.delivered()) == 1


def test_a_rejected_payload_is_not_retried_within_the_run(store, webhook, tmp_path):
    sleeps: list[float] = []
    runner = runner_for(store, webhook, tmp_path, retries=3, sleeps=sleeps)
    webhook.script = [(404, {}, "no_service")]
    outcomes = {o.channel: o for o in runner.run_scheduled()}
    assert outcomes["slack"].status == "failed" and "no_service" in outcomes["slack"].detail
    assert sleeps == [] and len(webhook.posts) == 1


def test_replicas_sharing_the_database_post_once(store, webhook, tmp_path):
    runners = [runner_for(store, webhook, tmp_path / f"r{i}") for i in range(3)]
    barrier = threading.Barrier(len(runners))
    results = []

    def run(runner):
        barrier.wait()
        results.append({o.channel: o.status for o in runner.run_scheduled()})

    threads = [threading.Thread(target=run, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(webhook.posts) == 1
    assert sorted(r["slack"] for r in results) == ["sent", "skipped", "skipped"]


def test_channels_need_their_secret_from_the_environment(tmp_path):
    config = DigestConfig.model_validate({"delivery": {"slack": {"enabled": True}}})
    with pytest.raises(DeliveryConfigError, match="AIOPS_SLACK_WEBHOOK_URL"):
        build_channels(config, {})
    channels = build_channels(config, {"AIOPS_SLACK_WEBHOOK_URL": "https://hooks.example/x"}, tmp_path)
    assert [type(c) for c in channels] == [FolderChannel, SlackChannel]
    with pytest.raises(ValueError, match="AIOPS_SLACK_WEBHOOK_URL, not in the file"):
        DigestConfig.model_validate({"delivery": {"slack": {"enabled": True, "url": "https://hooks.example/x"}}})
