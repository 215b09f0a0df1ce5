"""Rollback as a remediation: the revert commit of reconcile.rollback, made for an alert;
nothing to roll back to is a clear "skipped"; a proposal writes nothing. Real syncs of
real service processes make the history a rollback reads."""

from __future__ import annotations

from alignops.monitor.remediate import remediate
from tests.monitor.remediation_world import (
    ALERT,
    facts,
    remediation,
    staging,
)
from tests.reconcile.conftest import (
    Delivery,
    train,
)

SERVICE = "ModelDeployment/scorer-api"
FILES = ("deployments/scorer-api.yaml", "models/scorer-v1.skops", "models/scorer-v1.yaml")


def serve_v2(delivery: Delivery) -> str:
    """Version 2.0.0 of the model, with more memory, committed and synced."""
    delivery.model("scorer-v1", "2.0.0", train(2))
    delivery.deployment("scorer-api", "scorer-v1", memory=768)
    revision = delivery.repo.commit("scorer 2.0.0 with more memory")
    assert delivery.sync().outcome == "synced"
    return revision


def test_an_applied_rollback_commits_the_revert_for_the_alert(delivery: Delivery) -> None:
    v1 = delivery.repo.git.head()
    assert delivery.sync().outcome == "synced"
    v2 = serve_v2(delivery)

    outcome = remediate(
        facts(v2),
        remediation("rollback", automatic=True),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
    )

    head = delivery.repo.git.head()
    assert (outcome.action, outcome.status, outcome.automatic) == ("rollback", "done", True)
    assert (outcome.branch, outcome.commit) == ("main", head)
    assert sorted(outcome.files) == sorted(FILES)
    assert f"rolled back to {v1[:12]} (from {v2[:12]})" in outcome.message
    revert = delivery.repo.git.resolve(head)
    assert [str(p) for p in revert.parent_ids] == [v2]
    for path in FILES:
        assert delivery.snapshot(head).read(path) == delivery.snapshot(v1).read(path)
    assert f"Remediation of alert {ALERT} (scorer-drift/DataDriftMonitoring, warning)" in (
        revert.message
    )
    assert revert.message.rstrip().endswith(f"Alignops-Rollback-To: {v1}")

    # The rollback's own steps, then the remediation's record naming the commit.
    actions = [r.action for r in reversed(delivery.audit.records())]
    tail = actions[actions.index("rollback.started") :]
    assert tail == ["rollback.started", "rollback.committed", "remediation.done"]
    (done,) = delivery.audit.records(action="remediation.done")
    assert (done.data["alertId"], done.data["action"]) == (ALERT, "rollback")
    assert (done.data["branch"], done.data["commit"]) == ("main", head)
    (committed,) = delivery.audit.records(action="rollback.committed")
    assert committed.data["automatic"] is True
    assert delivery.audit.verify().ok


def test_nothing_to_roll_back_to_is_skipped_with_what_to_do(delivery: Delivery) -> None:
    head = delivery.repo.git.head()
    assert delivery.sync().outcome == "synced"

    outcome = remediate(
        facts(head),
        remediation("rollback"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
    )

    assert (outcome.status, outcome.commit) == ("skipped", None)
    assert outcome.message.startswith(f"nothing to roll back {SERVICE} to:")
    assert "alignops rollback scorer-api --to REV" in outcome.message
    assert delivery.repo.git.head() == head
    assert [r.action for r in delivery.audit.records(action="r*")][:2] == [
        "remediation.skipped",
        "rollback.refused",
    ]


def test_a_proposed_rollback_writes_nothing(delivery: Delivery) -> None:
    head = delivery.repo.git.head()

    outcome = remediate(
        facts(head),
        remediation("rollback"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=False,
    )

    assert (outcome.status, outcome.branch, outcome.commit) == ("proposed", "main", None)
    assert outcome.message == (
        "proposed: roll scorer-api back to its last compliant version with a commit on "
        f"main; run `alignops alerts remediate {ALERT}` to do it"
    )
    assert delivery.repo.git.head() == head
    assert delivery.audit.records(action="rollback.*") == []
    (proposed,) = delivery.audit.records(action="remediation.*")
    assert (proposed.action, proposed.data["alertId"]) == ("remediation.proposed", ALERT)


def test_no_remediation_and_a_wrong_environment_are_recorded_not_raised(
    delivery: Delivery,
) -> None:
    head = delivery.repo.git.head()

    nothing = remediate(
        facts(head),
        remediation("none"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
    )
    elsewhere = remediate(
        facts(head, environment="production"),
        remediation("rollback"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
    )

    assert (nothing.status, nothing.message) == ("skipped", "the policy names no remediation")
    assert elsewhere.status == "failed"
    assert "is about environment 'production', not 'staging'" in elsewhere.message
    assert delivery.repo.git.head() == head
    assert [r.action for r in reversed(delivery.audit.records(action="remediation.*"))] == [
        "remediation.skipped",
        "remediation.failed",
    ]


def test_a_deployment_gone_from_the_branch_is_skipped(delivery: Delivery) -> None:
    serving = delivery.repo.git.head()
    (delivery.repo.path / "deployments/scorer-api.yaml").unlink()
    gone = delivery.repo.commit("retire scorer-api")

    outcome = remediate(
        facts(serving),
        remediation("rollback", automatic=True),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
    )

    assert (outcome.status, outcome.commit) == ("skipped", None)
    assert outcome.message.startswith(f"{SERVICE} is not deployed to staging at the tip of main")
    assert delivery.repo.git.head() == gone
