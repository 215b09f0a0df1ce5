"""mailto: the message a real SMTP server received: subject, body, From, login, STARTTLS."""

from __future__ import annotations

import pytest

from alignops.notify import Notifier
from alignops.testing.smtp_capture import SmtpCapture

from .conftest import Tls, World, drift, settings

PASSWORD = "smtp-pass-5d41402abc"


def smtp_settings(server: SmtpCapture, **extra: object) -> dict[str, object]:
    return {"host": server.host, "port": server.port, "sender": "alignops@example.com", **extra}


def test_the_mail_server_receives_subject_body_and_from(
    world: World, smtp_server: SmtpCapture
) -> None:
    notifier = world.notifier(
        notification_settings=settings(
            smtp=smtp_settings(smtp_server), linksBaseUrl="https://alignops.example.com"
        )
    )
    (row_id,) = notifier.enqueue(drift(), targets=["mailto:ml-oncall@example.com"])

    assert [d.route for d in notifier.dispatch().sent] == ["mailto:ml-oncall@example.com"]

    (captured,) = smtp_server.messages
    assert captured.mail_from == "alignops@example.com"
    assert captured.rcpt_tos == ("ml-oncall@example.com",)
    assert captured.login is None
    assert not captured.tls
    message = captured.message
    assert message["Subject"] == "[WARNING] Data drift on employment-fair (production)"
    assert message["From"] == "alignops@example.com"
    assert message["To"] == "ml-oncall@example.com"
    assert message["X-Alignops-Delivery"] == str(row_id)
    assert message["X-Alignops-Dedup-Key"] == "alert:7:2026-03-02T08:00:00+00:00"
    body = captured.text
    assert body.startswith("Data drift on employment-fair (production)\n\n**PSI 0.31**")
    assert "deployment   employment-fair\n" in body
    assert "threshold    > 0.1\n" in body
    assert "Open the alert: https://alignops.example.com/alerts/7\n" in body
    assert f"alignops notification {row_id}" in body


def test_login_uses_the_password_from_password_ref(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    with SmtpCapture(credentials=("alerts", PASSWORD)) as server:
        notifier = world.notifier(
            notification_settings=settings(
                smtp=smtp_settings(server, username="alerts", passwordRef={"env": "SMTP_PASSWORD"})
            )
        )
        notifier.enqueue(drift(), targets=["mailto:ml-oncall@example.com"])
        assert len(notifier.dispatch().sent) == 1
        (captured,) = server.messages
    assert captured.login == "alerts"


def test_a_route_secret_ref_overrides_the_smtp_password(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "the wrong one")
    monkeypatch.setenv("TEAM_SMTP_PASSWORD", PASSWORD)
    route = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: oncall-mail
spec:
  target: mailto:ml-oncall@example.com
  secretRef:
    env: TEAM_SMTP_PASSWORD
"""
    with SmtpCapture(credentials=("alerts", PASSWORD)) as server:
        notifier = world.notifier(
            route,
            settings(
                smtp=smtp_settings(server, username="alerts", passwordRef={"env": "SMTP_PASSWORD"})
            ),
        )
        notifier.enqueue(drift(), targets=["mailto:ml-oncall@example.com"])
        assert [d.route for d in notifier.dispatch().sent] == ["oncall-mail"]
        assert server.failed_logins == []


def test_a_wrong_password_is_a_failed_attempt(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "not-the-password")
    with SmtpCapture(credentials=("alerts", PASSWORD)) as server:
        notifier = world.notifier(
            notification_settings=settings(
                smtp=smtp_settings(server, username="alerts", passwordRef={"env": "SMTP_PASSWORD"})
            )
        )
        notifier.enqueue(drift(), targets=["mailto:ml-oncall@example.com"])
        (retry,) = notifier.dispatch().retrying
        assert set(server.failed_logins) == {"alerts"}  # smtplib tries PLAIN, then LOGIN
        assert server.messages == []
    assert "535" in (retry.error or "")
    assert "not-the-password" not in (retry.error or "")


def test_starttls_when_the_settings_ask_for_it(world: World, tls: Tls) -> None:
    with SmtpCapture(tls_context=tls.server, require_starttls=True) as server:
        notifier = Notifier(
            [],
            settings(smtp=smtp_settings(server, starttls=True)),
            database=world.database,
            audit=world.audit,
            root=world.root,
            clock=world.clock,
            ssl_context=tls.client,
        )
        notifier.enqueue(drift(), targets=["mailto:ml-oncall@example.com"])
        assert len(notifier.dispatch().sent) == 1
        (captured,) = server.messages
    assert captured.tls


def test_a_username_without_a_password_ref_waits_and_says_so(
    world: World, smtp_server: SmtpCapture
) -> None:
    notifier = world.notifier(
        notification_settings=settings(smtp=smtp_settings(smtp_server, username="alerts"))
    )
    notifier.enqueue(drift(), targets=["mailto:ml-oncall@example.com"])
    (waiting,) = notifier.dispatch().waiting
    assert waiting.error == (
        "route mailto:ml-oncall@example.com: notifications.smtp.username is set but there is "
        "no password: set notifications.smtp.passwordRef (or the route's secretRef)"
    )
    assert waiting.attempts == 0
    assert smtp_server.messages == []
