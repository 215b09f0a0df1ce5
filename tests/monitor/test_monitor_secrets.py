"""Secrets — the Slack incoming-webhook URL, the webhook's HMAC key — never reach the
audit log, the state database or ``--output json`` of the monitor and alert commands,
even when the receiving server quotes the URL back in an error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from alignops.notify import SIGNATURE_HEADER
from alignops.store.schema import alerts, audit_records, notifications, silences
from tests.monitor.alerting_world import (
    HOUR,
    SLACK_PATH,
    WEBHOOK_KEY,
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)

SECRETS = ("very-secret-token", WEBHOOK_KEY)


def _dump(world: World) -> str:
    with world.db.transaction() as conn:
        rows = [
            dict(r._mapping)
            for table in (alerts, notifications, silences, audit_records)
            for r in conn.execute(select(table))
        ]
    return json.dumps(rows, default=str)


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_secrets_never_in_the_audit_log_the_database_or_json_output(world: World, cli: Any) -> None:
    now = datetime.now(UTC)
    world.start = now.replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    world.traffic(0, shift=2.0)
    world.traffic(1, shift=2.0)
    world.slack.fail_next(1, status=500, body=f"no hook at {SLACK_PATH}".encode())
    world.webhook.fail_next(1, status=500, body=f"bad signature for key {WEBHOOK_KEY}".encode())
    repo = str(world.repo.path)
    run = cli("monitor", "run", "--once", "-o", "json", "--repo", repo)
    assert run.exit_code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["counts"]["opened"] == 1
    assert report["counts"]["retrying"] == 2  # both routes failed once, with the secret quoted
    assert world.slack.requests[0].path == SLACK_PATH  # it was really used …
    assert world.webhook.requests[0].header(SIGNATURE_HEADER)  # … and so was the key
    silence = cli("alerts", "silence", "--match", "deployment=scorer-api", "--for", "1h",
                  "-o", "json", "--repo", repo)  # fmt: skip
    assert silence.exit_code == 0, silence.stderr
    outputs = [run.stdout, run.stderr, silence.stdout]
    for args in (
        ("alerts", "list", "--state", "all"),
        ("alerts", "show", "1"),
        ("alerts", "silences", "--all"),
        ("monitor", "status"),
        ("alerts", "ack", "1"),
    ):
        result = cli(*args, "-o", "json", "--repo", repo)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        json.loads(result.stdout)
        outputs += [result.stdout, result.stderr]
        text = cli(*args, "--repo", repo)
        outputs += [text.stdout, text.stderr]
    shown = json.loads(cli("alerts", "show", "1", "-o", "json", "--repo", repo).stdout)
    errors = [n["lastError"] for n in shown["notifications"] if n["lastError"]]
    assert len(errors) == 2  # the failures are reported …
    for output in outputs:
        _clean(output)  # … without the secrets
    _clean(_dump(world))
    _clean(world.log.getvalue())
    world.now = datetime.now(UTC) + timedelta(minutes=5)
    _clean(repr(world.monitor()))
