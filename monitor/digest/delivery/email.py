"""E-mail over SMTP: multipart/alternative with a text part (the Markdown) and an HTML part whose
charts are attached inline (multipart/related, `cid:` references: mail clients block data: URIs).

The Message-ID is derived from the week and the recipients, so a copy re-sent after a crash is
recognisable as the same message. SMTP 4xx replies and connection failures are retried with
backoff; 5xx replies (unknown recipient, authentication) fail the run and are retried next cycle.
"""
from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from monitor.digest.delivery.retry import DeliveryError
from monitor.digest.config import EmailConfig
from monitor.digest.render import Rendered


def build_message(rendered: Rendered, config: EmailConfig) -> EmailMessage:
    week = rendered.digest.week
    digest = hashlib.sha1(("|".join(sorted(config.recipients)) + week).encode()).hexdigest()[:12]
    domain = config.sender.rpartition("@")[2] or "aiops-maturity"
    message = EmailMessage()
    message["Subject"] = rendered.headline
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message["Date"] = formatdate(rendered.digest.generated_at, localtime=False)
    message["Message-ID"] = f"<aiops-digest-{week}-{digest}@{domain}>"
    message["X-Aiops-Idempotency-Key"] = f"{week}/email"
    message.set_content(rendered.text)
    html = rendered.html
    cids = {}
    for chart in rendered.charts:
        cid = f"{chart.name.removesuffix('.png')}.{week}@aiops-maturity"
        cids[chart.name] = cid
        html = html.replace(chart.data_uri, f"cid:{cid}")
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for chart in rendered.charts:
        html_part.add_related(chart.png, "image", "png", cid=f"<{cids[chart.name]}>", filename=chart.name)
    return message


class EmailChannel:
    name = "email"

    def __init__(self, config: EmailConfig, password: str | None = None) -> None:
        self.config = config
        self.password = password

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "ssl":
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        if cfg.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def send(self, rendered: Rendered) -> str:
        message = build_message(rendered, self.config)
        try:
            with self._connect() as smtp:
                if self.config.username:
                    if self.password is None:
                        raise DeliveryError(f"email: no password in ${self.config.password_env}", transient=False)
                    smtp.login(self.config.username, self.password)
                refused = smtp.send_message(message, from_addr=self.config.sender, to_addrs=self.config.recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"email: every recipient refused: {exc.recipients}", transient=False) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"email: SMTP {exc.smtp_code} {exc.smtp_error!r}",
                                transient=400 <= exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email: {type(exc).__name__}: {exc}") from exc
        detail = f"email: {message['Message-ID']} to {len(self.config.recipients)} recipient(s)"
        return detail + (f"; refused {sorted(refused)}" if refused else "")
