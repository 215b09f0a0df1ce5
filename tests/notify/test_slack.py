"""slack://#channel: the incoming-webhook message as a real HTTP server received it."""

from __future__ import annotations

import pytest

from alignops.notify import mrkdwn
from alignops.testing.http_capture import HttpCapture

from .conftest import World, drift, settings

SLACK_ROUTE = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: ai-ops-alerts
spec:
  target: slack://#ai-ops-alerts
  secretRef:
    env: SLACK_WEBHOOK_URL
"""


def test_the_slack_server_receives_header_fields_text_links_and_channel(
    world: World, http_server: HttpCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", http_server.url_for("/services/T000/B000/XXXX"))
    notifier = world.notifier(
        SLACK_ROUTE, settings(linksBaseUrl="https://alignops.example.com/ops/")
    )
    (row_id,) = notifier.enqueue(drift(), targets=["slack://#ai-ops-alerts"])

    report = notifier.dispatch()

    assert [d.id for d in report.sent] == [row_id]
    (request,) = http_server.requests
    assert request.method == "POST"
    assert request.path == "/services/T000/B000/XXXX"
    assert request.header("content-type") == "application/json; charset=utf-8"
    assert (request.header("user-agent") or "").startswith("alignops/")
    body = request.json()
    assert body["channel"] == "#ai-ops-alerts"
    assert body["text"] == "[WARNING] Data drift on employment-fair (production)"
    header, fields, text, actions, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":warning: Data drift on employment-fair (production)",
            "emoji": True,
        },
    }
    assert fields["type"] == "section"
    assert [f["text"] for f in fields["fields"]] == [
        "*Deployment*\nemployment-fair",
        "*Environment*\nproduction",
        "*Metric*\npsi",
        "*Value*\n0.31",
        "*Threshold*\n&gt; 0.1",
        "*Window*\n2026-03-02 08:00–09:00 UTC",
    ]
    assert text["text"] == {
        "type": "mrkdwn",
        "text": "*PSI 0.31* on `employment-fair`: drifted features AGEP, WKHP.\n\n"
        "See <https://runbooks.example.com/drift|the runbook>.",
    }
    assert actions["type"] == "actions"
    assert [(e["text"]["text"], e["url"]) for e in actions["elements"]] == [
        ("Open the alert", "https://alignops.example.com/ops/alerts/7")
    ]
    assert context["type"] == "context"
    footer = " ".join(e["text"] for e in context["elements"])
    assert f"alignops notification {row_id}" in footer
    assert "alert:7:2026-03-02T08:00:00+00:00" in footer


def test_a_resolve_notice_and_relative_links_without_a_base_url(
    world: World, http_server: HttpCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", http_server.url_for("/hook"))
    notifier = world.notifier(SLACK_ROUTE)
    notice = drift(
        kind="resolved",
        title="Resolved: Data drift on employment-fair (production)",
        dedup_key="alert:7:resolved",
        text="",
    )
    notifier.enqueue(notice, targets=["slack://#ai-ops-alerts"])
    notifier.dispatch()

    body = http_server.requests[0].json()
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "context"]  # no text, no absolute link: no buttons
    assert body["blocks"][0]["text"]["text"].startswith(":white_check_mark: Resolved:")
    footer = [e["text"] for e in body["blocks"][-1]["elements"]]
    assert "Open the alert: /alerts/7" in footer


def test_many_fields_are_split_into_sections_of_ten(
    world: World, http_server: HttpCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", http_server.url_for("/hook"))
    fields = {f"feature {i}": f"{i / 100:.2f}" for i in range(23)}
    world.notifier(SLACK_ROUTE).enqueue(drift(fields=fields), targets=["slack://#ai-ops-alerts"])
    world.notifier(SLACK_ROUTE).dispatch()

    sections = [b for b in http_server.requests[0].json()["blocks"] if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 10, 3]


def test_markdown_becomes_slack_mrkdwn_with_escaping() -> None:
    assert mrkdwn("# Drift\n**a < b** & [docs](/d)", "https://x.example") == (
        "*Drift*\n*a &lt; b* &amp; <https://x.example/d|docs>"
    )
    assert mrkdwn("[relative](/alerts/1)") == "relative (/alerts/1)"
