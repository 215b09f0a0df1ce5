"""Remediation when an alert opens: proposed (and the notification says the command),
or done at once where the policy marks it automatic; ``alerts remediate`` runs what was
proposed. Real Git: the retraining request is a branch with a commit."""

from __future__ import annotations

from tests.monitor.alerting_world import (
    START,
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)

RETRAIN = "      remediation:\n        action: retrain\n"
AUTOMATIC = "      remediation:\n        action: retrain\n        automatic: true\n"


def test_a_proposed_remediation_is_in_the_notification_and_runs_on_request(world: World) -> None:
    world.configure(remediation=RETRAIN)
    monitor = world.monitor()
    world.traffic(0, shift=2.0)
    report = world.tick(monitor, world.after(0))
    (alert,) = monitor.alerts.find()
    assert alert.remediation is not None
    assert (alert.remediation["action"], alert.remediation["status"]) == ("retrain", "proposed")
    assert [r["status"] for r in report.remediations] == ["proposed"]
    (post,) = world.webhook_posts()
    assert "Remediation (retrain, proposed): proposed: write a retraining request" in post["text"]
    assert f"run `alignops alerts remediate {alert.id}`" in post["text"]
    assert post["details"]["remediation"]["status"] == "proposed"
    done, outcome = monitor.remediate(alert.id)
    assert outcome.status == "done" and outcome.branch and outcome.commit
    assert done.remediation is not None and done.remediation["status"] == "done"
    assert str(world.repo.git.resolve(f"refs/heads/{outcome.branch}").id) == outcome.commit
    (opened,) = world.audit.records(action="alert.opened")
    assert opened.data["remediation"]["status"] == "proposed"


def test_an_automatic_remediation_is_done_when_the_alert_opens(world: World) -> None:
    world.configure(remediation=AUTOMATIC)
    monitor = world.monitor()
    world.traffic(0, shift=2.0)
    world.traffic(1, shift=2.0)
    world.tick(monitor, world.after(1))
    (alert,) = monitor.alerts.find()
    assert alert.first_window == START and alert.remediation is not None
    assert alert.remediation["status"] == "done"
    branch = alert.remediation["branch"]
    assert world.repo.git.resolve(f"refs/heads/{branch}")
    first, second = world.webhook_posts()
    assert "Remediation (retrain, done): wrote the retraining request" in first["text"]
    assert f"on branch {branch}" in first["text"]
    # Once per alert, not per window: the update does not remediate again.
    assert len(world.audit.records(action="remediation.*")) == 1
    assert "Remediation (retrain, done)" in second["text"]
