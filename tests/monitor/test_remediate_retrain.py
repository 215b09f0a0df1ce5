"""A retraining request is a branch with one commit adding a markdown request, made on a
real Git repository; the environment's branch and the working tree are not touched."""

from __future__ import annotations

import re

import pygit2
import pytest

from alignops.errors import SourceError
from alignops.monitor.remediate import remediate
from tests.monitor.remediation_world import (
    ALERT,
    NOW,
    SINCE,
    facts,
    remediation,
    staging,
    with_data_and_policy,
)
from tests.reconcile.conftest import (
    Delivery,
)

BRANCH = f"alignops/retrain/scorer-api-20250314-{ALERT}"
REQUEST = "retraining/scorer-api-20250314.md"


def commit_of(delivery: Delivery, revision: str) -> pygit2.Commit:
    found = delivery.repo.git.resolve(revision)
    assert isinstance(found, pygit2.Commit)
    return found


def test_the_request_is_one_commit_on_a_new_branch_and_main_is_untouched(
    delivery: Delivery,
) -> None:
    serving = with_data_and_policy(delivery)
    git = delivery.repo.git
    worktree = sorted(p.name for p in delivery.repo.path.iterdir())

    outcome = remediate(
        facts(serving),
        remediation("retrain"),
        repository=git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        now=NOW,
    )

    assert (outcome.action, outcome.status, outcome.branch) == ("retrain", "done", BRANCH)
    assert outcome.files == (REQUEST,)
    request = commit_of(delivery, f"refs/heads/{BRANCH}")
    assert str(request.id) == outcome.commit
    assert [str(p) for p in request.parent_ids] == [serving]  # from the tip of main
    before, after = delivery.snapshot(serving), delivery.snapshot(f"refs/heads/{BRANCH}")
    assert set(after.files) - set(before.files) == {REQUEST}
    assert {p: o for p, o in after.files.items() if p != REQUEST} == dict(before.files)
    # main, HEAD, the index and the working tree are as they were.
    assert git.head() == serving and git.branch() == "main"
    assert git.raw.status() == {}
    assert sorted(p.name for p in delivery.repo.path.iterdir()) == worktree
    assert not (delivery.repo.path / "retraining").exists()

    message = request.message
    assert message.startswith("Request retraining of scorer-api: psi over the threshold")
    assert message.rstrip().endswith(f"Alignops-Alert: {ALERT}\nAlignops-Remediation: retrain")
    assert f"\n\nAlignops-Alert: {ALERT}\n" in message  # the trailers are their own paragraph

    (done,) = delivery.audit.records(action="remediation.done")
    assert done.subject == "staging"
    assert done.data["alertId"] == ALERT
    assert (done.data["action"], done.data["branch"], done.data["commit"]) == (
        "retrain",
        BRANCH,
        outcome.commit,
    )


def test_the_request_says_what_drifted_by_how_much_since_when_and_what_to_do(
    delivery: Delivery,
) -> None:
    serving = with_data_and_policy(delivery)
    remediate(
        facts(serving),
        remediation("retrain"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        now=NOW,
    )
    text = delivery.snapshot(f"refs/heads/{BRANCH}").read(REQUEST).decode()

    assert text.startswith("# Retraining request: scorer-api in staging\n")
    # Which features, by how much: x1 went over 0.1 (its worst 0.31), x2 never did.
    assert "Features whose PSI went over 0.1: `x1` (up to 0.31)." in text
    header = "| window | `psi` | `x1` |"
    assert header in text and "`x2` |" not in text.split(header)[1].split("\n")[0]
    rows = [line for line in text.splitlines() if line.startswith("| 2025-03-14T")]
    assert rows == [
        "| 2025-03-14T04:00:00+00:00 | 0.04 | 0.04 |",
        "| 2025-03-14T05:00:00+00:00 | **0.18** | **0.18** |",
        "| 2025-03-14T06:00:00+00:00 | **0.31** | **0.31** |",
        "| 2025-03-14T07:00:00+00:00 | **0.27** | **0.27** |",
    ]
    # Since when, the threshold and the policy it comes from (file:line).
    assert f"| since | {SINCE.isoformat()} (the first window that broke the rule) |" in text
    line = next(
        i + 1
        for i, row in enumerate(policy_lines(delivery))
        if row.strip() == "- type: DataDriftMonitoring"
    )
    assert (
        f"| threshold | 0.1, from `policies/scorer-drift.yaml:{line} "
        "(ModelDeploymentPolicy/scorer-drift, DataDriftMonitoring)` "
        "(rule `scorer-drift/DataDriftMonitoring`) |"
    ) in text
    assert "| windows | 4 observed, 3 over the threshold |" in text
    # The model and version serving, the revision.
    assert "| serving | `scorer-v1` 1.0.0 (100 %) |" in text
    assert f"| revision | `{serving}` |" in text
    # What to do: recent data, and the data the model was trained on.
    assert "`.alignops/telemetry/scorer-api/*.parquet`" in text
    assert re.search(
        r"training data of `scorer-v1`: `data/train.csv` \(Dataset `scorer-train`, sha256 "
        r"`[0-9a-f]{16}…`, declared in `datasets/scorer-train.yaml`\)",
        text,
    )
    assert f"on this branch** (`{BRANCH}`)" in text
    assert "Open a pull request into `main`" in text


def policy_lines(delivery: Delivery) -> list[str]:
    return (delivery.repo.path / "policies/scorer-drift.yaml").read_text().splitlines()


def test_a_request_is_written_once_per_alert(delivery: Delivery) -> None:
    serving = with_data_and_policy(delivery)
    first = remediate(
        facts(serving),
        remediation("retrain", automatic=True),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        now=NOW,
    )
    again = remediate(
        facts(serving),
        remediation("retrain", automatic=True),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        now=NOW,
    )

    assert (first.status, first.automatic) == ("done", True)
    assert (again.status, again.branch, again.commit) == ("skipped", BRANCH, first.commit)
    assert "already on branch" in again.message
    assert str(commit_of(delivery, f"refs/heads/{BRANCH}").id) == first.commit
    (skipped,) = delivery.audit.records(action="remediation.skipped")
    assert skipped.data["commit"] == first.commit


def test_a_request_of_the_same_day_already_merged_gets_the_alert_id_in_its_name(
    delivery: Delivery,
) -> None:
    with_data_and_policy(delivery)
    delivery.repo.write(REQUEST, "# an earlier request, merged\n")
    serving = delivery.repo.commit("merge the morning's request")

    outcome = remediate(
        facts(serving),
        remediation("retrain"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        now=NOW,
    )

    other = f"retraining/scorer-api-20250314-{ALERT}.md"
    assert outcome.files == (other,)
    after = delivery.snapshot(f"refs/heads/{BRANCH}")
    assert after.read(REQUEST) == b"# an earlier request, merged\n"
    assert after.read(other).startswith(b"# Retraining request")


def test_a_proposed_request_writes_nothing(delivery: Delivery) -> None:
    serving = with_data_and_policy(delivery)
    refs = sorted(delivery.repo.git.raw.references)

    outcome = remediate(
        facts(serving),
        remediation("retrain"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=False,
        now=NOW,
    )

    assert (outcome.status, outcome.branch, outcome.commit) == ("proposed", BRANCH, None)
    assert f"run `alignops alerts remediate {ALERT}`" in outcome.message
    assert sorted(delivery.repo.git.raw.references) == refs
    assert delivery.repo.git.head() == serving
    (proposed,) = delivery.audit.records(action="remediation.proposed")
    assert (proposed.data["alertId"], proposed.data["action"]) == (ALERT, "retrain")
    assert delivery.audit.records(action="remediation.done") == []


def test_a_branch_of_that_name_from_something_else_fails_and_is_kept(
    delivery: Delivery,
) -> None:
    serving = with_data_and_policy(delivery)
    git = delivery.repo.git
    git.create_branch(BRANCH, {"notes.md": b"someone's work\n"}, "unrelated", parent=serving)
    theirs = str(commit_of(delivery, f"refs/heads/{BRANCH}").id)

    outcome = remediate(
        facts(serving),
        remediation("retrain"),
        repository=git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        now=NOW,
    )

    assert (outcome.status, outcome.commit) == ("failed", None)
    assert "already exists and is not alert 42's request" in outcome.message
    assert str(commit_of(delivery, f"refs/heads/{BRANCH}").id) == theirs
    with pytest.raises(SourceError, match="already exists"):  # never overwritten
        git.create_branch(BRANCH, {"x.md": b"x"}, "again", parent=serving)
    assert str(commit_of(delivery, f"refs/heads/{BRANCH}").id) == theirs
    (failed,) = delivery.audit.records(action="remediation.failed")
    assert failed.data["branch"] == BRANCH


def test_a_fairness_request_names_the_protected_attributes(delivery: Delivery) -> None:
    serving = with_data_and_policy(delivery)
    windows = [
        {"window": "2025-03-14T05:00:00+00:00", "value": 0.08, "threshold": 0.05,
         "attributes": {"sex": 0.08}},
        {"window": "2025-03-14T06:00:00+00:00", "value": 0.06, "threshold": 0.05,
         "attributes": {"sex": 0.06, "race": 0.03}},
    ]  # fmt: skip

    outcome = remediate(
        facts(serving, metric="parity", rule="scorer-fair/BiasDetection", series=windows),
        remediation("retrain"),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        now=NOW,
    )

    text = delivery.snapshot(f"refs/heads/{BRANCH}").read(outcome.files[0]).decode()
    assert "## What broke the rule" in text and "## What drifted" not in text
    assert "Protected attributes whose parity went over 0.05: `sex` (up to 0.08)." in text
    # No policy of the serving revision declares BiasDetection for the model: no file:line.
    assert "| threshold | 0.05 (rule `scorer-fair/BiasDetection`) |" in text
    assert "| 2025-03-14T06:00:00+00:00 | **0.06** | **0.06** |" in text
