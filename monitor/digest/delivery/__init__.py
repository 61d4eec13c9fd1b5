"""Delivering a rendered digest: the folder (always), Slack and e-mail (when configured).

Every channel goes through the ledger (monitor/digest/delivery/ledger.py): claimed before it is sent,
marked `sent` after, `failed` with the error otherwise, so a failure is retried in a later cycle
and a week is never sent twice on one channel, whichever replica runs it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from signals.errors import AiopsError
from monitor.digest.delivery.ledger import Ledger
from monitor.digest.delivery.retry import DeliveryError, with_retries
from monitor.digest.config import DigestConfig
from monitor.digest.render import Rendered, write_files

log = logging.getLogger("aiops_maturity")

__all__ = ["Channel", "DeliveryError", "DeliveryConfigError", "FolderChannel", "Ledger", "Outcome", "build_channels",
           "deliver"]


class DeliveryConfigError(AiopsError, ValueError):
    """A delivery channel is enabled but cannot work (its secret is not in the environment):
    a configuration error (one line, exit code 2 in the CLI)."""


class Channel(Protocol):
    name: str

    def send(self, rendered: Rendered) -> str: ...


@dataclass
class Outcome:
    channel: str
    status: str  # sent | skipped (already sent, or another process holds it) | failed
    detail: str = ""


class FolderChannel:
    """OUT/<week>/digest.md, digest.html, digest.json, charts/*.png; rewriting is harmless."""

    name = "folder"

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.paths: dict[str, Path] = {}

    def send(self, rendered: Rendered) -> str:
        try:
            self.paths = write_files(rendered, self.out_dir)
        except OSError as exc:
            raise DeliveryError(f"folder: {exc}") from exc
        return str(self.paths["html"])


def build_channels(config: DigestConfig, environ: dict[str, str], out_dir: Path | None = None) -> list[Channel]:
    from monitor.digest.delivery.email import EmailChannel
    from monitor.digest.delivery.slack import SlackChannel

    channels: list[Channel] = [FolderChannel(out_dir or config.out_dir)]
    slack = config.delivery.slack
    if slack.enabled:
        url = environ.get(slack.url_env)
        if not url:
            raise DeliveryConfigError(f"digest.delivery.slack: enabled but ${slack.url_env} is not set")
        channels.append(SlackChannel(url, config.link, slack.timeout))
    email = config.delivery.email
    if email.enabled:
        password = environ.get(email.password_env)
        if email.username and not password:
            raise DeliveryConfigError(f"digest.delivery.email: username set but ${email.password_env} is not set")
        channels.append(EmailChannel(email, password))
    return channels


def deliver(rendered: Rendered | Callable[[], Rendered], channels: list[Channel], ledger: Ledger, week: str,
            config: DigestConfig, sleep: Callable[[float], None] = time.sleep) -> list[Outcome]:
    """Claim every channel for `week`, render (when given a callable) only if one was claimed, send
    with retries, and record each result."""
    outcomes: list[Outcome] = []
    claimed = []
    for channel in channels:
        if ledger.claim(week, channel.name):
            claimed.append(channel)
        else:
            outcomes.append(Outcome(channel.name, "skipped", "already sent, or being sent by another process"))
    if not claimed:
        return outcomes
    try:
        digest = rendered() if callable(rendered) else rendered
    except Exception as exc:
        for channel in claimed:
            ledger.mark_failed(week, channel.name, f"rendering failed: {type(exc).__name__}: {exc}")
        raise
    retry = config.delivery
    for channel in claimed:
        try:
            detail = with_retries(lambda: channel.send(digest), retry.retries, retry.backoff, retry.max_backoff,
                                  sleep, what=f"digest {week} to {channel.name}")
        except Exception as exc:  # noqa: BLE001 - recorded, retried next cycle
            error = f"{type(exc).__name__}: {exc}"
            ledger.mark_failed(week, channel.name, error)
            log.warning("digest %s: %s delivery failed, will retry next cycle: %s", week, channel.name, error)
            outcomes.append(Outcome(channel.name, "failed", error))
        else:
            ledger.mark_sent(week, channel.name, detail)
            outcomes.append(Outcome(channel.name, "sent", detail))
    order = {c.name: i for i, c in enumerate(channels)}
    return sorted(outcomes, key=lambda o: order[o.channel])
