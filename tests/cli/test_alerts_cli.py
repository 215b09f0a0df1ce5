"""``alignops alerts``: list, show, ack, silence, unsilence, silences, remediate — text,
JSON, and input errors that exit 2 and change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.monitor.alerting_world import (
    HOUR,
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)


def _fired(world: World, cli: Any) -> str:
    """One drift alert opened and notified; the repository path."""
    world.start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 2 * HOUR
    world.traffic(0, shift=2.0)
    repo = str(world.repo.path)
    assert cli("monitor", "run", "--once", "--repo", repo).exit_code == 0
    return repo


def test_list_and_show(world: World, cli: Any) -> None:
    repo = _fired(world, cli)
    listed = cli("alerts", "list", "--repo", repo)
    assert listed.exit_code == 0
    assert "scorer-api (production)" in listed.stdout and "firing" in listed.stdout
    data = json.loads(cli("alerts", "list", "-o", "json", "--repo", repo).stdout)
    (alert,) = data["alerts"]
    assert (alert["id"], alert["state"], alert["metric"]) == (1, "firing", "psi")
    assert alert["link"] == "/alerts/1"
    assert (
        cli("alerts", "list", "--state", "resolved", "--repo", repo).stdout.strip()
        == "no resolved alerts"
    )
    shown = cli("alerts", "show", "1", "--repo", repo)
    assert shown.exit_code == 0
    assert "policies/scorer-watch.yaml:8" in shown.stdout
    assert "x1" in shown.stdout
    assert "notification 1 firing → ml-alerts (slack://#ml-alerts): sent, 1 attempt" in shown.stdout
    detail = json.loads(cli("alerts", "show", "1", "-o", "json", "--repo", repo).stdout)
    assert [n["route"] for n in detail["notifications"]] == ["ml-alerts", "risk-webhook"]
    assert "x1" in detail["details"]["windows"][0]["over"]


def test_ack(world: World, cli: Any) -> None:
    repo = _fired(world, cli)
    acked = cli("alerts", "ack", "1", "--repo", repo)
    assert acked.exit_code == 0 and "acknowledged by pytest" in acked.stdout
    assert (
        json.loads(cli("alerts", "show", "1", "-o", "json", "--repo", repo).stdout)["ackedBy"]
        == "pytest"
    )


def test_silence_unsilence_and_silences(world: World, cli: Any) -> None:
    repo = _fired(world, cli)
    made = cli("alerts", "silence", "--match", "deployment=scorer-api", "--match", "metric=psi",
               "--for", "2h", "--comment", "retraining", "-o", "json", "--repo", repo)  # fmt: skip
    assert made.exit_code == 0, made.stderr
    silence = json.loads(made.stdout)
    assert silence["matchers"] == {"deployment": "scorer-api", "metric": "psi"}
    assert silence["active"] is True
    listed = cli("alerts", "silences", "--repo", repo)
    assert "deployment=scorer-api metric=psi" in listed.stdout and "active" in listed.stdout
    ended = cli("alerts", "unsilence", str(silence["id"]), "--repo", repo)
    assert ended.exit_code == 0 and "ended" in ended.stdout
    assert cli("alerts", "silences", "--repo", repo).stdout.strip() == "no silences"
    assert "expired" in cli("alerts", "silences", "--all", "--repo", repo).stdout
    again = cli("alerts", "unsilence", str(silence["id"]), "--repo", repo)
    assert again.exit_code == 2 and "expired at" in again.stderr


def test_input_errors_exit_2_and_change_nothing(world: World, cli: Any) -> None:
    repo = _fired(world, cli)
    bad = [
        (
            ("alerts", "silence", "--match", "deployment=scorer-api", "--for", "2 hours"),
            "--for '2 hours'",
        ),
        (("alerts", "silence", "--match", "team=risk", "--for", "2h"), "unknown label 'team'"),
        (("alerts", "silence", "--match", "deployment", "--for", "2h"), "expected LABEL=VALUE"),
        (("alerts", "show", "7"), "no alert 7"),
        (("alerts", "ack", "7"), "no alert 7"),
        (("alerts", "unsilence", "3"), "no silence 3"),
        (("alerts", "remediate", "1"), "declares no remediation"),
    ]
    for args, message in bad:
        result = cli(*args, "--repo", repo)
        assert result.exit_code == 2, args
        assert message in result.stderr, (args, result.stderr)
        as_json = cli(*args, "-o", "json", "--repo", repo)
        assert as_json.exit_code == 2 and message in json.loads(as_json.stdout)["message"]
    assert cli("alerts", "silences", "--all", "--repo", repo).stdout.strip() == "no silences"
    assert world.audit.records(action="alert.acked") == []


def test_remediate_runs_what_was_proposed(world: World, cli: Any) -> None:
    world.configure(remediation="      remediation:\n        action: retrain\n")
    repo = _fired(world, cli)
    shown = cli("alerts", "show", "1", "--repo", repo)
    assert "Remediation (retrain, proposed)" in shown.stdout
    assert "run `alignops alerts remediate 1`" in shown.stdout
    done = cli("alerts", "remediate", "1", "-o", "json", "--repo", repo)
    assert done.exit_code == 0, done.stderr
    outcome = json.loads(done.stdout)["remediation"]
    assert outcome["status"] == "done" and outcome["branch"].startswith("alignops/retrain/")
    assert (
        "Remediation (retrain, done): wrote the retraining request"
        in cli("alerts", "show", "1", "--repo", repo).stdout
    )
