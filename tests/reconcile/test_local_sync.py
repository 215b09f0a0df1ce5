"""Sync with the local provider, end to end: real git revisions, the real gate, real
service processes answering HTTP on loopback."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from sqlalchemy import select

from alignops.reconcile.desired import desired_state
from alignops.reconcile.plan import plan
from alignops.reconcile.providers import ApplyContext, processes
from alignops.store.schema import services
from tests.conftest import BRIEF_MESSAGE
from tests.reconcile.conftest import Delivery, expected, metadata, predict, train

SERVICE = "ModelDeployment/scorer-api"


def instances(delivery: Delivery) -> list[dict[str, Any]]:
    with delivery.db.transaction() as conn:
        return [dict(r._mapping) for r in conn.execute(select(services))]


def gone(pid: int) -> bool:
    """The process exited (reaped, or at least no longer running)."""
    processes.reap(pid)
    return processes.inspect(pid) is None


def test_sync_serves_the_model_a_second_sync_is_a_noop_and_a_kill_is_healed(
    delivery: Delivery,
) -> None:
    head = delivery.repo.git.head()
    result = delivery.sync()
    assert (result.outcome, result.verdict) == ("synced", "pass")
    (create,) = result.actions
    assert (create.verb, create.service, create.ok, create.changed) == (
        "create",
        SERVICE,
        True,
        True,
    )
    assert result.health[SERVICE].ok

    url, pid = delivery.url(SERVICE), delivery.pid(SERVICE)
    answer = predict(url)
    assert answer["predictions"] == expected(train(1))
    assert (answer["model"], answer["version"], answer["revision"]) == ("scorer-v1", "1.0.0", head)
    assert metadata(url)["limits"]["memoryMb"] == 512
    # Detached: its own session, so it outlives the command that started it.
    assert os.getsid(pid) == pid != os.getsid(0)
    # The model file was materialized content-addressed, from the revision.
    (served,) = metadata(url)["models"]
    assert (delivery.state_dir / "runtime" / "models" / served["sha256"]).is_file()

    again = delivery.sync()
    assert again.outcome == "synced"
    assert again.actions == ()
    assert again.unchanged == (SERVICE,)
    assert delivery.pid(SERVICE) == pid

    # Applying the same create twice starts nothing either.
    snapshot = delivery.snapshot()
    desired = desired_state(snapshot, "staging")
    (action,) = [a for a in plan(desired, {}).actions if a.name == SERVICE]
    provider = delivery.providers()["local"]
    applied = provider.apply(action, ApplyContext(snapshot, "staging"))
    assert (applied.changed, applied.details["pid"]) == (False, pid)
    assert [r["pid"] for r in instances(delivery)] == [pid]

    # Killed behind alignops's back: not live any more, and the next sync heals it.
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):  # the kill is delivered asynchronously
        if processes.inspect(pid) is None:
            break
        time.sleep(0.05)
    assert delivery.live() == {}  # a dead process (even an unreaped zombie) is not live
    healed = delivery.sync()
    assert healed.outcome == "synced"
    (create,) = healed.actions
    assert (create.verb, create.reason) == ("create", "not running")
    new_pid = delivery.pid(SERVICE)
    assert new_pid != pid
    assert predict(delivery.url(SERVICE))["predictions"] == expected(train(1))
    assert [r["pid"] for r in instances(delivery)] == [new_pid]  # the dead record is gone


def test_a_denied_revision_is_refused_and_the_old_one_keeps_serving(delivery: Delivery) -> None:
    good = delivery.repo.git.head()
    delivery.sync()
    pid, url = delivery.pid(SERVICE), delivery.url(SERVICE)

    delivery.deployment("scorer-api", "scorer-v1", memory=1024)
    delivery.repo.function("scorer", 1024)  # denied by policies/serverless.rego
    bad = delivery.repo.commit("more memory everywhere")
    result = delivery.sync()

    assert (result.outcome, result.verdict, result.actions) == ("refused", "deny", ())
    assert [d["message"] for d in result.denials] == [BRIEF_MESSAGE]
    assert result.denials[0]["location"].startswith("functions/scorer.yaml:")
    assert delivery.pid(SERVICE) == pid
    served = metadata(url)
    assert (served["revision"], served["limits"]["memoryMb"]) == (good, 512)
    refused = delivery.audit.records(action="sync.refused")
    assert [r.data["revision"] for r in refused] == [bad]
    # The refused sync went no further than the gate.
    after = [r.action for r in delivery.audit.records() if r.seq > refused[0].seq]
    assert after == ["sync.finished"]


def test_a_changed_deployment_is_updated_and_a_removed_one_pruned(
    delivery: Delivery, cli: Any
) -> None:
    delivery.sync()
    old_pid = delivery.pid(SERVICE)

    delivery.model("scorer-v2", "2.0.0", train(2))
    delivery.deployment("scorer-api", "scorer-v2", memory=768)
    revision = delivery.repo.commit("serve scorer-v2 with more memory")
    result = delivery.sync()
    assert result.outcome == "synced"
    (update,) = result.actions
    assert (update.verb, update.reason) == ("update", f"changed in {revision[:12]}")
    assert f"stopped pid {old_pid}" in update.message
    new_pid = delivery.pid(SERVICE)
    assert new_pid != old_pid and gone(old_pid)
    url = delivery.url(SERVICE)
    served = metadata(url)
    assert served["revision"] == revision
    assert served["limits"]["memoryMb"] == 768
    assert [(m["name"], m["version"]) for m in served["models"]] == [("scorer-v2", "2.0.0")]
    assert predict(url)["predictions"] == expected(train(2))

    (delivery.repo.path / "deployments" / "scorer-api.yaml").unlink()
    delivery.repo.commit("retire scorer-api")
    pruned = delivery.sync()
    assert pruned.outcome == "synced"
    (delete,) = pruned.actions
    assert (delete.verb, delete.service, delete.reason) == (
        "delete",
        SERVICE,
        "no longer in the revision",
    )
    assert gone(new_pid)
    assert delivery.live() == {} and instances(delivery) == []
    assert list((delivery.state_dir / "runtime" / "models").iterdir()) == []  # unused models

    actions = [r.action for r in reversed(delivery.audit.records())]
    for step in ("sync.started", "gate.verdict", "sync.gate", "sync.plan", "sync.apply"):
        assert step in actions
    for step in ("sync.prune", "sync.health", "sync.finished"):
        assert step in actions
    verified = cli("audit", "verify", "--repo", str(delivery.repo.path))
    assert verified.exit_code == 0, verified.stdout
    assert "chain intact" in verified.stdout


def test_an_update_that_never_gets_healthy_keeps_the_old_one(delivery: Delivery) -> None:
    good = delivery.repo.git.head()
    delivery.sync()
    pid, url = delivery.pid(SERVICE), delivery.url(SERVICE)

    # Fitted on an array and no features listed: the runtime refuses to load it (exit 2).
    delivery.model("scorer-v2", "2.0.0", train(2), features=False)
    delivery.deployment("scorer-api", "scorer-v2")
    delivery.repo.commit("serve scorer-v2")
    result = delivery.sync()

    assert result.outcome == "failed"
    (failure,) = result.failures
    assert (failure.verb, failure.error) == ("update", "PermanentError")
    assert "the new process exited with status 2" in failure.message
    assert "the previous version (if any) keeps serving" in failure.message
    assert "fitted without feature names" in failure.message  # the tail of its log
    assert result.health[SERVICE].ok  # the old one, still healthy
    assert delivery.pid(SERVICE) == pid
    assert metadata(url)["revision"] == good
    assert [r["pid"] for r in instances(delivery)] == [pid]
    assert predict(url)["predictions"] == expected(train(1))


def test_a_deployment_moved_to_another_target_stops_on_the_old_one(delivery: Delivery) -> None:
    delivery.sync()
    old_pid = delivery.pid(SERVICE)
    config = delivery.repo.path / "alignops.yaml"
    config.write_text(
        config.read_text().replace("targets:\n", "targets:\n  - name: edge\n    provider: local\n")
    )
    deployment = delivery.repo.path / "deployments" / "scorer-api.yaml"
    deployment.write_text(
        deployment.read_text().replace(
            "environment: staging", "environment: staging\n  target: edge"
        )
    )
    delivery.repo.commit("serve scorer-api from the edge target")
    result = delivery.sync()
    assert result.outcome == "synced"
    (update,) = result.actions
    assert update.verb == "update"
    assert f"on its previous target: stopped pid {old_pid}" in update.message
    assert gone(old_pid)
    providers = delivery.providers()
    assert providers["local"].live("staging") == {}
    moved = providers["edge"].live("staging")[SERVICE]
    assert predict(str(moved.details["url"]))["predictions"] == expected(train(1))
    assert delivery.sync().actions == ()  # and it stays put
