"""Secrets (Slack webhook URL, HMAC key, SMTP password) appear nowhere: not in logs,
audit records, the database, reports, ``repr`` or error texts; a missing one is an
error of its route only, said plainly."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from alignops.manifests.kinds.alertroute import SecretRef
from alignops.notify import Secret, SecretUnavailable, read_secret, redact
from alignops.testing.http_capture import HttpCapture
from alignops.testing.smtp_capture import SmtpCapture

from .conftest import World, drift, settings

SLACK_PATH = "/services/T0SECRET/B0SECRET/Zq8JrQvXhook"
HMAC_KEY = "hmac-key-4f9a2c71d0"
SMTP_PASSWORD = "smtp-password-91b3e"

ROUTES = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: team-slack
spec:
  target: slack://#ai-ops-alerts
  secretRef:
    env: SLACK_URL
  match:
    severities: [warning]
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: signed-hook
spec:
  target: webhook://{hook}/events
  secretRef:
    file: .alignops/secrets/hook-key
  match:
    severities: [warning]
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: oncall-mail
spec:
  target: mailto:ml-oncall@example.com
  match:
    severities: [warning]
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: audit-log
spec:
  target: log
  match:
    severities: [warning]
"""


def everything_stored(world: World) -> str:
    """Every row of every table, and the database files' raw bytes."""
    parts = []
    meta = MetaData()
    meta.reflect(world.database.engine)
    with world.database.engine.connect() as conn:
        for table in meta.sorted_tables:
            parts += [repr(tuple(row)) for row in conn.execute(select(table))]
    for path in Path(world.database.engine.url.database or "").parent.glob("state.db*"):
        parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def test_no_secret_appears_anywhere(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_dir = world.root / ".alignops" / "secrets"
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "hook-key").write_text(HMAC_KEY)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    with (
        HttpCapture() as slack,
        HttpCapture() as hook,
        SmtpCapture(credentials=("alerts", SMTP_PASSWORD)) as smtp,
    ):
        slack_url = slack.url_for(SLACK_PATH)
        monkeypatch.setenv("SLACK_URL", slack_url)
        # a receiver that echoes what it was called with, and a server that refuses
        slack.fail_next(2, status=404, body=f"no_service for {SLACK_PATH}".encode())
        hook.fail_next(1, status=500, body=HMAC_KEY.encode())
        smtp.refuse_next(1, code=451, text=f"4.7.0 try later {SMTP_PASSWORD}")
        notifier = world.notifier(
            ROUTES.format(hook=hook.address),
            settings(
                maxAttempts=2,
                smtp={
                    "host": smtp.host,
                    "port": smtp.port,
                    "username": "alerts",
                    "passwordRef": {"env": "SMTP_PASSWORD"},
                },
            ),
        )
        notifier.enqueue(drift())
        reports = [notifier.dispatch()]
        world.clock.advance(3600)
        reports.append(notifier.dispatch())

        assert len(slack.requests) == 2  # failed twice: failed for good
        assert len(hook.requests) == 2  # 500, then sent
        assert len(smtp.messages) == 1  # 451, then sent
        assert HMAC_KEY not in hook.requests[-1].text  # the key signs, it is not sent

    outcomes = {
        d["route"]: outcome
        for report in reports
        for outcome, deliveries in report.to_dict().items()
        if outcome != "counts"
        for d in deliveries
    }
    assert outcomes == {
        "team-slack": "failed",
        "signed-hook": "sent",
        "oncall-mail": "sent",
        "audit-log": "sent",
    }
    failed = reports[1].failed[0]
    assert failed.error is not None
    assert failed.error.endswith("HTTP 404 Not Found: no_service for ***")

    seen = {
        # every logger but the capture SMTP server's own ("mail.log": the receiving side
        # logs the refusal text it was told to answer, which holds the password)
        "logs": "\n".join(
            f"{r.name} {r.getMessage()}" for r in caplog.records if r.name != "mail.log"
        ),
        "stderr and stdout": "".join(capsys.readouterr()),
        "log channel": world.log_stream.getvalue(),
        "audit": json.dumps([r.to_dict() for r in world.audit.records()]),
        "database": everything_stored(world),
        "reports": json.dumps([r.to_dict() for r in reports]),
        "repr": repr(notifier) + repr(notifier.outbox) + repr(reports),
    }
    for secret in (slack_url, SLACK_PATH, "Zq8JrQvXhook", HMAC_KEY, SMTP_PASSWORD):
        leaks = [where for where, text in seen.items() if secret in text]
        assert not leaks, f"{secret!r} appears in {leaks}"
    assert "notification.failed" in world.actions()


def test_a_missing_environment_variable_waits_and_other_routes_still_send(
    world: World, http_server: HttpCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_URL", raising=False)
    notifier = world.notifier(ROUTES.format(hook=http_server.address))
    (world.root / ".alignops" / "secrets").mkdir(parents=True)
    (world.root / ".alignops" / "secrets" / "hook-key").write_text(HMAC_KEY)
    ids = notifier.enqueue(drift(), targets=["log"])  # no smtp server: mail is retried
    assert len(ids) == 4

    report = notifier.dispatch()

    (waiting,) = report.waiting
    assert waiting.route == "team-slack"
    assert waiting.error == "route team-slack: environment variable SLACK_URL is not set"
    assert sorted(d.route for d in report.sent) == ["audit-log", "signed-hook"]
    row = notifier.outbox.get(waiting.id)
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, waiting.error)
    assert world.actions().count("notification.waiting") == 1

    notifier.dispatch()  # still missing: reported again, audited once
    assert world.actions().count("notification.waiting") == 1

    with HttpCapture() as slack:
        monkeypatch.setenv("SLACK_URL", slack.url_for("/services/T/B/X"))
        (sent,) = [d for d in notifier.dispatch().sent if d.route == "team-slack"]
        assert sent.attempts == 1
        assert len(slack.requests) == 1


def test_a_missing_secret_file_is_said_plainly(world: World, http_server: HttpCapture) -> None:
    notifier = world.notifier(ROUTES.format(hook=http_server.address))
    notifier.enqueue(drift(), targets=[])
    report = notifier.dispatch()
    errors = {d.route: d.error for d in report.waiting}
    assert errors["signed-hook"] == (
        "route signed-hook: secret file .alignops/secrets/hook-key does not exist"
    )
    assert http_server.requests == []


def test_a_slack_secret_that_is_not_a_url_is_not_echoed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_URL", "xoxb-not-a-url-73aa")
    notifier = world.notifier(ROUTES.format(hook="127.0.0.1:9"))
    notifier.enqueue(drift(), targets=[])
    errors = {d.route: d.error for d in notifier.dispatch().waiting}
    assert errors["team-slack"] == (
        "route team-slack: the environment variable SLACK_URL does not hold an http(s) URL"
    )
    assert "xoxb" not in everything_stored(world)


def test_secrets_are_read_from_env_or_files_relative_to_the_repository(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("  s3cret\n")
    secret = read_secret(SecretRef(file="key"), root=tmp_path)
    assert secret.reveal() == "s3cret"
    assert "s3cret" not in repr(secret) + str(secret)
    assert repr(secret) == "Secret(from secret file key)"
    absolute = read_secret(SecretRef(file=str(tmp_path / "key")), root=Path("/nowhere"))
    assert absolute.reveal() == "s3cret"
    assert read_secret(SecretRef(env="X"), root=tmp_path, environ={"X": "v"}).reveal() == "v"
    with pytest.raises(SecretUnavailable, match="environment variable X is empty"):
        read_secret(SecretRef(env="X"), root=tmp_path, environ={"X": " "})
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)


def test_redact_removes_every_form_of_a_secret() -> None:
    url = "https://hooks.slack.com/services/T00/B00/abc+def"
    text = (
        f"POST {url} failed; path /services/T00/B00/abc+def; "
        "quoted https%3A%2F%2Fhooks.slack.com%2Fservices%2FT00%2FB00%2Fabc%2Bdef"
    )
    assert redact(text, [Secret(url, "test")]) == "POST *** failed; path ***; quoted ***"
    assert redact("nothing to hide", ["", "key"]) == "nothing to hide"
