"""docs/notifications.md shows what the code sends: its Slack, webhook and e-mail
examples are rendered here from the notification the page describes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from alignops.notify import Envelope, Notification, parse_target, render_slack, render_webhook
from alignops.notify.channels.mail import render_mail
from alignops.notify.notification import absolute_links

PAGE = Path(__file__).parents[2] / "docs" / "notifications.md"
BASE = "https://alignops.example.com"
DOCUMENTED = Notification(
    kind="firing",
    title="Data drift on employment-fair (production)",
    severity="warning",
    fields={
        "deployment": "employment-fair",
        "environment": "production",
        "metric": "psi",
        "value": "0.31 (AGEP)",
        "threshold": "> 0.1",
        "window": "2026-03-02 08:00–09:00 UTC",
    },
    labels={
        "environment": "production",
        "deployment": "employment-fair",
        "rule": "employment-fair-drift",
        "metric": "psi",
        "severity": "warning",
    },
    dedup_key="alert:7:2026-03-02T08:00:00+00:00",
    links={"Open the alert": "/alerts/7"},
    text="**PSI 0.31** on `employment-fair`: drifted features AGEP, WKHP.",
    details={"alert": 7, "features": {"AGEP": 0.31, "WKHP": 0.12}},
)


def envelope(target: str) -> Envelope:
    return Envelope(
        id=12,
        route="documented",
        target=parse_target(target),
        notification=DOCUMENTED,
        links=absolute_links(DOCUMENTED.links, BASE),
        sent_at=datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC),
    )


def blocks(language: str) -> list[str]:
    """The page's fenced blocks of ``language`` ("" for the plain ones)."""
    found: list[str] = []
    current: list[str] | None = None
    opened = ""
    for line in PAGE.read_text().splitlines(keepends=True):
        if line.startswith("```") and current is None:
            current, opened = [], line[3:].strip()
        elif line.startswith("```") and current is not None:
            if opened == language:
                found.append("".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return found


def test_the_documented_slack_and_webhook_bodies_are_what_is_sent() -> None:
    slack, webhook = (json.loads(text) for text in blocks("json"))
    assert slack == render_slack(envelope("slack://#ai-ops-alerts"), BASE)
    assert webhook == render_webhook(envelope("webhooks://hooks.example.com/alignops"))
    assert list(webhook) == list(render_webhook(envelope("webhook://h/x")))


def test_the_documented_email_is_what_is_sent() -> None:
    (documented,) = [b for b in blocks("") if b.startswith("Subject:")]
    head, _, body = documented.partition("\n\n")
    message = render_mail(envelope("mailto:ml-oncall@example.com"), "alignops@example.com")
    for line in head.splitlines():
        name, _, value = line.partition(": ")
        assert message[name] == value, name
    assert message.get_content() == body
