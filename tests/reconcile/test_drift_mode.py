"""Drift — a service killed outside Git — healed or reported, per environment: real
service processes, the real audit log, the CLI as a person runs it."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from alignops.reconcile.providers import processes
from tests.reconcile.conftest import Delivery, expected, predict, train

SERVICE = "ModelDeployment/scorer-api"
STAGING = "  - name: staging\n    branch: main\n    target: local\n"


def set_drift(delivery: Delivery, mode: str) -> str:
    config = delivery.repo.path / "alignops.yaml"
    text = config.read_text()
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("    drift:")]
    text = "".join(lines)
    assert STAGING in text
    config.write_text(text.replace(STAGING, f"{STAGING}    drift: {mode}\n"))
    return delivery.repo.commit(f"drift: {mode} in staging")


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):  # the kill is delivered asynchronously
        if processes.inspect(pid) is None:
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} survived SIGKILL")


def flat(text: str) -> str:
    return " ".join(text.split())


def test_report_mode_reports_a_killed_service_and_heal_mode_restarts_it(
    delivery: Delivery, cli: Any
) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    set_drift(delivery, "report")
    first = cli("sync", *repo)
    assert first.exit_code == 0, first.stdout  # never ran before: created, not drift
    kill(delivery.pid(SERVICE))

    planned = json.loads(cli("plan", *repo, "-o", "json").stdout)
    assert planned["driftMode"] == "report"
    (create,) = [a for a in planned["actions"] if a["service"] == SERVICE]
    assert (create["action"], create["reason"], create["drift"]) == ("create", "not running", True)
    text = cli("plan", *repo).stdout
    assert f"│drift │ {SERVICE} │ not running" in flat(text)  # what will happen: a report
    assert "0 to create" in flat(text) and "1 drift to report" in flat(text)

    reported = cli("sync", *repo)

    assert reported.exit_code == 1
    out = flat(reported.stdout)
    assert f"drift {SERVICE}: not running — reported, not healed (drift: report)" in out
    assert "DRIFTED" in out and "1 drifted" in out
    assert "0 created" in out and "0 unhealthy" in out  # the kill is said once, as drift
    assert delivery.live() == {}  # not restarted
    (drift,) = delivery.audit.records(action="sync.drift")
    assert (drift.data["service"], drift.data["healed"]) == (SERVICE, False)

    # Still drift at the next sync (the provider forgot the dead process meanwhile), and
    # a deployment that never ran is created even in report mode.
    delivery.deployment("fraud-api", "scorer-v1")
    delivery.repo.commit("serve fraud-api too")
    again = json.loads(cli("sync", *repo, "-o", "json").stdout)
    assert (again["outcome"], [d["service"] for d in again["drift"]]) == ("drifted", [SERVICE])
    assert [(a["action"], a["service"]) for a in again["actions"]] == [
        ("create", "ModelDeployment/fraud-api")
    ]
    assert SERVICE not in delivery.live()
    history = json.loads(cli("history", *repo, "-o", "json").stdout)
    assert [e["outcome"] for e in history[:2]] == ["drifted", "drifted"]

    set_drift(delivery, "heal")
    healed = json.loads(cli("sync", *repo, "-o", "json").stdout)

    assert (healed["outcome"], healed["drift"]) == ("synced", [])
    (create,) = healed["actions"]
    assert (create["action"], create["service"], create["ok"]) == ("create", SERVICE, True)
    plan_record = delivery.audit.records(action="sync.plan", limit=1)[0].data
    assert [a["drift"] for a in plan_record["actions"] if a["service"] == SERVICE] == [True]
    assert predict(delivery.url(SERVICE))["predictions"] == expected(train(1))
