"""webhook:// and webhooks://: JSON signed with HMAC-SHA256, as a real server received it."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from alignops.notify import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Notifier,
    TargetError,
    parse_target,
    verify_signature,
)
from alignops.testing.http_capture import HttpCapture

from .conftest import START, Tls, World, drift, routes, settings

KEY = "whsec-7c1e0f2a9b"


def webhook_route(address: str, *, scheme: str = "webhook", secret: bool = True) -> str:
    ref = "  secretRef:\n    file: secrets/hook-key\n" if secret else ""
    return f"""\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: ops-webhook
spec:
  target: {scheme}://{address}/alignops/events
{ref}"""


def test_the_body_is_signed_with_the_key_from_the_secret_file(
    world: World, http_server: HttpCapture
) -> None:
    (world.root / "secrets").mkdir()
    (world.root / "secrets" / "hook-key").write_text(KEY + "\n")
    notifier = world.notifier(webhook_route(http_server.address))
    (row_id,) = notifier.enqueue(
        drift(), targets=[f"webhook://{http_server.address}/alignops/events"]
    )

    assert [d.id for d in notifier.dispatch().sent] == [row_id]

    (request,) = http_server.requests
    assert request.path == "/alignops/events"
    assert request.header(DELIVERY_HEADER) == str(row_id)
    signature = request.header(SIGNATURE_HEADER)
    assert signature == "sha256=" + hmac.new(KEY.encode(), request.body, hashlib.sha256).hexdigest()
    assert verify_signature(KEY.encode(), request.body, signature)
    assert not verify_signature(KEY.encode(), request.body + b" ", signature)
    assert not verify_signature(b"another key", request.body, signature)
    body = request.json()
    assert list(body) == [
        "kind",
        "title",
        "severity",
        "fields",
        "labels",
        "text",
        "links",
        "details",
        "dedupKey",
        "sentAt",
    ]
    assert body["kind"] == "firing"
    assert body["severity"] == "warning"
    assert body["fields"]["value"] == "0.31"
    assert body["labels"]["rule"] == "employment-fair-drift"
    assert body["details"] == {"alert": 7, "features": {"AGEP": 0.31, "WKHP": 0.12}}
    assert body["links"] == {"Open the alert": "/alerts/7"}
    assert body["dedupKey"] == "alert:7:2026-03-02T08:00:00+00:00"
    assert body["sentAt"] == START.isoformat(timespec="microseconds")


def test_without_a_secret_ref_the_body_is_not_signed(
    world: World, http_server: HttpCapture
) -> None:
    notifier = world.notifier(webhook_route(http_server.address, secret=False))
    notifier.enqueue(drift(), targets=[f"webhook://{http_server.address}/alignops/events"])
    notifier.dispatch()

    (request,) = http_server.requests
    assert request.header(SIGNATURE_HEADER) is None
    assert request.header(DELIVERY_HEADER) is not None
    assert json.loads(request.body)["title"] == drift().title


def test_webhooks_posts_over_https(world: World, tls: Tls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_KEY", KEY)
    text = webhook_route("127.0.0.1:{port}", scheme="webhooks").replace(
        "file: secrets/hook-key", "env: HOOK_KEY"
    )
    with HttpCapture(tls_context=tls.server) as server:
        notifier = Notifier(
            routes(text.format(port=server.port)),
            settings(),
            database=world.database,
            audit=world.audit,
            root=world.root,
            clock=world.clock,
            ssl_context=tls.client,
        )
        notifier.enqueue(drift(), targets=[f"webhooks://{server.address}/alignops/events"])
        report = notifier.dispatch()
        assert len(report.sent) == 1, report
        (request,) = server.requests
    assert verify_signature(KEY.encode(), request.body, request.header(SIGNATURE_HEADER))


def test_an_untrusted_certificate_is_a_failed_attempt(world: World, tls: Tls) -> None:
    with HttpCapture(tls_context=tls.server) as server:
        notifier = world.notifier(webhook_route(server.address, scheme="webhooks", secret=False))
        notifier.enqueue(drift(), targets=[f"webhooks://{server.address}/alignops/events"])
        (retry,) = notifier.dispatch().retrying
    assert "CERTIFICATE_VERIFY_FAILED" in (retry.error or "")


@pytest.mark.parametrize(
    ("text", "channel", "address"),
    [
        ("webhook://hooks.example.com/a/b?x=1", "webhook", "http://hooks.example.com/a/b?x=1"),
        ("webhook://127.0.0.1:8080/in", "webhook", "http://127.0.0.1:8080/in"),
        ("webhooks://hooks.example.com", "webhook", "https://hooks.example.com/"),
        ("slack://#ai-ops-alerts", "slack", "#ai-ops-alerts"),
        ("mailto:ml-oncall@example.com", "mailto", "ml-oncall@example.com"),
        ("log", "log", "stderr"),
    ],
)
def test_targets_name_a_channel_and_an_address(text: str, channel: str, address: str) -> None:
    target = parse_target(text)
    assert (target.channel, target.address) == (channel, address)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pagerduty://team", "unknown alert target 'pagerduty://team'"),
        ("webhook:///path", "has no host"),
        ("webhook://host:http/x", "invalid port"),
        ("webhook://user:hunter2@host/x", "must not carry credentials"),
    ],
)
def test_targets_no_channel_understands_are_refused(text: str, message: str) -> None:
    with pytest.raises(TargetError, match=message) as caught:
        parse_target(text)
    assert "hunter2" not in str(caught.value)
