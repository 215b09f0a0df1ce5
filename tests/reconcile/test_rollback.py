"""Rollback through Git, by hand and automatically: real repositories, the real gate, real
service processes answering on loopback."""

from __future__ import annotations

import json
from typing import Any

import pygit2
import pytest

from alignops.errors import UsageError
from alignops.reconcile.rollback import rollback
from alignops.reconcile.sync import sync
from tests.conftest import BRIEF_MESSAGE
from tests.reconcile.conftest import Delivery, expected, metadata, predict, train

SERVICE = "ModelDeployment/scorer-api"
V1_FILES = ("deployments/scorer-api.yaml", "models/scorer-v1.yaml", "models/scorer-v1.skops")


def files(delivery: Delivery, revision: str) -> dict[str, bytes]:
    snapshot = delivery.snapshot(revision)
    return {path: snapshot.read(path) for path in V1_FILES}


def commit(delivery: Delivery, revision: str) -> pygit2.Commit:
    found = delivery.repo.git.resolve(revision)
    assert isinstance(found, pygit2.Commit)
    return found


def flat(text: str) -> str:
    return " ".join(text.split())


def serve_v2(delivery: Delivery, *, loads: bool = True) -> str:
    """A new version of the same Model (same files, version 2.0.0) with more memory."""
    delivery.model("scorer-v1", "2.0.0", train(2), features=loads)
    delivery.deployment("scorer-api", "scorer-v1", memory=768)
    return delivery.repo.commit("scorer 2.0.0 with more memory")


def test_rollback_commits_the_revert_and_the_old_version_serves_again(
    delivery: Delivery, cli: Any
) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    v1 = delivery.repo.git.head()
    assert delivery.sync().outcome == "synced"
    v2 = serve_v2(delivery)
    assert delivery.sync().outcome == "synced"
    assert metadata(delivery.url(SERVICE))["models"][0]["version"] == "2.0.0"

    done = cli("rollback", "scorer-api", *repo)

    assert done.exit_code == 0, done.stdout + done.stderr
    head = delivery.repo.git.head()
    revert = commit(delivery, head)
    assert [str(p) for p in revert.parent_ids] == [v2]  # a new commit on the branch
    assert delivery.repo.git.branch() == "main"
    assert files(delivery, head) == files(delivery, v1)  # v1's deployment and model files
    message = revert.message
    assert message.startswith(f"Roll back {SERVICE} to {v1[:12]}\n")
    assert message.rstrip().endswith(f"Alignops-Rollback-From: {v2}\nAlignops-Rollback-To: {v1}")
    assert "memory_mb: 768 → 512" in message
    assert "models: scorer-v1 2.0.0 100% → scorer-v1 1.0.0 100%" in message
    # The working tree follows the branch: the files are v1's and nothing is uncommitted.
    assert (delivery.repo.path / "models/scorer-v1.yaml").read_bytes() == files(delivery, v1)[
        "models/scorer-v1.yaml"
    ]
    assert delivery.repo.git.raw.status() == {}
    out = flat(done.stdout)
    assert f"ROLLED BACK {SERVICE} in staging: committed {head[:12]} on main" in out
    assert f"restoring {v1[:12]} (from {v2[:12]})" in out
    assert "SYNCED" in out and "1 updated" in out

    # The old version serves again, from the revert commit.
    url = delivery.url(SERVICE)
    answer = predict(url)
    assert (answer["version"], answer["revision"]) == ("1.0.0", head)
    assert answer["predictions"] == expected(train(1))
    assert metadata(url)["limits"]["memoryMb"] == 512

    (committed,) = delivery.audit.records(action="rollback.committed")
    assert committed.data["commit"] == head
    assert (committed.data["from"], committed.data["to"]) == (v2, v1)
    assert committed.data["files"] == dict.fromkeys(sorted(V1_FILES), "restored")
    actions = [r.action for r in reversed(delivery.audit.records())]
    started = actions.index("rollback.started")
    assert actions[started + 1 : started + 3] == ["rollback.committed", "sync.started"]
    assert cli("audit", "verify", *repo).exit_code == 0

    # Rolling back again does not flip back to the version just rolled back from.
    again = cli("rollback", "scorer-api", *repo, "-o", "json")
    assert again.exit_code == 2
    assert (
        "nothing to roll back ModelDeployment/scorer-api to" in json.loads(again.stdout)["message"]
    )
    assert delivery.repo.git.head() == head


def test_nothing_compliant_to_roll_back_to_is_an_error_and_commits_nothing(
    delivery: Delivery, cli: Any
) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    head = delivery.repo.git.head()
    delivery.sync()

    done = cli("rollback", "ModelDeployment/scorer-api", *repo)

    assert done.exit_code == 2
    assert "nothing to roll back ModelDeployment/scorer-api to" in flat(done.stderr)
    assert delivery.repo.git.head() == head
    (refused,) = delivery.audit.records(action="rollback.refused")
    assert refused.data["deployment"] == SERVICE
    assert "nothing to roll back" in refused.data["reason"]
    assert delivery.audit.records(action="rollback.committed") == []

    unknown = cli("rollback", "Model/scorer-v1", *repo)
    assert unknown.exit_code == 2
    assert "only a ModelDeployment rolls back" in flat(unknown.stderr)


def test_uncommitted_changes_to_its_files_refuse_the_rollback(delivery: Delivery, cli: Any) -> None:
    delivery.sync()
    v2 = serve_v2(delivery)
    delivery.sync()
    pid = delivery.pid(SERVICE)
    edited = delivery.repo.path / "deployments/scorer-api.yaml"
    edited.write_text(edited.read_text().replace("memory: 768", "memory: 1024"))

    done = cli("rollback", "scorer-api", "--repo", str(delivery.repo.path))

    assert done.exit_code == 2
    message = flat(done.stderr)
    assert "uncommitted changes to deployments/scorer-api.yaml" in message
    assert "nothing was committed" in message
    assert delivery.repo.git.head() == v2
    assert "memory: 1024" in edited.read_text()  # the edit is still there
    assert delivery.pid(SERVICE) == pid  # and v2 still serves
    assert metadata(delivery.url(SERVICE))["models"][0]["version"] == "2.0.0"
    (refused,) = delivery.audit.records(action="rollback.refused")
    assert "deployments/scorer-api.yaml" in refused.data["reason"]


def test_rollback_to_a_denied_revision_is_refused_and_to_a_passing_one_commits(
    delivery: Delivery, cli: Any
) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    v1 = delivery.repo.git.head()
    delivery.sync()
    delivery.deployment("scorer-api", "scorer-v1", memory=768)
    delivery.repo.function("scorer", 1024)  # denied by policies/serverless.rego
    denied = delivery.repo.commit("more memory everywhere")
    delivery.deployment("scorer-api", "scorer-v1", memory=1024)
    delivery.repo.function("scorer", 256)
    tip = delivery.repo.commit("more memory for the deployment only")
    assert delivery.sync().outcome == "synced"
    pid = delivery.pid(SERVICE)

    refused = cli("rollback", "scorer-api", "--to", denied[:12], *repo)

    assert refused.exit_code == 1
    assert BRIEF_MESSAGE in flat(refused.stdout)
    assert f"the gate denies {denied[:12]}; nothing was committed" in flat(refused.stdout)
    assert delivery.repo.git.head() == tip
    (record,) = delivery.audit.records(action="rollback.refused")
    assert [d["message"] for d in record.data["denials"]] == [BRIEF_MESSAGE]

    # --to a revision that passes, without syncing: a commit, nothing restarted.
    done = cli("rollback", "scorer-api", "--to", v1, "--no-sync", *repo, "-o", "json")
    assert done.exit_code == 0, done.stdout
    document = json.loads(done.stdout)
    head = delivery.repo.git.head()
    assert (document["rollback"]["commit"], document["sync"]) == (head, None)
    assert document["rollback"]["files"] == {"deployments/scorer-api.yaml": "restored"}
    assert delivery.snapshot(head).read("deployments/scorer-api.yaml") == delivery.snapshot(
        v1
    ).read("deployments/scorer-api.yaml")
    assert delivery.snapshot(head).read("functions/scorer.yaml") == delivery.snapshot(tip).read(
        "functions/scorer.yaml"
    )  # only the deployment's files are restored
    assert delivery.pid(SERVICE) == pid


def test_an_update_that_never_gets_healthy_is_rolled_back_in_git(
    delivery: Delivery, cli: Any
) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    v1 = delivery.repo.git.head()
    delivery.sync()
    pid, url = delivery.pid(SERVICE), delivery.url(SERVICE)
    config = delivery.repo.path / "alignops.yaml"
    scaffolded = config.read_text()
    config.write_text(
        scaffolded.replace("    target: local\n", "    target: local\n    autoRollback: false\n")
    )
    # Fitted on an array and no features listed: the runtime refuses to load it (exit 2).
    bad = serve_v2(delivery, loads=False)

    manual = cli("sync", *repo)  # autoRollback: false — a failure, and nothing committed
    assert manual.exit_code == 1
    assert delivery.repo.git.head() == bad
    assert delivery.audit.records(action="rollback.*") == []

    config.write_text(scaffolded)
    bad = delivery.repo.commit("roll back automatically again")
    failed = cli("sync", *repo)

    assert failed.exit_code == 1
    head = delivery.repo.git.head()
    assert [str(p) for p in commit(delivery, head).parent_ids] == [bad]
    assert files(delivery, head) == files(delivery, v1)
    assert f"Alignops-Rollback-To: {v1}" in commit(delivery, head).message
    out = flat(failed.stdout)
    assert f"rolled back {SERVICE}: committed {head[:12]} on main, restoring {v1[:12]}" in out
    assert "FAILED" in out
    # v1 kept serving throughout: the same process, never restarted.
    assert delivery.pid(SERVICE) == pid
    assert predict(url)["version"] == "1.0.0"
    (automatic,) = delivery.audit.records(action="rollback.automatic")
    assert automatic.data["rollback"]["commit"] == head
    assert "the new process exited" in automatic.data["failure"]
    assert "fitted without feature names" in automatic.data["failure"]
    (committed,) = delivery.audit.records(action="rollback.committed")
    assert committed.data["automatic"] is True

    # The revert declares what runs: syncing it changes nothing.
    after = sync(
        delivery.snapshot(head),
        environment="staging",
        context=delivery.context,
        audit=delivery.audit,
        repository=delivery.repo.git,
    )
    assert (after.outcome, after.actions, after.unchanged) == ("synced", (), (SERVICE,))
    assert delivery.pid(SERVICE) == pid


def test_a_failed_update_of_an_older_revision_is_not_rolled_back(delivery: Delivery) -> None:
    delivery.sync()
    bad = serve_v2(delivery, loads=False)
    delivery.repo.write("README.md", "a newer commit on main\n")
    tip = delivery.repo.commit("docs")

    result = sync(
        delivery.snapshot(bad),
        environment="staging",
        context=delivery.context,
        audit=delivery.audit,
        repository=delivery.repo.git,
    )

    assert result.outcome == "failed" and result.rollbacks == ()
    assert delivery.repo.git.head() == tip
    # By hand, it rolls back the tip.
    done = rollback(delivery.repo.git, "scorer-api", "staging", delivery.audit)
    assert done.from_revision == tip and delivery.repo.git.head() == done.commit


def test_a_rollback_does_not_change_other_resources_it_shares_files_with(
    delivery: Delivery,
) -> None:
    delivery.sync()
    serve_v2(delivery)
    deployments = delivery.repo.path / "deployments"
    (deployments / "other-api.yaml").write_text(
        (deployments / "scorer-api.yaml").read_text().replace("name: scorer-api", "name: other-api")
    )
    tip = delivery.repo.commit("other-api serves scorer-v1 2.0.0 too")
    delivery.sync()

    with pytest.raises(UsageError) as refused:
        rollback(delivery.repo.git, "scorer-api", "staging", delivery.audit)

    assert "Model/scorer-v1 is also used by ModelDeployment/other-api" in str(refused.value)
    assert delivery.repo.git.head() == tip
    assert delivery.audit.records(action="rollback.committed") == []
