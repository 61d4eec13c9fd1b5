"""E-mail delivery to a real SMTP server in-process (aiosmtpd on 127.0.0.1): the message is parsed
back — text and HTML alternatives, charts inline by Content-ID — with authentication from the
environment, retried on a temporary SMTP error, and sent once per week."""
from __future__ import annotations

import email
import re
import socket
from email import policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.digest.config import DigestConfig
from monitor.digest.runner import DigestRunner
from monitor.storage.history import History
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.monitor.digest.digest_support import DAY, W02, seed_weeks

NOW = W02 + 9 * 7 * DAY
# A test server on loopback: AUTH without TLS is fine here (aiosmtpd warns about it).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
PNG = b"\x89PNG\r\n\x1a\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every accepted message; `temporary_failures` first DATA commands get 451."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.temporary_failures = 0
        self.data_commands = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.data_commands += 1
        if self.temporary_failures:
            self.temporary_failures -= 1
            return "451 4.3.0 try again later"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"digest", b"s3cret")
    return AuthResult(success=ok, handled=False)  # False: aiosmtpd sends the 535 itself


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_required=True, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def store(tmp_path):
    s = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    seed_weeks(History(s.engine), W02, 9, [{"cache_rate": 0.1 + 0.05 * k} for k in range(9)])
    yield s
    s.close()


def runner(store, smtp, tmp_path, password="s3cret", sleeps=None):
    controller, _ = smtp
    config = SimpleNamespace(model="aiops", digest=DigestConfig.model_validate({
        "out_dir": str(tmp_path / "out"), "timezone": "Europe/Berlin",
        "delivery": {"retries": 2, "backoff": "1s", "email": {
            "enabled": True, "host": "127.0.0.1", "port": controller.port, "security": "none", "username": "digest",
            "timeout": 10,
            "sender": "maturity@ops.example", "recipients": ["platform@ops.example", "cto@ops.example"]}}}))
    env = {"AIOPS_SMTP_PASSWORD": password} if password else {}
    return DigestRunner(store.engine, config, environ=env, clock=lambda: NOW,
                        sleep=(sleeps if sleeps is not None else []).append)


def test_the_received_mail_has_text_html_and_inline_charts(store, smtp, tmp_path):
    _, inbox = smtp
    outcomes = runner(store, smtp, tmp_path).run_scheduled()
    assert [(o.channel, o.status) for o in outcomes] == [("folder", "sent"), ("email", "sent")]
    ((mail_from, rcpt_tos, raw),) = inbox.messages
    assert mail_from == "maturity@ops.example" and rcpt_tos == ["platform@ops.example", "cto@ops.example"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"].startswith("AI-ops maturity 2026-W10: level ")
    assert re.fullmatch(r"<aiops-digest-2026-W10-[0-9a-f]{12}@ops\.example>", message["Message-ID"])
    assert message["X-Aiops-Idempotency-Key"] == "2026-W10/email"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "# AI-ops maturity digest — 2026-W10" in text and "(Europe/Berlin)" in text
    html_part = message.get_body(preferencelist=("html",))
    html = html_part.get_content()
    assert "<h1>AI-ops maturity digest — 2026-W10</h1>" in html and "data:image" not in html
    related = message.get_payload()[1]
    assert related.get_content_type() == "multipart/related"
    images = {part["Content-ID"].strip("<>"): part for part in related.iter_parts() if part.get_content_maintype() == "image"}
    referenced = re.findall(r'src="cid:([^"]+)"', html)
    assert referenced and set(referenced) == set(images)
    for part in images.values():
        assert part.get_content_type() == "image/png" and part.get_content().startswith(PNG)


def test_a_temporary_smtp_error_is_retried_with_backoff(store, smtp, tmp_path):
    _, inbox = smtp
    inbox.temporary_failures = 1
    sleeps: list[float] = []
    outcomes = runner(store, smtp, tmp_path, sleeps=sleeps).run_scheduled()
    assert outcomes[-1].status == "sent" and sleeps == [1.0]
    assert inbox.data_commands == 2 and len(inbox.messages) == 1


def test_failed_mail_is_retried_next_cycle_and_never_sent_twice(store, smtp, tmp_path):
    _, inbox = smtp
    first = runner(store, smtp, tmp_path, password="wrong")  # 535 authentication failed: not retried in the run
    outcome = first.run_scheduled()[-1]
    assert outcome.status == "failed" and "535" in outcome.detail and inbox.messages == []
    fixed = runner(store, smtp, tmp_path)  # the service restarted with the right password
    assert [o.status for o in fixed.retry_pending()["2026-W10"]] == ["sent"]
    assert [o.status for o in fixed.run_scheduled()] == ["skipped", "skipped"]
    assert fixed.retry_pending(force=True) == {}
    assert len(inbox.messages) == 1


def test_unreachable_server_fails_after_retries(store, tmp_path):
    closed = SimpleNamespace(port=free_port())
    sleeps: list[float] = []
    outcome = runner(store, (closed, None), tmp_path, sleeps=sleeps).run_scheduled()[-1]
    assert outcome.status == "failed" and "ConnectionRefusedError" in outcome.detail
    assert sleeps == [1.0, 2.0]
