"""``mailto:user@host``: a plain-text e-mail through the SMTP server of
``notifications.smtp``.

Subject ``[SEVERITY] title``, From
``smtp.sender``, a text body (title, markdown text, fields, links, and the delivery id
and dedup key), headers ``X-Alignops-Delivery`` and ``X-Alignops-Dedup-Key``. STARTTLS
when ``smtp.starttls``; login when ``smtp.username`` is set, with the password of the
route's ``secretRef`` if it has one, else of ``smtp.passwordRef``.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from alignops.manifests.config import NotificationSettings
from alignops.manifests.kinds.alertroute import SecretRef
from alignops.notify.channels.base import (
    Channel,
    DeliveryError,
    Envelope,
    SendContext,
    register_channel,
)
from alignops.notify.routes import Route
from alignops.notify.secrets import Secret, SecretUnavailable

__all__ = ["MailChannel", "render_mail"]


def render_mail(envelope: Envelope, sender: str) -> EmailMessage:
    """The message sent for ``envelope``."""
    n = envelope.notification
    message = EmailMessage()
    message["Subject"] = f"[{n.tag}] {n.title}"
    message["From"] = sender
    message["To"] = envelope.target.address
    message["Date"] = format_datetime(envelope.sent_at)
    domain = sender.rpartition("@")[2] or "alignops.localhost"
    message["Message-ID"] = make_msgid("alignops", domain=domain)
    message["X-Alignops-Delivery"] = str(envelope.id)
    message["X-Alignops-Dedup-Key"] = n.dedup_key
    lines = [n.title, ""]
    if n.text.strip():
        lines += [n.text.strip(), ""]
    if n.fields:
        width = max(len(k) for k in n.fields)
        lines += [f"{k.ljust(width)}  {v}" for k, v in n.fields.items()]
        lines.append("")
    if envelope.links:
        lines += [f"{text}: {url}" for text, url in envelope.links.items()]
        lines.append("")
    lines += [
        "--",
        f"{n.kind} · severity {n.severity} · alignops notification {envelope.id}",
        f"dedup key: {n.dedup_key}",
    ]
    message.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    return message


@register_channel("mailto")
class MailChannel(Channel):
    """Sends through SMTP; the secret, when asked for, is the SMTP password."""

    def secret_ref(self, route: Route, settings: NotificationSettings) -> SecretRef | None:
        smtp = settings.smtp
        if smtp.username is None:
            return None
        ref = route.secret_ref or smtp.password_ref
        if ref is None:
            raise SecretUnavailable(
                "notifications.smtp.username is set but there is no password: set "
                "notifications.smtp.passwordRef (or the route's secretRef)"
            )
        return ref

    def send(self, envelope: Envelope, secret: Secret | None, context: SendContext) -> None:
        smtp = context.settings.smtp
        message = render_mail(envelope, smtp.sender)
        where = f"SMTP server {smtp.host}:{smtp.port}"
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as server:
                server.ehlo()
                if smtp.starttls:
                    tls = context.ssl_context or ssl.create_default_context()
                    server.starttls(context=tls)
                    server.ehlo()
                if smtp.username is not None and secret is not None:
                    server.login(smtp.username, secret.reveal())
                server.send_message(
                    message, from_addr=smtp.sender, to_addrs=[envelope.target.address]
                )
        except smtplib.SMTPRecipientsRefused as exc:
            refusals = "; ".join(
                f"{rcpt}: {code} {_text(reply)}" for rcpt, (code, reply) in exc.recipients.items()
            )
            raise DeliveryError(f"{where} refused the recipient: {refusals}") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except TimeoutError:
            raise DeliveryError(
                f"{where}: no answer within {smtp.timeout_seconds:g} s (timeout)"
            ) from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise DeliveryError(f"cannot connect to {where}: {exc.strerror or exc}") from None


def _text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())
